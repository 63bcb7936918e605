/*
 * test_proxy.c - what the gateway forwards and relays: request header filtering, the
 * X-Forwarded-For value, response header relaying and the upstream error mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "proxy.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static bool has(const struct http_client_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(h[i].name, name) == 0)
			return true;
	return false;
}

static void test_proxy_filter_drops_hop_by_hop(void **state)
{
	const struct http_client_header in[] = {
		{"Host", "gw.example"},         {"Connection", "keep-alive"},
		{"Keep-Alive", "timeout=5"},    {"TE", "trailers"},
		{"Trailer", "X-Checksum"},      {"Transfer-Encoding", "chunked"},
		{"Upgrade", "websocket"},       {"Proxy-Authorization", "Basic eA=="},
		{"Proxy-Connection", "close"},  {"Content-Length", "12"},
		{"Expect", "100-continue"},     {"Accept", "application/json"},
		{"Content-Type", "application/json"},
	};
	struct http_client_header out[N(in)];
	size_t k;

	(void)state;
	k = proxy_filter_request_headers(in, N(in), 0, out, N(out));
	assert_int_equal(k, 2);
	assert_string_equal(out[0].name, "Accept");
	assert_string_equal(out[1].name, "Content-Type");
}

static void test_proxy_filter_strips_identity_claims(void **state)
{
	const struct http_client_header in[] = {
		{"X-FR-User-Id", "u"},     {"x-fr-caller", "gateway"}, {"X-Fr-Auth-Sig", "00"},
		{"X-FR-", "empty suffix"}, {"X-User-Id", "u"},         {"x-tenant-id", "t"},
		{"X-SESSION-ID", "s"},     {"X-Request-Id", "mine"},   {"X-Forwarded-Proto", "https"},
		{"X-Forwarded-For", "1.2.3.4"}, {"X-Frame", "kept"},  {"X-FRx", "kept"},
		{"X-User", "kept"},        {"Cookie", "a=b"},
		{"X-API-Key", "fr_live_secret"}, {"X-Api-Keys", "kept"},
	};
	struct http_client_header out[N(in)];
	size_t k;

	(void)state;
	k = proxy_filter_request_headers(in, N(in), 0, out, N(out));
	assert_int_equal(k, 5);
	assert_false(has(out, k, "X-API-Key")); /* the full API key never goes upstream */
	assert_true(has(out, k, "X-Api-Keys"));
	assert_true(has(out, k, "X-Frame"));
	assert_true(has(out, k, "X-FRx"));
	assert_true(has(out, k, "X-User"));
	assert_true(has(out, k, "Cookie"));
}

static void test_proxy_filter_authorization_only_when_asked(void **state)
{
	const struct http_client_header in[] = {{"Authorization", "Bearer x"}, {"Accept", "*/*"}};
	struct http_client_header out[N(in)];

	(void)state;
	assert_int_equal(proxy_filter_request_headers(in, N(in), 0, out, N(out)), 2);
	assert_int_equal(
		proxy_filter_request_headers(in, N(in), PROXY_DROP_AUTHORIZATION, out, N(out)), 1);
	assert_string_equal(out[0].name, "Accept");
}

static void test_proxy_filter_drops_connection_listed(void **state)
{
	const struct http_client_header in[] = {
		{"Connection", "keep-alive, X-Secret-Hop , foo"},
		{"x-secret-hop", "1"},
		{"Foo", "2"},
		{"Foobar", "kept"},
		{"Accept", "*/*"},
	};
	struct http_client_header out[N(in)];
	size_t k;

	(void)state;
	k = proxy_filter_request_headers(in, N(in), 0, out, N(out));
	assert_int_equal(k, 2);
	assert_string_equal(out[0].name, "Foobar");
	assert_string_equal(out[1].name, "Accept");
}

static void test_proxy_filter_in_place_and_cap(void **state)
{
	struct http_client_header h[] = {
		{"Host", "x"}, {"A", "1"}, {"X-FR-Roles", "admin"}, {"B", "2"}, {"C", "3"}};
	struct http_client_header small[2];

	(void)state;
	assert_int_equal(proxy_filter_request_headers(h, N(h), 0, small, N(small)), 2);
	assert_int_equal(proxy_filter_request_headers(h, N(h), 0, h, N(h)), 3);
	assert_string_equal(h[0].name, "A");
	assert_string_equal(h[1].name, "B");
	assert_string_equal(h[2].name, "C");
}

