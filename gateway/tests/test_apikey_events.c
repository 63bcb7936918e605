/*
 * test_apikey_events.c - reading identity.api_key.revoked.v1, identity.tenant.suspended.v1 and
 * identity.tenant.updated.v1 (apikey_events.h): what each one changes, tolerant reading, and
 * the poison cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <string.h>

#include "apikey_events.h"

#define TID "0d6c8f52-3b1e-4a7d-8c9f-2e4b6a8d0c13"

static int parse(const char *type, const char *json, struct apikey_event *e, const char **why)
{
	json_object *o = json_tokener_parse(json);
	int rc = apikey_event_parse(type, o, e, why);

	json_object_put(o);
	return rc;
}

static void test_apikey_events_types(void **state)
{
	(void)state;
	assert_true(apikey_event_type("identity.api_key.revoked.v1"));
	assert_true(apikey_event_type("identity.tenant.suspended.v1"));
	assert_true(apikey_event_type("identity.tenant.updated.v1"));
	assert_false(apikey_event_type("identity.session.revoked.v1"));
	assert_false(apikey_event_type("identity.api_key.revoked.v2"));
}

static void test_apikey_events_parse(void **state)
{
	struct apikey_event e;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse(APIKEY_EVENT_REVOKED,
			       "{\"api_key_id\":\"4c2e8a60-7d1f-4b93-a5e7-6f8091a2b3c4\",\"tenant_id\":\"" TID
			       "\",\"key_prefix\":\"fr_live_3kQ9aZ0b\",\"reason\":\"revoked\","
			       "\"extra\":1}",
			       &e, &why),
			 0);
	assert_int_equal(e.kind, APIKEY_EVENT_KEY_REVOKED);
	assert_string_equal(e.key_prefix, "fr_live_3kQ9aZ0b");
	assert_int_equal(parse(APIKEY_EVENT_SUSPENDED,
			       "{\"tenant_id\":\"0D6C8F52-3B1E-4A7D-8C9F-2E4B6A8D0C13\"}", &e, &why),
			 0);
	assert_int_equal(e.kind, APIKEY_EVENT_TENANT_REFUSED);
	assert_string_equal(e.tenant_id, TID); /* lower-cased */
	assert_int_equal(parse(APIKEY_EVENT_UPDATED, "{\"tenant_id\":\"" TID "\",\"status\":\"Active\"}",
			       &e, &why),
			 0);
	assert_int_equal(e.kind, APIKEY_EVENT_TENANT_ACTIVE);
	assert_int_equal(parse(APIKEY_EVENT_UPDATED, "{\"tenant_id\":\"" TID "\",\"status\":\"Trial\"}",
			       &e, &why),
			 0);
	assert_int_equal(e.kind, APIKEY_EVENT_TENANT_ACTIVE);
	assert_int_equal(parse(APIKEY_EVENT_UPDATED,
			       "{\"tenant_id\":\"" TID "\",\"status\":\"Cancelled\"}", &e, &why),
			 0);
	assert_int_equal(e.kind, APIKEY_EVENT_TENANT_REFUSED);
}

static void test_apikey_events_poison(void **state)
{
	static const struct {
		const char *type, *json;
	} bad[] = {
		{APIKEY_EVENT_REVOKED, "[]"},
		{APIKEY_EVENT_REVOKED, "{}"},
		{APIKEY_EVENT_REVOKED, "{\"key_prefix\":\"fr_live_3kQ9\"}"},
		{APIKEY_EVENT_REVOKED, "{\"key_prefix\":\"fr_prod_3kQ9aZ0b\"}"},
		{APIKEY_EVENT_REVOKED, "{\"key_prefix\":\"fr_live_3kQ9aZ0!\"}"},
		{APIKEY_EVENT_REVOKED, "{\"key_prefix\":42}"},
		{APIKEY_EVENT_SUSPENDED, "{\"tenant_id\":\"acme\"}"},
		{APIKEY_EVENT_SUSPENDED, "{}"},
		{APIKEY_EVENT_UPDATED, "{\"tenant_id\":\"" TID "\"}"},
		{APIKEY_EVENT_UPDATED, "{\"tenant_id\":\"" TID "\",\"status\":\"Frozen\"}"},
		{"identity.session.revoked.v1", "{\"tenant_id\":\"" TID "\"}"},
	};
	struct apikey_event e;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (parse(bad[i].type, bad[i].json, &e, &why) == 0)
			fail_msg("accepted %s %s", bad[i].type, bad[i].json);
		assert_non_null(why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apikey_events_types),
		cmocka_unit_test(test_apikey_events_parse),
		cmocka_unit_test(test_apikey_events_poison),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
