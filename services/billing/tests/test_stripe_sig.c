/*
 * test_stripe_sig.c - Stripe-Signature parsing and verification: valid, several v1, tampered
 * body, wrong secret, stale and future timestamps, malformed headers; and the webhook body
 * parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "provider_stripe_event.h"
#include "provider_stripe_sig.h"

#define SECRET "whsec_test_secret"
#define T0 1800000000L
static const char body[] = "{\"id\":\"evt_1\",\"type\":\"payment_intent.succeeded\"}";

static void header(char *out, size_t cap, const char *secret, long t, const char *b)
{
	char mac[65];

	stripe_sig_mac_hex(secret, t, b, strlen(b), mac);
	snprintf(out, cap, "t=%ld,v1=%s", t, mac);
}

static enum stripe_sig_result verify(const char *h, const char *b, long now)
{
	return stripe_sig_verify(h, strlen(h), SECRET, b, strlen(b), (time_t)now, 300);
}

static void test_stripe_sig_known_vector(void **state)
{
	char mac[65];

	(void)state;
	/* HMAC-SHA256("key", "1.x") computed independently (python hmac) */
	stripe_sig_mac_hex("key", 1, "x", 1, mac);
	assert_string_equal(mac, "fc4913c41a7bf793267e2a384f3261c9436ec2cd097bd745e7b0d99113f510ec");
}

static void test_stripe_sig_valid(void **state)
{
	char h[256];

	(void)state;
	header(h, sizeof(h), SECRET, T0, body);
	assert_int_equal(verify(h, body, T0), STRIPE_SIG_OK);
	assert_int_equal(verify(h, body, T0 + 300), STRIPE_SIG_OK);
	assert_int_equal(verify(h, body, T0 - 300), STRIPE_SIG_OK);
	assert_null(stripe_sig_error_code(STRIPE_SIG_OK));
}

static void test_stripe_sig_tampered_body(void **state)
{
	char h[256];

	(void)state;
	header(h, sizeof(h), SECRET, T0, body);
	assert_int_equal(verify(h, "{\"id\":\"evt_2\",\"type\":\"payment_intent.succeeded\"}", T0),
			 STRIPE_SIG_MISMATCH);
	assert_string_equal(stripe_sig_error_code(STRIPE_SIG_MISMATCH), "signature_invalid");
}

static void test_stripe_sig_wrong_secret(void **state)
{
	char h[256];

	(void)state;
	header(h, sizeof(h), "whsec_other", T0, body);
	assert_int_equal(verify(h, body, T0), STRIPE_SIG_MISMATCH);
}

static void test_stripe_sig_stale_and_future(void **state)
{
	char h[256];

	(void)state;
	header(h, sizeof(h), SECRET, T0, body);
	assert_int_equal(verify(h, body, T0 + 301), STRIPE_SIG_STALE);
	assert_int_equal(verify(h, body, T0 - 301), STRIPE_SIG_STALE);
	assert_string_equal(stripe_sig_error_code(STRIPE_SIG_STALE), "timestamp_out_of_window");
	/* a stale header with a bad MAC is a bad signature, not a stale one */
	header(h, sizeof(h), "whsec_other", T0, body);
	assert_int_equal(verify(h, body, T0 + 1000), STRIPE_SIG_MISMATCH);
}

static void test_stripe_sig_several_v1(void **state)
{
	char good[65], other[65], h[512];

	(void)state;
	stripe_sig_mac_hex(SECRET, T0, body, strlen(body), good);
	stripe_sig_mac_hex("whsec_old", T0, body, strlen(body), other);
	snprintf(h, sizeof(h), "t=%ld,v1=%s,v1=%s,v0=deadbeef", T0, other, good);
	assert_int_equal(verify(h, body, T0), STRIPE_SIG_OK);
	snprintf(h, sizeof(h), " t=%ld , v1=%s ,scheme=x", T0, good);
	assert_int_equal(verify(h, body, T0), STRIPE_SIG_OK);
}

static void test_stripe_sig_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"t=",
		"t=abc,v1=00",
		"v1=0000000000000000000000000000000000000000000000000000000000000000",
		"t=1800000000",
		"t=1800000000,v1=zz",
		"t=1800000000,v1=00000000000000000000000000000000000000000000000000000000000000",
		"t=-5,v1=0000000000000000000000000000000000000000000000000000000000000000",
		"t=1,t=2,v1=0000000000000000000000000000000000000000000000000000000000000000",
		"t=1234567890123456789,v1=0000000000000000000000000000000000000000000000000000000000000000",
	};
	struct stripe_sig s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(stripe_sig_parse(bad[i], strlen(bad[i]), &s), -1);
		assert_int_equal(verify(bad[i], body, T0), STRIPE_SIG_MALFORMED);
	}
	assert_int_equal(stripe_sig_parse(NULL, 0, &s), -1);
}

