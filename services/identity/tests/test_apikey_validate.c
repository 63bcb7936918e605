/*
 * test_apikey_validate.c - the request bodies of the tenant, API-key and reseller routes
 * (validate.c): TenantCreate, TenantUpdate, ApiKeyCreate (scopes, CIDRs, expiry, rate limit),
 * validate and usage bodies, pagination and ISO 8601 parsing; and the payloads of
 * identity.tenant.updated/suspended.v1 and identity.api_key.revoked.v1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/json.h"
#include "identity_events.h"
#include "validate.h"

#define NOW 1779876900 /* 2026-05-27T10:15:00Z */

static json_object *parse(const char *s)
{
	json_object *o = json_parse_strict(s, strlen(s), NULL);

	assert_non_null(o);
	return o;
}

/* True when v's details name field. */
static bool names(const struct jv *v, const char *field)
{
	for (size_t i = 0; v->details != NULL && i < json_object_array_length(v->details); i++) {
		json_object *f;

		if (json_object_object_get_ex(json_object_array_get_idx(v->details, i), "field", &f) &&
		    strcmp(json_object_get_string(f), field) == 0)
			return true;
	}
	return false;
}

static void test_validate_tenant_create(void **state)
{
	struct tenant_create_req r;
	json_object *b;
	struct jv v;

	(void)state;
	b = parse("{\"slug\":\"acme-1\",\"name\":\"ACME\",\"contact_email\":\"a@b.test\","
		  "\"admin_email\":\"Boss@B.test\",\"admin_password\":\"12345678\"}");
	jv_init(&v);
	assert_int_equal(tenant_create_parse(b, &r, &v), 0);
	assert_string_equal(r.kind, "Reseller");
	assert_string_equal(r.admin_email, "boss@b.test");
	assert_null(r.contact_name);
	json_object_put(b);

	b = parse("{\"slug\":\"-acme\",\"kind\":\"Internal\",\"contact_email\":\"x\","
		  "\"admin_password\":\"short\",\"status\":\"Active\"}");
	jv_init(&v);
	assert_int_equal(tenant_create_parse(b, &r, &v), -1);
	assert_true(names(&v, "slug") && names(&v, "name") && names(&v, "kind"));
	assert_true(names(&v, "contact_email") && names(&v, "admin_email"));
	assert_true(names(&v, "admin_password") && names(&v, "status"));
	jv_clear(&v);
	json_object_put(b);

	assert_true(tenant_slug_valid("a"));
	assert_true(tenant_slug_valid("acme-studios-2"));
	assert_false(tenant_slug_valid("Acme"));
	assert_false(tenant_slug_valid("acme-"));
	assert_false(tenant_slug_valid("ac_me"));
	assert_false(tenant_slug_valid(""));
}

static void test_validate_tenant_patch(void **state)
{
	struct tenant_patch p;
	json_object *b;
	struct jv v;

	(void)state;
	b = parse("{\"contact_name\":null,\"name\":\"N\",\"allowed_origins\":[\"https://a.test\","
		  "\"http://[::1]:8080\"],\"status\":\"Suspended\"}");
	jv_init(&v);
	assert_int_equal(tenant_patch_parse(b, &p, &v), 0);
	assert_int_equal(p.n, 4);
	assert_string_equal(p.set[0].column, "name");
	assert_string_equal(p.set[1].column, "contact_name");
	assert_null(p.set[1].value);
	assert_string_equal(p.set[2].column, "allowed_origins");
	assert_string_equal(p.set[2].value, "{\"https://a.test\",\"http://[::1]:8080\"}");
	assert_string_equal(p.status, "Suspended");
	tenant_patch_free(&p);
	json_object_put(b);

	b = parse("{\"name\":null,\"status\":\"Frozen\",\"allowed_origins\":[\"https://a.test/x\"],"
		  "\"billing_email\":\"nope\",\"kind\":\"Enterprise\"}");
	jv_init(&v);
	assert_int_equal(tenant_patch_parse(b, &p, &v), -1);
	assert_true(names(&v, "name") && names(&v, "status") && names(&v, "allowed_origins"));
	assert_true(names(&v, "billing_email") && names(&v, "kind"));
	assert_null(p.origins);
	jv_clear(&v);
	json_object_put(b);

	assert_true(origin_valid("https://app.example.test"));
	assert_true(origin_valid("http://localhost:3000"));
	assert_false(origin_valid("https://app.example.test/"));
	assert_false(origin_valid("https://user@app.example.test"));
	assert_false(origin_valid("http://host:0"));
	assert_false(origin_valid("http://host:99999"));
	assert_false(origin_valid("ftp://host"));
	assert_false(origin_valid("http://a..b"));
}

