/*
 * test_token_cache.c - the verified-token cache: insert / lookup, expiry with leeway,
 * eviction within a bucket, purge by kid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "token_cache.h"

#define NOW 1800000000
#define LEEWAY 30
/* The token bytes stored with every key below (a hit needs key and bytes to match). */
#define TOK "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig"

static struct gw_claims claims(int i, int64_t exp)
{
	struct gw_claims c;

	memset(&c, 0, sizeof(c));
	snprintf(c.sub, sizeof(c.sub), "00000000-0000-4000-8000-%012d", i);
	snprintf(c.tid, sizeof(c.tid), "11111111-1111-4111-8111-%012d", i);
	snprintf(c.sid, sizeof(c.sid), "22222222-2222-4222-8222-%012d", i);
	c.adm = (i % 2) == 1;
	c.tadm = true;
	c.exp = exp;
	return c;
}

/* A key landing in bucket 0 of any cache (first 8 bytes zero), distinct per i. */
static void bucket0_key(unsigned char key[TC_KEY_LEN], int i)
{
	memset(key, 0, TC_KEY_LEN);
	key[8] = (unsigned char)i;
	key[31] = 0xaa;
}

/* A compact token "h.p.<86 base64url chars>" whose signature decodes to 64 bytes of seed. */
static void fake_token(char *out, size_t cap, int seed)
{
	unsigned char sig[64];
	char b64[90];

	for (size_t i = 0; i < sizeof(sig); i++)
		sig[i] = (unsigned char)(seed * 31 + (int)i * 7 + (seed >> 8));
	assert_int_equal(b64url_encode(sig, sizeof(sig), b64, sizeof(b64)), 86);
	snprintf(out, cap, "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.%s", b64);
}

static void test_token_cache_key_is_the_signature(void **state)
{
	char tok[200];
	unsigned char k[TC_KEY_LEN], k2[TC_KEY_LEN];

	(void)state;
	fake_token(tok, sizeof(tok), 1);
	assert_int_equal(token_cache_key(tok, strlen(tok), k), 0);
	/* another header/payload with the same signature: the same key (and so the cached
	 * token's own claims, never the forged payload's) */
	tok[0] = 'X';
	assert_int_equal(token_cache_key(tok, strlen(tok), k2), 0);
	assert_memory_equal(k, k2, TC_KEY_LEN);
	fake_token(tok, sizeof(tok), 2);
	assert_int_equal(token_cache_key(tok, strlen(tok), k2), 0);
	assert_memory_not_equal(k, k2, TC_KEY_LEN);
	/* not an ES256 compact token */
	assert_int_equal(token_cache_key("aaa.bbb.ccc", 11, k), -1);
	assert_int_equal(token_cache_key("", 0, k), -1);
	tok[strlen(tok) - 87] = 'x'; /* the '.' before the signature */
	assert_int_equal(token_cache_key(tok, strlen(tok), k), -1);
	fake_token(tok, sizeof(tok), 3);
	tok[strlen(tok) - 5] = '+'; /* not base64url */
	assert_int_equal(token_cache_key(tok, strlen(tok), k), -1);
	fake_token(tok, sizeof(tok), 3);
	assert_int_equal(token_cache_key(tok, strlen(tok) - 1, k), -1);
}

static void test_token_cache_insert_lookup(void **state)
{
	struct token_cache *tc = token_cache_new(100);
	unsigned char k1[TC_KEY_LEN], k2[TC_KEY_LEN];
	struct gw_claims in = claims(1, NOW + 900), out;
	char t1[200], t2[200];

	(void)state;
	assert_non_null(tc);
	assert_true(token_cache_capacity(tc) >= 100);
	fake_token(t1, sizeof(t1), 10);
	fake_token(t2, sizeof(t2), 11);
	assert_int_equal(token_cache_key(t1, strlen(t1), k1), 0);
	assert_int_equal(token_cache_key(t2, strlen(t2), k2), 0);
	assert_memory_not_equal(k1, k2, TC_KEY_LEN);
	assert_int_equal(token_cache_lookup(tc, k1, TOK, sizeof(TOK) - 1, NOW, LEEWAY, &out), TC_MISS);
	token_cache_insert(tc, k1, TOK, sizeof(TOK) - 1, "k-0123456789abcdef", &in, NOW, LEEWAY);
	assert_int_equal(token_cache_count(tc), 1);
	memset(&out, 0, sizeof(out));
	assert_int_equal(token_cache_lookup(tc, k1, TOK, sizeof(TOK) - 1, NOW, LEEWAY, &out), TC_HIT);
	assert_memory_equal(&out, &in, sizeof(in));
	/* a token differing in one byte is another key */
	assert_int_equal(token_cache_lookup(tc, k2, TOK, sizeof(TOK) - 1, NOW, LEEWAY, &out), TC_MISS);
	/* inserting the same key again replaces, never duplicates */
	in.adm = !in.adm;
	token_cache_insert(tc, k1, TOK, sizeof(TOK) - 1, "k-0123456789abcdef", &in, NOW, LEEWAY);
	assert_int_equal(token_cache_count(tc), 1);
	assert_int_equal(token_cache_lookup(tc, k1, TOK, sizeof(TOK) - 1, NOW, LEEWAY, &out), TC_HIT);
	assert_int_equal(out.adm, in.adm);
	token_cache_free(tc);
}

