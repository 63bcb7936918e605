/*
 * test_authn.c - the JWT surface's pure parts: Bearer extraction, the claims the gateway
 * keeps, the 401 codes, and a real ES256 token going through verify -> claims -> cache.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authn.h"
#include "common/jwt.h"
#include "gateway.h"

#define U "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
#define T "0b1c2d3e-4f50-4162-8374-95a6b7c8d9e0"
#define S "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

static void test_authn_bearer_extraction(void **state)
{
	const char *tok = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(authn_bearer("Bearer abc.def.ghi", &tok, &len), 0);
	assert_int_equal(len, 11);
	assert_memory_equal(tok, "abc.def.ghi", 11);
	assert_int_equal(authn_bearer("bearer   abc  ", &tok, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(tok, "abc", 3);
	assert_int_equal(authn_bearer("BEARER\tx", &tok, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(authn_bearer(NULL, &tok, &len), -1);
	assert_int_equal(authn_bearer("", &tok, &len), -1);
	assert_int_equal(authn_bearer("Bearer", &tok, &len), -1);
	assert_int_equal(authn_bearer("Bearer    ", &tok, &len), -1);
	assert_int_equal(authn_bearer("Bearerabc", &tok, &len), -1);
	assert_int_equal(authn_bearer("Basic dXNlcjpwYXNz", &tok, &len), -1);
	assert_int_equal(authn_bearer("Token abc", &tok, &len), -1);
}

static json_object *payload(const char *sub, const char *tid, const char *sid)
{
	json_object *o = json_object_new_object();

	if (sub != NULL)
		json_object_object_add(o, "sub", json_object_new_string(sub));
	if (tid != NULL)
		json_object_object_add(o, "tid", json_object_new_string(tid));
	if (sid != NULL)
		json_object_object_add(o, "sid", json_object_new_string(sid));
	json_object_object_add(o, "exp", json_object_new_int64(1800000000));
	return o;
}

static void test_authn_claims_from_json(void **state)
{
	struct gw_claims c;
	json_object *o = payload(U, T, S);

	(void)state;
	assert_int_equal(authn_claims_from_json(o, &c), 0);
	assert_string_equal(c.sub, U);
	assert_string_equal(c.tid, T);
	assert_string_equal(c.sid, S);
	assert_false(c.adm);
	assert_false(c.tadm);
	assert_int_equal(c.exp, 1800000000);
	json_object_object_add(o, "adm", json_object_new_boolean(1));
	json_object_object_add(o, "tadm", json_object_new_boolean(0));
	assert_int_equal(authn_claims_from_json(o, &c), 0);
	assert_true(c.adm);
	assert_false(c.tadm);
	/* a role claim of the wrong type is not "false": the token is refused */
	json_object_object_add(o, "adm", json_object_new_string("true"));
	assert_int_equal(authn_claims_from_json(o, &c), -1);
	/* a service token is never a user's token, even with user-shaped claims */
	json_object_object_add(o, "adm", json_object_new_boolean(0));
	assert_int_equal(authn_claims_from_json(o, &c), 0);
	json_object_object_add(o, "token_use", json_object_new_string("service"));
	assert_int_equal(authn_claims_from_json(o, &c), -1);
	json_object_put(o);
}

static void test_authn_claims_rejects_missing_or_bad(void **state)
{
	json_object *cases[] = {
		payload(NULL, T, S),   payload(U, NULL, S),         payload(U, T, NULL),
		payload("u1", T, S),   payload(U, T, S "0"),        payload(U, "", S),
	};
	struct gw_claims c;
	json_object *noexp = json_object_new_object();
	json_object *strexp = payload(U, T, S);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(authn_claims_from_json(cases[i], &c), -1);
		assert_int_equal(c.sub[0], '\0');
		json_object_put(cases[i]);
	}
	json_object_object_add(noexp, "sub", json_object_new_string(U));
	json_object_object_add(noexp, "tid", json_object_new_string(T));
	json_object_object_add(noexp, "sid", json_object_new_string(S));
	assert_int_equal(authn_claims_from_json(noexp, &c), -1);
	json_object_object_add(strexp, "exp", json_object_new_string("1800000000"));
	assert_int_equal(authn_claims_from_json(strexp, &c), -1);
	assert_int_equal(authn_claims_from_json(NULL, &c), -1);
	json_object_put(noexp);
	json_object_put(strexp);
}