static void test_validate_apikey_create(void **state)
{
	struct apikey_create_req r;
	json_object *b;
	struct jv v;

	(void)state;
	b = parse("{\"name\":\"ci\",\"scopes\":[\"users:read\",\"renders:create\"],"
		  "\"allowed_ips\":[\"10.0.0.0/8\",\"::1\"],\"expires_at\":\"2026-06-01T00:00:00Z\"}");
	jv_init(&v);
	assert_int_equal(apikey_create_parse(b, NOW, &r, &v), 0);
	assert_string_equal(r.environment, "Live");
	assert_int_equal(r.rate_limit_rpm, 60);
	assert_string_equal(r.scopes, "{\"users:read\",\"renders:create\"}");
	assert_string_equal(r.allowed_ips, "{\"10.0.0.0/8\",\"::1/128\"}");
	assert_string_equal(r.expires_at, "2026-06-01T00:00:00Z");
	apikey_create_free(&r);
	json_object_put(b);

	b = parse("{\"name\":\"ci\",\"scopes\":[\"users:read\"]}");
	jv_init(&v);
	assert_int_equal(apikey_create_parse(b, NOW, &r, &v), 0);
	assert_string_equal(r.allowed_ips, "{}");
	assert_null(r.expires_at);
	apikey_create_free(&r);
	json_object_put(b);

	b = parse("{\"name\":\"\",\"environment\":\"Prod\",\"scopes\":[\"users:read\",\"sudo\"],"
		  "\"allowed_ips\":[\"10.0.0.1/8\"],\"rate_limit_rpm\":0,"
		  "\"expires_at\":\"2026-05-27T10:14:59Z\",\"x\":1}");
	jv_init(&v);
	assert_int_equal(apikey_create_parse(b, NOW, &r, &v), -1);
	assert_true(names(&v, "name") && names(&v, "environment") && names(&v, "scopes"));
	assert_true(names(&v, "allowed_ips") && names(&v, "rate_limit_rpm"));
	assert_true(names(&v, "expires_at") && names(&v, "x"));
	assert_null(r.scopes);
	jv_clear(&v);
	json_object_put(b);

	b = parse("{\"name\":\"k\",\"scopes\":[\"users:read\",\"users:read\"],\"rate_limit_rpm\":100001}");
	jv_init(&v);
	assert_int_equal(apikey_create_parse(b, NOW, &r, &v), -1);
	assert_true(names(&v, "scopes") && names(&v, "rate_limit_rpm"));
	jv_clear(&v);
	json_object_put(b);
}

static void test_validate_validate_and_usage_bodies(void **state)
{
	struct apikey_validate_req vr;
	struct apikey_usage_req u;
	json_object *b;
	struct jv v;

	(void)state;
	b = parse("{\"key_prefix\":\"fr_live_AAAAAAAA\",\"key_hash\":"
		  "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
		  "\"ip_address\":\"::1\"}");
	jv_init(&v);
	assert_int_equal(apikey_validate_parse(b, &vr, &v), 0);
	json_object_put(b);
	b = parse("{\"key_prefix\":\"x\",\"key_hash\":\"ABC\",\"ip_address\":\"1.2.3\"}");
	jv_init(&v);
	assert_int_equal(apikey_validate_parse(b, &vr, &v), -1);
	assert_true(names(&v, "key_hash") && names(&v, "ip_address") && !names(&v, "key_prefix"));
	jv_clear(&v);
	json_object_put(b);

	b = parse("{\"usage\":[{\"api_key_id\":\"4c2e8a60-7d1f-4b93-a5e7-6f8091a2b3c4\",\"count\":3,"
		  "\"last_used_at\":\"2026-05-27T10:15:00.250+02:00\"}]}");
	jv_init(&v);
	assert_int_equal(apikey_usage_parse(b, &u, &v), 0);
	assert_int_equal(u.n, 1);
	assert_string_equal(u.ids, "{\"4c2e8a60-7d1f-4b93-a5e7-6f8091a2b3c4\"}");
	assert_string_equal(u.counts, "{\"3\"}");
	apikey_usage_free(&u);
	json_object_put(b);
	b = parse("{\"usage\":[{\"api_key_id\":\"x\",\"count\":3,\"last_used_at\":\"now\"}]}");
	jv_init(&v);
	assert_int_equal(apikey_usage_parse(b, &u, &v), -1);
	assert_true(names(&v, "usage[0]"));
	assert_null(u.ids);
	jv_clear(&v);
	json_object_put(b);
}

