/*
 * test_config.c - billing's configuration: the local defaults load, outside FR_ENV=local the
 * built-in secrets are refused, the currency must be an ISO 4217 code, bounds hold, and the
 * crash test hook and a payment TTL below 60 s are refused outside FR_ENV=local.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_test_util.h"

/* Every test starts from the built-in defaults, whatever the runner's environment holds. */
static int clear_env(void **state)
{
	(void)state;
	ctu_clear_env(billing_config_items, billing_config_nitems);
	return 0;
}

/* Loads with the current environment; returns the rc, err holds the reason. */
static int load(char *err, size_t errlen)
{
	struct billing_config cfg;
	int rc = billing_config_load(&cfg, err, errlen);

	billing_config_free(&cfg);
	return rc;
}

/* Every built-in secret, set to a production value. */
static const struct ctu_env PRODUCTION_SECRETS[] = {
	{"FR_INTERNAL_SECRET", "0123456789abcdef0123456789abcdef-prod"},
	{"FR_AMQP_PASSWORD", "a-production-broker-password"},
	{"FR_SERVICE_CLIENT_SECRET", "a-production-service-client-secret"},
	{"BILLING_SANDBOX_SECRET", "a-production-sandbox-secret"},
	{"BILLING_STRIPE_WEBHOOK_SECRET", "whsec_a-production-webhook-secret"},
	{NULL, NULL},
};

static void test_config_local_defaults_load(void **state)
{
	struct billing_config cfg;
	char err[256] = "";

	(void)state;
	assert_int_equal(billing_config_load(&cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.common.env, "local");
	assert_int_equal(cfg.port, 8082);
	assert_string_equal(cfg.currency, "USD");
	assert_int_equal(cfg.default_second_price_minor, 10);
	assert_int_equal(cfg.low_balance_minor, 500);
	assert_int_equal(cfg.hold_ttl_s, 3600);
	assert_int_equal(cfg.sweep_interval_ms, 10000);
	assert_string_equal(cfg.starter_plan, "");
	assert_string_equal(cfg.fault_exit_after_commit, "");
	assert_string_equal(cfg.database_url,
			    "postgresql://billing:billing@127.0.0.1:5432/flatrender");
	assert_string_equal(cfg.migrations_dir, "migrations/billing");
	assert_string_equal(cfg.common.service_client_id, "billing");
	assert_string_equal(cfg.common.identity_url, "http://127.0.0.1:8081");
	billing_config_free(&cfg);
	assert_null(cfg.common.env);
}

static void test_config_production_refuses_each_default_secret(void **state)
{
	(void)state;
	ctu_assert_each_secret_required(PRODUCTION_SECRETS, load);
}

static void test_config_fault_hook_is_local_only(void **state)
{
	char err[256];

	(void)state;
	setenv("BILLING_FAULT_EXIT_AFTER_COMMIT", "hold.reserve", 1);
	assert_int_equal(load(err, sizeof(err)), 0);
	ctu_set_production(PRODUCTION_SECRETS);
	assert_int_equal(load(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "BILLING_FAULT_EXIT_AFTER_COMMIT"));
}

static void test_config_short_payment_ttl_is_local_only(void **state)
{
	char err[256];

	(void)state;
	setenv("BILLING_PAYMENT_PENDING_TTL_S", "1", 1);
	assert_int_equal(load(err, sizeof(err)), 0);
	setenv("BILLING_PAYMENT_PENDING_TTL_S", "0", 1);
	assert_int_equal(load(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "BILLING_PAYMENT_PENDING_TTL_S"));
	ctu_set_production(PRODUCTION_SECRETS);
	setenv("BILLING_PAYMENT_PENDING_TTL_S", "59", 1);
	assert_int_equal(load(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "BILLING_PAYMENT_PENDING_TTL_S"));
	setenv("BILLING_PAYMENT_PENDING_TTL_S", "60", 1);
	assert_int_equal(load(err, sizeof(err)), 0);
}

static void test_config_currency_and_bounds(void **state)
{
	static const char *const bad_currency[] = {"usd", "US", "USDT", "U1D", ""};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_currency) / sizeof(bad_currency[0]); i++) {
		setenv("BILLING_CURRENCY", bad_currency[i], 1);
		assert_int_equal(load(err, sizeof(err)), -1);
		assert_non_null(strstr(err, "BILLING_CURRENCY"));
	}
	setenv("BILLING_CURRENCY", "IRR", 1);
	assert_int_equal(load(err, sizeof(err)), 0);
	setenv("BILLING_HOLD_TTL_S", "86401", 1); /* beyond BILLING_HOLD_MAX_TTL_S */
	assert_int_equal(load(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "BILLING_HOLD_TTL_S"));
	unsetenv("BILLING_HOLD_TTL_S");
	setenv("BILLING_LOW_BALANCE_MINOR", "0", 1);
	assert_int_equal(load(err, sizeof(err)), -1);
	unsetenv("BILLING_LOW_BALANCE_MINOR");
	setenv("BILLING_SWEEP_BATCH", "0", 1);
	assert_int_equal(load(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "BILLING_SWEEP_BATCH"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_config_local_defaults_load, clear_env),
		cmocka_unit_test_setup(test_config_production_refuses_each_default_secret,
				       clear_env),
		cmocka_unit_test_setup(test_config_fault_hook_is_local_only, clear_env),
		cmocka_unit_test_setup(test_config_short_payment_ttl_is_local_only, clear_env),
		cmocka_unit_test_setup(test_config_currency_and_bounds, clear_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
