/*
 * test_reqsig.c - the request-signing rules (common/reqsig.h): header shapes and the error
 * code of each refusal, the canonical query, the timestamp window, the message layout and
 * the signature check against every tampered part of a request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/reqsig.h"

#define KEY "fr_live_Ab3dE5gHk9LmN2pQ4rS6tU8vW0xY1zA3bC5dE7fG"
#define NONCE "nonce-0001-abcdef"
#define TS "1700000000"

/* Headers of a request signed with KEY over method/target/body at TS. */
struct signed_hdrs {
	char sig[65];
	struct reqsig_headers h;
};

static void sign_request(struct signed_hdrs *s, const char *method, const char *target,
			 const char *body)
{
	const char *qm = strchr(target, '?');
	size_t plen = qm != NULL ? (size_t)(qm - target) : strlen(target), len = 0;
	const char *q = qm != NULL ? qm + 1 : "";
	char key_hash[65], *msg;

	sha256_hex(KEY, strlen(KEY), key_hash);
	msg = reqsig_message(TS, NONCE, method, target, plen, q, strlen(q), body, strlen(body),
			     &len);
	assert_non_null(msg);
	reqsig_sign(key_hash, msg, len, s->sig);
	free(msg);
	s->h = (struct reqsig_headers){KEY, TS, NONCE, s->sig};
}

static bool verify(const struct reqsig_headers *h, const char *method, const char *target,
		   const char *body)
{
	struct reqsig_parsed p;

	if (reqsig_parse(h, &p) != REQSIG_OK)
		return false;
	return reqsig_verify(&p, method, target, body, strlen(body));
}

static void test_reqsig_parse_ok(void **state)
{
	struct signed_hdrs s;
	struct reqsig_parsed p;
	char want_hash[65];

	(void)state;
	sign_request(&s, "GET", "/v1/reseller/me", "");
	assert_int_equal(reqsig_parse(&s.h, &p), REQSIG_OK);
	assert_string_equal(p.key_prefix, "fr_live_Ab3dE5gH");
	sha256_hex(KEY, strlen(KEY), want_hash);
	assert_string_equal(p.key_hash, want_hash);
	assert_true(p.ts == 1700000000);
	assert_string_equal(p.nonce, NONCE);
	assert_true(p.live);
	s.h.api_key = "fr_test_Zy9xW8vU7tS6rQ5pO4nM3lK2jI1hG0fE9dC8bA7z";
	assert_int_equal(reqsig_parse(&s.h, &p), REQSIG_OK);
	assert_false(p.live);
}

static void test_reqsig_parse_missing(void **state)
{
	struct signed_hdrs s;
	struct reqsig_parsed p;

	(void)state;
	for (int i = 0; i < 4; i++) {
		sign_request(&s, "GET", "/x", "");
		switch (i) {
		case 0: s.h.api_key = NULL; break;
		case 1: s.h.timestamp = NULL; break;
		case 2: s.h.nonce = NULL; break;
		case 3: s.h.signature = NULL; break;
		}
		assert_int_equal(reqsig_parse(&s.h, &p), REQSIG_MISSING);
		assert_string_equal(reqsig_status_code(REQSIG_MISSING), "signature_missing");
	}
	s.h = (struct reqsig_headers){NULL, NULL, NULL, NULL};
	assert_int_equal(reqsig_parse(&s.h, &p), REQSIG_MISSING);
}

static void test_reqsig_parse_bad_key(void **state)
{
	static const char *const bad[] = {
		"",
		"fr_live_Ab3dE5gH",                                      /* the prefix alone */
		"fr_live_Ab3dE5gHk9LmN2pQ4rS6tU8vW0xY1zA3bC5dE7f",       /* 47 */
		"fr_live_Ab3dE5gHk9LmN2pQ4rS6tU8vW0xY1zA3bC5dE7fGh",     /* 49 */
		"fr_prod_Ab3dE5gHk9LmN2pQ4rS6tU8vW0xY1zA3bC5dE7fG",
		"FR_LIVE_Ab3dE5gHk9LmN2pQ4rS6tU8vW0xY1zA3bC5dE7fG",
		"fr_live_Ab3dE5gHk9LmN2pQ4rS6tU8vW0xY1zA3bC5dE7f-",
		"fr_live_Ab3dE5gHk9LmN2pQ4rS6tU8vW0xY1zA3bC5dE7f ",
		"fr_live_Ab3dE5gH:9LmN2pQ4rS6tU8vW0xY1zA3bC5dE7fG",
	};
	struct signed_hdrs s;
	struct reqsig_parsed p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sign_request(&s, "GET", "/x", "");
		s.h.api_key = bad[i];
		if (reqsig_parse(&s.h, &p) != REQSIG_KEY_MALFORMED)
			fail_msg("key '%s' accepted", bad[i]);
		assert_string_equal(p.key_prefix, "");
	}
	assert_string_equal(reqsig_status_code(REQSIG_KEY_MALFORMED), "api_key_invalid");
}

