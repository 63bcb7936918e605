/*
 * test_extra_routes.c - GATEWAY_EXTRA_ROUTES parsing: good specs, bad specs, limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "extra_routes.h"

static void test_extra_routes_parses_entries(void **state)
{
	struct extra_routes x;
	char err[256];

	(void)state;
	assert_int_equal(extra_routes_parse(" /bench/=http://127.0.0.1:18080=jwt ; "
					    "/raw/v2/=http://localhost:9=none;/key/=http://127.0.0.1:1=apikey",
					    &x, err, sizeof(err)),
			 0);
	assert_int_equal(x.n, 3);
	assert_string_equal(x.v[0].prefix, "/bench/");
	assert_string_equal(x.v[0].url, "http://127.0.0.1:18080");
	assert_string_equal(x.v[0].service, "extra:/bench/");
	assert_ptr_equal(x.v[0].route.service, x.v[0].service);
	assert_int_equal(x.v[0].route.auth, GW_AUTH_JWT);
	assert_string_equal(x.v[1].prefix, "/raw/v2/");
	assert_string_equal(x.v[1].url, "http://localhost:9");
	assert_int_equal(x.v[1].route.auth, GW_AUTH_NONE);
	assert_int_equal(x.v[2].route.auth, GW_AUTH_APIKEY);
	assert_null(x.v[2].route.scope);
	extra_routes_free(&x);
	assert_int_equal(x.n, 0);
}

static void test_extra_routes_empty_is_none(void **state)
{
	struct extra_routes x;
	char err[256];

	(void)state;
	assert_int_equal(extra_routes_parse("", &x, err, sizeof(err)), 0);
	assert_int_equal(x.n, 0);
	assert_int_equal(extra_routes_parse(NULL, &x, err, sizeof(err)), 0);
	assert_int_equal(x.n, 0);
	assert_int_equal(extra_routes_parse(" ; ;; ", &x, err, sizeof(err)), 0);
	assert_int_equal(x.n, 0);
	extra_routes_free(&x);
}

static void test_extra_routes_rejects_bad_specs(void **state)
{
	static const char *const bad[] = {
		"/bench/",                                   /* no url, no auth */
		"/bench/=http://127.0.0.1:18080",            /* no auth */
		"/bench/=http://127.0.0.1:18080=basic",      /* unknown auth */
		"/bench/=http://127.0.0.1:18080=JWT",        /* auth is case-sensitive */
		"bench/=http://127.0.0.1:18080=jwt",         /* prefix must start with / */
		"/bench=http://127.0.0.1:18080=jwt",         /* ... and end with / */
		"/=http://127.0.0.1:18080=jwt",              /* the root is not a prefix */
		"/be nch/=http://127.0.0.1:18080=jwt",       /* blank inside */
		"/a//b/=http://127.0.0.1:18080=jwt",         /* empty segment */
		"/bench/=https://127.0.0.1:18080=jwt",       /* no TLS */
		"/bench/=http://127.0.0.1=jwt",              /* port required */
		"/bench/=http://127.0.0.1:0=jwt",            /* port range */
		"/bench/=http://127.0.0.1:65536=jwt",
		"/bench/=http://127.0.0.1:80x=jwt",
		"/bench/=http://:80=jwt",                    /* host required */
		"/bench/=http://127.0.0.1:18080/path=jwt",   /* no path */
		"/bench/=http://a=b:1=jwt",                  /* '=' in host */
		"/x/=http://h:1=none;/x/=http://h:2=jwt",    /* duplicate prefix */
		"/ok/=http://h:1=none;/bad=http://h:1=none", /* second entry bad */
	};
	struct extra_routes x;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(extra_routes_parse(bad[i], &x, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "GATEWAY_EXTRA_ROUTES"));
		assert_int_equal(x.n, 0);
	}
}

static void test_extra_routes_limit(void **state)
{
	char spec[4096] = "";
	struct extra_routes x;
	char err[256];

	(void)state;
	for (int i = 0; i < EXTRA_ROUTES_MAX; i++) {
		char one[64];

		snprintf(one, sizeof(one), "/p%d/=http://127.0.0.1:%d=none;", i, 10000 + i);
		strcat(spec, one);
	}
	assert_int_equal(extra_routes_parse(spec, &x, err, sizeof(err)), 0);
	assert_int_equal(x.n, EXTRA_ROUTES_MAX);
	extra_routes_free(&x);
	strcat(spec, "/one-too-many/=http://127.0.0.1:1=none");
	assert_int_equal(extra_routes_parse(spec, &x, err, sizeof(err)), -1);
	assert_int_equal(x.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extra_routes_parses_entries),
		cmocka_unit_test(test_extra_routes_empty_is_none),
		cmocka_unit_test(test_extra_routes_rejects_bad_specs),
		cmocka_unit_test(test_extra_routes_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
