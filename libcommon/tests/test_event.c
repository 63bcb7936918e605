/*
 * test_event.c - the event envelope: event type validation, building an envelope and parsing
 * it back, and event_parse() refusing every malformed field with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/crypto.h"
#include "common/event.h"
#include "common/json.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define TENANT "0b6f2b1c-4a53-4c5e-9d0a-3f8b2a1c9e77"
#define EID "5d1f7c2e-8b3a-4f61-a0c9-2e7d4b9f1a36"

static void test_event_type_valid_accepts(void **state)
{
	static const char *const ok[] = {
		"render.job.completed.v1", "identity.user.registered.v12", "a_b.c1.d_2.v1",
		"billing.balance.low.v2", "x.y.z.v9",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(event_type_valid(ok[i]));
}

static void test_event_type_valid_rejects(void **state)
{
	static const char *const bad[] = {
		"", "render", "render.job.completed", "render.job.v1", "Render.job.completed.v1",
		"render.job.completed.v0", "render.job.completed.v01", "render..completed.v1",
		"render.job.completed.v1.", ".render.job.completed.v1", "render.job.completed.v1x",
		"render.job.com-pleted.v1", "a.b.c.d.v1", "render.job.completed.V1",
		"*.job.completed.v1", "render.job.#.v1", "render.job.completed.v", "render job.x.v1",
		"render.job.completed.1",
	};
	char longtype[EVENT_TYPE_MAX + 8];

	(void)state;
	assert_false(event_type_valid(NULL));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (event_type_valid(bad[i]))
			fail_msg("accepted %s", bad[i]);
	}
	/* exactly EVENT_TYPE_MAX - 1 characters fits, EVENT_TYPE_MAX does not */
	memset(longtype, 'a', sizeof(longtype));
	memcpy(longtype, "a.b.", 4);
	memcpy(longtype + EVENT_TYPE_MAX - 1 - 3, ".v1", 4);
	assert_int_equal(strlen(longtype), EVENT_TYPE_MAX - 1);
	assert_true(event_type_valid(longtype));
	memset(longtype, 'a', sizeof(longtype));
	memcpy(longtype, "a.b.", 4);
	memcpy(longtype + EVENT_TYPE_MAX - 3, ".v1", 4);
	assert_false(event_type_valid(longtype));
}

static void assert_iso_ms(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";

	assert_int_equal(strlen(s), strlen(pat));
	for (size_t i = 0; pat[i]; i++) {
		if (pat[i] == 'd')
			assert_true(isdigit((unsigned char)s[i]));
		else
			assert_int_equal(s[i], pat[i]);
	}
}

static void test_event_build_parse_roundtrip(void **state)
{
	json_object *data = json_object_new_object();
	char id[UUID_STR_LEN] = "";
	struct event_msg ev;
	const char *why = "unset", *text;
	json_object *env, *v;
	size_t len;

	(void)state;
	json_set_int(data, "seconds", 42);
	env = event_envelope_new("render.job.completed.v1", "render", TENANT, "req-1", data, id);
	assert_non_null(env);
	assert_true(uuid_valid(id));
	assert_int_equal(id[14], '4'); /* version 4 */
	text = json_compact(env, &len);
	assert_int_equal(event_parse(text, len, &ev, &why), 0);
	assert_string_equal(ev.event_id, id);
	assert_string_equal(ev.event_type, "render.job.completed.v1");
	assert_string_equal(ev.producer, "render");
	assert_string_equal(ev.tenant_id, TENANT);
	assert_string_equal(ev.trace_id, "req-1");
	assert_iso_ms(ev.occurred_at);
	assert_true(json_object_object_get_ex(ev.data, "seconds", &v));
	assert_int_equal(json_object_get_int(v), 42);
	event_msg_free(&ev);
	assert_null(ev.env);
	event_msg_free(&ev); /* harmless twice */
	json_object_put(env);
}

static void test_event_build_null_tenant_trace_data(void **state)
{
	struct event_msg ev;
	json_object *env, *v = NULL;
	const char *text;
	size_t len;

	(void)state;
	env = event_envelope_new("identity.user.registered.v1", "identity", NULL, NULL, NULL, NULL);
	assert_non_null(env);
	assert_true(json_object_object_get_ex(env, "tenant_id", &v));
	assert_null(v); /* present, JSON null */
	text = json_compact(env, &len);
	assert_int_equal(event_parse(text, len, &ev, NULL), 0);
	assert_null(ev.tenant_id);
	assert_null(ev.trace_id);
	assert_int_equal(json_object_object_length(ev.data), 0);
	event_msg_free(&ev);
	json_object_put(env);
}

static void test_event_build_rejects_bad_arguments(void **state)
{
	char longtrace[80];

	(void)state;
	memset(longtrace, 't', sizeof(longtrace) - 1);
	longtrace[sizeof(longtrace) - 1] = '\0';
	/* every refusal puts data: LeakSanitizer checks it */
	assert_null(event_envelope_new("bad type", "svc", NULL, NULL, json_object_new_object(), NULL));
	assert_null(event_envelope_new(NULL, "svc", NULL, NULL, json_object_new_object(), NULL));
	assert_null(event_envelope_new("a.b.c.v1", "", NULL, NULL, json_object_new_object(), NULL));
	assert_null(event_envelope_new("a.b.c.v1", NULL, NULL, NULL, json_object_new_object(), NULL));
	assert_null(event_envelope_new("a.b.c.v1", "svc", "not-a-uuid", NULL, json_object_new_object(), NULL));
	assert_null(event_envelope_new("a.b.c.v1", "svc", NULL, longtrace, json_object_new_object(), NULL));
	assert_null(event_envelope_new("a.b.c.v1", "svc", NULL, NULL, json_object_new_array(), NULL));
	assert_null(event_envelope_new("a.b.c.v1", "svc", NULL, NULL, json_object_new_int(3), NULL));
}

