/*
 * test_session_events.c - what the revocation consumer takes from an
 * identity.session.revoked.v1 payload (session_id validation, case, the logged reason,
 * tolerance of unknown members) and the per-replica queue name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "session_events.h"

#define SID "2a4c6e80-1b3d-4f57-9a8c-0e2d4f6a8b1c"
#define SID_UPPER "2A4C6E80-1B3D-4F57-9A8C-0E2D4F6A8B1C"

/* Parses the JSON text of a data object and runs session_revocation_parse on it. */
static int parse(const char *json, struct session_revocation *r, const char **why)
{
	json_object *data = json_parse_strict(json, strlen(json), NULL);
	int rc;

	assert_non_null(data);
	rc = session_revocation_parse(data, r, why);
	json_object_put(data);
	return rc;
}

static void test_session_events_parse_contract_example(void **state)
{
	struct session_revocation r;
	const char *why = "unset";

	(void)state;
	assert_int_equal(parse("{\"session_id\":\"" SID "\","
			       "\"user_id\":\"9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b\","
			       "\"tenant_id\":\"0d6c8f52-3b1e-4a7d-8c9f-2e4b6a8d0c13\","
			       "\"reason\":\"logout\",\"revoked_at\":\"2026-05-27T10:15:00.123Z\"}",
			       &r, &why),
			 0);
	assert_string_equal(r.session_id, SID);
	assert_string_equal(r.reason, "logout");
	assert_null(why);
}

static void test_session_events_parse_lowercases_session_id(void **state)
{
	struct session_revocation r;

	(void)state;
	assert_int_equal(parse("{\"session_id\":\"" SID_UPPER "\",\"reason\":\"deleted\"}", &r, NULL),
			 0);
	assert_string_equal(r.session_id, SID);
	assert_string_equal(r.reason, "deleted");
}

static void test_session_events_parse_tolerates_unknown_and_missing(void **state)
{
	struct session_revocation r;

	(void)state;
	/* only session_id is required; unknown members are ignored */
	assert_int_equal(parse("{\"session_id\":\"" SID "\",\"future_field\":[1,2,3]}", &r, NULL), 0);
	assert_string_equal(r.session_id, SID);
	assert_string_equal(r.reason, "unknown");
	/* a reason that is not a short word is not logged as is */
	assert_int_equal(parse("{\"session_id\":\"" SID "\",\"reason\":\"Log Out\\n\"}", &r, NULL), 0);
	assert_string_equal(r.reason, "unknown");
	assert_int_equal(parse("{\"session_id\":\"" SID "\",\"reason\":7}", &r, NULL), 0);
	assert_string_equal(r.reason, "unknown");
	assert_int_equal(parse("{\"session_id\":\"" SID "\",\"reason\":\"\"}", &r, NULL), 0);
	assert_string_equal(r.reason, "unknown");
	assert_int_equal(parse("{\"session_id\":\"" SID "\",\"reason\":"
			       "\"a_reason_much_longer_than_thirty_one_bytes\"}",
			       &r, NULL),
			 0);
	assert_string_equal(r.reason, "unknown");
	assert_int_equal(parse("{\"session_id\":\"" SID "\",\"reason\":\"refresh_reuse\"}", &r, NULL),
			 0);
	assert_string_equal(r.reason, "refresh_reuse");
}

static void test_session_events_parse_rejects_bad_session_id(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"session_id\":null}",
		"{\"session_id\":42}",
		"{\"session_id\":[\"" SID "\"]}",
		"{\"session_id\":{\"id\":\"" SID "\"}}",
		"{\"session_id\":\"\"}",
		"{\"session_id\":\"not-a-uuid\"}",
		"{\"session_id\":\"2a4c6e80-1b3d-4f57-9a8c-0e2d4f6a8b1\"}",   /* 35 chars */
		"{\"session_id\":\"2a4c6e80-1b3d-4f57-9a8c-0e2d4f6a8b1cd\"}", /* 37 chars */
		"{\"session_id\":\"2a4c6e80x1b3d-4f57-9a8c-0e2d4f6a8b1c\"}",  /* bad dash */
		"{\"session_id\":\"2a4c6e80-1b3d-4f57-9a8c-0e2d4f6a8b1g\"}",  /* not hex */
		"{\"session_id\":\"../../etc/passwd-aaaaaaaaaaaaaaaaaaaa\"}",  /* 36, not a UUID */
		"{\"session_id\":\"2a4c6e80-1b3d-4f57-9a8c-0e2d4f6a8b1c \"}", /* trailing blank */
		"{\"sessionId\":\"" SID "\"}",
	};
	struct session_revocation r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;

		memset(&r, 'x', sizeof(r));
		assert_int_equal(parse(bad[i], &r, &why), -1);
		assert_non_null(why);
		assert_non_null(strstr(why, "session_id"));
		assert_string_equal(r.session_id, ""); /* nothing half-filled */
	}
}

static void test_session_events_parse_rejects_non_object(void **state)
{
	static const char *const bad[] = {"[\"" SID "\"]", "\"" SID "\"", "42", "true"};
	struct session_revocation r;
	const char *why = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(parse(bad[i], &r, &why), -1);
		assert_string_equal(why, "data is not an object");
	}
	why = NULL;
	assert_int_equal(session_revocation_parse(NULL, &r, &why), -1);
	assert_string_equal(why, "data is not an object");
	assert_int_equal(session_revocation_parse(NULL, &r, NULL), -1); /* why may be NULL */
}

static void test_session_events_queue_name(void **state)
{
	char a[SESSION_EVENTS_QUEUE_MAX], b[SESSION_EVENTS_QUEUE_MAX];
	const size_t plen = strlen(SESSION_EVENTS_QUEUE_PREFIX);

	(void)state;
	assert_int_equal(session_events_queue_name(a, sizeof(a)), 0);
	assert_int_equal(session_events_queue_name(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), plen + 16);
	assert_memory_equal(a, "gateway.session-revoked.", plen);
	for (size_t i = plen; a[i] != '\0'; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	assert_string_not_equal(a, b); /* one private queue per replica */
	assert_int_equal(session_events_queue_name(a, sizeof(a) - 1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_events_parse_contract_example),
		cmocka_unit_test(test_session_events_parse_lowercases_session_id),
		cmocka_unit_test(test_session_events_parse_tolerates_unknown_and_missing),
		cmocka_unit_test(test_session_events_parse_rejects_bad_session_id),
		cmocka_unit_test(test_session_events_parse_rejects_non_object),
		cmocka_unit_test(test_session_events_queue_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