static void test_authn_jwt_codes(void **state)
{
	(void)state;
	assert_string_equal(authn_jwt_code(JWT_EEXPIRED), "token_expired");
	assert_string_equal(authn_jwt_code(JWT_ESIG), "token_invalid");
	assert_string_equal(authn_jwt_code(JWT_EALG), "token_invalid");
	assert_string_equal(authn_jwt_code(JWT_EKID), "token_invalid");
	assert_string_equal(authn_jwt_code(JWT_EMALFORMED), "token_invalid");
	assert_string_equal(authn_jwt_code(JWT_ENOTYET), "token_invalid");
	assert_string_equal(authn_jwt_code(JWT_EISS), "token_invalid");
	assert_string_equal(authn_jwt_code(JWT_EAUD), "token_invalid");
	assert_string_equal(authn_jwt_code(JWT_ECLAIMS), "token_invalid");
}

/* A real token: signed by identity's library, verified with the gateway's options, cached
 * under its signature, and a one-byte change of the signature is neither cached nor valid. */
static void test_authn_real_token_through_cache(void **state)
{
	struct jwt_key *k = jwt_key_generate("k-00112233aabbccdd");
	struct jwt_keyset *ks = jwt_keyset_new();
	struct token_cache *tc = token_cache_new(64);
	struct jwt_verify_opts vo = {"flatrender-identity", "flatrender", GW_JWT_LEEWAY_S, 0};
	json_object *claims = payload(U, T, S), *out = NULL;
	time_t now = time(NULL);
	unsigned char key[TC_KEY_LEN];
	struct gw_claims c, hit;
	char kid[128];
	char *tok;

	(void)state;
	assert_non_null(k);
	assert_int_equal(jwt_keyset_add(ks, k), 0);
	json_object_object_add(claims, "iss", json_object_new_string("flatrender-identity"));
	json_object_object_add(claims, "aud", json_object_new_string("flatrender"));
	json_object_object_add(claims, "iat", json_object_new_int64(now));
	json_object_object_add(claims, "nbf", json_object_new_int64(now));
	json_object_object_add(claims, "exp", json_object_new_int64(now + 900));
	json_object_object_add(claims, "tadm", json_object_new_boolean(1));
	tok = jwt_sign(k, claims);
	assert_non_null(tok);
	assert_int_equal(jwt_verify(ks, tok, strlen(tok), &vo, &out, NULL), JWT_OK);
	assert_int_equal(authn_claims_from_json(out, &c), 0);
	assert_true(c.tadm);
	assert_int_equal(jwt_peek_kid(tok, strlen(tok), kid), 0);
	assert_string_equal(kid, "k-00112233aabbccdd");
	assert_int_equal(token_cache_key(tok, strlen(tok), key), 0);
	token_cache_insert(tc, key, tok, strlen(tok), kid, &c, now, GW_JWT_LEEWAY_S);
	assert_int_equal(token_cache_lookup(tc, key, tok, strlen(tok), now, GW_JWT_LEEWAY_S, &hit),
			 TC_HIT);
	assert_string_equal(hit.sid, S);
	/* tamper with the last signature character: another key, and it does not verify */
	tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
	assert_int_equal(token_cache_key(tok, strlen(tok), key), 0);
	assert_int_equal(token_cache_lookup(tc, key, tok, strlen(tok), now, GW_JWT_LEEWAY_S, &hit),
			 TC_MISS);
	assert_int_not_equal(jwt_verify(ks, tok, strlen(tok), &vo, NULL, NULL), JWT_OK);
	/* a wrong audience is refused by the verifier the gateway configures */
	vo.audience = "someone-else";
	tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
	free(tok);
	tok = jwt_sign(k, claims);
	assert_int_equal(jwt_verify(ks, tok, strlen(tok), &vo, NULL, NULL), JWT_EAUD);
	free(tok);
	json_object_put(out);
	json_object_put(claims);
	token_cache_free(tc);
	jwt_keyset_free(ks);
	jwt_key_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authn_bearer_extraction),
		cmocka_unit_test(test_authn_claims_from_json),
		cmocka_unit_test(test_authn_claims_rejects_missing_or_bad),
		cmocka_unit_test(test_authn_jwt_codes),
		cmocka_unit_test(test_authn_real_token_through_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