static void test_reqsig_parse_bad_shapes(void **state)
{
	static const char *const bad_ts[] = {"", "-1700000000", "+1700000000", "01700000000",
					     "1700000000.5", " 1700000000", "1e9",
					     "1234567890123"};
	static const char *const bad_nonce[] = {
		"", "short-nonce-1234\x01",
		"123456789012345", /* 15 */
		"nonce with space!", "nonce/with/slash", "nonce.with.dots1",
		"n1234567890123456789012345678901234567890123456789012345678901234", /* 65 */
	};
	static const char *const bad_sig[] = {
		"", "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
		"abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345678",
		"abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567890",
		"gbcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"};
	struct signed_hdrs s;
	struct reqsig_parsed p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_ts) / sizeof(bad_ts[0]); i++) {
		sign_request(&s, "GET", "/x", "");
		s.h.timestamp = bad_ts[i];
		if (reqsig_parse(&s.h, &p) != REQSIG_BAD_TIMESTAMP)
			fail_msg("timestamp '%s' accepted", bad_ts[i]);
	}
	for (size_t i = 0; i < sizeof(bad_nonce) / sizeof(bad_nonce[0]); i++) {
		sign_request(&s, "GET", "/x", "");
		s.h.nonce = bad_nonce[i];
		if (reqsig_parse(&s.h, &p) != REQSIG_BAD_NONCE)
			fail_msg("nonce '%s' accepted", bad_nonce[i]);
	}
	for (size_t i = 0; i < sizeof(bad_sig) / sizeof(bad_sig[0]); i++) {
		sign_request(&s, "GET", "/x", "");
		s.h.signature = bad_sig[i];
		if (reqsig_parse(&s.h, &p) != REQSIG_BAD_SIGNATURE)
			fail_msg("signature '%s' accepted", bad_sig[i]);
	}
	/* the nonce bounds themselves are fine */
	sign_request(&s, "GET", "/x", "");
	s.h.nonce = "1234567890123456";
	assert_int_equal(reqsig_parse(&s.h, &p), REQSIG_OK);
	s.h.nonce = "A_-4567890123456789012345678901234567890123456789012345678901234";
	assert_int_equal(reqsig_parse(&s.h, &p), REQSIG_OK);
	assert_string_equal(reqsig_status_code(REQSIG_BAD_NONCE), "signature_invalid");
	assert_string_equal(reqsig_status_code(REQSIG_BAD_TIMESTAMP), "signature_invalid");
	assert_string_equal(reqsig_status_code(REQSIG_BAD_SIGNATURE), "signature_invalid");
	assert_null(reqsig_status_code(REQSIG_OK));
}

static void canon(const char *q, const char *want)
{
	char out[256];
	long n = reqsig_canonical_query(q, strlen(q), out);

	assert_int_equal(n, (long)strlen(want));
	assert_string_equal(out, want);
}

static void test_reqsig_canonical_query(void **state)
{
	(void)state;
	canon("", "");
	canon("a=1", "a=1");
	canon("b=2&a=1", "a=1&b=2");
	canon("tag=b&tag=a&tag=c&tag=a", "tag=a&tag=a&tag=b&tag=c");
	canon("email=&&limit=10&", "email=&limit=10");
	canon("&&&", "");
	canon("a=1&a-b=2&A=3&a=0", "A=3&a-b=2&a=0&a=1");
	canon("q=caf%C3%A9&name=J%20Doe+Jr", "name=J%20Doe+Jr&q=caf%C3%A9");
	canon("flag&a=1", "a=1&flag");
	canon("ab&a", "a&ab"); /* a prefix sorts first */
	canon("z=\xc3\xa9&z=e", "z=e&z=\xc3\xa9"); /* bytes above 0x7f sort last */
}

static void test_reqsig_window(void **state)
{
	(void)state;
	assert_true(reqsig_ts_in_window(1700000000, 1700000000));
	assert_true(reqsig_ts_in_window(1700000000 - 300, 1700000000));
	assert_true(reqsig_ts_in_window(1700000000 + 300, 1700000000));
	assert_false(reqsig_ts_in_window(1700000000 - 301, 1700000000));
	assert_false(reqsig_ts_in_window(1700000000 + 301, 1700000000));
	assert_false(reqsig_ts_in_window(0, 1700000000));
}

