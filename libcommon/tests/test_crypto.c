/*
 * test_crypto.c - known-answer and misuse tests for crypto.c (digests, HMAC, hex, base64url,
 * UUIDs, constant-time comparison, AES-256-GCM sealing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"

static void test_crypto_sha256_abc(void **state)
{
	char hex[65];

	(void)state;
	sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_crypto_hmac_rfc4231_case2(void **state)
{
	const char *msg = "what do ya want for nothing?";
	unsigned char mac[32];
	char hex[65];

	(void)state;
	hmac_sha256("Jefe", 4, msg, strlen(msg), mac);
	hex_encode(mac, sizeof(mac), hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_crypto_hex_roundtrip_and_rejects(void **state)
{
	unsigned char out[4];

	(void)state;
	assert_int_equal(hex_decode("00fFa9", 6, out, 3), 0);
	assert_int_equal(out[0], 0x00);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(out[2], 0xa9);
	assert_int_equal(hex_decode("00ff", 4, out, 3), -1);   /* too short */
	assert_int_equal(hex_decode("00ffa9", 6, out, 2), -1); /* too long */
	assert_int_equal(hex_decode("0g", 2, out, 1), -1);
	assert_int_equal(hex_decode(" 0", 2, out, 1), -1);
}

struct b64_vector {
	const char *plain;
	const char *enc;
};

static void test_crypto_b64url_rfc4648_vectors(void **state)
{
	static const struct b64_vector v[] = {
		{"", ""},	  {"f", "Zg"},	     {"fo", "Zm8"},	  {"foo", "Zm9v"},
		{"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
	};
	char enc[32];
	unsigned char dec[32];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].plain);
		assert_int_equal(b64url_encode(v[i].plain, n, enc, sizeof(enc)), strlen(v[i].enc));
		assert_string_equal(enc, v[i].enc);
		assert_int_equal(b64url_decode(v[i].enc, strlen(v[i].enc), dec, sizeof(dec)), n);
		assert_memory_equal(dec, v[i].plain, n);
	}
}

static void test_crypto_b64url_url_alphabet(void **state)
{
	const unsigned char raw[] = {0xfb, 0xff};
	char enc[8];
	unsigned char dec[4];

	(void)state;
	assert_int_equal(b64url_encode(raw, 2, enc, sizeof(enc)), 3);
	assert_string_equal(enc, "-_8");
	assert_int_equal(b64url_decode("-_8", 3, dec, sizeof(dec)), 2);
	assert_memory_equal(dec, raw, 2);
}

static void test_crypto_b64url_rejects(void **state)
{
	static const char *const bad[] = {
		"Zg==", /* padding */
		"Zg=",	"+_8",	 "/_8", /* standard alphabet */
		"Zm9 v",		/* whitespace */
		"Zm9v\n",	"Z",	"Zm9vY", /* n % 4 == 1 */
		"Zh",			/* non-zero trailing bits (canonical is "Zg") */
		"Zm9",			/* non-zero trailing bits (canonical is "Zm8") */
		"Zm.v",
	};
	unsigned char dec[16];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(b64url_decode(bad[i], strlen(bad[i]), dec, sizeof(dec)), -1);
	/* an embedded NUL is just another bad character */
	assert_int_equal(b64url_decode("Zm\0v", 4, dec, sizeof(dec)), -1);
}

static void test_crypto_b64url_capacity(void **state)
{
	char enc[4];
	unsigned char dec[2];

	(void)state;
	assert_int_equal(b64url_encode("foo", 3, enc, 4), 0); /* needs 5 with the NUL */
	assert_int_equal(b64url_encode("fo", 2, enc, 4), 3);
	assert_int_equal(b64url_decode("Zm9v", 4, dec, 2), -1); /* 3 bytes do not fit */
	assert_int_equal(b64url_decode("Zm8", 3, dec, 2), 2);
}

static void test_crypto_uuid_v4_format(void **state)
{
	char a[UUID_STR_LEN], b[UUID_STR_LEN];

	(void)state;
	for (int i = 0; i < 64; i++) {
		uuid_v4(a);
		assert_int_equal(strlen(a), 36);
		assert_true(uuid_valid(a));
		assert_int_equal(a[14], '4');
		assert_non_null(strchr("89ab", a[19]));
		for (size_t j = 0; j < 36; j++)
			assert_true(a[j] == '-' || (a[j] >= '0' && a[j] <= '9') ||
				    (a[j] >= 'a' && a[j] <= 'f'));
	}
	uuid_v4(b);
	assert_string_not_equal(a, b);
}

static void test_crypto_uuid_valid_rejects(void **state)
{
	(void)state;
	assert_true(uuid_valid("123E4567-E89B-12D3-A456-426614174000"));
	assert_false(uuid_valid(NULL));
	assert_false(uuid_valid(""));
	assert_false(uuid_valid("123e4567-e89b-12d3-a456-42661417400"));	  /* short */
	assert_false(uuid_valid("123e4567-e89b-12d3-a456-4266141740000"));  /* long */
	assert_false(uuid_valid("123e4567e89b-12d3-a456-4266141740000"));   /* dash moved */
	assert_false(uuid_valid("123e4567-e89b-12d3-a456-42661417400g"));	  /* not hex */
	assert_false(uuid_valid("{23e4567-e89b-12d3-a456-426614174000"));
}

