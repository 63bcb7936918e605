/*
 * test_routes.c - the route table's sanity: every row names a service and an auth surface,
 * no method + pattern twice, the contract's auth surfaces, the runtime table (OPTIONS rows
 * for preflight, extra prefix rows) and the --routes listing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extra_routes.h"
#include "handler.h"
#include "routes.h"

static const struct gw_route *row_data(const struct http_route *r)
{
	return r->data;
}

static void test_routes_every_row_is_complete(void **state)
{
	(void)state;
	assert_true(gw_public_nroutes >= 9);
	for (size_t i = 0; i < gw_public_nroutes; i++) {
		const struct http_route *r = &gw_public_routes[i];
		const struct gw_route *d = row_data(r);

		assert_non_null(r->pattern);
		assert_int_equal(r->pattern[0], '/');
		assert_ptr_equal(r->fn, gw_handle);
		assert_int_not_equal(r->method, HTTP_M_UNKNOWN);
		assert_non_null(d);
		assert_non_null(d->service);
		assert_true(strlen(d->service) > 0);
		assert_true(d->auth == GW_AUTH_NONE || d->auth == GW_AUTH_JWT ||
			    d->auth == GW_AUTH_APIKEY);
		/* a scope only means something to the API-key pipeline; the reseller API is
		 * API-key only and nothing else is */
		if (d->auth != GW_AUTH_APIKEY)
			assert_null(d->scope);
		assert_int_equal(d->auth == GW_AUTH_APIKEY,
				 strncmp(r->pattern, "/v1/reseller/", strlen("/v1/reseller/")) == 0);
		assert_int_equal(r->flags & HTTP_ROUTE_PREFIX, 0);
		/* only logout and session delete revoke, and only behind a verified token */
		if (strcmp(r->pattern, "/v1/auth/logout") == 0)
			assert_int_equal(d->after, GW_AFTER_REVOKE_OWN_SESSION);
		else if (r->method == HTTP_DELETE &&
			 strcmp(r->pattern, "/v1/auth/sessions/{session_id}") == 0)
			assert_int_equal(d->after, GW_AFTER_REVOKE_PATH_SESSION);
		else
			assert_int_equal(d->after, GW_AFTER_NONE);
		if (d->after != GW_AFTER_NONE)
			assert_int_equal(d->auth, GW_AUTH_JWT);
	}
}

static void test_routes_no_duplicates(void **state)
{
	(void)state;
	for (size_t i = 0; i < gw_public_nroutes; i++)
		for (size_t j = i + 1; j < gw_public_nroutes; j++)
			assert_false(gw_public_routes[i].method == gw_public_routes[j].method &&
				     strcmp(gw_public_routes[i].pattern, gw_public_routes[j].pattern) == 0);
}

static const struct gw_route *find(enum http_method m, const char *pattern)
{
	for (size_t i = 0; i < gw_public_nroutes; i++)
		if (gw_public_routes[i].method == m && strcmp(gw_public_routes[i].pattern, pattern) == 0)
			return row_data(&gw_public_routes[i]);
	return NULL;
}

static void test_routes_match_the_contract(void **state)
{
	static const struct {
		enum http_method m;
		const char *pattern;
		enum gw_auth auth;
	} want[] = {
		{HTTP_POST, "/v1/auth/register", GW_AUTH_NONE},
		{HTTP_POST, "/v1/auth/login", GW_AUTH_NONE},
		{HTTP_POST, "/v1/auth/refresh", GW_AUTH_NONE},
		{HTTP_POST, "/v1/auth/logout", GW_AUTH_JWT},
		{HTTP_GET, "/v1/auth/sessions", GW_AUTH_JWT},
		{HTTP_DELETE, "/v1/auth/sessions/{session_id}", GW_AUTH_JWT},
		{HTTP_GET, "/v1/users/me", GW_AUTH_JWT},
		{HTTP_PATCH, "/v1/users/me", GW_AUTH_JWT},
		{HTTP_GET, "/v1/.well-known/jwks.json", GW_AUTH_NONE},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct gw_route *d = find(want[i].m, want[i].pattern);

		assert_non_null(d);
		assert_int_equal(d->auth, want[i].auth);
		assert_string_equal(d->service, "identity");
	}
	/* the reseller API: API key only, with the scope of each row */
	{
		static const struct {
			enum http_method m;
			const char *pattern, *scope;
		} res[] = {
			{HTTP_GET, "/v1/reseller/me", NULL},
			{HTTP_GET, "/v1/reseller/users", "users:read"},
			{HTTP_GET, "/v1/reseller/users/{user_id}", "users:read"},
			{HTTP_POST, "/v1/reseller/users", "users:write"},
		};
		for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
			const struct gw_route *d = find(res[i].m, res[i].pattern);

			assert_non_null(d);
			assert_int_equal(d->auth, GW_AUTH_APIKEY);
			assert_string_equal(d->service, "identity");
			if (res[i].scope == NULL)
				assert_null(d->scope);
			else
				assert_string_equal(d->scope, res[i].scope);
		}
	}
	/* never routed: the internal API */
	for (size_t i = 0; i < gw_public_nroutes; i++)
		assert_null(strstr(gw_public_routes[i].pattern, "/internal/"));
}

