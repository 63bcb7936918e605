/*
 * test_cors.c - CORS origin list parsing and the preflight / actual-request decisions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cors.h"

static void test_cors_init_parses_and_trims(void **state)
{
	struct cors c;
	char err[256];

	(void)state;
	assert_int_equal(cors_init(&c, " http://localhost:3000 , https://app.example.com:8443,,", err,
				   sizeof(err)),
			 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.origins[0], "http://localhost:3000");
	assert_string_equal(c.origins[1], "https://app.example.com:8443");
	cors_free(&c);
	assert_int_equal(c.n, 0);
}

static void test_cors_init_trailing_blanks_terminate(void **state)
{
	struct cors c;
	char err[256];

	(void)state;
	assert_int_equal(cors_init(&c, "http://a.example   ", err, sizeof(err)), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.origins[0], "http://a.example");
	cors_free(&c);
	assert_int_equal(cors_init(&c, "", err, sizeof(err)), 0);
	assert_int_equal(c.n, 0);
	cors_free(&c);
	assert_int_equal(cors_init(&c, NULL, err, sizeof(err)), 0);
	assert_int_equal(c.n, 0);
	cors_free(&c);
}

static void test_cors_init_rejects_bad_origins(void **state)
{
	static const char *const bad[] = {"localhost:3000", "http://", "http://a.example/path",
					  "*", "http://*.example.com", "http://u@a.example", "://x"};
	struct cors c;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(cors_init(&c, bad[i], err, sizeof(err)), -1);
		assert_non_null(strstr(err, "GATEWAY_CORS_ORIGINS"));
		assert_int_equal(c.n, 0);
	}
}

static void test_cors_origin_match_is_exact(void **state)
{
	struct cors c;
	char err[256];

	(void)state;
	assert_int_equal(cors_init(&c, "http://localhost:3000", err, sizeof(err)), 0);
	assert_true(cors_origin_allowed(&c, "http://localhost:3000"));
	assert_false(cors_origin_allowed(&c, "http://localhost:3000/"));
	assert_false(cors_origin_allowed(&c, "http://localhost:30000"));
	assert_false(cors_origin_allowed(&c, "http://localhost"));
	assert_false(cors_origin_allowed(&c, "https://localhost:3000"));
	assert_false(cors_origin_allowed(&c, "http://evil.localhost:3000"));
	assert_false(cors_origin_allowed(&c, NULL));
	cors_free(&c);
}

static void test_cors_decide(void **state)
{
	struct cors c;
	char err[256];
	const char *ok = "http://localhost:3000", *other = "http://evil.example";

	(void)state;
	assert_int_equal(cors_init(&c, ok, err, sizeof(err)), 0);
	/* no Origin: not CORS, whatever the method */
	assert_int_equal(cors_decide(&c, HTTP_GET, NULL, NULL), CORS_NOT_CORS);
	assert_int_equal(cors_decide(&c, HTTP_OPTIONS, NULL, "POST"), CORS_NOT_CORS);
	/* preflight = OPTIONS + Origin + Access-Control-Request-Method */
	assert_int_equal(cors_decide(&c, HTTP_OPTIONS, ok, "POST"), CORS_PREFLIGHT_OK);
	assert_int_equal(cors_decide(&c, HTTP_OPTIONS, other, "POST"), CORS_PREFLIGHT_DENIED);
	/* OPTIONS without the request-method header is an ordinary request */
	assert_int_equal(cors_decide(&c, HTTP_OPTIONS, ok, NULL), CORS_ACTUAL_ALLOWED);
	/* actual requests */
	assert_int_equal(cors_decide(&c, HTTP_POST, ok, NULL), CORS_ACTUAL_ALLOWED);
	assert_int_equal(cors_decide(&c, HTTP_GET, other, NULL), CORS_ACTUAL_OTHER);
	assert_int_equal(cors_decide(&c, HTTP_GET, ok, "GET"), CORS_ACTUAL_ALLOWED);
	cors_free(&c);
}

static void test_cors_empty_list_denies_every_preflight(void **state)
{
	struct cors c;
	char err[256];

	(void)state;
	assert_int_equal(cors_init(&c, "", err, sizeof(err)), 0);
	assert_int_equal(cors_decide(&c, HTTP_OPTIONS, "http://localhost:3000", "GET"),
			 CORS_PREFLIGHT_DENIED);
	cors_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cors_init_parses_and_trims),
		cmocka_unit_test(test_cors_init_trailing_blanks_terminate),
		cmocka_unit_test(test_cors_init_rejects_bad_origins),
		cmocka_unit_test(test_cors_origin_match_is_exact),
		cmocka_unit_test(test_cors_decide),
		cmocka_unit_test(test_cors_empty_list_denies_every_preflight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
