/*
 * test_session_l1.c - session validity values (Redis form, identity's JSON) and the
 * in-process L1 cache (TTL, replacement, eviction).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "handler.h"
#include "session_l1.h"
#include "token_cache.h"

#define U "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
#define T "0b1c2d3e-4f50-4162-8374-95a6b7c8d9e0"
#define S "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

static int parse(const char *v, struct gw_session *s)
{
	return session_value_parse(v, strlen(v), s);
}

static void test_session_value_parse_active(void **state)
{
	struct gw_session s;

	(void)state;
	assert_int_equal(parse("active|" U "|" T "|", &s), 0);
	assert_true(s.active);
	assert_string_equal(s.user_id, U);
	assert_string_equal(s.tenant_id, T);
	assert_false(s.adm);
	assert_false(s.tadm);
	assert_int_equal(parse("active|" U "|" T "|admin", &s), 0);
	assert_true(s.adm);
	assert_false(s.tadm);
	assert_int_equal(parse("active|" U "|" T "|tenant_admin", &s), 0);
	assert_false(s.adm);
	assert_true(s.tadm);
	assert_int_equal(parse("active|" U "|" T "|admin,tenant_admin", &s), 0);
	assert_true(s.adm && s.tadm);
	/* unknown roles are ignored, known ones still count */
	assert_int_equal(parse("active|" U "|" T "|auditor,tenant_admin", &s), 0);
	assert_false(s.adm);
	assert_true(s.tadm);
}

static void test_session_value_parse_revoked(void **state)
{
	struct gw_session s;

	(void)state;
	assert_int_equal(parse("revoked|user_banned", &s), 0);
	assert_false(s.active);
	assert_string_equal(s.reason, "user_banned");
	assert_int_equal(parse("revoked|", &s), 0);
	assert_string_equal(s.reason, "revoked");
}

static void test_session_value_parse_rejects_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"active",
		"active|",
		"active|" U,
		"active|" U "|" T,                  /* roles separator missing */
		"active|not-a-uuid|" T "|",
		"active|" U "|" T "|admin|extra",
		"active|" U "x|" T "|",
		"ACTIVE|" U "|" T "|",
		"revoked",
		"revoked|Bad Reason",
		"revoked|a_reason_that_is_far_too_long_to_keep",
		"deleted|x",
	};
	struct gw_session s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], &s), -1);
	/* a NUL inside the value never reads past n */
	assert_int_equal(session_value_parse("active|\0", 8, &s), -1);
}

static void test_session_value_format_round_trip(void **state)
{
	struct gw_session in, out;
	char buf[SESSION_VALUE_MAX];
	int n;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.active = true;
	strcpy(in.user_id, U);
	strcpy(in.tenant_id, T);
	in.adm = true;
	in.tadm = true;
	n = session_value_format(&in, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf, "active|" U "|" T "|admin,tenant_admin");
	assert_int_equal(parse(buf, &out), 0);
	assert_memory_equal(&in, &out, sizeof(in));
	in.adm = false;
	assert_true(session_value_format(&in, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "active|" U "|" T "|tenant_admin");
	memset(&in, 0, sizeof(in));
	strcpy(in.reason, "expired");
	assert_true(session_value_format(&in, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "revoked|expired");
	assert_int_equal(session_value_format(&in, buf, 5), -1);
}

static int status(const char *json, struct gw_session *s)
{
	return session_status_parse(json, strlen(json), S, s);
}

static void test_session_status_parse(void **state)
{
	struct gw_session s;

	(void)state;
	assert_int_equal(status("{\"session_id\":\"" S "\",\"user_id\":\"" U "\",\"tenant_id\":\"" T
				"\",\"active\":true,\"reason\":null,\"is_admin\":false,"
				"\"is_tenant_admin\":true}",
				&s),
			 0);
	assert_true(s.active);
	assert_string_equal(s.user_id, U);
	assert_false(s.adm);
	assert_true(s.tadm);
	assert_int_equal(status("{\"session_id\":\"" S "\",\"user_id\":\"" U "\",\"tenant_id\":\"" T
				"\",\"active\":false,\"reason\":\"tenant_suspended\",\"is_admin\":"
				"false,\"is_tenant_admin\":false}",
				&s),
			 0);
	assert_false(s.active);
	assert_string_equal(s.reason, "tenant_suspended");
}

static void test_session_status_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"session_id\":\"" S "\"}",
		/* another session */
		"{\"session_id\":\"" U "\",\"user_id\":\"" U "\",\"tenant_id\":\"" T
		"\",\"active\":true,\"is_admin\":false,\"is_tenant_admin\":false}",
		/* active not a boolean */
		"{\"session_id\":\"" S "\",\"user_id\":\"" U "\",\"tenant_id\":\"" T
		"\",\"active\":\"yes\",\"is_admin\":false,\"is_tenant_admin\":false}",
		/* bad user id */
		"{\"session_id\":\"" S "\",\"user_id\":\"nope\",\"tenant_id\":\"" T
		"\",\"active\":true,\"is_admin\":false,\"is_tenant_admin\":false}",
		/* duplicate key */
		"{\"session_id\":\"" S "\",\"session_id\":\"" S "\",\"user_id\":\"" U
		"\",\"tenant_id\":\"" T "\",\"active\":true,\"is_admin\":false,\"is_tenant_admin\":false}",
		"{\"session_id\":\"" S "\",\"user_id\":\"" U "\",\"tenant_id\":\"" T
		"\",\"active\":true,\"is_admin\":false,\"is_tenant_admin\":false",
	};
	struct gw_session s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(status(bad[i], &s), -1);
}