static void test_crypto_ct_equal(void **state)
{
	(void)state;
	assert_true(ct_equal("abcd", "abcd", 4));
	assert_false(ct_equal("abcd", "abce", 4));
	assert_false(ct_equal("xbcd", "abcd", 4));
	assert_true(ct_equal("a", "b", 0));
	assert_true(ct_streq("secret", "secret"));
	assert_false(ct_streq("secret", "secreT"));
	assert_false(ct_streq("secret", "secret2"));
	assert_false(ct_streq("", "x"));
	assert_true(ct_streq("", ""));
	assert_false(ct_streq(NULL, "x"));
	assert_false(ct_streq("x", NULL));
}

static void test_crypto_token_shape(void **state)
{
	char *t1 = crypto_token(32);
	char *t2 = crypto_token(32);
	unsigned char raw[32];

	(void)state;
	assert_non_null(t1);
	assert_non_null(t2);
	assert_int_equal(strlen(t1), 43);
	assert_string_not_equal(t1, t2);
	assert_int_equal(b64url_decode(t1, strlen(t1), raw, sizeof(raw)), 32);
	assert_null(crypto_token(0));
	free(t1);
	free(t2);
}

static void fill_key(unsigned char key[32], unsigned char seed)
{
	for (int i = 0; i < 32; i++)
		key[i] = (unsigned char)(seed + i);
}

static void test_crypto_seal_open_roundtrip(void **state)
{
	unsigned char key[32];
	const char *msg = "-----BEGIN PRIVATE KEY-----";
	size_t slen = 0, plen = 0;
	unsigned char *s1, *s2, *p;

	(void)state;
	fill_key(key, 1);
	s1 = crypto_seal(key, msg, strlen(msg), "k-0011223344556677", &slen);
	assert_non_null(s1);
	assert_int_equal(slen, 12 + strlen(msg) + 16);
	assert_memory_not_equal(s1 + 12, msg, strlen(msg)); /* really encrypted */
	s2 = crypto_seal(key, msg, strlen(msg), "k-0011223344556677", &slen);
	assert_non_null(s2);
	assert_memory_not_equal(s1, s2, 12); /* fresh nonce each time */
	p = crypto_open(key, s1, slen, "k-0011223344556677", &plen);
	assert_non_null(p);
	assert_int_equal(plen, strlen(msg));
	assert_string_equal((char *)p, msg);
	free(p);
	/* empty plaintext and NULL aad */
	free(s2);
	s2 = crypto_seal(key, "", 0, NULL, &slen);
	assert_non_null(s2);
	assert_int_equal(slen, 28);
	p = crypto_open(key, s2, slen, NULL, &plen);
	assert_non_null(p);
	assert_int_equal(plen, 0);
	assert_string_equal((char *)p, "");
	free(p);
	free(s1);
	free(s2);
}

static void test_crypto_open_rejects_tamper_key_aad(void **state)
{
	unsigned char key[32], other[32];
	const char *msg = "top secret signing key";
	size_t slen = 0, plen = 0;
	unsigned char *s;

	(void)state;
	fill_key(key, 1);
	fill_key(other, 2);
	s = crypto_seal(key, msg, strlen(msg), "aad", &slen);
	assert_non_null(s);
	for (size_t i = 0; i < slen; i++) { /* every byte: nonce, ciphertext, tag */
		s[i] ^= 0x01;
		assert_null(crypto_open(key, s, slen, "aad", &plen));
		s[i] ^= 0x01;
	}
	assert_null(crypto_open(other, s, slen, "aad", &plen));
	assert_null(crypto_open(key, s, slen, "aae", &plen));
	assert_null(crypto_open(key, s, slen, NULL, &plen));
	assert_null(crypto_open(key, s, slen - 1, "aad", &plen)); /* truncated tag */
	assert_null(crypto_open(key, s, 27, "aad", &plen));       /* shorter than nonce+tag */
	unsigned char *p = crypto_open(key, s, slen, "aad", &plen); /* untouched still opens */
	assert_non_null(p);
	free(p);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crypto_sha256_abc),
		cmocka_unit_test(test_crypto_hmac_rfc4231_case2),
		cmocka_unit_test(test_crypto_hex_roundtrip_and_rejects),
		cmocka_unit_test(test_crypto_b64url_rfc4648_vectors),
		cmocka_unit_test(test_crypto_b64url_url_alphabet),
		cmocka_unit_test(test_crypto_b64url_rejects),
		cmocka_unit_test(test_crypto_b64url_capacity),
		cmocka_unit_test(test_crypto_uuid_v4_format),
		cmocka_unit_test(test_crypto_uuid_valid_rejects),
		cmocka_unit_test(test_crypto_ct_equal),
		cmocka_unit_test(test_crypto_token_shape),
		cmocka_unit_test(test_crypto_seal_open_roundtrip),
		cmocka_unit_test(test_crypto_open_rejects_tamper_key_aad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