/* A valid envelope with one member replaced (value is raw JSON; NULL drops the member). */
static void envelope_with(char *out, size_t cap, const char *key, const char *value)
{
	static const char *const keys[] = {"event_id", "event_type", "occurred_at", "producer",
					   "tenant_id", "trace_id", "data"};
	static const char *const vals[] = {"\"" EID "\"", "\"a.b.c.v1\"", "\"2026-11-22T06:40:09.123Z\"",
					   "\"svc\"", "\"" TENANT "\"", "\"req\"", "{\"x\":1}"};
	size_t n = 0;

	n += (size_t)snprintf(out + n, cap - n, "{");
	for (size_t i = 0; i < 7; i++) {
		const char *v = vals[i];

		if (key && strcmp(key, keys[i]) == 0) {
			if (!value)
				continue;
			v = value;
		}
		n += (size_t)snprintf(out + n, cap - n, "%s\"%s\":%s", n > 1 ? "," : "", keys[i], v);
	}
	snprintf(out + n, cap - n, "}");
}

static void expect_reject(const char *key, const char *value, const char *why_part)
{
	char body[1024];
	struct event_msg ev;
	const char *why = NULL;

	envelope_with(body, sizeof(body), key, value);
	if (event_parse(body, strlen(body), &ev, &why) == 0)
		fail_msg("accepted %s", body);
	assert_non_null(why);
	if (!strstr(why, why_part))
		fail_msg("reason \"%s\" for %s lacks \"%s\"", why, body, why_part);
	assert_null(ev.env);
	event_msg_free(&ev);
}

static void test_event_parse_accepts_valid_and_absent_optionals(void **state)
{
	char body[1024];
	struct event_msg ev;

	(void)state;
	envelope_with(body, sizeof(body), NULL, NULL);
	assert_int_equal(event_parse(body, strlen(body), &ev, NULL), 0);
	assert_string_equal(ev.event_id, EID);
	assert_string_equal(ev.tenant_id, TENANT);
	event_msg_free(&ev);
	envelope_with(body, sizeof(body), "tenant_id", NULL);
	assert_int_equal(event_parse(body, strlen(body), &ev, NULL), 0);
	assert_null(ev.tenant_id);
	event_msg_free(&ev);
	envelope_with(body, sizeof(body), "trace_id", "null");
	assert_int_equal(event_parse(body, strlen(body), &ev, NULL), 0);
	assert_null(ev.trace_id);
	event_msg_free(&ev);
}

static void test_event_parse_rejects_each_field(void **state)
{
	char t65[80];

	(void)state;
	snprintf(t65, sizeof(t65), "\"%065d\"", 0);
	expect_reject("event_id", NULL, "event_id");
	expect_reject("event_id", "\"abc\"", "event_id");
	expect_reject("event_id", "7", "event_id");
	expect_reject("event_id", "null", "event_id");
	expect_reject("event_id", "\"" EID "0\"", "event_id");
	expect_reject("event_type", NULL, "event_type");
	expect_reject("event_type", "\"a.b.v1\"", "event_type");
	expect_reject("event_type", "\"A.b.c.v1\"", "event_type");
	expect_reject("event_type", "[]", "event_type");
	expect_reject("occurred_at", NULL, "occurred_at");
	expect_reject("occurred_at", "12", "occurred_at");
	expect_reject("occurred_at", "\"\"", "occurred_at");
	expect_reject("producer", NULL, "producer");
	expect_reject("producer", "\"\"", "producer");
	expect_reject("producer", "true", "producer");
	expect_reject("tenant_id", "\"x\"", "tenant_id");
	expect_reject("tenant_id", "5", "tenant_id");
	expect_reject("trace_id", t65, "trace_id");
	expect_reject("trace_id", "{}", "trace_id");
	expect_reject("data", NULL, "data");
	expect_reject("data", "null", "data");
	expect_reject("data", "[1]", "data");
	expect_reject("data", "\"x\"", "data");
}

static void test_event_parse_rejects_bad_json(void **state)
{
	static const char *const bad[] = {
		"", "[]", "\"x\"", "{", "{\"event_id\":1,}", "null", "{} {}",
		"{\"data\":{},\"data\":{}}",
	};
	char body[1024];
	struct event_msg ev;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(event_parse(bad[i], strlen(bad[i]), &ev, &why), -1);
		assert_non_null(why);
	}
	assert_int_equal(event_parse(NULL, 0, &ev, &why), -1);
	/* a valid envelope followed by a NUL byte and garbage */
	envelope_with(body, sizeof(body), NULL, NULL);
	assert_int_equal(event_parse(body, strlen(body) + 1, &ev, &why), -1);
	/* duplicate event_id key */
	snprintf(body, sizeof(body), "{\"event_id\":\"%s\",\"event_id\":\"%s\",\"event_type\":\"a.b.c.v1\","
		 "\"occurred_at\":\"t\",\"producer\":\"p\",\"data\":{}}", EID, EID);
	assert_int_equal(event_parse(body, strlen(body), &ev, &why), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_type_valid_accepts),
		cmocka_unit_test(test_event_type_valid_rejects),
		cmocka_unit_test(test_event_build_parse_roundtrip),
		cmocka_unit_test(test_event_build_null_tenant_trace_data),
		cmocka_unit_test(test_event_build_rejects_bad_arguments),
		cmocka_unit_test(test_event_parse_accepts_valid_and_absent_optionals),
		cmocka_unit_test(test_event_parse_rejects_each_field),
		cmocka_unit_test(test_event_parse_rejects_bad_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
