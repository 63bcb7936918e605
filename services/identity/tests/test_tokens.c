/*
 * test_tokens.c - refresh tokens (format, uniqueness, stored hash) and access tokens (the
 * claims of api.md, signed ES256 and verifiable with the published key).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "tokens.h"

static void test_tokens_refresh_format(void **state)
{
	char tok[REFRESH_TOKEN_LEN + 1], hash[65];

	(void)state;
	assert_int_equal(refresh_token_new(tok, hash), 0);
	assert_int_equal(strlen(tok), 47);
	assert_memory_equal(tok, "frt_", 4);
	assert_int_equal(strspn(tok + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					 "0123456789-_"),
			 43);
	assert_true(refresh_token_well_formed(tok));
}

static void test_tokens_refresh_unique_and_hash_is_sha256_hex(void **state)
{
	char a[REFRESH_TOKEN_LEN + 1], b[REFRESH_TOKEN_LEN + 1], ha[65], hb[65], expect[65];

	(void)state;
	assert_int_equal(refresh_token_new(a, ha), 0);
	assert_int_equal(refresh_token_new(b, hb), 0);
	assert_string_not_equal(a, b);
	assert_string_not_equal(ha, hb);
	sha256_hex(a, strlen(a), expect);
	assert_string_equal(ha, expect);
	assert_int_equal(strlen(ha), 64);
	assert_int_equal(strspn(ha, "0123456789abcdef"), 64);
	refresh_token_hash(b, expect);
	assert_string_equal(hb, expect);
	assert_null(strstr(ha, a + 4)); /* the hash is not the token */
}

static void test_tokens_refresh_well_formed_rejects_others(void **state)
{
	(void)state;
	assert_false(refresh_token_well_formed(NULL));
	assert_false(refresh_token_well_formed(""));
	assert_false(refresh_token_well_formed("frt_"));
	assert_false(refresh_token_well_formed("frt_abc"));
	/* 43 characters but one outside base64url */
	assert_false(refresh_token_well_formed("frt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa+"));
	assert_true(refresh_token_well_formed("frt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_"));
	/* one too long, wrong prefix */
	assert_false(refresh_token_well_formed("frt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	assert_false(refresh_token_well_formed("frx_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static const struct access_claims CLAIMS = {
	.issuer = "flatrender-identity",
	.audience = "flatrender",
	.user_id = "0d6f5f2c-0e5b-4b1a-8f5e-3c1d2b4a5e6f",
	.tenant_id = "7b0c0b9e-5d0c-4c51-9a5e-0d8b8b2f1a11",
	.session_id = "1b6f5f2c-0e5b-4b1a-8f5e-3c1d2b4a5e6f",
	.is_admin = true,
	.is_tenant_admin = false,
	.now = 1779876900,
	.ttl_s = 900,
};

static void test_tokens_access_claims(void **state)
{
	json_object *c = access_claims_to_json(&CLAIMS);
	static const char *const keys[] = {"iss",  "aud", "sub", "tid", "sid", "adm",
					   "tadm", "iat", "nbf", "exp", "jti", NULL};
	size_t n = 0;

	(void)state;
	for (; keys[n] != NULL; n++)
		assert_true(json_object_object_get_ex(c, keys[n], NULL));
	assert_int_equal(json_object_object_length(c), n);
	assert_string_equal(json_object_get_string(json_object_object_get(c, "sub")),
			    CLAIMS.user_id);
	assert_string_equal(json_object_get_string(json_object_object_get(c, "sid")),
			    CLAIMS.session_id);
	assert_true(json_object_get_boolean(json_object_object_get(c, "adm")));
	assert_false(json_object_get_boolean(json_object_object_get(c, "tadm")));
	assert_int_equal(json_object_get_int64(json_object_object_get(c, "exp")), CLAIMS.now + 900);
	assert_int_equal(json_object_get_int64(json_object_object_get(c, "nbf")), CLAIMS.now);
	assert_true(uuid_valid(json_object_get_string(json_object_object_get(c, "jti"))));
	json_object_put(c);
}

static void test_tokens_access_token_verifies_with_public_key(void **state)
{
	struct jwt_key *k = jwt_key_generate("k-0123456789abcdef");
	struct jwt_keyset *ks = jwt_keyset_new();
	struct jwt_verify_opts o = {.issuer = "flatrender-identity",
				    .audience = "flatrender",
				    .leeway_s = 0,
				    .now = CLAIMS.now + 10};
	json_object *claims = NULL;
	char *tok;

	(void)state;
	assert_non_null(k);
	assert_int_equal(jwt_keyset_add(ks, k), 0);
	tok = access_token_sign(k, &CLAIMS);
	assert_non_null(tok);
	assert_int_equal(jwt_verify(ks, tok, strlen(tok), &o, &claims, NULL), JWT_OK);
	assert_string_equal(json_object_get_string(json_object_object_get(claims, "tid")),
			    CLAIMS.tenant_id);
	json_object_put(claims);
	o.now = CLAIMS.now + 901;
	assert_int_equal(jwt_verify(ks, tok, strlen(tok), &o, NULL, NULL), JWT_EEXPIRED);
	o.now = CLAIMS.now + 10;
	o.audience = "someone-else";
	assert_int_equal(jwt_verify(ks, tok, strlen(tok), &o, NULL, NULL), JWT_EAUD);
	free(tok);
	jwt_keyset_free(ks);
	jwt_key_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens_refresh_format),
		cmocka_unit_test(test_tokens_refresh_unique_and_hash_is_sha256_hex),
		cmocka_unit_test(test_tokens_refresh_well_formed_rejects_others),
		cmocka_unit_test(test_tokens_access_claims),
		cmocka_unit_test(test_tokens_access_token_verifies_with_public_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
