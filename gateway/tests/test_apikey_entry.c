/*
 * test_apikey_entry.c - API keys as the gateway caches them: identity's validate answer into
 * an entry and its Redis value (never the key hash), the Redis values back, allow-lists
 * (IPv4, IPv6, mapped), scopes and RFC 3339 expiry times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apikey_entry.h"
#include "common/reqsig.h"

#define KID "4c2e8a60-7d1f-4b93-a5e7-6f8091a2b3c4"
#define TID "0d6c8f52-3b1e-4a7d-8c9f-2e4b6a8d0c13"
#define VER "45ce4ef535fad3e14e29f33d65ccad2008721a1ff9af46410622cf0f6379b9db"
#define VALID                                                                                   \
	"{\"valid\":true,\"api_key_id\":\"" KID "\",\"tenant_id\":\"" TID "\","                 \
	"\"environment\":\"Live\",\"scopes\":[\"users:read\",\"users:write\"],"                 \
	"\"allowed_ips\":[\"203.0.113.0/24\",\"2001:db8::/32\"],\"rate_limit_rpm\":120,"        \
	"\"expires_at\":\"2030-01-02T03:04:05.123Z\"}"

static int from_validate(const char *json, struct apikey_entry *e, char **value)
{
	return apikey_entry_from_validate(json, strlen(json), VER, e, value);
}

static void test_apikey_entry_valid_answer(void **state)
{
	struct apikey_entry e, back;
	char *value = NULL;

	(void)state;
	assert_int_equal(from_validate(VALID, &e, &value), 0);
	assert_int_equal(e.state, APIKEY_VALID);
	assert_string_equal(e.api_key_id, KID);
	assert_string_equal(e.tenant_id, TID);
	assert_true(e.live);
	assert_string_equal(e.scopes, "users:read users:write");
	assert_int_equal(e.rate_limit_rpm, 120);
	assert_true(e.expires_at == 1893553445);
	assert_int_equal(e.nips, 2);
	assert_string_equal(e.verifier, VER);
	/* the Redis value carries the verifier and round-trips */
	assert_non_null(value);
	assert_non_null(strstr(value, "\"verifier\":\"" VER "\""));
	assert_int_equal(apikey_entry_from_cache(value, strlen(value), &back), 0);
	assert_memory_equal(&back, &e, sizeof(e));
	free(value);
}

static void test_apikey_entry_optional_fields(void **state)
{
	struct apikey_entry e;
	char *value = NULL;

	(void)state;
	assert_int_equal(from_validate("{\"valid\":true,\"api_key_id\":\"" KID "\",\"tenant_id\":\"" TID
				       "\",\"environment\":\"Test\",\"scopes\":[],\"rate_limit_rpm\":0,"
				       "\"expires_at\":null}",
				       &e, &value),
			 0);
	assert_false(e.live);
	assert_int_equal(e.nips, 0);
	assert_true(e.expires_at == 0);
	assert_string_equal(e.scopes, "");
	assert_true(apikey_entry_ip_allowed(&e, "198.51.100.1"));
	free(value);
}

static void test_apikey_entry_refusals(void **state)
{
	static const struct {
		const char *json, *value;
		enum apikey_state st;
	} cases[] = {
		{"{\"valid\":false,\"reason\":\"unknown\"}", "none:" VER, APIKEY_UNKNOWN},
		{"{\"valid\":false,\"reason\":\"revoked\"}", "revoked", APIKEY_REVOKED},
		{"{\"valid\":false,\"reason\":\"expired\"}", "{\"valid\":false,\"reason\":\"expired\"}",
		 APIKEY_EXPIRED},
		{"{\"valid\":false,\"reason\":\"tenant_suspended\"}",
		 "{\"valid\":false,\"reason\":\"tenant_suspended\"}", APIKEY_TENANT_SUSPENDED},
	};
	struct apikey_entry e, back;
	char *value = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(from_validate(cases[i].json, &e, &value), 0);
		assert_int_equal(e.state, cases[i].st);
		assert_string_equal(value, cases[i].value);
		assert_int_equal(apikey_entry_from_cache(value, strlen(value), &back), 0);
		assert_int_equal(back.state, cases[i].st);
		free(value);
	}
	/* an unknown-key marker names the key it is about */
	assert_int_equal(apikey_entry_from_cache("none:" VER, strlen("none:" VER), &back), 0);
	assert_string_equal(back.verifier, VER);
}

