/*
 * test_config.c - cmocka tests of config.c: types, defaults, bounds, required variables,
 * error messages, and that secrets never appear in config_log() or the README table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"

struct tcfg {
	char *host;
	long port;
	long offset;
	bool debug;
	char *db_password;
	char *api_key;
};

static const struct cfg_item items[] = {
	CFG_ROW("TC_HOST", CFG_STR, "127.0.0.1", false, struct tcfg, host, 0, 0, "Listen address"),
	CFG_ROW("TC_PORT", CFG_INT, "8081", false, struct tcfg, port, 1, 65535, "Listen port"),
	CFG_ROW("TC_OFFSET", CFG_INT, "0", false, struct tcfg, offset, 0, 0, "Any integer"),
	CFG_ROW("TC_DEBUG", CFG_BOOL, "false", false, struct tcfg, debug, 0, 0, "Debug | verbose"),
	CFG_ROW("TC_DB_PASSWORD", CFG_STR, NULL, true, struct tcfg, db_password, 0, 0, "DB password"),
	CFG_ROW("TC_API_KEY", CFG_STR, "dev-key-123", true, struct tcfg, api_key, 0, 0, "API key"),
};
#define NITEMS (sizeof(items) / sizeof(items[0]))

static const char *const all_vars[] = {"TC_HOST", "TC_PORT", "TC_OFFSET", "TC_DEBUG",
				       "TC_DB_PASSWORD", "TC_API_KEY", NULL};

static int reset_env(void **state)
{
	for (int i = 0; all_vars[i] != NULL; i++)
		unsetenv(all_vars[i]);
	setenv("TC_DB_PASSWORD", "hunter2-secret", 1);
	return 0;
}

/* Loads into a zeroed struct; returns config_load()'s result, err filled. */
static int load(struct tcfg *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	return config_load(items, NITEMS, c, err, errlen);
}

static void test_config_defaults_and_types(void **state)
{
	struct tcfg c;
	char err[256];

	assert_int_equal(load(&c, err, sizeof(err)), 0);
	assert_string_equal(c.host, "127.0.0.1");
	assert_int_equal(c.port, 8081);
	assert_false(c.debug);
	assert_string_equal(c.db_password, "hunter2-secret");
	assert_string_equal(c.api_key, "dev-key-123");
	config_free(items, NITEMS, &c);
	assert_null(c.host);
	assert_null(c.db_password);

	setenv("TC_HOST", "0.0.0.0", 1);
	setenv("TC_PORT", "65535", 1);
	setenv("TC_OFFSET", "-12", 1);
	setenv("TC_DEBUG", "YES", 1);
	assert_int_equal(load(&c, err, sizeof(err)), 0);
	assert_string_equal(c.host, "0.0.0.0");
	assert_int_equal(c.port, 65535);
	assert_int_equal(c.offset, -12);
	assert_true(c.debug);
	config_free(items, NITEMS, &c);
}

static void test_config_bools(void **state)
{
	static const char *const t[] = {"true", "TRUE", "1", "yes", "On", NULL};
	static const char *const f[] = {"false", "0", "no", "OFF", "False", NULL};
	static const char *const bad[] = {"", "2", "y", "truee", "enable", NULL};
	struct tcfg c;
	char err[256];

	for (int i = 0; t[i] != NULL; i++) {
		setenv("TC_DEBUG", t[i], 1);
		assert_int_equal(load(&c, err, sizeof(err)), 0);
		assert_true(c.debug);
		config_free(items, NITEMS, &c);
	}
	for (int i = 0; f[i] != NULL; i++) {
		setenv("TC_DEBUG", f[i], 1);
		c.debug = true;
		assert_int_equal(load(&c, err, sizeof(err)), 0);
		assert_false(c.debug);
		config_free(items, NITEMS, &c);
	}
	for (int i = 0; bad[i] != NULL; i++) {
		setenv("TC_DEBUG", bad[i], 1);
		assert_int_equal(load(&c, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "TC_DEBUG"));
		config_free(items, NITEMS, &c);
	}
}

