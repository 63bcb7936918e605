/*
 * test_provider.c - the payment adapters without a network: the registry, the sandbox
 * checkout signature and URL, the Stripe and Balance adapters' answers, and ZarinPal's request
 * building and answer parsing (there is no reachable ZarinPal here: its HTTP round trip is not
 * exercised by any test).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"
#include "provider.h"
#include "provider_zarinpal_msg.h"

#define PID "3b4c5d6e-7f80-4192-a3b4-c5d6e7f80912"
/* hex HMAC-SHA256("sandbox", PID), computed with python's hmac */
#define PID_SIG "2074f21f6c1c093525306775bdcaaa3f8cb777b7cb54b6f7b98e312096bc9736"

static const struct pay_env env = {
	.zarinpal = NULL,
	.public_url = "http://127.0.0.1:8080",
	.sandbox_secret = "sandbox",
	.zarinpal_url = "http://127.0.0.1:9",
	.zarinpal_merchant = "m-1",
	.currency = "USD",
	.sandbox_enabled = true,
};

static void keep_result(const struct pay_result *res, void *arg)
{
	*(struct pay_result *)arg = *res;
}

static void test_provider_registry(void **state)
{
	const char *const *names;

	(void)state;
	assert_ptr_equal(pay_provider_by_name("Sandbox"), &pay_provider_sandbox);
	assert_ptr_equal(pay_provider_by_name("ZarinPal"), &pay_provider_zarinpal);
	assert_null(pay_provider_by_name("sandbox"));
	assert_null(pay_provider_by_name(NULL));
	assert_ptr_equal(pay_provider_get(PAY_GW_BALANCE), &pay_provider_balance);
	assert_true(pay_provider_balance.instant);
	assert_false(pay_provider_balance.topup);
	names = pay_provider_names(true);
	for (size_t i = 0; names[i] != NULL; i++)
		assert_true(pay_provider_by_name(names[i])->topup);
	names = pay_provider_names(false);
	assert_string_equal(names[3], "Balance");
	assert_null(names[4]);
}

static void test_provider_sandbox_sig(void **state)
{
	char sig[65];

	(void)state;
	pay_sandbox_sig("sandbox", PID, sig);
	assert_string_equal(sig, PID_SIG);
	assert_true(pay_sandbox_sig_ok("sandbox", PID, PID_SIG));
	assert_false(pay_sandbox_sig_ok("other", PID, PID_SIG));
	assert_false(pay_sandbox_sig_ok("sandbox", "4b4c5d6e-7f80-4192-a3b4-c5d6e7f80912", PID_SIG));
	assert_false(pay_sandbox_sig_ok("sandbox", PID, "2074"));
	assert_false(pay_sandbox_sig_ok("sandbox", PID, NULL));
}

static void test_provider_sandbox_start_and_refund(void **state)
{
	const struct pay_op op = {PID, 1500, NULL, "x"};
	struct pay_result res;
	char small[16];

	(void)state;
	assert_int_equal(pay_provider_sandbox.start(&env, &op, keep_result, &res), 0);
	assert_int_equal(res.outcome, PAY_OUT_OK);
	assert_string_equal(res.redirect_url, "http://127.0.0.1:8080/v1/payments/sandbox/checkout"
					      "?payment_id=" PID "&sig=" PID_SIG);
	assert_string_equal(res.provider_ref, "sbx-" PID);
	assert_int_equal(pay_provider_sandbox.refund(&env, &op, keep_result, &res), 0);
	assert_int_equal(res.outcome, PAY_OUT_OK);
	assert_int_equal(pay_sandbox_url("http://x", "s", PID, small, sizeof(small)), -1);
}

