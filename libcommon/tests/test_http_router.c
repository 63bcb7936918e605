/*
 * test_http_router.c - unit tests for http_router.c: literal and {param} segments,
 * precedence, prefix routes, HEAD -> GET, and the Allow set behind 404 vs 405.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../src/http_internal.h"

static void h_any(struct http_request *r, void *app) { (void)r; (void)app; }

static const struct http_route routes[] = {
	{HTTP_GET, "/v1/users/me", h_any, 0, "me"},
	{HTTP_PATCH, "/v1/users/me", h_any, 0, "me-patch"},
	{HTTP_GET, "/v1/users/{user_id}", h_any, 0, "user"},
	{HTTP_DELETE, "/v1/auth/sessions/{session_id}", h_any, 0, "del-session"},
	{HTTP_GET, "/v1/{a}/{b}/x", h_any, 0, "two-params"},
	{HTTP_GET, "/v1/files/", h_any, HTTP_ROUTE_PREFIX, "files-prefix"},
	{HTTP_GET, "/v1/files/special", h_any, 0, "files-special"},
	{HTTP_POST, "/", h_any, HTTP_ROUTE_PREFIX, "catch-all-post"},
	{HTTP_GET, "/", h_any, 0, "root"},
	{HTTP_HEAD, "/only-head", h_any, 0, "only-head"},
	{HTTP_OPTIONS, "/v1/users/me", h_any, 0, "me-options"},
};

static struct http_router rt;

static int setup(void **state)
{
	(void)state;
	return http_router_init(&rt, routes, sizeof(routes) / sizeof(routes[0]), NULL, 0);
}

static int teardown(void **state)
{
	(void)state;
	http_router_free(&rt);
	return 0;
}

static const char *match(enum http_method m, const char *path, struct http_match *out)
{
	http_router_match(&rt, m, path, strlen(path), out);
	return out->route ? out->route->row->data : NULL;
}

static void test_http_router_exact_beats_param(void **state)
{
	(void)state;
	struct http_match m;
	assert_string_equal(match(HTTP_GET, "/v1/users/me", &m), "me");
	assert_int_equal(m.nparams, 0);
	assert_string_equal(match(HTTP_GET, "/v1/users/abc", &m), "user");
	assert_int_equal(m.nparams, 1);
	assert_int_equal(m.params[0].name_len, 7);
	assert_memory_equal(m.params[0].name, "user_id", 7);
	assert_int_equal(m.params[0].val_len, 3);
	assert_memory_equal(m.params[0].val, "abc", 3);
	assert_string_equal(m.route->label, "/v1/users/{user_id}");
}

static void test_http_router_params(void **state)
{
	(void)state;
	struct http_match m;
	assert_string_equal(match(HTTP_GET, "/v1/p%20q/r/x", &m), "two-params");
	assert_int_equal(m.nparams, 2);
	assert_memory_equal(m.params[0].val, "p%20q", 5);
	assert_memory_equal(m.params[1].val, "r", 1);
	/* empty segment never matches a {param} */
	assert_null(match(HTTP_GET, "/v1/users/", &m));
	assert_null(match(HTTP_GET, "/v1//r/x", &m));
	/* segment counts must agree */
	assert_null(match(HTTP_GET, "/v1/users/me/extra", &m));
	assert_null(match(HTTP_GET, "/v1/users", &m));
}

static void test_http_router_404_vs_405(void **state)
{
	(void)state;
	struct http_match m;
	assert_null(match(HTTP_PUT, "/v1/users/me", &m));
	char allow[128];
	http_allow_format(m.allow, allow, sizeof(allow));
	/* every route matching the path counts, the POST catch-all prefix included */
	assert_string_equal(allow, "GET, HEAD, POST, PATCH, OPTIONS");
	assert_null(match(HTTP_GET, "/nothing/here", &m));
	assert_int_equal(m.allow, 1u << HTTP_POST);
	assert_null(match(HTTP_GET, "/v1/auth/sessions/s1", &m));
	http_allow_format(m.allow, allow, sizeof(allow));
	assert_string_equal(allow, "POST, DELETE");
	assert_string_equal(match(HTTP_DELETE, "/v1/auth/sessions/s1", &m), "del-session");
}

static void test_http_router_prefix(void **state)
{
	(void)state;
	struct http_match m;
	assert_string_equal(match(HTTP_GET, "/v1/files/a/b/c", &m), "files-prefix");
	assert_string_equal(match(HTTP_GET, "/v1/files/", &m), "files-prefix");
	assert_string_equal(match(HTTP_GET, "/v1/files/special", &m), "files-special");
	assert_null(match(HTTP_GET, "/v1/files", &m));
	/* a catch-all prefix route for another method loses to nothing but supplies POST */
	assert_string_equal(match(HTTP_POST, "/v1/users/me", &m), "catch-all-post");
	assert_string_equal(match(HTTP_POST, "/a/very/deep/path/with/more/than/thirty/two/segments/"
					     "1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20/21/22",
				  &m),
			    "catch-all-post");
	assert_string_equal(match(HTTP_GET, "/", &m), "root");
}

static void test_http_router_head_and_options(void **state)
{
	(void)state;
	struct http_match m;
	assert_string_equal(match(HTTP_HEAD, "/v1/users/me", &m), "me");
	assert_string_equal(match(HTTP_HEAD, "/only-head", &m), "only-head");
	assert_null(match(HTTP_GET, "/only-head", &m));
	assert_string_equal(match(HTTP_OPTIONS, "/v1/users/me", &m), "me-options");
	assert_null(match(HTTP_OPTIONS, "/v1/users/xyz", &m));
	assert_true(m.allow & (1u << HTTP_GET));
	assert_null(match(HTTP_M_UNKNOWN, "/v1/users/me", &m));
	assert_true(m.allow != 0);
	assert_null(match(HTTP_GET, "*", &m));
	assert_null(match(HTTP_GET, "", &m));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_router_exact_beats_param),
		cmocka_unit_test(test_http_router_params),
		cmocka_unit_test(test_http_router_404_vs_405),
		cmocka_unit_test(test_http_router_prefix),
		cmocka_unit_test(test_http_router_head_and_options),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