static void test_apikey_entry_rejects_bad_answers(void **state)
{
	static const char *const bad[] = {
		"", "null", "[]", "{}", "{\"valid\":\"yes\"}", "{\"valid\":false}",
		"{\"valid\":false,\"reason\":\"mystery\"}",
		"{\"valid\":true,\"api_key_id\":\"x\",\"tenant_id\":\"" TID "\",\"environment\":\"Live\","
		"\"scopes\":[],\"rate_limit_rpm\":1}",
		"{\"valid\":true,\"api_key_id\":\"" KID "\",\"tenant_id\":\"" TID "\",\"environment\":"
		"\"Prod\",\"scopes\":[],\"rate_limit_rpm\":1}",
		"{\"valid\":true,\"api_key_id\":\"" KID "\",\"tenant_id\":\"" TID "\",\"environment\":"
		"\"Live\",\"scopes\":[\"Users read\"],\"rate_limit_rpm\":1}",
		"{\"valid\":true,\"api_key_id\":\"" KID "\",\"tenant_id\":\"" TID "\",\"environment\":"
		"\"Live\",\"scopes\":[],\"allowed_ips\":[\"10.0.0.0/33\"],\"rate_limit_rpm\":1}",
		"{\"valid\":true,\"api_key_id\":\"" KID "\",\"tenant_id\":\"" TID "\",\"environment\":"
		"\"Live\",\"scopes\":[],\"rate_limit_rpm\":-1}",
		"{\"valid\":true,\"api_key_id\":\"" KID "\",\"tenant_id\":\"" TID "\",\"environment\":"
		"\"Live\",\"scopes\":[],\"rate_limit_rpm\":1,\"expires_at\":\"tomorrow\"}",
	};
	struct apikey_entry e;
	char *value = (char *)"untouched";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (from_validate(bad[i], &e, &value) == 0)
			fail_msg("accepted: %s", bad[i]);
		assert_null(value);
		assert_string_equal(e.api_key_id, "");
	}
	{
		char short_verifier[65] = "abc"; /* not 64 hex digits */

		assert_int_equal(apikey_entry_from_validate(VALID, strlen(VALID), short_verifier, &e,
							    &value),
				 -1);
	}
}

static void test_apikey_entry_rejects_bad_cache_values(void **state)
{
	static const char *const bad[] = {
		"", "none", "none:", "none:xyz", "revoked ", "REVOKED",
		"{\"valid\":false,\"reason\":\"unknown\"}", /* only "none:<verifier>" says that */
		VALID,                                       /* a valid entry without its verifier */
		"{\"valid\":true}",
	};
	struct apikey_entry e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (apikey_entry_from_cache(bad[i], strlen(bad[i]), &e) == 0)
			fail_msg("accepted cache value: %s", bad[i]);
}

