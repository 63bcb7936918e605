/*
 * test_config.c - identity's configuration: defaults load in FR_ENV=local, any other
 * environment refuses every built-in secret (the broker's "guest" password included), bounds
 * and the key-encryption key format.
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
	ctu_clear_env(identity_config_items, identity_config_nitems);
	return 0;
}

/* Loads with the current environment; returns the rc, err holds the reason. */
static int load(char *err, size_t errlen)
{
	struct identity_config cfg;
	int rc = identity_config_load(&cfg, err, errlen);

	identity_config_free(&cfg);
	return rc;
}

/* Every built-in secret, set to a production value. */
static const struct ctu_env PRODUCTION_SECRETS[] = {
	{"FR_INTERNAL_SECRET", "0123456789abcdef0123456789abcdef-prod"},
	{"FR_ADMIN_PASSWORD", "a-long-production-password"},
	{"IDENTITY_KEY_ENCRYPTION_KEY",
	 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
	{"FR_AMQP_PASSWORD", "a-production-broker-password"},
	{"FR_SERVICE_CLIENT_SECRET", "identity-service-client-secret"},
	{"IDENTITY_SERVICE_CLIENTS",
	 "billing:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
	{NULL, NULL},
};

static void test_config_local_defaults_load(void **state)
{
	struct identity_config cfg;
	char err[256] = "";
	unsigned char kek[32];

	(void)state;
	assert_int_equal(identity_config_load(&cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.common.env, "local");
	assert_int_equal(cfg.port, 8081);
	assert_int_equal(cfg.access_ttl_s, 900);
	assert_int_equal(cfg.refresh_ttl_s, 2592000);
	assert_int_equal(cfg.key_rotation_s, 604800);
	assert_int_equal(cfg.login_max_fails_account, 5);
	assert_int_equal(cfg.login_max_fails_ip, 100);
	assert_int_equal(cfg.argon2_m_kib, 19456);
	assert_string_equal(cfg.admin_email, "admin@flatrender.local");
	assert_string_equal(cfg.database_url,
			    "postgresql://identity:identity@127.0.0.1:5432/flatrender");
	assert_string_equal(cfg.common.amqp_host, "127.0.0.1");
	assert_int_equal(cfg.common.amqp_port, 5672);
	assert_string_equal(cfg.common.amqp_user, "guest");
	assert_string_equal(cfg.common.amqp_password, "guest");
	assert_string_equal(cfg.common.amqp_vhost, "/");
	assert_int_equal(cfg.outbox_poll_ms, 1000);
	assert_int_equal(cfg.outbox_batch, 100);
	assert_int_equal(identity_config_kek(&cfg, kek), 0);
	assert_memory_equal(kek, "flatrender-local-key-not-secret!", 32);
	identity_config_free(&cfg);
	assert_null(cfg.common.env);
}

static void test_config_production_refuses_each_default_secret(void **state)
{
	(void)state;
	ctu_assert_each_secret_required(PRODUCTION_SECRETS, load);
}

static void test_config_production_refuses_short_internal_secret(void **state)
{
	char err[256];

	(void)state;
	ctu_set_production(PRODUCTION_SECRETS);
	setenv("FR_INTERNAL_SECRET", "too-short", 1);
	assert_int_equal(load(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_INTERNAL_SECRET"));
	setenv("FR_ENV", "local", 1); /* local accepts it */
	assert_int_equal(load(err, sizeof(err)), 0);
}

static void test_config_key_encryption_key_must_be_64_hex(void **state)
{
	char err[256];

	(void)state;
	setenv("IDENTITY_KEY_ENCRYPTION_KEY", "abcd", 1);
	assert_int_equal(load(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "IDENTITY_KEY_ENCRYPTION_KEY"));
	setenv("IDENTITY_KEY_ENCRYPTION_KEY",
	       "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1);
	assert_int_equal(load(err, sizeof(err)), -1);
}

static void test_config_bounds_and_log_level(void **state)
{
	char err[256];

	(void)state;
	setenv("IDENTITY_PORT", "70000", 1);
	assert_int_equal(load(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "IDENTITY_PORT"));
	unsetenv("IDENTITY_PORT");
	setenv("IDENTITY_ACCESS_TTL_S", "5", 1);
	assert_int_equal(load(err, sizeof(err)), -1);
	unsetenv("IDENTITY_ACCESS_TTL_S");
	setenv("FR_LOG_LEVEL", "loud", 1);
	assert_int_equal(load(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_LOG_LEVEL"));
	unsetenv("FR_LOG_LEVEL");
	setenv("IDENTITY_OUTBOX_BATCH", "0", 1);
	assert_int_equal(load(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "IDENTITY_OUTBOX_BATCH"));
	unsetenv("IDENTITY_OUTBOX_BATCH");
	setenv("IDENTITY_OUTBOX_POLL_MS", "5", 1);
	assert_int_equal(load(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "IDENTITY_OUTBOX_POLL_MS"));
	unsetenv("IDENTITY_OUTBOX_POLL_MS");
	setenv("FR_AMQP_PORT", "0", 1);
	assert_int_equal(load(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_AMQP_PORT"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_config_local_defaults_load, clear_env),
		cmocka_unit_test_setup(test_config_production_refuses_each_default_secret,
				       clear_env),
		cmocka_unit_test_setup(test_config_production_refuses_short_internal_secret,
				       clear_env),
		cmocka_unit_test_setup(test_config_key_encryption_key_must_be_64_hex, clear_env),
		cmocka_unit_test_setup(test_config_bounds_and_log_level, clear_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