static void test_provider_stripe_and_balance(void **state)
{
	const struct pay_op op = {PID, 1500, NULL, NULL};
	struct pay_result res;

	(void)state;
	assert_int_equal(pay_provider_stripe.start(&env, &op, keep_result, &res), 0);
	assert_int_equal(res.outcome, PAY_OUT_OK);
	assert_string_equal(res.redirect_url, ""); /* the webhook decides */
	assert_int_equal(pay_provider_stripe.refund(&env, &op, keep_result, &res), 0);
	assert_int_equal(res.outcome, PAY_OUT_UNSUPPORTED);
	assert_string_equal(res.failure_code, "not_supported");
	assert_int_equal(pay_provider_balance.start(&env, &op, keep_result, &res), 0);
	assert_int_equal(res.outcome, PAY_OUT_OK);
	assert_int_equal(pay_provider_balance.refund(&env, &op, keep_result, &res), 0);
	assert_int_equal(res.outcome, PAY_OUT_OK);
}

static void test_provider_sandbox_offered_only_when_enabled(void **state)
{
	struct pay_env off = env;

	(void)state;
	off.sandbox_enabled = false;
	assert_false(pay_provider_offered(&pay_provider_sandbox, &off));
	assert_true(pay_provider_offered(&pay_provider_stripe, &off));
	assert_true(pay_provider_offered(&pay_provider_balance, &off));
	assert_false(pay_provider_offered(&pay_provider_zarinpal, &off));
	off.sandbox_enabled = true;
	assert_true(pay_provider_offered(&pay_provider_sandbox, &off));
}

static void test_provider_zarinpal_unconfigured(void **state)
{
	const struct pay_op op = {PID, 1500, "A1", NULL};
	struct pay_result res;

	(void)state;
	/* no http client (BILLING_ZARINPAL_URL empty) and a USD deployment: not offered */
	assert_int_equal(pay_provider_zarinpal.start(&env, &op, keep_result, &res), 0);
	assert_int_equal(res.outcome, PAY_OUT_UNSUPPORTED);
	assert_int_equal(pay_provider_zarinpal.verify(&env, &op, keep_result, &res), 0);
	assert_int_equal(res.outcome, PAY_OUT_UNSUPPORTED);
	assert_int_equal(pay_provider_zarinpal.refund(&env, &op, keep_result, &res), 0);
	assert_int_equal(res.outcome, PAY_OUT_UNSUPPORTED);
}