static void test_reqsig_message_layout(void **state)
{
	size_t len = 0;
	char *msg = reqsig_message("1700000000", NONCE, "post", "/v1/reseller/users", 18,
				   "b=2&a=1", 7, "{}", 2, &len);
	char want[512], body_hash[65];

	(void)state;
	sha256_hex("{}", 2, body_hash);
	snprintf(want, sizeof(want), "1700000000\n" NONCE "\nPOST\n/v1/reseller/users\na=1&b=2\n%s",
		 body_hash);
	assert_non_null(msg);
	assert_int_equal(len, strlen(want));
	assert_string_equal(msg, want);
	free(msg);
	msg = reqsig_message("1", NONCE, "GET", "/", 1, "", 0, NULL, 0, &len);
	assert_non_null(msg);
	assert_string_equal(msg, "1\n" NONCE "\nGET\n/\n\n"
				 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	free(msg);
}

static void test_reqsig_verify_tampering(void **state)
{
	struct signed_hdrs s;
	char sig[65];

	(void)state;
	sign_request(&s, "POST", "/v1/reseller/users?b=2&a=1", "{\"email\":\"a@b.c\"}");
	assert_true(verify(&s.h, "POST", "/v1/reseller/users?b=2&a=1", "{\"email\":\"a@b.c\"}"));
	/* the query order does not matter, its content does */
	assert_true(verify(&s.h, "POST", "/v1/reseller/users?a=1&b=2", "{\"email\":\"a@b.c\"}"));
	assert_false(verify(&s.h, "POST", "/v1/reseller/users?a=1&b=3", "{\"email\":\"a@b.c\"}"));
	assert_false(verify(&s.h, "POST", "/v1/reseller/users?a=1", "{\"email\":\"a@b.c\"}"));
	assert_false(verify(&s.h, "POST", "/v1/reseller/users", "{\"email\":\"a@b.c\"}"));
	assert_false(verify(&s.h, "POST", "/v1/reseller/users?b=2&a=1", "{\"email\":\"a@b.d\"}"));
	assert_false(verify(&s.h, "POST", "/v1/reseller/users?b=2&a=1", ""));
	assert_false(verify(&s.h, "PUT", "/v1/reseller/users?b=2&a=1", "{\"email\":\"a@b.c\"}"));
	assert_false(verify(&s.h, "POST", "/v1/reseller/user?b=2&a=1", "{\"email\":\"a@b.c\"}"));
	s.h.nonce = "nonce-0001-abcdeg";
	assert_false(verify(&s.h, "POST", "/v1/reseller/users?b=2&a=1", "{\"email\":\"a@b.c\"}"));
	sign_request(&s, "POST", "/v1/reseller/users?b=2&a=1", "{\"email\":\"a@b.c\"}");
	s.h.timestamp = "1700000001";
	assert_false(verify(&s.h, "POST", "/v1/reseller/users?b=2&a=1", "{\"email\":\"a@b.c\"}"));
	sign_request(&s, "POST", "/v1/reseller/users?b=2&a=1", "{\"email\":\"a@b.c\"}");
	memcpy(sig, s.sig, sizeof(sig));
	sig[63] = sig[63] == '0' ? '1' : '0';
	s.h.signature = sig;
	assert_false(verify(&s.h, "POST", "/v1/reseller/users?b=2&a=1", "{\"email\":\"a@b.c\"}"));
	/* another key of the same shape */
	sign_request(&s, "POST", "/x", "");
	s.h.api_key = "fr_live_Ab3dE5gHk9LmN2pQ4rS6tU8vW0xY1zA3bC5dE7fH";
	assert_false(verify(&s.h, "POST", "/x", ""));
}

static void test_reqsig_verifier(void **state)
{
	char key_hash[65], v[65], want[65];

	(void)state;
	sha256_hex(KEY, strlen(KEY), key_hash);
	reqsig_verifier(key_hash, v);
	sha256_hex(key_hash, 64, want);
	assert_string_equal(v, want);
	assert_string_not_equal(v, key_hash);
	assert_true(reqsig_key_valid(KEY));
	assert_false(reqsig_key_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reqsig_parse_ok),
		cmocka_unit_test(test_reqsig_parse_missing),
		cmocka_unit_test(test_reqsig_parse_bad_key),
		cmocka_unit_test(test_reqsig_parse_bad_shapes),
		cmocka_unit_test(test_reqsig_canonical_query),
		cmocka_unit_test(test_reqsig_window),
		cmocka_unit_test(test_reqsig_message_layout),
		cmocka_unit_test(test_reqsig_verify_tampering),
		cmocka_unit_test(test_reqsig_verifier),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