static void test_apikey_entry_allow_list(void **state)
{
	struct apikey_entry e;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(apikey_cidr_parse("203.0.113.0/24", &e.ips[0]), 0);
	assert_int_equal(apikey_cidr_parse("2001:db8::/32", &e.ips[1]), 0);
	assert_int_equal(apikey_cidr_parse("198.51.100.7", &e.ips[2]), 0);
	assert_int_equal(apikey_cidr_parse("10.1.2.3/9", &e.ips[3]), 0);
	e.nips = 4;
	assert_true(apikey_entry_ip_allowed(&e, "203.0.113.1"));
	assert_true(apikey_entry_ip_allowed(&e, "203.0.113.255"));
	assert_false(apikey_entry_ip_allowed(&e, "203.0.114.1"));
	assert_true(apikey_entry_ip_allowed(&e, "2001:db8:1::5"));
	assert_false(apikey_entry_ip_allowed(&e, "2001:db9::5"));
	assert_true(apikey_entry_ip_allowed(&e, "198.51.100.7"));
	assert_false(apikey_entry_ip_allowed(&e, "198.51.100.8"));
	assert_true(apikey_entry_ip_allowed(&e, "10.127.0.1")); /* /9: 10.0.0.0 - 10.127.255.255 */
	assert_false(apikey_entry_ip_allowed(&e, "10.128.0.1"));
	assert_true(apikey_entry_ip_allowed(&e, "::ffff:203.0.113.9")); /* IPv4-mapped */
	assert_false(apikey_entry_ip_allowed(&e, "::ffff:203.0.114.9"));
	assert_false(apikey_entry_ip_allowed(&e, "not-an-ip"));
	assert_false(apikey_entry_ip_allowed(&e, NULL));
	assert_int_equal(apikey_cidr_parse("0.0.0.0/0", &e.ips[0]), 0);
	e.nips = 1;
	assert_true(apikey_entry_ip_allowed(&e, "192.0.2.1"));
	assert_false(apikey_entry_ip_allowed(&e, "2001:db8::1")); /* families do not mix */
	for (const char *const *b = (const char *const[]){"", "/8", "1.2.3.4/", "1.2.3.4/x",
							  "1.2.3.4/-1", "1.2.3.4/33", "::/129",
							  "1.2.3", "1.2.3.4/8/8", NULL};
	     *b != NULL; b++)
		if (apikey_cidr_parse(*b, &e.ips[0]) == 0)
			fail_msg("CIDR '%s' accepted", *b);
}

static void test_apikey_entry_scopes(void **state)
{
	struct apikey_entry e;

	(void)state;
	memset(&e, 0, sizeof(e));
	strcpy(e.scopes, "users:read renders:create");
	assert_true(apikey_entry_has_scope(&e, NULL));
	assert_true(apikey_entry_has_scope(&e, "users:read"));
	assert_true(apikey_entry_has_scope(&e, "renders:create"));
	assert_false(apikey_entry_has_scope(&e, "users:write"));
	assert_false(apikey_entry_has_scope(&e, "users"));
	assert_false(apikey_entry_has_scope(&e, ""));
	e.scopes[0] = '\0';
	assert_false(apikey_entry_has_scope(&e, "users:read"));
}

static void test_apikey_entry_times(void **state)
{
	int64_t t = 0;

	(void)state;
	assert_int_equal(apikey_time_parse("2030-01-02T03:04:05Z", &t), 0);
	assert_true(t == 1893553445);
	assert_int_equal(apikey_time_parse("2030-01-02T03:04:05.999999Z", &t), 0);
	assert_true(t == 1893553445);
	assert_int_equal(apikey_time_parse("2030-01-02T05:04:05+02:00", &t), 0);
	assert_true(t == 1893553445);
	assert_int_equal(apikey_time_parse("2030-01-02 01:04:05-02", &t), 0);
	assert_true(t == 1893553445);
	assert_int_equal(apikey_time_parse("2030-01-02T04:34:05+0130", &t), 0);
	assert_true(t == 1893553445);
	for (const char *const *b = (const char *const[]){"", "2030-01-02", "2030-01-02T03:04:05",
							  "2030-13-02T03:04:05Z",
							  "2030-01-02T03:04:05ZZ", "2030-01-02T24:00:00Z",
							  "2030-01-02T03:04:05+2", "x030-01-02T03:04:05Z",
							  NULL};
	     *b != NULL; b++)
		if (apikey_time_parse(*b, &t) == 0)
			fail_msg("time '%s' accepted", *b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apikey_entry_valid_answer),
		cmocka_unit_test(test_apikey_entry_optional_fields),
		cmocka_unit_test(test_apikey_entry_refusals),
		cmocka_unit_test(test_apikey_entry_rejects_bad_answers),
		cmocka_unit_test(test_apikey_entry_rejects_bad_cache_values),
		cmocka_unit_test(test_apikey_entry_allow_list),
		cmocka_unit_test(test_apikey_entry_scopes),
		cmocka_unit_test(test_apikey_entry_times),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
