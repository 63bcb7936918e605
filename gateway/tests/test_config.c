/*
 * test_config.c - the gateway's configuration rules: defaults, FR_ENV refusing the built-in
 * secret, bad values.
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
static int reset(void **state)
{
	(void)state;
	ctu_clear_env(gw_config_items, gw_config_nitems);
	return 0;
}

static void test_config_defaults(void **state)
{
	struct gw_config c;
	char err[256] = "";

	(void)state;
	assert_int_equal(gw_config_load(&c, err, sizeof(err)), 0);
	assert_string_equal(c.common.env, "local");
	assert_string_equal(c.common.internal_secret, FR_LOCAL_INTERNAL_SECRET);
	assert_string_equal(c.identity_url, "http://127.0.0.1:8081");
	assert_string_equal(c.cors_origins, "http://localhost:3000");
	assert_string_equal(c.common.jwt_issuer, "flatrender-identity");
	assert_string_equal(c.common.jwt_audience, "flatrender");
	assert_int_equal(c.port, 8080);
	assert_int_equal(c.max_body_bytes, 1048576);
	assert_int_equal(c.max_header_bytes, 16384);
	assert_int_equal(c.upstream_timeout_ms, 10000);
	assert_int_equal(c.upstream_pool, 64);
	assert_int_equal(c.session_l1_ttl_ms, 1000);
	assert_int_equal(c.session_redis_ttl_s, 4);
	assert_int_equal(c.jwks_refresh_s, 300);
	assert_string_equal(c.extra_routes, "");
	assert_string_equal(c.common.amqp_host, "127.0.0.1");
	assert_int_equal(c.common.amqp_port, 5672);
	assert_string_equal(c.common.amqp_user, "guest");
	assert_string_equal(c.common.amqp_password, "guest");
	assert_string_equal(c.common.amqp_vhost, "/");
	gw_config_free(&c);
	assert_null(c.common.env);
}

static void test_config_non_local_refuses_default_secret(void **state)
{
	struct gw_config c;
	char err[256] = "";

	(void)state;
	setenv("FR_ENV", "production", 1);
	assert_int_equal(gw_config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_INTERNAL_SECRET"));
	gw_config_free(&c);
	setenv("FR_INTERNAL_SECRET", "short", 1);
	assert_int_equal(gw_config_load(&c, err, sizeof(err)), -1);
	gw_config_free(&c);
	setenv("FR_INTERNAL_SECRET", "0123456789abcdef0123456789abcdef-prod", 1);
	/* the broker's built-in "guest" password is refused too, as in identity */
	assert_int_equal(gw_config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_AMQP_PASSWORD"));
	gw_config_free(&c);
	setenv("FR_AMQP_PASSWORD", "a-real-broker-password", 1);
	/* and so is a service client secret left to the local derivation */
	assert_int_equal(gw_config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_SERVICE_CLIENT_SECRET"));
	gw_config_free(&c);
	setenv("FR_SERVICE_CLIENT_SECRET", "a-real-service-client-secret", 1);
	assert_int_equal(gw_config_load(&c, err, sizeof(err)), 0);
	assert_string_equal(c.common.service_client_id, "gateway");
	gw_config_free(&c);
	unsetenv("FR_AMQP_PASSWORD");
	unsetenv("FR_SERVICE_CLIENT_SECRET");
}

static void test_config_local_accepts_default_secret(void **state)
{
	struct gw_config c;
	char err[256] = "";

	(void)state;
	setenv("FR_ENV", "local", 1);
	assert_int_equal(gw_config_load(&c, err, sizeof(err)), 0);
	gw_config_free(&c);
	setenv("FR_INTERNAL_SECRET", "", 1);
	assert_int_equal(gw_config_load(&c, err, sizeof(err)), -1);
	gw_config_free(&c);
}

static void test_config_bad_values(void **state)
{
	struct gw_config c;
	char err[256] = "";

	(void)state;
	setenv("FR_LOG_LEVEL", "chatty", 1);
	assert_int_equal(gw_config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_LOG_LEVEL"));
	gw_config_free(&c);
	unsetenv("FR_LOG_LEVEL");
	setenv("GATEWAY_PORT", "70000", 1);
	assert_int_equal(gw_config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "GATEWAY_PORT"));
	gw_config_free(&c);
	setenv("GATEWAY_PORT", "80a", 1);
	assert_int_equal(gw_config_load(&c, err, sizeof(err)), -1);
	gw_config_free(&c);
}

static void test_config_table_has_every_contract_variable(void **state)
{
	static const char *const want[] = {
		"FR_ENV", "FR_LOG_LEVEL", "FR_INTERNAL_SECRET", "FR_JWT_ISSUER", "FR_JWT_AUDIENCE",
		"FR_REDIS_HOST", "FR_REDIS_PORT", "FR_REDIS_PASSWORD", "GATEWAY_BIND", "GATEWAY_PORT",
		"GATEWAY_IDENTITY_URL", "GATEWAY_CORS_ORIGINS", "GATEWAY_MAX_BODY_BYTES",
		"GATEWAY_MAX_HEADER_BYTES", "GATEWAY_READ_TIMEOUT_MS", "GATEWAY_IDLE_TIMEOUT_MS",
		"GATEWAY_MAX_CONNECTIONS", "GATEWAY_UPSTREAM_TIMEOUT_MS", "GATEWAY_UPSTREAM_POOL",
		"GATEWAY_SESSION_L1_TTL_MS", "GATEWAY_SESSION_REDIS_TTL_S", "GATEWAY_JWKS_REFRESH_S",
		"GATEWAY_EXTRA_ROUTES", "FR_AMQP_HOST", "FR_AMQP_PORT", "FR_AMQP_USER",
		"FR_AMQP_PASSWORD", "FR_AMQP_VHOST"};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		bool found = false;

		for (size_t j = 0; j < gw_config_nitems; j++)
			found = found || strcmp(gw_config_items[j].env, want[i]) == 0;
		assert_true(found);
	}
	for (size_t j = 0; j < gw_config_nitems; j++)
		if (strcmp(gw_config_items[j].env, "FR_INTERNAL_SECRET") == 0 ||
		    strcmp(gw_config_items[j].env, "FR_REDIS_PASSWORD") == 0 ||
		    strcmp(gw_config_items[j].env, "FR_AMQP_PASSWORD") == 0)
			assert_true(gw_config_items[j].secret);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_config_defaults, reset),
		cmocka_unit_test_setup(test_config_non_local_refuses_default_secret, reset),
		cmocka_unit_test_setup(test_config_local_accepts_default_secret, reset),
		cmocka_unit_test_setup(test_config_bad_values, reset),
		cmocka_unit_test_setup(test_config_table_has_every_contract_variable, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
