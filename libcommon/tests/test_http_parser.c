/*
 * test_http_parser.c - unit tests for http_parser.c: request/response heads, framing and
 * smuggling defences, chunked decoding, percent-decoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/http_parser.h"

static ssize_t req(const char *s, struct http_head *h)
{
	return http_parse_request(s, strlen(s), 8192, h);
}

static void assert_slice(struct http_slice s, const char *want)
{
	assert_int_equal(s.n, strlen(want));
	assert_memory_equal(s.p, want, s.n);
}

static void test_http_parser_simple_get(void **state)
{
	(void)state;
	struct http_head h;
	const char *s = "GET /v1/users/me?x=1 HTTP/1.1\r\nHost: a\r\nX-Thing:  spaced value \t\r\n\r\n";
	assert_int_equal(req(s, &h), (ssize_t)strlen(s));
	assert_int_equal(h.method, HTTP_GET);
	assert_slice(h.method_raw, "GET");
	assert_slice(h.target, "/v1/users/me?x=1");
	assert_int_equal(h.minor_version, 1);
	assert_int_equal(h.nheaders, 2);
	assert_slice(h.names[1], "X-Thing");
	assert_slice(h.values[1], "spaced value");
	assert_true(h.keep_alive);
	assert_false(h.chunked);
	assert_false(h.has_content_length);
	size_t n;
	const char *v = http_head_get(&h, "x-thing", &n);
	assert_non_null(v);
	assert_int_equal(n, 12);
	assert_null(http_head_get(&h, "missing", &n));
	assert_int_equal(n, 0);
}

static void test_http_parser_pipelined_returns_head_length(void **state)
{
	(void)state;
	struct http_head h;
	const char *s = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
	assert_int_equal(req(s, &h), 19);
	assert_slice(h.target, "/a");
}

static void test_http_parser_incomplete(void **state)
{
	(void)state;
	struct http_head h;
	const char *full = "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
	for (size_t i = 0; i < strlen(full); i++)
		assert_int_equal(http_parse_request(full, i, 8192, &h), HTTP_PARSE_INCOMPLETE);
	assert_int_equal(http_parse_request(full, strlen(full), 8192, &h), (ssize_t)strlen(full));
	assert_true(h.has_content_length);
	assert_int_equal(h.content_length, 5);
}

static void test_http_parser_lf_only_lines(void **state)
{
	(void)state;
	struct http_head h;
	const char *s = "GET / HTTP/1.1\nHost: a\nA: b\n\n";
	assert_int_equal(req(s, &h), (ssize_t)strlen(s));
	assert_int_equal(h.nheaders, 2);
	assert_slice(h.values[1], "b");
}

static void test_http_parser_bare_cr_rejected(void **state)
{
	(void)state;
	struct http_head h;
	assert_int_equal(req("GET / HTTP/1.1\rHost: a\r\n\r\n", &h), HTTP_PARSE_ERROR);
	assert_int_equal(req("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", &h), HTTP_PARSE_ERROR);
	assert_int_equal(req("GET / HTTP/1.1\r\nA: b\r\n\rX", &h), HTTP_PARSE_ERROR);
}

static void test_http_parser_bad_request_lines(void **state)
{
	(void)state;
	struct http_head h;
	const char *bad[] = {
		"GET  / HTTP/1.1\r\n\r\n",     "GET / HTTP/1.1 \r\n\r\n",
		"GET /  HTTP/1.1\r\n\r\n",     "G(T / HTTP/1.1\r\n\r\n",
		" GET / HTTP/1.1\r\n\r\n",     "GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.2\r\n\r\n",      "GET / http/1.1\r\n\r\n",
		"GET / HTTP/1.10\r\n\r\n",     "GET / HTTP/1\r\n\r\n",
		"GET /\x7f HTTP/1.1\r\n\r\n",  "GET /\xc3\xa9 HTTP/1.1\r\n\r\n",
		"GET\t/ HTTP/1.1\r\n\r\n",      "/ HTTP/1.1\r\n\r\n",
		"\r\nGET / HTTP/1.1\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ssize_t rc = req(bad[i], &h);
		if (rc != HTTP_PARSE_ERROR)
			fail_msg("case %zu (%s) gave %zd", i, bad[i], rc);
	}
	assert_int_equal(req("GET / HTTP/1.0\r\n\r\n", &h), 18);
	assert_int_equal(h.minor_version, 0);
	assert_false(h.keep_alive);
	assert_int_equal(req("BREW /pot HTTP/1.1\r\n\r\n", &h), 22);
	assert_int_equal(h.method, HTTP_M_UNKNOWN);
	assert_slice(h.method_raw, "BREW");
}

static void test_http_parser_bad_header_lines(void **state)
{
	(void)state;
	struct http_head h;
	const char *bad[] = {
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n",           /* space before colon */
		"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",          /* tab before colon */
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",         /* obs-fold */
		"GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n",        /* obs-fold with tab */
		"GET / HTTP/1.1\r\n : b\r\n\r\n",               /* leading whitespace */
		"GET / HTTP/1.1\r\n: b\r\n\r\n",                /* empty name */
		"GET / HTTP/1.1\r\nNoColon\r\n\r\n",            /* no colon */
		"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",           /* control char */
		"GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n",           /* DEL */
		"GET / HTTP/1.1\r\nA(b: c\r\n\r\n",             /* bad name char */
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", /* duplicate Host */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ssize_t rc = req(bad[i], &h);
		if (rc != HTTP_PARSE_ERROR)
			fail_msg("case %zu gave %zd", i, rc);
	}
	const char nul[] = "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n";
	assert_int_equal(http_parse_request(nul, sizeof(nul) - 1, 8192, &h), HTTP_PARSE_ERROR);
	/* obs-text in values is allowed and empty values are fine */
	assert_true(req("GET / HTTP/1.1\r\nA: caf\xc3\xa9\r\nB:\r\nC: \r\n\r\n", &h) > 0);
	assert_int_equal(h.nheaders, 3);
	assert_int_equal(h.values[1].n, 0);
	assert_int_equal(h.values[2].n, 0);
}

