/*
 * test_apikey.c - API-key rules (apikey.c): generated key format, prefix, last4 and stored
 * hash, prefix / hash recognition, the scope enum, CIDR and address literals; and the
 * ApiKey / TenantDetail / page JSON shapes (identity_json.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "apikey.h"
#include "common/crypto.h"
#include "identity_json.h"

static bool all_base62(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z')))
			return false;
	return true;
}

static void test_apikey_generate_format(void **state)
{
	struct apikey_secret s;
	char hash[65];

	(void)state;
	assert_int_equal(apikey_generate("Live", &s), 0);
	assert_int_equal(strlen(s.key), APIKEY_LEN);
	assert_memory_equal(s.key, "fr_live_", 8);
	assert_true(all_base62(s.key + 8, 40));
	assert_int_equal(strlen(s.prefix), 16);
	assert_memory_equal(s.prefix, s.key, 16);
	assert_string_equal(s.last4, s.key + 44);
	sha256_hex(s.key, strlen(s.key), hash);
	assert_string_equal(s.hash, hash);
	assert_true(apikey_prefix_valid(s.prefix));
	assert_true(apikey_hash_valid(s.hash));

	assert_int_equal(apikey_generate("Test", &s), 0);
	assert_memory_equal(s.key, "fr_test_", 8);
	assert_int_equal(apikey_generate("Prod", &s), -1);
	assert_int_equal(apikey_generate(NULL, &s), -1);
	assert_int_equal(s.key[0], '\0'); /* wiped on failure */
}

static void test_apikey_generate_is_random_and_uniform_alphabet(void **state)
{
	struct apikey_secret a, b;
	int seen[128] = {0};
	int distinct = 0;

	(void)state;
	assert_int_equal(apikey_generate("Live", &a), 0);
	assert_int_equal(apikey_generate("Live", &b), 0);
	assert_string_not_equal(a.key, b.key);
	assert_string_not_equal(a.prefix, b.prefix);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(apikey_generate("Live", &a), 0);
		for (int j = 8; j < APIKEY_LEN; j++)
			seen[(unsigned char)a.key[j]]++;
	}
	for (int ch = 0; ch < 128; ch++)
		distinct += seen[ch] > 0;
	assert_int_equal(distinct, 62); /* 8000 draws reach every base62 character */
	apikey_secret_wipe(&a);
	assert_int_equal(a.key[0], '\0');
}

