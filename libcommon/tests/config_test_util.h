/*
 * config_test_util.h - environment helpers shared by the daemons' configuration tests
 * (gateway/tests/test_config.c, services/<svc>/tests/test_config.c): start from the built-in
 * defaults, set a production environment, and check that each built-in secret is refused
 * outside FR_ENV=local.
 *
 * Header-only (static inline) because each test file is built on its own; include it after
 * <cmocka.h>. The daemon's test builds get -Ilibcommon/tests (Makefile).
 */
#ifndef CONFIG_TEST_UTIL_H
#define CONFIG_TEST_UTIL_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

/* One environment variable to set. Tables end with {NULL, NULL}. */
struct ctu_env {
	const char *name;
	const char *value;
};

/* Loads the daemon's configuration from the current environment: 0, or -1 with err set. */
typedef int (*ctu_load_fn)(char *err, size_t errlen);

/* Unsets every variable of the daemon's table: the built-in defaults apply. */
static inline void ctu_clear_env(const struct cfg_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		unsetenv(items[i].env);
}

/* FR_ENV=production and every secret of the table set to a non-default value. */
static inline void ctu_set_production(const struct ctu_env *secrets)
{
	setenv("FR_ENV", "production", 1);
	for (const struct ctu_env *e = secrets; e->name != NULL; e++)
		setenv(e->name, e->value, 1);
}

/* With every secret set, production loads; with any one back to its built-in default, load
 * fails naming it. */
static inline void ctu_assert_each_secret_required(const struct ctu_env *secrets, ctu_load_fn load)
{
	char err[256];

	ctu_set_production(secrets);
	assert_int_equal(load(err, sizeof(err)), 0);
	for (const struct ctu_env *e = secrets; e->name != NULL; e++) {
		ctu_set_production(secrets);
		unsetenv(e->name);
		err[0] = '\0';
		assert_int_equal(load(err, sizeof(err)), -1);
		assert_non_null(strstr(err, e->name));
	}
}

#endif