static void test_token_cache_expiry_with_leeway(void **state)
{
	struct token_cache *tc = token_cache_new(16);
	unsigned char k[TC_KEY_LEN];
	struct gw_claims in = claims(2, NOW + 10), out;

	char t[200];

	(void)state;
	fake_token(t, sizeof(t), 20);
	assert_int_equal(token_cache_key(t, strlen(t), k), 0);
	token_cache_insert(tc, k, TOK, sizeof(TOK) - 1, "kid", &in, NOW, LEEWAY);
	/* still valid 39 s after exp (leeway 30 s: valid while exp > now - 30) */
	assert_int_equal(token_cache_lookup(tc, k, TOK, sizeof(TOK) - 1, NOW + 10 + 29, LEEWAY, &out), TC_HIT);
	assert_int_equal(token_cache_lookup(tc, k, TOK, sizeof(TOK) - 1, NOW + 10 + 30, LEEWAY, &out), TC_EXPIRED);
	/* dropped at expiry */
	assert_int_equal(token_cache_count(tc), 0);
	assert_int_equal(token_cache_lookup(tc, k, TOK, sizeof(TOK) - 1, NOW + 10 + 30, LEEWAY, &out), TC_MISS);
	/* an already expired token is not stored at all */
	token_cache_insert(tc, k, TOK, sizeof(TOK) - 1, "kid", &in, NOW + 100, LEEWAY);
	assert_int_equal(token_cache_count(tc), 0);
	token_cache_free(tc);
}

static void test_token_cache_evicts_lru_in_bucket(void **state)
{
	struct token_cache *tc = token_cache_new(16);
	unsigned char k[6][TC_KEY_LEN];
	struct gw_claims out;

	(void)state;
	for (int i = 0; i < 6; i++)
		bucket0_key(k[i], i);
	for (int i = 0; i < 4; i++) {
		struct gw_claims c = claims(i, NOW + 900);

		token_cache_insert(tc, k[i], TOK, sizeof(TOK) - 1, "kid", &c, NOW, LEEWAY);
	}
	assert_int_equal(token_cache_count(tc), 4);
	/* touch 0, so 1 is the least recently used */
	assert_int_equal(token_cache_lookup(tc, k[0], TOK, sizeof(TOK) - 1, NOW, LEEWAY, &out), TC_HIT);
	{
		struct gw_claims c = claims(4, NOW + 900);

		token_cache_insert(tc, k[4], TOK, sizeof(TOK) - 1, "kid", &c, NOW, LEEWAY);
	}
	assert_int_equal(token_cache_count(tc), 4);
	assert_int_equal(token_cache_lookup(tc, k[1], TOK, sizeof(TOK) - 1, NOW, LEEWAY, &out), TC_MISS);
	assert_int_equal(token_cache_lookup(tc, k[0], TOK, sizeof(TOK) - 1, NOW, LEEWAY, &out), TC_HIT);
	assert_int_equal(token_cache_lookup(tc, k[4], TOK, sizeof(TOK) - 1, NOW, LEEWAY, &out), TC_HIT);
	assert_string_equal(out.sub, "00000000-0000-4000-8000-000000000004");
	token_cache_free(tc);
}

static void test_token_cache_prefers_expired_victim(void **state)
{
	struct token_cache *tc = token_cache_new(16);
	unsigned char k[5][TC_KEY_LEN];
	struct gw_claims out;

	(void)state;
	for (int i = 0; i < 5; i++)
		bucket0_key(k[i], i);
	for (int i = 0; i < 4; i++) {
		/* entry 3 expires soon, and is the most recently used */
		struct gw_claims c = claims(i, i == 3 ? NOW + 5 : NOW + 900);

		token_cache_insert(tc, k[i], TOK, sizeof(TOK) - 1, "kid", &c, NOW, LEEWAY);
	}
	{
		struct gw_claims c = claims(4, NOW + 900);

		token_cache_insert(tc, k[4], TOK, sizeof(TOK) - 1, "kid", &c, NOW + 60, LEEWAY);
	}
	assert_int_equal(token_cache_lookup(tc, k[0], TOK, sizeof(TOK) - 1, NOW + 60, LEEWAY, &out), TC_HIT);
	assert_int_equal(token_cache_lookup(tc, k[3], TOK, sizeof(TOK) - 1, NOW + 60, LEEWAY, &out), TC_MISS);
	assert_int_equal(token_cache_lookup(tc, k[4], TOK, sizeof(TOK) - 1, NOW + 60, LEEWAY, &out), TC_HIT);
	token_cache_free(tc);
}