static void test_apikey_prefix_and_hash_shapes(void **state)
{
	(void)state;
	assert_true(apikey_prefix_valid("fr_live_AbC09xyz"));
	assert_true(apikey_prefix_valid("fr_test_00000000"));
	assert_false(apikey_prefix_valid("fr_live_AbC09xy"));
	assert_false(apikey_prefix_valid("fr_live_AbC09xyzz"));
	assert_false(apikey_prefix_valid("fr_prod_AbC09xyz"));
	assert_false(apikey_prefix_valid("fr_live_AbC-9xyz"));
	assert_false(apikey_prefix_valid(NULL));
	assert_true(apikey_hash_valid("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	assert_false(apikey_hash_valid("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
	assert_false(apikey_hash_valid("0123456789abcdef"));
	assert_false(apikey_hash_valid(NULL));
}

static void test_apikey_scopes(void **state)
{
	size_t n = 0;

	(void)state;
	while (apikey_scopes[n] != NULL)
		assert_true(apikey_scope_known(apikey_scopes[n++]));
	assert_int_equal(n, 11);
	assert_true(apikey_scope_known("users:read"));
	assert_true(apikey_scope_known("webhooks:manage"));
	assert_false(apikey_scope_known("users:READ"));
	assert_false(apikey_scope_known("admin"));
	assert_false(apikey_scope_known(""));
	assert_false(apikey_scope_known(NULL));
}

/* Asserts s parses to the canonical want. */
static void cidr_ok(const char *s, const char *want)
{
	char out[APIKEY_CIDR_MAX];
	const char *why = "x";

	if (apikey_cidr_parse(s, out, sizeof(out), &why) != 0)
		fail_msg("%s refused: %s", s, why);
	assert_string_equal(out, want);
	assert_null(why);
}

static void cidr_bad(const char *s)
{
	char out[APIKEY_CIDR_MAX];
	const char *why = NULL;

	if (apikey_cidr_parse(s, out, sizeof(out), &why) == 0)
		fail_msg("%s accepted as %s", s, out);
	assert_non_null(why);
}

static void test_apikey_cidr(void **state)
{
	(void)state;
	cidr_ok("10.0.0.0/8", "10.0.0.0/8");
	cidr_ok("203.0.113.7", "203.0.113.7/32");
	cidr_ok("0.0.0.0/0", "0.0.0.0/0");
	cidr_ok("192.168.1.128/25", "192.168.1.128/25");
	cidr_ok("2001:db8::/32", "2001:db8::/32");
	cidr_ok("2001:DB8:0:0::1", "2001:db8::1/128");
	cidr_ok("::/0", "::/0");
	cidr_ok("fe80::/10", "fe80::/10");
	/* IPv4-mapped IPv6: stored in the IPv4 form the gateway matches peers in */
	cidr_ok("::ffff:203.0.113.7", "203.0.113.7/32");
	cidr_ok("::ffff:10.0.0.0/104", "10.0.0.0/8");
	cidr_ok("::FFFF:192.168.1.128/121", "192.168.1.128/25");
	cidr_ok("::ffff:0.0.0.0/96", "0.0.0.0/0");
	cidr_bad("::ffff:0.0.0.0/95");    /* wider than the mapped space */
	cidr_bad("::ffff:10.0.0.1/104");  /* host bits set */
	cidr_bad("10.0.0.1/8");        /* host bits set */
	cidr_bad("192.168.1.129/25");  /* host bits set */
	cidr_bad("2001:db8::1/32");    /* host bits set */
	cidr_bad("10.0.0.0/33");
	cidr_bad("2001:db8::/129");
	cidr_bad("10.0.0.0/");
	cidr_bad("10.0.0.0/08");
	cidr_bad("10.0.0.0/-1");
	cidr_bad("10.0.0.0/8/8");
	cidr_bad("300.0.0.0/8");
	cidr_bad("10.0.0");
	cidr_bad("example.com");
	cidr_bad("/8");
	cidr_bad("");
	cidr_bad(NULL);
	assert_true(apikey_ip_valid("127.0.0.1"));
	assert_true(apikey_ip_valid("::1"));
	assert_false(apikey_ip_valid("127.0.0.1/32"));
	assert_false(apikey_ip_valid("localhost"));
	assert_false(apikey_ip_valid(NULL));
}

/* Asserts o has exactly the keys in the NULL-terminated list. */
static void assert_keys(json_object *o, const char *const *keys)
{
	size_t n = 0;

	for (; keys[n] != NULL; n++)
		if (!json_object_object_get_ex(o, keys[n], NULL))
			fail_msg("missing key %s", keys[n]);
	assert_int_equal(json_object_object_length(o), n);
}

static const struct api_key KEY = {
	.id = "4c2e8a60-7d1f-4b93-a5e7-6f8091a2b3c4",
	.tenant_id = "0d6c8f52-3b1e-4a7d-8c9f-2e4b6a8d0c13",
	.name = "ci",
	.environment = "Live",
	.key_prefix = "fr_live_3kQ9aZ7m",
	.last4 = "x9Zq",
	.scopes = "users:read,users:write",
	.allowed_ips = "",
	.rate_limit_rpm = 60,
	.is_active = true,
	.expires_at = NULL,
	.revoked_at = NULL,
	.last_used_at = "2026-05-27T10:15:00Z",
	.usage_count = 7,
	.created_at = "2026-05-27T10:00:00Z",
};

static const char *const KEY_FIELDS[] = {
	"id",           "tenant_id",  "name",       "environment",  "key_prefix",
	"last4",        "scopes",     "allowed_ips", "rate_limit_rpm", "is_active",
	"expires_at",   "revoked_at", "last_used_at", "usage_count", "created_at", NULL};

static void test_apikey_json_shapes(void **state)
{
	static const char *const with_secret[] = {
		"id",           "tenant_id",  "name",       "environment",  "key_prefix",
		"last4",        "scopes",     "allowed_ips", "rate_limit_rpm", "is_active",
		"expires_at",   "revoked_at", "last_used_at", "usage_count", "created_at",
		"secret_key",   NULL};
	json_object *o = api_key_to_json(&KEY, NULL), *v;

	(void)state;
	assert_keys(o, KEY_FIELDS);
	assert_true(json_object_object_get_ex(o, "scopes", &v));
	assert_int_equal(json_object_array_length(v), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)), "users:write");
	assert_true(json_object_object_get_ex(o, "allowed_ips", &v));
	assert_true(json_object_is_type(v, json_type_array));
	assert_int_equal(json_object_array_length(v), 0);
	assert_true(json_object_object_get_ex(o, "expires_at", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "usage_count", &v));
	assert_int_equal(json_object_get_int64(v), 7);
	json_object_put(o);

	o = api_key_to_json(&KEY, "fr_live_3kQ9aZ7mAAAAAAAAAAAAAAAAAAAAAAAAAAAAx9Zq");
	assert_keys(o, with_secret);
	json_object_put(o);
}

