/*
 * test_config_common.c - cmocka tests of config_common: the shared rows load into a struct
 * fr_common_config embedded anywhere in a daemon's struct (defaults, environment, bounds,
 * secret flags), and the shared rules (log level, empty / built-in / short FR_INTERNAL_SECRET,
 * the broker's "guest", a daemon's own built-in secrets, and the order they are reported in).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/config_common.h"

/* A daemon-like struct: the shared part neither first nor last, so offsets matter. */
struct tsvc_config {
	long port;
	struct fr_common_config common;
	char *own_secret;
};

static const struct cfg_item items[] = {
	CFG_ROW("TSVC_PORT", CFG_INT, "8099", false, struct tsvc_config, port, 0, 65535, "port"),
	FR_COMMON_CFG_ROWS_BASE(struct tsvc_config, common),
	CFG_ROW("TSVC_OWN_SECRET", CFG_STR, "tsvc-builtin", true, struct tsvc_config, own_secret, 0,
		0, "own secret"),
	FR_COMMON_CFG_ROWS_AMQP(struct tsvc_config, common),
};
#define NITEMS (sizeof(items) / sizeof(items[0]))

/* The rows FR_COMMON_CFG_ROWS() yields, in order, and which of them are secret. */
static const struct {
	const char *env;
	bool secret;
} shared[] = {
	{"FR_ENV", false},	       {"FR_LOG_LEVEL", false},	     {"FR_INTERNAL_SECRET", true},
	{"FR_JWT_ISSUER", false},      {"FR_JWT_AUDIENCE", false},   {"FR_REDIS_HOST", false},
	{"FR_REDIS_PORT", false},      {"FR_REDIS_PASSWORD", true},  {"FR_AMQP_HOST", false},
	{"FR_AMQP_PORT", false},       {"FR_AMQP_USER", false},	     {"FR_AMQP_PASSWORD", true},
	{"FR_AMQP_VHOST", false},
};
#define NSHARED (sizeof(shared) / sizeof(shared[0]))

static int clear_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < NITEMS; i++)
		unsetenv(items[i].env);
	return 0;
}

static int load(struct tsvc_config *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	return config_load(items, NITEMS, c, err, errlen);
}

/* A loaded-looking production config that passes every rule. */
static struct fr_common_config prod(void)
{
	static char env[] = "production", level[] = "info";
	static char secret[] = "0123456789abcdef0123456789abcdef-prod";
	static char amqp_password[] = "a-production-broker-password";

	return (struct fr_common_config){.env = env, .log_level = level,
					 .internal_secret = secret,
					 .amqp_password = amqp_password};
}

static void test_config_common_rows_load_defaults(void **state)
{
	struct tsvc_config c;
	char err[256] = "";

	(void)state;
	assert_int_equal(load(&c, err, sizeof(err)), 0);
	assert_int_equal(c.port, 8099);
	assert_string_equal(c.own_secret, "tsvc-builtin");
	assert_string_equal(c.common.env, "local");
	assert_true(fr_common_is_local(&c.common));
	assert_string_equal(c.common.log_level, "info");
	assert_string_equal(c.common.internal_secret, FR_LOCAL_INTERNAL_SECRET);
	assert_string_equal(c.common.jwt_issuer, "flatrender-identity");
	assert_string_equal(c.common.jwt_audience, "flatrender");
	assert_string_equal(c.common.redis_host, "127.0.0.1");
	assert_int_equal(c.common.redis_port, 6379);
	assert_string_equal(c.common.redis_password, "");
	assert_string_equal(c.common.amqp_host, "127.0.0.1");
	assert_int_equal(c.common.amqp_port, 5672);
	assert_string_equal(c.common.amqp_user, "guest");
	assert_string_equal(c.common.amqp_password, FR_LOCAL_AMQP_PASSWORD);
	assert_string_equal(c.common.amqp_vhost, "/");
	assert_int_equal(fr_common_config_check(&c.common, err, sizeof(err)), 0);
	assert_int_equal(fr_common_refuse_local_secrets(&c.common, NULL, 0, 0, err, sizeof(err)),
			 0);
	config_free(items, NITEMS, &c);
	assert_null(c.common.env);
	assert_null(c.common.amqp_vhost);
	assert_null(c.own_secret);
}