static void test_routes_build_adds_preflight_and_extra(void **state)
{
	struct extra_routes x;
	struct http_route *rows;
	size_t n = 0, options = 0, extra = 0, patterns = 0;
	char err[256];

	(void)state;
	for (size_t i = 0; i < gw_public_nroutes; i++) {
		size_t j = 0;

		while (j < i && strcmp(gw_public_routes[j].pattern, gw_public_routes[i].pattern) != 0)
			j++;
		patterns += j == i;
	}
	assert_int_equal(extra_routes_parse("/bench/=http://127.0.0.1:18080=jwt", &x, err, sizeof(err)),
			 0);
	rows = gw_routes_build(&x, &n);
	assert_non_null(rows);
	for (size_t i = 0; i < n; i++) {
		const struct gw_route *d = row_data(&rows[i]);

		assert_non_null(d);
		assert_ptr_equal(rows[i].fn, gw_handle);
		if (d->auth == GW_AUTH_PREFLIGHT) {
			assert_int_equal(rows[i].method, HTTP_OPTIONS);
			options++;
		}
		if (strcmp(rows[i].pattern, "/bench/") == 0) {
			assert_true(rows[i].flags & HTTP_ROUTE_PREFIX);
			assert_ptr_equal(d, &x.v[0].route);
			extra++;
		}
		for (size_t j = i + 1; j < n; j++)
			assert_false(rows[i].method == rows[j].method &&
				     strcmp(rows[i].pattern, rows[j].pattern) == 0);
	}
	assert_int_equal(options, patterns); /* one preflight row per distinct public pattern */
	assert_int_equal(extra, 7);   /* GET HEAD POST PUT PATCH DELETE OPTIONS */
	assert_int_equal(n, gw_public_nroutes + options + extra);
	free(rows);
	rows = gw_routes_build(NULL, &n);
	assert_int_equal(n, gw_public_nroutes + options);
	free(rows);
	extra_routes_free(&x);
}

static void test_routes_print_lists_public_routes_only(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	gw_routes_print(f);
	fclose(f);
	assert_non_null(strstr(buf, "GET /healthz\n"));
	assert_non_null(strstr(buf, "GET /readyz\n"));
	assert_non_null(strstr(buf, "GET /metrics\n"));
	assert_non_null(strstr(buf, "POST /v1/auth/login\n"));
	assert_non_null(strstr(buf, "DELETE /v1/auth/sessions/{session_id}\n"));
	assert_non_null(strstr(buf, "PATCH /v1/users/me\n"));
	assert_null(strstr(buf, "OPTIONS"));
	assert_null(strstr(buf, "/bench/"));
	free(buf);
}

static void test_routes_allow_lists_methods_of_a_pattern(void **state)
{
	char buf[128];

	(void)state;
	gw_routes_allow("/v1/users/me", buf, sizeof(buf));
	assert_string_equal(buf, "GET, PATCH, OPTIONS");
	gw_routes_allow("/v1/auth/login", buf, sizeof(buf));
	assert_string_equal(buf, "POST, OPTIONS");
	gw_routes_allow("/nope", buf, sizeof(buf));
	assert_string_equal(buf, "OPTIONS");
	gw_routes_allow("/v1/users/me", buf, 8);
	assert_true(strlen(buf) < 8);
}

static void test_routes_auth_names(void **state)
{
	(void)state;
	assert_string_equal(gw_auth_str(GW_AUTH_NONE), "none");
	assert_string_equal(gw_auth_str(GW_AUTH_JWT), "jwt");
	assert_string_equal(gw_auth_str(GW_AUTH_PREFLIGHT), "preflight");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_every_row_is_complete),
		cmocka_unit_test(test_routes_no_duplicates),
		cmocka_unit_test(test_routes_match_the_contract),
		cmocka_unit_test(test_routes_build_adds_preflight_and_extra),
		cmocka_unit_test(test_routes_print_lists_public_routes_only),
		cmocka_unit_test(test_routes_allow_lists_methods_of_a_pattern),
		cmocka_unit_test(test_routes_auth_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