static bool keep_only_new(void *arg, const char *kid)
{
	(void)arg;
	return strcmp(kid, "k-new") == 0;
}

static void test_token_cache_purge_by_kid(void **state)
{
	struct token_cache *tc = token_cache_new(64);
	unsigned char a[TC_KEY_LEN], b[TC_KEY_LEN], c[TC_KEY_LEN];
	struct gw_claims cl = claims(7, NOW + 900), out;
	char longkid[TC_KID_MAX + 8];

	char t[200];

	(void)state;
	fake_token(t, sizeof(t), 30);
	assert_int_equal(token_cache_key(t, strlen(t), a), 0);
	fake_token(t, sizeof(t), 31);
	assert_int_equal(token_cache_key(t, strlen(t), b), 0);
	fake_token(t, sizeof(t), 32);
	assert_int_equal(token_cache_key(t, strlen(t), c), 0);
	token_cache_insert(tc, a, TOK, sizeof(TOK) - 1, "k-old", &cl, NOW, LEEWAY);
	token_cache_insert(tc, b, TOK, sizeof(TOK) - 1, "k-new", &cl, NOW, LEEWAY);
	/* kids that do not fit are simply not cached */
	memset(longkid, 'k', sizeof(longkid) - 1);
	longkid[sizeof(longkid) - 1] = '\0';
	token_cache_insert(tc, c, TOK, sizeof(TOK) - 1, longkid, &cl, NOW, LEEWAY);
	token_cache_insert(tc, c, TOK, sizeof(TOK) - 1, "", &cl, NOW, LEEWAY);
	assert_int_equal(token_cache_count(tc), 2);
	assert_int_equal(token_cache_purge(tc, keep_only_new, NULL), 1);
	assert_int_equal(token_cache_lookup(tc, a, TOK, sizeof(TOK) - 1, NOW, LEEWAY, &out), TC_MISS);
	assert_int_equal(token_cache_lookup(tc, b, TOK, sizeof(TOK) - 1, NOW, LEEWAY, &out), TC_HIT);
	assert_int_equal(token_cache_count(tc), 1);
	token_cache_free(tc);
}

static void test_token_cache_bounded_under_churn(void **state)
{
	struct token_cache *tc = token_cache_new(32);
	struct gw_claims cl = claims(9, NOW + 900);

	(void)state;
	for (int i = 0; i < 10000; i++) {
		char tok[200];
		unsigned char k[TC_KEY_LEN];

		fake_token(tok, sizeof(tok), i);
		assert_int_equal(token_cache_key(tok, strlen(tok), k), 0);
		token_cache_insert(tc, k, TOK, sizeof(TOK) - 1, "kid", &cl, NOW, LEEWAY);
		assert_true(token_cache_count(tc) <= token_cache_capacity(tc));
	}
	assert_int_equal(token_cache_capacity(tc), 32);
	assert_true(token_cache_count(tc) > 16);
	token_cache_free(tc);
}

/* A token that reuses a cached token's signature with other header/payload bytes (a
 * tampered payload, a forged exp) must not hit: it has to go to the verifier. */
static void test_token_cache_same_signature_other_bytes_misses(void **state)
{
	struct token_cache *tc = token_cache_new(64);
	unsigned char k[TC_KEY_LEN];
	struct gw_claims in = claims(1, NOW + 900), out;
	static const char forged[] = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ5In0.sig";
	static const char longer[] = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sigX";

	(void)state;
	assert_non_null(tc);
	bucket0_key(k, 1);
	token_cache_insert(tc, k, TOK, sizeof(TOK) - 1, "kid", &in, NOW, LEEWAY);
	assert_int_equal(token_cache_lookup(tc, k, TOK, sizeof(TOK) - 1, NOW, LEEWAY, &out), TC_HIT);
	assert_int_equal(token_cache_lookup(tc, k, forged, sizeof(forged) - 1, NOW, LEEWAY, &out),
			 TC_MISS);
	assert_int_equal(token_cache_lookup(tc, k, longer, sizeof(longer) - 1, NOW, LEEWAY, &out),
			 TC_MISS);
	assert_int_equal(token_cache_lookup(tc, k, TOK, 10, NOW, LEEWAY, &out), TC_MISS);
	/* the genuine token still hits afterwards */
	assert_int_equal(token_cache_lookup(tc, k, TOK, sizeof(TOK) - 1, NOW, LEEWAY, &out), TC_HIT);
	token_cache_free(tc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_cache_key_is_the_signature),
		cmocka_unit_test(test_token_cache_insert_lookup),
		cmocka_unit_test(test_token_cache_same_signature_other_bytes_misses),
		cmocka_unit_test(test_token_cache_expiry_with_leeway),
		cmocka_unit_test(test_token_cache_evicts_lru_in_bucket),
		cmocka_unit_test(test_token_cache_prefers_expired_victim),
		cmocka_unit_test(test_token_cache_purge_by_kid),
		cmocka_unit_test(test_token_cache_bounded_under_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