static void test_stripe_sig_parse_not_terminated(void **state)
{
	char h[256];
	struct stripe_sig s;

	(void)state;
	header(h, sizeof(h), SECRET, T0, body);
	/* the length bounds the parse: a cut v1 is not a v1 */
	assert_int_equal(stripe_sig_parse(h, strlen(h) - 1, &s), -1);
	assert_int_equal(stripe_sig_parse(h, strlen(h), &s), 0);
	assert_int_equal(s.t, T0);
	assert_int_equal(s.nv1, 1);
}

static void test_stripe_event_succeeded(void **state)
{
	static const char b[] =
		"{\"id\":\"evt_9\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":"
		"{\"id\":\"pi_1\",\"amount\":1500,\"currency\":\"usd\",\"metadata\":"
		"{\"payment_id\":\"3B4C5D6E-7F80-4192-A3B4-C5D6E7F80912\"}}}}";
	struct stripe_event e;

	(void)state;
	assert_int_equal(stripe_event_parse(b, strlen(b), &e), 0);
	assert_int_equal(e.kind, STRIPE_EV_SUCCEEDED);
	assert_string_equal(e.id, "evt_9");
	assert_string_equal(e.object_id, "pi_1");
	assert_string_equal(e.payment_id, "3b4c5d6e-7f80-4192-a3b4-c5d6e7f80912");
	assert_true(e.has_amount);
	assert_int_equal(e.amount, 1500);
	assert_string_equal(e.currency, "USD");
}

static void test_stripe_event_failed(void **state)
{
	static const char b[] =
		"{\"id\":\"evt_f\",\"type\":\"payment_intent.payment_failed\",\"data\":{\"object\":"
		"{\"metadata\":{\"payment_id\":\"3b4c5d6e-7f80-4192-a3b4-c5d6e7f80912\"},"
		"\"last_payment_error\":{\"code\":\"card_declined\",\"message\":\"No.\"}}}}";
	static const char b2[] =
		"{\"id\":\"evt_g\",\"type\":\"payment_intent.payment_failed\",\"data\":{\"object\":"
		"{\"metadata\":{\"payment_id\":\"3b4c5d6e-7f80-4192-a3b4-c5d6e7f80912\"},"
		"\"last_payment_error\":{\"code\":\"Bad Code!\"}}}}";
	struct stripe_event e;

	(void)state;
	assert_int_equal(stripe_event_parse(b, strlen(b), &e), 0);
	assert_int_equal(e.kind, STRIPE_EV_FAILED);
	assert_string_equal(e.failure_code, "card_declined");
	assert_string_equal(e.failure_message, "No.");
	assert_false(e.has_amount);
	assert_int_equal(stripe_event_parse(b2, strlen(b2), &e), 0);
	assert_string_equal(e.failure_code, "declined");
	assert_string_equal(e.failure_message, "");
}

static void test_stripe_event_other_and_bad(void **state)
{
	static const char other[] = "{\"id\":\"evt_o\",\"type\":\"charge.refunded\"}";
	static const char *const bad[] = {
		"{}",
		"[1]",
		"{\"id\":\"\",\"type\":\"x\"}",
		"{\"id\":\"evt x\",\"type\":\"x\"}",
		"{\"id\":\"evt\",\"type\":5}",
		"{\"id\":\"evt\",\"type\":\"payment_intent.succeeded\"}",
		"{\"id\":\"evt\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":"
		"{\"metadata\":{\"payment_id\":\"nope\"}}}}",
		"{\"id\":\"evt\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":"
		"{\"amount\":-1,\"metadata\":{\"payment_id\":\"3b4c5d6e-7f80-4192-a3b4-c5d6e7f80912\"}}}}",
		"{\"id\":\"evt\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":"
		"{\"currency\":\"dollars\",\"metadata\":{\"payment_id\":"
		"\"3b4c5d6e-7f80-4192-a3b4-c5d6e7f80912\"}}}}",
		"{\"id\":\"evt\",\"id\":\"evt2\",\"type\":\"x\"}",
	};
	struct stripe_event e;

	(void)state;
	assert_int_equal(stripe_event_parse(other, strlen(other), &e), 0);
	assert_int_equal(e.kind, STRIPE_EV_OTHER);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(stripe_event_parse(bad[i], strlen(bad[i]), &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stripe_sig_known_vector),
		cmocka_unit_test(test_stripe_sig_valid),
		cmocka_unit_test(test_stripe_sig_tampered_body),
		cmocka_unit_test(test_stripe_sig_wrong_secret),
		cmocka_unit_test(test_stripe_sig_stale_and_future),
		cmocka_unit_test(test_stripe_sig_several_v1),
		cmocka_unit_test(test_stripe_sig_malformed),
		cmocka_unit_test(test_stripe_sig_parse_not_terminated),
		cmocka_unit_test(test_stripe_event_succeeded),
		cmocka_unit_test(test_stripe_event_failed),
		cmocka_unit_test(test_stripe_event_other_and_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