static void test_proxy_xff_appends_peer(void **state)
{
	const struct http_client_header one[] = {{"X-Forwarded-For", "203.0.113.7"}, {"A", "b"}};
	const struct http_client_header two[] = {{"x-forwarded-for", "203.0.113.7, 10.0.0.1"},
						 {"X-Forwarded-For", "10.0.0.2"}};
	char buf[128];

	(void)state;
	assert_int_equal(proxy_build_xff(NULL, 0, "127.0.0.1", buf, sizeof(buf)), 9);
	assert_string_equal(buf, "127.0.0.1");
	assert_int_equal(proxy_build_xff(one, N(one), "127.0.0.1", buf, sizeof(buf)),
			 strlen("203.0.113.7, 127.0.0.1"));
	assert_string_equal(buf, "203.0.113.7, 127.0.0.1");
	proxy_build_xff(two, N(two), "::1", buf, sizeof(buf));
	assert_string_equal(buf, "203.0.113.7, 10.0.0.1, 10.0.0.2, ::1");
	/* sizing call, then a too-small buffer never overflows */
	assert_int_equal(proxy_build_xff(two, N(two), "::1", NULL, 0), strlen(buf));
	assert_int_equal(proxy_build_xff(two, N(two), "::1", buf, 5),
			 strlen("203.0.113.7, 10.0.0.1, 10.0.0.2, ::1"));
	assert_true(strlen(buf) < 5);
}

static void test_proxy_response_headers(void **state)
{
	static const char *const dropped[] = {
		"Connection", "keep-alive", "Transfer-Encoding", "Content-Length", "TE", "Trailer",
		"Upgrade", "Proxy-Authenticate", "Date", "Server", "Content-Type", "X-Request-Id",
		"Access-Control-Allow-Origin", "access-control-allow-credentials", "RateLimit-Limit",
		"ratelimit-remaining"};
	static const char *const kept[] = {"Set-Cookie", "Cache-Control", "Location", "ETag",
					   "Retry-After", "WWW-Authenticate", "Allow", "Vary",
					   "X-Custom", "Dates"};

	(void)state;
	for (size_t i = 0; i < N(dropped); i++)
		assert_false(proxy_response_header_relayed(dropped[i], strlen(dropped[i])));
	for (size_t i = 0; i < N(kept); i++)
		assert_true(proxy_response_header_relayed(kept[i], strlen(kept[i])));
	/* slices: only the first len bytes count */
	assert_false(proxy_response_header_relayed("Date: x", 4));
}

static void test_proxy_error_map(void **state)
{
	const char *code, *msg;
	int status;

	(void)state;
	proxy_error_map(HC_ECONNECT, &status, &code, &msg);
	assert_int_equal(status, 502);
	assert_string_equal(code, "bad_gateway");
	proxy_error_map(HC_EPROTO, &status, &code, &msg);
	assert_int_equal(status, 502);
	assert_string_equal(code, "bad_gateway");
	proxy_error_map(HC_ETIMEOUT, &status, &code, &msg);
	assert_int_equal(status, 504);
	assert_string_equal(code, "gateway_timeout");
	proxy_error_map(HC_EOVERLOAD, &status, &code, &msg);
	assert_int_equal(status, 503);
	assert_string_equal(code, "service_unavailable");
	proxy_error_map(HC_ESHUTDOWN, &status, &code, &msg);
	assert_int_equal(status, 503);
	assert_true(strlen(msg) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proxy_filter_drops_hop_by_hop),
		cmocka_unit_test(test_proxy_filter_strips_identity_claims),
		cmocka_unit_test(test_proxy_filter_authorization_only_when_asked),
		cmocka_unit_test(test_proxy_filter_drops_connection_listed),
		cmocka_unit_test(test_proxy_filter_in_place_and_cap),
		cmocka_unit_test(test_proxy_xff_appends_peer),
		cmocka_unit_test(test_proxy_response_headers),
		cmocka_unit_test(test_proxy_error_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