static void test_config_common_rows_read_environment_and_bounds(void **state)
{
	struct tsvc_config c;
	char err[256] = "";

	(void)state;
	setenv("FR_ENV", "staging", 1);
	setenv("FR_REDIS_PORT", "7000", 1);
	setenv("FR_AMQP_VHOST", "/fr", 1);
	setenv("FR_JWT_AUDIENCE", "aud-x", 1);
	assert_int_equal(load(&c, err, sizeof(err)), 0);
	assert_string_equal(c.common.env, "staging");
	assert_false(fr_common_is_local(&c.common));
	assert_int_equal(c.common.redis_port, 7000);
	assert_string_equal(c.common.amqp_vhost, "/fr");
	assert_string_equal(c.common.jwt_audience, "aud-x");
	assert_int_equal(c.port, 8099);
	config_free(items, NITEMS, &c);

	setenv("FR_REDIS_PORT", "0", 1);
	assert_int_equal(load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_REDIS_PORT"));
	config_free(items, NITEMS, &c);
	unsetenv("FR_REDIS_PORT");
	setenv("FR_AMQP_PORT", "65536", 1);
	assert_int_equal(load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_AMQP_PORT"));
	config_free(items, NITEMS, &c);
}

static void test_config_common_rows_order_and_secret_flags(void **state)
{
	static const struct cfg_item all[] = {FR_COMMON_CFG_ROWS(struct tsvc_config, common)};

	(void)state;
	assert_int_equal(sizeof(all) / sizeof(all[0]), NSHARED);
	for (size_t i = 0; i < NSHARED; i++) {
		assert_string_equal(all[i].env, shared[i].env);
		assert_int_equal(all[i].secret, shared[i].secret);
		assert_non_null(all[i].def);
		assert_non_null(all[i].help);
		assert_true(all[i].offset >= offsetof(struct tsvc_config, common));
		assert_true(all[i].offset < offsetof(struct tsvc_config, own_secret));
	}
	assert_int_equal(all[2].offset, offsetof(struct tsvc_config, common.internal_secret));
	assert_int_equal(all[12].offset, offsetof(struct tsvc_config, common.amqp_vhost));
}

static void test_config_common_check_log_level_and_empty_secret(void **state)
{
	struct fr_common_config c = prod();
	char level[] = "loud", empty[] = "", warning[] = "WARNING";
	char err[256] = "";

	(void)state;
	assert_int_equal(fr_common_config_check(&c, err, sizeof(err)), 0);
	c.log_level = level;
	assert_int_equal(fr_common_config_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_LOG_LEVEL"));
	c.log_level = warning;
	assert_int_equal(fr_common_config_check(&c, err, sizeof(err)), 0);
	c.internal_secret = empty;
	assert_int_equal(fr_common_config_check(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "FR_INTERNAL_SECRET: must not be empty");
	c.log_level = NULL; /* the log level is checked first */
	assert_int_equal(fr_common_config_check(&c, NULL, 0), -1);
	assert_int_equal(fr_common_config_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_LOG_LEVEL"));
}

static void test_config_common_local_accepts_builtin_secrets(void **state)
{
	struct fr_common_config c = prod();
	char local[] = "local", internal[] = FR_LOCAL_INTERNAL_SECRET;
	char guest[] = FR_LOCAL_AMQP_PASSWORD, shorty[] = "short";
	const struct fr_builtin_secret own[] = {{"TSVC_OWN_SECRET", "tsvc-builtin", "tsvc-builtin"}};
	char err[256] = "";

	(void)state;
	c.env = local;
	c.internal_secret = internal;
	c.amqp_password = guest;
	assert_int_equal(fr_common_refuse_local_secrets(&c, own, 1, 0, err, sizeof(err)), 0);
	c.internal_secret = shorty;
	assert_int_equal(fr_common_refuse_local_secrets(&c, own, 1, 0, err, sizeof(err)), 0);
	c.env = NULL; /* no FR_ENV row loaded: not local */
	assert_false(fr_common_is_local(&c));
	assert_int_equal(fr_common_refuse_local_secrets(&c, own, 1, 0, err, sizeof(err)), -1);
}

static void test_config_common_refuses_builtin_internal_secret(void **state)
{
	struct fr_common_config c = prod();
	char internal[] = FR_LOCAL_INTERNAL_SECRET;
	char err[256] = "";

	(void)state;
	assert_int_equal(fr_common_refuse_local_secrets(&c, NULL, 0, 0, err, sizeof(err)), 0);
	c.internal_secret = internal;
	assert_int_equal(fr_common_refuse_local_secrets(&c, NULL, 0, FR_COMMON_ALLOW_AMQP_GUEST,
							err, sizeof(err)),
			 -1);
	assert_string_equal(err, "FR_INTERNAL_SECRET: the built-in local default is refused when "
				 "FR_ENV is not \"local\"");
	assert_null(strstr(err, FR_LOCAL_INTERNAL_SECRET)); /* never the value */
	assert_int_equal(fr_common_refuse_local_secrets(&c, NULL, 0, 0, NULL, 0), -1);
}

static void test_config_common_refuses_short_internal_secret(void **state)
{
	struct fr_common_config c = prod();
	char s31[] = "0123456789abcdef0123456789abcde", s32[] = "0123456789abcdef0123456789abcdef";
	char err[256] = "";

	(void)state;
	c.internal_secret = s31;
	assert_int_equal(fr_common_refuse_local_secrets(&c, NULL, 0, 0, err, sizeof(err)), -1);
	assert_string_equal(err, "FR_INTERNAL_SECRET: must be at least 32 characters when FR_ENV "
				 "is not \"local\"");
	assert_null(strstr(err, s31));
	c.internal_secret = s32;
	assert_int_equal(fr_common_refuse_local_secrets(&c, NULL, 0, 0, err, sizeof(err)), 0);
}

static void test_config_common_amqp_guest_refused_unless_allowed(void **state)
{
	struct fr_common_config c = prod();
	char guest[] = FR_LOCAL_AMQP_PASSWORD;
	char err[256] = "";

	(void)state;
	c.amqp_password = guest;
	assert_int_equal(fr_common_refuse_local_secrets(&c, NULL, 0, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_AMQP_PASSWORD"));
	assert_int_equal(fr_common_refuse_local_secrets(&c, NULL, 0, FR_COMMON_ALLOW_AMQP_GUEST,
							err, sizeof(err)),
			 0);
	c.amqp_password = NULL; /* a daemon without the AMQP rows */
	assert_int_equal(fr_common_refuse_local_secrets(&c, NULL, 0, 0, err, sizeof(err)), 0);
}

/* Internal built-in, then the daemon's own in order, then "guest", then a short secret. */
static void test_config_common_refusal_order_and_own_secrets(void **state)
{
	struct fr_common_config c = prod();
	char internal[] = FR_LOCAL_INTERNAL_SECRET, guest[] = FR_LOCAL_AMQP_PASSWORD;
	char shorty[] = "short";
	struct fr_builtin_secret own[] = {{"OWN_A", "a-builtin", "a-builtin"},
					  {"OWN_B", "b-builtin", "b-builtin"}};
	char err[256] = "";

	(void)state;
	c.internal_secret = internal;
	c.amqp_password = guest;
	assert_int_equal(fr_common_refuse_local_secrets(&c, own, 2, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_INTERNAL_SECRET: the built-in"));
	c.internal_secret = shorty;
	assert_int_equal(fr_common_refuse_local_secrets(&c, own, 2, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "OWN_A: the built-in"));
	own[0].value = "a-changed";
	assert_int_equal(fr_common_refuse_local_secrets(&c, own, 2, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "OWN_B: the built-in"));
	own[1].value = NULL; /* unset: nothing to refuse */
	assert_int_equal(fr_common_refuse_local_secrets(&c, own, 2, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_AMQP_PASSWORD: the built-in"));
	assert_int_equal(fr_common_refuse_local_secrets(&c, own, 2, FR_COMMON_ALLOW_AMQP_GUEST,
							err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "FR_INTERNAL_SECRET: must be at least 32"));
	c = prod();
	assert_int_equal(fr_common_refuse_local_secrets(&c, own, 2, 0, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_config_common_rows_load_defaults, clear_env),
		cmocka_unit_test_setup(test_config_common_rows_read_environment_and_bounds,
				       clear_env),
		cmocka_unit_test(test_config_common_rows_order_and_secret_flags),
		cmocka_unit_test(test_config_common_check_log_level_and_empty_secret),
		cmocka_unit_test(test_config_common_local_accepts_builtin_secrets),
		cmocka_unit_test(test_config_common_refuses_builtin_internal_secret),
		cmocka_unit_test(test_config_common_refuses_short_internal_secret),
		cmocka_unit_test(test_config_common_amqp_guest_refused_unless_allowed),
		cmocka_unit_test(test_config_common_refusal_order_and_own_secrets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
