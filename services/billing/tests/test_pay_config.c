/*
 * test_pay_config.c - the payment rows of billing's configuration (billing_pay_config_check):
 * BILLING_PUBLIC_URL / BILLING_RETURN_URL must be plain http(s) bases, the provider secrets
 * not empty, BILLING_ZARINPAL_URL needs a merchant id, the Sandbox off by default and
 * BILLING_REFUND_CLIENTS matched by whole names; plus the RFC 3339 timestamps a
 * discount's window accepts (discount_parse_time).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "discount.h"

static int clear_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < billing_config_nitems; i++)
		unsetenv(billing_config_items[i].env);
	return 0;
}

static int load(void)
{
	struct billing_config cfg;
	char err[256];
	int rc = billing_config_load(&cfg, err, sizeof(err));

	billing_config_free(&cfg);
	return rc;
}

static void test_pay_config_defaults(void **state)
{
	struct billing_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(billing_config_load(&cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.public_url, "http://127.0.0.1:8080");
	assert_string_equal(cfg.return_url, "");
	assert_string_equal(cfg.zarinpal_url, "");
	assert_int_equal(cfg.stripe_tolerance_s, 300);
	assert_false(cfg.sandbox_enabled);
	assert_string_equal(cfg.refund_clients, "render");
	billing_config_free(&cfg);
}

static void test_pay_config_refund_clients(void **state)
{
	struct billing_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(billing_config_load(&cfg, err, sizeof(err)), 0);
	assert_true(billing_refund_client_allowed(&cfg, "render"));
	assert_false(billing_refund_client_allowed(&cfg, "rende"));
	assert_false(billing_refund_client_allowed(&cfg, "renderer"));
	assert_false(billing_refund_client_allowed(&cfg, "gateway"));
	assert_false(billing_refund_client_allowed(&cfg, ""));
	assert_false(billing_refund_client_allowed(&cfg, NULL));
	billing_config_free(&cfg);
	setenv("BILLING_REFUND_CLIENTS", " render, support ,ops", 1);
	assert_int_equal(billing_config_load(&cfg, err, sizeof(err)), 0);
	assert_true(billing_refund_client_allowed(&cfg, "support"));
	assert_true(billing_refund_client_allowed(&cfg, "ops"));
	assert_true(billing_refund_client_allowed(&cfg, "render"));
	assert_false(billing_refund_client_allowed(&cfg, "file"));
	billing_config_free(&cfg);
	setenv("BILLING_REFUND_CLIENTS", "", 1);
	assert_int_equal(billing_config_load(&cfg, err, sizeof(err)), 0);
	assert_false(billing_refund_client_allowed(&cfg, "render"));
	billing_config_free(&cfg);
	unsetenv("BILLING_REFUND_CLIENTS");
}

static void test_pay_config_urls(void **state)
{
	static const char *const bad[] = {"", "ftp://x", "http://x/", "http://x?a=1", "127.0.0.1:8080",
					  "http://x#f", "http://a b"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("BILLING_PUBLIC_URL", bad[i], 1);
		assert_int_equal(load(), -1);
		unsetenv("BILLING_PUBLIC_URL");
		setenv("BILLING_RETURN_URL", bad[i], 1);
		assert_int_equal(load(), bad[i][0] == '\0' ? 0 : -1); /* "" = the default page */
		unsetenv("BILLING_RETURN_URL");
	}
	setenv("BILLING_PUBLIC_URL", "https://pay.example.com", 1);
	setenv("BILLING_RETURN_URL", "https://app.example.com/billing/done", 1);
	assert_int_equal(load(), 0);
}

static void test_pay_config_secrets_and_zarinpal(void **state)
{
	(void)state;
	setenv("BILLING_STRIPE_WEBHOOK_SECRET", "", 1);
	assert_int_equal(load(), -1);
	unsetenv("BILLING_STRIPE_WEBHOOK_SECRET");
	setenv("BILLING_SANDBOX_SECRET", "", 1);
	assert_int_equal(load(), -1);
	unsetenv("BILLING_SANDBOX_SECRET");
	setenv("BILLING_ZARINPAL_URL", "http://127.0.0.1:9", 1);
	assert_int_equal(load(), -1); /* no merchant id */
	setenv("BILLING_ZARINPAL_MERCHANT_ID", "m-1", 1);
	assert_int_equal(load(), 0);
	setenv("BILLING_STRIPE_TOLERANCE_S", "0", 1);
	assert_int_equal(load(), -1);
}

static void test_discount_parse_time(void **state)
{
	static const char *const bad[] = {"", "yesterday", "2026-05-27", "2026-05-27T10:15:00",
					  "2026-13-27T10:15:00Z", "2026-05-27T25:15:00Z",
					  "2026-05-27T10:15:00.Z", "2026-05-27T10:15:00+0330",
					  "2026-05-27 10:15:00Z", "2026-05-27T10:15:00Zx"};
	time_t t;

	(void)state;
	assert_int_equal(discount_parse_time("2026-05-27T10:15:00Z", &t), 0);
	assert_int_equal(t, 1779876900);
	assert_int_equal(discount_parse_time("2026-05-27T13:45:00.123+03:30", &t), 0);
	assert_int_equal(t, 1779876900);
	assert_int_equal(discount_parse_time("2026-05-27T05:15:00-05:00", &t), 0);
	assert_int_equal(t, 1779876900);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(discount_parse_time(bad[i], &t), -1);
	assert_int_equal(discount_parse_time(NULL, &t), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_pay_config_defaults, clear_env),
		cmocka_unit_test_setup(test_pay_config_urls, clear_env),
		cmocka_unit_test_setup(test_pay_config_secrets_and_zarinpal, clear_env),
		cmocka_unit_test_setup(test_pay_config_refund_clients, clear_env),
		cmocka_unit_test(test_discount_parse_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