static struct gw_session active_session(void)
{
	struct gw_session s;

	memset(&s, 0, sizeof(s));
	s.active = true;
	strcpy(s.user_id, U);
	strcpy(s.tenant_id, T);
	return s;
}

static void test_session_l1_ttl(void **state)
{
	struct session_l1 *l1 = session_l1_new(64, 1000);
	struct gw_session in = active_session(), out;

	(void)state;
	assert_false(session_l1_get(l1, S, 5000, &out));
	session_l1_put(l1, S, &in, 5000);
	assert_int_equal(session_l1_count(l1), 1);
	assert_true(session_l1_get(l1, S, 5999, &out));
	assert_memory_equal(&in, &out, sizeof(in));
	assert_false(session_l1_get(l1, S, 6000, &out));
	assert_int_equal(session_l1_count(l1), 0);
	/* a revoked verdict is cached the same way, and replaces the active one */
	session_l1_put(l1, S, &in, 7000);
	in.active = false;
	strcpy(in.reason, "revoked");
	session_l1_put(l1, S, &in, 7100);
	assert_int_equal(session_l1_count(l1), 1);
	assert_true(session_l1_get(l1, S, 7500, &out));
	assert_false(out.active);
	/* ids of the wrong length are never cached */
	session_l1_put(l1, "short", &in, 7000);
	assert_false(session_l1_get(l1, "short", 7000, &out));
	session_l1_free(l1);
}

static void test_session_l1_disabled_with_zero_ttl(void **state)
{
	struct session_l1 *l1 = session_l1_new(64, 0);
	struct gw_session in = active_session(), out;

	(void)state;
	session_l1_put(l1, S, &in, 1);
	assert_false(session_l1_get(l1, S, 1, &out));
	assert_int_equal(session_l1_count(l1), 0);
	session_l1_free(l1);
}

static void test_session_l1_bounded(void **state)
{
	struct session_l1 *l1 = session_l1_new(16, 1000);
	struct gw_session in = active_session(), out;
	char sid[UUID_STR_LEN];
	int found = 0;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		snprintf(sid, sizeof(sid), "9a8b7c6d-5e4f-4a3b-8c2d-%012d", i);
		session_l1_put(l1, sid, &in, 100);
		assert_true(session_l1_count(l1) <= 16);
	}
	/* the most recent one is always there */
	assert_true(session_l1_get(l1, sid, 200, &out));
	for (int i = 0; i < 1000; i++) {
		snprintf(sid, sizeof(sid), "9a8b7c6d-5e4f-4a3b-8c2d-%012d", i);
		found += session_l1_get(l1, sid, 200, &out) ? 1 : 0;
	}
	assert_true(found <= 16 && found > 0);
	session_l1_free(l1);
}

static void test_session_matches_token(void **state)
{
	struct gw_session s = active_session();
	struct gw_claims c;

	(void)state;
	memset(&c, 0, sizeof(c));
	strcpy(c.sub, U);
	strcpy(c.tid, T);
	strcpy(c.sid, S);
	assert_true(gw_session_matches(&c, &s));
	strcpy(c.tid, U);
	assert_false(gw_session_matches(&c, &s));
	strcpy(c.tid, T);
	strcpy(c.sub, T);
	assert_false(gw_session_matches(&c, &s));
}

/* A revoked entry is final while fresh: an "active" answer from a lookup that started before
 * the logout cannot resurrect the session; after the TTL the entry may be replaced. */
static void test_session_l1_revoked_is_final(void **state)
{
	struct session_l1 *l1 = session_l1_new(64, 1000);
	struct gw_session active, out;

	(void)state;
	assert_non_null(l1);
	memset(&active, 0, sizeof(active));
	active.active = true;
	strcpy(active.user_id, U);
	strcpy(active.tenant_id, T);
	session_l1_put(l1, S, &active, 100);
	assert_true(session_l1_get(l1, S, 150, &out));
	assert_true(out.active);
	session_l1_revoke(l1, S, "revoked", 200);
	assert_true(session_l1_get(l1, S, 250, &out));
	assert_false(out.active);
	assert_string_equal(out.reason, "revoked");
	session_l1_put(l1, S, &active, 300); /* the stale answer arrives */
	assert_true(session_l1_get(l1, S, 350, &out));
	assert_false(out.active);
	/* once the revoked entry expired, a fresh answer is stored as usual */
	session_l1_put(l1, S, &active, 1300);
	assert_true(session_l1_get(l1, S, 1350, &out));
	assert_true(out.active);
	session_l1_free(l1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_value_parse_active),
		cmocka_unit_test(test_session_value_parse_revoked),
		cmocka_unit_test(test_session_value_parse_rejects_garbage),
		cmocka_unit_test(test_session_value_format_round_trip),
		cmocka_unit_test(test_session_status_parse),
		cmocka_unit_test(test_session_status_parse_rejects),
		cmocka_unit_test(test_session_l1_ttl),
		cmocka_unit_test(test_session_l1_disabled_with_zero_ttl),
		cmocka_unit_test(test_session_l1_bounded),
		cmocka_unit_test(test_session_l1_revoked_is_final),
		cmocka_unit_test(test_session_matches_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