static void test_config_int_strict_and_bounds(void **state)
{
	static const char *const bad[] = {"", "12abc", " 80", "80 ", "+80", "0x50", "8.5", "-",
					  "99999999999999999999999", "0", "65536", "-1", NULL};
	struct tcfg c;
	char err[256];

	for (int i = 0; bad[i] != NULL; i++) {
		setenv("TC_PORT", bad[i], 1);
		if (load(&c, err, sizeof(err)) != -1)
			fail_msg("accepted TC_PORT='%s'", bad[i]);
		assert_non_null(strstr(err, "TC_PORT"));
		if (bad[i][0] != '\0' && bad[i][1] != '\0')
			assert_null(strstr(err, bad[i])); /* values are never echoed */
		config_free(items, NITEMS, &c);
	}
	setenv("TC_PORT", "1", 1);
	assert_int_equal(load(&c, err, sizeof(err)), 0);
	assert_int_equal(c.port, 1);
	config_free(items, NITEMS, &c);
}

static void test_config_missing_required(void **state)
{
	struct tcfg c;
	char err[256];

	unsetenv("TC_DB_PASSWORD");
	assert_int_equal(load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "TC_DB_PASSWORD"));
	assert_non_null(strstr(err, "required"));
	config_free(items, NITEMS, &c); /* frees what was loaded before the failure */
	assert_null(c.host);

	setenv("TC_DB_PASSWORD", "", 1);
	assert_int_equal(load(&c, err, sizeof(err)), -1);
	config_free(items, NITEMS, &c);
}

/* Runs fn with fd `which` redirected to a file; returns what was written (malloc'd). */
static char *capture(int which, void (*fn)(void *), void *arg)
{
	char path[] = "/tmp/test_config_XXXXXX";
	int fd = mkstemp(path), saved = dup(which);
	off_t size;
	char *buf;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stdout);
	assert_true(dup2(fd, which) >= 0);
	fn(arg);
	fflush(stdout);
	assert_true(dup2(saved, which) >= 0);
	close(saved);
	size = lseek(fd, 0, SEEK_END);
	buf = calloc(1, (size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)size, 0), size);
	close(fd);
	unlink(path);
	return buf;
}

static void do_log(void *arg)
{
	config_log(items, NITEMS, arg);
}

static void do_table(void *arg)
{
	config_print_table(items, NITEMS);
}

static void test_config_log_redacts_secrets(void **state)
{
	struct tcfg c;
	char err[256], *out;

	setenv("TC_API_KEY", "live-key-987", 1);
	assert_int_equal(load(&c, err, sizeof(err)), 0);
	log_init("test", LOG_LEVEL_INFO);
	out = capture(STDERR_FILENO, do_log, &c);
	assert_non_null(strstr(out, "\"msg\":\"config\""));
	assert_non_null(strstr(out, "\"TC_HOST\":\"127.0.0.1\""));
	assert_non_null(strstr(out, "\"TC_PORT\":8081"));
	assert_non_null(strstr(out, "\"TC_DEBUG\":false"));
	assert_non_null(strstr(out, "\"TC_DB_PASSWORD\":\"***\""));
	assert_non_null(strstr(out, "\"TC_API_KEY\":\"***\""));
	assert_null(strstr(out, "hunter2"));
	assert_null(strstr(out, "live-key"));
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
	free(out);
	config_free(items, NITEMS, &c);
}

static void test_config_print_table(void **state)
{
	char *out = capture(STDOUT_FILENO, do_table, NULL);

	assert_non_null(strstr(out, "| Variable | Default | Description |\n|---|---|---|\n"));
	assert_non_null(strstr(out, "| `TC_PORT` | `8081` | Listen port (1..65535) |\n"));
	assert_non_null(strstr(out, "| `TC_DEBUG` | `false` | Debug \\| verbose |\n"));
	assert_non_null(strstr(out, "| `TC_DB_PASSWORD` | (required) | DB password |\n"));
	assert_non_null(strstr(out, "| `TC_API_KEY` | (secret) | API key |\n"));
	assert_null(strstr(out, "dev-key-123"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_config_defaults_and_types, reset_env),
		cmocka_unit_test_setup(test_config_bools, reset_env),
		cmocka_unit_test_setup(test_config_int_strict_and_bounds, reset_env),
		cmocka_unit_test_setup(test_config_missing_required, reset_env),
		cmocka_unit_test_setup(test_config_log_redacts_secrets, reset_env),
		cmocka_unit_test_setup(test_config_print_table, reset_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