static void test_http_parser_content_length_rules(void **state)
{
	(void)state;
	struct http_head h;
	const char *bad[] = {
		"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ssize_t rc = req(bad[i], &h);
		if (rc != HTTP_PARSE_ERROR)
			fail_msg("case %zu gave %zd", i, rc);
	}
	assert_true(req("POST / HTTP/1.1\r\nContent-Length: 7\r\ncontent-length:  7 \r\n\r\n", &h) > 0);
	assert_true(h.has_content_length);
	assert_int_equal(h.content_length, 7);
	assert_true(req("POST / HTTP/1.1\r\nContent-Length: 000123456789012345\r\n\r\n", &h) > 0);
	assert_int_equal(h.content_length, 123456789012345ULL);
}

static void test_http_parser_transfer_encoding_rules(void **state)
{
	(void)state;
	struct http_head h;
	const char *bad[] = {
		/* CL + TE: the classic smuggling vector */
		"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ssize_t rc = req(bad[i], &h);
		if (rc != HTTP_PARSE_ERROR)
			fail_msg("case %zu gave %zd", i, rc);
	}
	assert_true(req("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", &h) > 0);
	assert_true(h.chunked);
	assert_false(h.has_content_length);
}

static void test_http_parser_connection_semantics(void **state)
{
	(void)state;
	struct http_head h;
	assert_true(req("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &h) > 0);
	assert_false(h.keep_alive);
	assert_true(req("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n", &h) > 0);
	assert_false(h.keep_alive);
	assert_true(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &h) > 0);
	assert_true(h.keep_alive);
	assert_true(req("GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", &h) > 0);
	assert_true(h.upgrade);
	assert_true(req("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", &h) > 0);
	assert_false(h.upgrade);
	assert_true(req("PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", &h) > 0);
	assert_true(h.expect_continue);
	assert_true(req("PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", &h) > 0);
	assert_false(h.expect_continue);
}

static void test_http_parser_huge_heads(void **state)
{
	(void)state;
	struct http_head h;
	size_t n = 10000;
	char *big = malloc(n + 64);
	assert_non_null(big);
	int off = snprintf(big, n + 64, "GET / HTTP/1.1\r\nX-Big: ");
	memset(big + off, 'a', n - (size_t)off);
	memcpy(big + n, "\r\n\r\n", 5);
	/* whole head present but longer than the limit */
	assert_int_equal(http_parse_request(big, n + 4, 1024, &h), HTTP_PARSE_TOO_LARGE);
	/* only a prefix present, already past the limit */
	assert_int_equal(http_parse_request(big, 2000, 1024, &h), HTTP_PARSE_TOO_LARGE);
	/* a prefix shorter than the limit is just incomplete */
	assert_int_equal(http_parse_request(big, 1000, 1024, &h), HTTP_PARSE_INCOMPLETE);
	/* fits exactly */
	assert_int_equal(http_parse_request(big, n + 4, n + 4, &h), (ssize_t)(n + 4));
	assert_int_equal(http_parse_request(big, n + 4, n + 3, &h), HTTP_PARSE_TOO_LARGE);
	free(big);

	/* too many headers */
	char many[4096];
	size_t p = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
		p += (size_t)snprintf(many + p, sizeof(many) - p, "H%d: v\r\n", i);
	p += (size_t)snprintf(many + p, sizeof(many) - p, "\r\n");
	assert_int_equal(http_parse_request(many, p, 8192, &h), HTTP_PARSE_TOO_LARGE);
}

static void test_http_parser_response_heads(void **state)
{
	(void)state;
	struct http_head h;
	const char *s = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc";
	assert_int_equal(http_parse_response(s, strlen(s), 8192, &h), (ssize_t)strlen(s) - 3);
	assert_int_equal(h.status, 404);
	assert_slice(h.reason, "Not Found");
	assert_int_equal(h.content_length, 3);
	assert_true(h.keep_alive);
	s = "HTTP/1.0 200\r\n\r\n";
	assert_int_equal(http_parse_response(s, strlen(s), 8192, &h), (ssize_t)strlen(s));
	assert_int_equal(h.status, 200);
	assert_false(h.keep_alive);
	const char *bad[] = {
		"HTTP/1.1 20 OK\r\n\r\n",   "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 099 X\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n", "HTTP/2 200 OK\r\n\r\n",    "HTTP/1.1 abc OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ssize_t rc = http_parse_response(bad[i], strlen(bad[i]), 8192, &h);
		if (rc != HTTP_PARSE_ERROR)
			fail_msg("case %zu gave %zd", i, rc);
	}
}

static void test_http_parser_methods(void **state)
{
	(void)state;
	assert_int_equal(http_method_parse("PATCH", 5), HTTP_PATCH);
	assert_int_equal(http_method_parse("patch", 5), HTTP_M_UNKNOWN);
	assert_int_equal(http_method_parse("GETX", 3), HTTP_GET);
	assert_int_equal(http_method_parse("GE", 2), HTTP_M_UNKNOWN);
	assert_string_equal(http_method_str(HTTP_OPTIONS), "OPTIONS");
	assert_string_equal(http_method_str((enum http_method)99), "UNKNOWN");
}

/* Feeds the chunked decoder in pieces of `step` bytes; returns the decoded body or NULL. */
static char *chunked_all(const char *in, size_t inlen, size_t step, size_t *outlen, size_t *used)
{
	struct http_chunked c;
	http_chunked_init(&c);
	char *out = malloc(inlen + 1);
	size_t o = 0, i = 0;
	bool done = false;
	while (!done && i < inlen) {
		size_t n = inlen - i < step ? inlen - i : step;
		size_t got = 0;
		ssize_t rc = http_chunked_decode(&c, in + i, n, out + o, inlen - o, &got, &done);
		if (rc < 0) {
			free(out);
			return NULL;
		}
		i += (size_t)rc;
		o += got;
	}
	if (!done) {
		free(out);
		return NULL;
	}
	out[o] = '\0';
	*outlen = o;
	*used = i;
	return out;
}

static void test_http_parser_chunked_basic(void **state)
{
	(void)state;
	const char *in = "5\r\nhello\r\n1;name=val;x\r\n \r\nA  ; ext\r\n0123456789\r\n0\r\n\r\nNEXT";
	for (size_t step = 1; step <= strlen(in); step++) {
		size_t olen, used;
		char *out = chunked_all(in, strlen(in), step, &olen, &used);
		assert_non_null(out);
		assert_string_equal(out, "hello 0123456789");
		assert_int_equal(used, strlen(in) - 4);
		free(out);
	}
}

static void test_http_parser_chunked_trailers(void **state)
{
	(void)state;
	const char *in = "3\r\nabc\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n";
	size_t olen, used;
	char *out = chunked_all(in, strlen(in), 3, &olen, &used);
	assert_non_null(out);
	assert_string_equal(out, "abc");
	assert_int_equal(used, strlen(in));
	free(out);
}

static void test_http_parser_chunked_errors(void **state)
{
	(void)state;
	const char *bad[] = {
		"g\r\nabc\r\n0\r\n\r\n",         /* bad hex */
		"\r\n",                          /* empty size */
		"-1\r\n",                        /* sign */
		"3\nabc\r\n0\r\n\r\n",           /* bare LF */
		"3\r\nabcd\r\n0\r\n\r\n",        /* data longer than size */
		"3\r\nabc\n0\r\n\r\n",           /* missing CR after data */
		"3 \r\nabc\r\n0\r\n\r\n",        /* BWS without extension */
		"3\x01\r\nabc\r\n0\r\n\r\n",     /* junk after size */
		"3;a\x01\r\nabc\r\n0\r\n\r\n",   /* CTL in extension */
		"0\r\n bad: trailer\r\n\r\n",    /* folded trailer */
		"0\r\nX: y\rz\r\n\r\n",          /* bare CR in trailer */
		"0\r\n\rX",                      /* CR not followed by LF at the end */
		"10000000000000000\r\n",         /* 2^64: overflow */
		"fffffffffffffffff\r\n",         /* overflow */
		" 3\r\nabc\r\n0\r\n\r\n",        /* leading space */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t olen, used;
		char *out = chunked_all(bad[i], strlen(bad[i]), 1, &olen, &used);
		if (out)
			fail_msg("case %zu accepted", i);
	}
	/* a huge-but-valid size just needs more bytes */
	struct http_chunked c;
	http_chunked_init(&c);
	char buf[8];
	size_t got;
	bool done;
	assert_int_equal(http_chunked_decode(&c, "ffffffffffffffff\r\nab", 20, buf, 8, &got, &done), 20);
	assert_int_equal(got, 2);
	assert_false(done);
}

static void test_http_parser_chunked_limits(void **state)
{
	(void)state;
	/* an endless extension is cut off */
	size_t n = 10000;
	char *in = malloc(n);
	memcpy(in, "1;", 2);
	memset(in + 2, 'a', n - 2);
	struct http_chunked c;
	http_chunked_init(&c);
	char out[4];
	size_t got;
	bool done;
	assert_int_equal(http_chunked_decode(&c, in, n, out, sizeof(out), &got, &done), HTTP_PARSE_ERROR);
	/* endless trailers too */
	memcpy(in, "0\r\n", 3);
	for (size_t i = 3; i + 6 < n; i += 6)
		memcpy(in + i, "X: y\r\n", 6);
	http_chunked_init(&c);
	assert_int_equal(http_chunked_decode(&c, in, n - 6, out, sizeof(out), &got, &done), HTTP_PARSE_ERROR);
	free(in);
}

static void test_http_parser_chunked_stops_when_out_full(void **state)
{
	(void)state;
	const char *in = "a\r\n0123456789\r\n0\r\n\r\n";
	struct http_chunked c;
	http_chunked_init(&c);
	char out[4];
	size_t got;
	bool done;
	ssize_t rc = http_chunked_decode(&c, in, strlen(in), out, sizeof(out), &got, &done);
	assert_int_equal(rc, 3 + 4);
	assert_int_equal(got, 4);
	assert_memory_equal(out, "0123", 4);
	assert_false(done);
	rc = http_chunked_decode(&c, in + 7, strlen(in) - 7, out, sizeof(out), &got, &done);
	assert_int_equal(rc, 4);
	assert_memory_equal(out, "4567", 4);
	rc = http_chunked_decode(&c, in + 11, strlen(in) - 11, out, sizeof(out), &got, &done);
	assert_int_equal(got, 2);
	assert_true(done);
	assert_int_equal(rc, (ssize_t)strlen(in) - 11);
}

static void test_http_parser_pct_decode(void **state)
{
	(void)state;
	char dst[64];
	assert_int_equal(http_pct_decode("a%20b+c", 7, dst, false), 7 - 2);
	assert_string_equal(dst, "a b+c");
	assert_int_equal(http_pct_decode("a%20b+c", 7, dst, true), 5);
	assert_string_equal(dst, "a b c");
	assert_int_equal(http_pct_decode("%C3%a9", 6, dst, false), 2);
	assert_string_equal(dst, "\xc3\xa9");
	assert_int_equal(http_pct_decode("%00", 3, dst, false), -1);
	assert_int_equal(http_pct_decode("%0", 2, dst, false), -1);
	assert_int_equal(http_pct_decode("%", 1, dst, false), -1);
	assert_int_equal(http_pct_decode("%zz", 3, dst, false), -1);
	assert_int_equal(http_pct_decode("ab%2", 4, dst, false), -1);
	assert_int_equal(http_pct_decode("", 0, dst, false), 0);
	assert_string_equal(dst, "");
	/* the length bounds the input, not a NUL */
	assert_int_equal(http_pct_decode("abc%41", 3, dst, false), 3);
	assert_string_equal(dst, "abc");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_parser_simple_get),
		cmocka_unit_test(test_http_parser_pipelined_returns_head_length),
		cmocka_unit_test(test_http_parser_incomplete),
		cmocka_unit_test(test_http_parser_lf_only_lines),
		cmocka_unit_test(test_http_parser_bare_cr_rejected),
		cmocka_unit_test(test_http_parser_bad_request_lines),
		cmocka_unit_test(test_http_parser_bad_header_lines),
		cmocka_unit_test(test_http_parser_content_length_rules),
		cmocka_unit_test(test_http_parser_transfer_encoding_rules),
		cmocka_unit_test(test_http_parser_connection_semantics),
		cmocka_unit_test(test_http_parser_huge_heads),
		cmocka_unit_test(test_http_parser_response_heads),
		cmocka_unit_test(test_http_parser_methods),
		cmocka_unit_test(test_http_parser_chunked_basic),
		cmocka_unit_test(test_http_parser_chunked_trailers),
		cmocka_unit_test(test_http_parser_chunked_errors),
		cmocka_unit_test(test_http_parser_chunked_limits),
		cmocka_unit_test(test_http_parser_chunked_stops_when_out_full),
		cmocka_unit_test(test_http_parser_pct_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