static void test_apikey_tenant_detail_and_page_shapes(void **state)
{
	static const char *const detail[] = {
		"id",          "slug",          "name",           "kind",
		"status",      "custom_domain", "domain_verified", "contact_email",
		"max_users",   "max_storage_gb", "monthly_render_qty", "trial_ends_at",
		"created_at",  "contact_name",  "contact_phone",  "billing_email",
		"allowed_origins", NULL};
	static const char *const page[] = {"data", "meta", NULL};
	static const char *const meta[] = {"page", "page_size", "total", "has_more", NULL};
	struct tenant_detail d = {
		.t = {.id = "0d6c8f52-3b1e-4a7d-8c9f-2e4b6a8d0c13", .slug = "acme", .name = "ACME",
		      .kind = "Reseller", .status = "Active", .created_at = "2026-05-27T10:00:00Z"},
		.contact_name = "Ada",
		.allowed_origins = "https://a.test,http://b.test:8080",
	};
	json_object *o = tenant_detail_to_json(&d), *v, *m;

	(void)state;
	assert_keys(o, detail);
	assert_true(json_object_object_get_ex(o, "allowed_origins", &v));
	assert_int_equal(json_object_array_length(v), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)),
			    "http://b.test:8080");
	assert_true(json_object_object_get_ex(o, "billing_email", &v));
	assert_null(v);
	json_object_put(o);

	o = page_to_json(json_object_new_array(), 2, 10, 21);
	assert_keys(o, page);
	assert_true(json_object_object_get_ex(o, "meta", &m));
	assert_keys(m, meta);
	assert_true(json_object_object_get_ex(m, "has_more", &v));
	assert_true(json_object_get_boolean(v)); /* 20 of 21 shown */
	json_object_put(o);
	o = page_to_json(json_object_new_array(), 3, 10, 21);
	assert_true(json_object_object_get_ex(o, "meta", &m));
	assert_true(json_object_object_get_ex(m, "has_more", &v));
	assert_false(json_object_get_boolean(v));
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apikey_generate_format),
		cmocka_unit_test(test_apikey_generate_is_random_and_uniform_alphabet),
		cmocka_unit_test(test_apikey_prefix_and_hash_shapes),
		cmocka_unit_test(test_apikey_scopes),
		cmocka_unit_test(test_apikey_cidr),
		cmocka_unit_test(test_apikey_json_shapes),
		cmocka_unit_test(test_apikey_tenant_detail_and_page_shapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