static void test_validate_page_and_iso8601(void **state)
{
	struct page p;
	struct jv v;
	time_t t;

	(void)state;
	jv_init(&v);
	assert_int_equal(page_parse(NULL, NULL, &p, &v), 0);
	assert_int_equal(p.page, 1);
	assert_int_equal(p.size, PAGE_SIZE_DEFAULT);
	assert_int_equal(page_parse("3", "100", &p, &v), 0);
	assert_int_equal(p.page * 1000 + p.size, 3100);
	assert_int_equal(page_parse("0", "101", &p, &v), -1);
	assert_true(names(&v, "page") && names(&v, "page_size"));
	jv_clear(&v);
	assert_int_equal(page_parse("01", "x", &p, &v), -1);
	jv_clear(&v);

	assert_true(iso8601_parse("2026-05-27T10:15:00Z", &t));
	assert_int_equal(t, NOW);
	assert_true(iso8601_parse("2026-05-27T12:15:00.123456+02:00", &t));
	assert_int_equal(t, NOW);
	assert_true(iso8601_parse("2024-02-29T00:00:00Z", &t));
	assert_false(iso8601_parse("2026-02-29T00:00:00Z", &t));
	assert_false(iso8601_parse("2026-05-27T10:15:00", &t));
	assert_false(iso8601_parse("2026-05-27 10:15:00Z", &t));
	assert_false(iso8601_parse("2026-05-27T24:00:00Z", &t));
	assert_false(iso8601_parse("2026-05-27T10:15:00.Z", &t));
	assert_false(iso8601_parse("2026-05-27T10:15:00+2:00", &t));
	assert_false(iso8601_parse(NULL, &t));
}

static void test_validate_reseller_user(void **state)
{
	struct reseller_user_req r;
	json_object *b;
	struct jv v;

	(void)state;
	b = parse("{\"email\":\"A@B.test\",\"password\":\"12345678\",\"full_name\":\"A\"}");
	jv_init(&v);
	assert_int_equal(reseller_user_parse(b, &r, &v), 0);
	assert_string_equal(r.email, "a@b.test");
	json_object_put(b);
	b = parse("{\"email\":\"x\",\"password\":\"1\",\"is_admin\":true}");
	jv_init(&v);
	assert_int_equal(reseller_user_parse(b, &r, &v), -1);
	assert_true(names(&v, "email") && names(&v, "password") && names(&v, "is_admin"));
	jv_clear(&v);
	json_object_put(b);
}

static const struct tenant T = {.id = "0d6c8f52-3b1e-4a7d-8c9f-2e4b6a8d0c13",
				.slug = "acme",
				.name = "ACME",
				.kind = "Reseller",
				.status = "Suspended"};

static void test_validate_event_payloads(void **state)
{
	json_object *o, *v;

	(void)state;
	o = tenant_updated_data(&T, "name,status", "2026-05-27T10:15:00.000Z");
	assert_non_null(o);
	assert_int_equal(json_object_object_length(o), 7);
	assert_true(json_object_object_get_ex(o, "changed_fields", &v));
	assert_int_equal(json_object_array_length(v), 2);
	json_object_put(o);
	assert_null(tenant_updated_data(&T, "", "2026-05-27T10:15:00.000Z"));

	o = tenant_suspended_data(&T, "Active", NULL, NULL, "2026-05-27T10:15:00.000Z");
	assert_non_null(o);
	assert_int_equal(json_object_object_length(o), 6);
	assert_true(json_object_object_get_ex(o, "reason", &v));
	assert_null(v);
	json_object_put(o);
	assert_null(tenant_suspended_data(&T, "Suspended", NULL, NULL, "2026-05-27T10:15:00Z"));

	o = api_key_revoked_data("4c2e8a60-7d1f-4b93-a5e7-6f8091a2b3c4", T.id, "fr_live_3kQ9aZ7m",
				 KEY_REVOKE_ADMIN, NULL, "2026-05-27T10:15:00.000Z");
	assert_non_null(o);
	assert_int_equal(json_object_object_length(o), 6);
	assert_true(json_object_object_get_ex(o, "reason", &v));
	assert_string_equal(json_object_get_string(v), "admin");
	json_object_put(o);
	assert_null(api_key_revoked_data(NULL, T.id, "p", KEY_REVOKE_REVOKED, NULL, "t"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_tenant_create),
		cmocka_unit_test(test_validate_tenant_patch),
		cmocka_unit_test(test_validate_apikey_create),
		cmocka_unit_test(test_validate_validate_and_usage_bodies),
		cmocka_unit_test(test_validate_page_and_iso8601),
		cmocka_unit_test(test_validate_reseller_user),
		cmocka_unit_test(test_validate_event_payloads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