static json_object *parse(const char *s)
{
	json_object *o = json_parse_strict(s, strlen(s), NULL);

	assert_non_null(o);
	return o;
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

static void test_zarinpal_request_body(void **state)
{
	char *b = zarinpal_request_body("m-1", 150000, "IRR", "http://gw/cb", "Pro plan", PID);
	json_object *o, *meta;

	(void)state;
	assert_non_null(b);
	o = parse(b);
	assert_string_equal(str_of(o, "merchant_id"), "m-1");
	assert_string_equal(str_of(o, "amount"), "150000");
	assert_string_equal(str_of(o, "currency"), "IRR");
	assert_string_equal(str_of(o, "callback_url"), "http://gw/cb");
	assert_string_equal(str_of(o, "description"), "Pro plan");
	assert_true(json_object_object_get_ex(o, "metadata", &meta));
	assert_string_equal(str_of(meta, "order_id"), PID);
	json_object_put(o);
	free(b);
	b = zarinpal_request_body("m-1", 10, "IRT", "http://gw/cb", NULL, PID);
	o = parse(b);
	assert_string_equal(str_of(o, "description"), "FlatRender payment");
	json_object_put(o);
	free(b);
	assert_null(zarinpal_request_body("m-1", 0, "IRR", "http://gw/cb", NULL, PID));
	assert_null(zarinpal_request_body("m-1", 10, "USD", "http://gw/cb", NULL, PID));
	assert_null(zarinpal_request_body("", 10, "IRR", "http://gw/cb", NULL, PID));
}

static void test_zarinpal_verify_body(void **state)
{
	char *b = zarinpal_verify_body("m-1", 150000, "A00000000000000000000000000217885159");
	json_object *o;

	(void)state;
	o = parse(b);
	assert_string_equal(str_of(o, "authority"), "A00000000000000000000000000217885159");
	assert_string_equal(str_of(o, "amount"), "150000");
	json_object_put(o);
	free(b);
	assert_null(zarinpal_verify_body("m-1", 150000, "A/../x"));
	assert_null(zarinpal_verify_body("m-1", 150000, ""));
}

static void test_zarinpal_parse_request(void **state)
{
	static const char ok[] = "{\"data\":{\"code\":100,\"message\":\"Success\",\"authority\":"
				 "\"A0000000000000000000000000000wwOGYpd\",\"fee_type\":\"Merchant\","
				 "\"fee\":100},\"errors\":[]}";
	static const char err[] = "{\"data\":[],\"errors\":{\"code\":-9,\"message\":\"The input "
				  "params invalid, validation error.\",\"validations\":[]}}";
	static const char bad_auth[] = "{\"data\":{\"code\":100,\"authority\":\"A b\"},\"errors\":[]}";
	struct zarinpal_reply z;
	char url[128];

	(void)state;
	assert_int_equal(zarinpal_parse_request(ok, strlen(ok), &z), 0);
	assert_true(zarinpal_request_ok(&z));
	assert_string_equal(z.authority, "A0000000000000000000000000000wwOGYpd");
	assert_int_equal(zarinpal_start_url("http://zp", z.authority, url, sizeof(url)), 0);
	assert_string_equal(url, "http://zp/pg/StartPay/A0000000000000000000000000000wwOGYpd");
	assert_int_equal(zarinpal_parse_request(err, strlen(err), &z), 0);
	assert_false(zarinpal_request_ok(&z));
	assert_int_equal(z.code, -9);
	assert_string_equal(z.message, "The input params invalid, validation error.");
	assert_int_equal(zarinpal_parse_request(bad_auth, strlen(bad_auth), &z), -1);
	assert_int_equal(zarinpal_parse_request("<html>", 6, &z), -1);
	assert_int_equal(zarinpal_parse_request("{\"data\":{}}", 11, &z), -1);
	assert_int_equal(zarinpal_start_url("http://zp", "x y", url, sizeof(url)), -1);
}

static void test_zarinpal_parse_verify(void **state)
{
	static const char ok[] = "{\"data\":{\"code\":100,\"message\":\"Verified\",\"card_hash\":"
				 "\"1EBE3EBEBE35C7EC0F8D6EE4F2F859107A87822CA179BC9528767EA7B5489B69\","
				 "\"card_pan\":\"502229******5995\",\"ref_id\":201,\"fee_type\":"
				 "\"Merchant\",\"fee\":0},\"errors\":[]}";
	static const char again[] = "{\"data\":{\"code\":101,\"message\":\"Verified\",\"ref_id\":201},"
				    "\"errors\":[]}";
	static const char no_ref[] = "{\"data\":{\"code\":100,\"message\":\"Verified\"},\"errors\":[]}";
	static const char fail[] = "{\"data\":[],\"errors\":{\"code\":-51,\"message\":\"Session is "
				   "not valid\"}}";
	struct zarinpal_reply z;

	(void)state;
	assert_int_equal(zarinpal_parse_verify(ok, strlen(ok), &z), 0);
	assert_true(zarinpal_verify_ok(&z));
	assert_int_equal(z.ref_id, 201);
	assert_int_equal(zarinpal_parse_verify(again, strlen(again), &z), 0);
	assert_true(zarinpal_verify_ok(&z));
	assert_int_equal(zarinpal_parse_verify(no_ref, strlen(no_ref), &z), -1);
	assert_int_equal(zarinpal_parse_verify(fail, strlen(fail), &z), 0);
	assert_false(zarinpal_verify_ok(&z));
	assert_int_equal(z.code, -51);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provider_registry),
		cmocka_unit_test(test_provider_sandbox_sig),
		cmocka_unit_test(test_provider_sandbox_start_and_refund),
		cmocka_unit_test(test_provider_stripe_and_balance),
		cmocka_unit_test(test_provider_sandbox_offered_only_when_enabled),
		cmocka_unit_test(test_provider_zarinpal_unconfigured),
		cmocka_unit_test(test_zarinpal_request_body),
		cmocka_unit_test(test_zarinpal_verify_body),
		cmocka_unit_test(test_zarinpal_parse_request),
		cmocka_unit_test(test_zarinpal_parse_verify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
