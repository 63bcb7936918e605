/*
 * test_http_server.c - the HTTP server's request/reply surface over real sockets: routing,
 * params, 404/405, request ids, the error envelope, JSON body helpers, reply headers, HEAD,
 * chunked bodies, malformed requests, the fallback handler and the built-in routes.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/http.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "http_test_util.h"

struct env {
	struct event_base *base;
	struct http_server *srv;
	struct metrics *metrics;
	int port;
	bool ready;
	int fallback_hits;
};

static json_object *body_json(const struct tu_resp *r)
{
	char *s = strndup(r->body, r->body_len);
	json_object *o = json_tokener_parse(s);
	free(s);
	return o;
}

static const char *jstr(json_object *o, const char *path1, const char *path2)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, path1, &v))
		return NULL;
	if (path2 && !json_object_object_get_ex(v, path2, &v))
		return NULL;
	return json_object_is_type(v, json_type_null) ? NULL : json_object_get_string(v);
}

/* ---- handlers ----------------------------------------------------------------------------- */

static void h_echo(struct http_request *r, void *app)
{
	json_object *o = json_object_new_object();
	json_set_str(o, "method", http_request_method_str(r));
	json_set_str(o, "path", http_request_path(r));
	json_set_str(o, "query", http_request_query(r));
	json_set_str(o, "target", http_request_target(r));
	json_set_str(o, "x", http_request_query_param(r, "x"));
	json_set_str(o, "sp", http_request_query_param(r, "s p"));
	json_set_str(o, "id", http_request_param(r, "id"));
	json_set_str(o, "rid", http_request_id(r));
	json_set_str(o, "peer", http_request_peer(r));
	json_set_str(o, "route", http_request_route(r));
	json_set_str(o, "data", http_request_route_data(r));
	json_set_str(o, "hdr", http_request_header(r, "x-test"));
	http_reply_json(r, 200, o);
}

static void h_json(struct http_request *r, void *app)
{
	json_object *o = http_request_json_or_reply(r);
	if (!o)
		return;
	http_reply_json(r, 200, o);
}

static void h_validate(struct http_request *r, void *app)
{
	struct jv v;
	jv_init(&v);
	jv_fail(&v, "email", "is required");
	http_reply_validation(r, &v);
}

static void h_headers(struct http_request *r, void *app)
{
	http_reply_header(r, "X-Custom", "yes");
	http_reply_header(r, "Content-Length", "999");
	http_reply_header(r, "Connection", "close");
	http_reply_header(r, "Bad Name", "x");
	http_reply_header(r, "X-Inject", "a\r\nX-Evil: 1");
	http_reply_header(r, "Content-Type", "text/x-custom");
	http_reply_raw(r, 200, NULL, "hello", 5);
}

static void h_body(struct http_request *r, void *app)
{
	size_t n;
	const char *b = http_request_body(r, &n);
	assert_int_equal(strlen(b), n); /* NUL-terminated, no embedded NULs in these tests */
	http_reply_raw(r, 201, "application/octet-stream", b, n);
}

static void h_arena(struct http_request *r, void *app)
{
	for (int i = 0; i < 100; i++) {
		char *p = http_request_alloc(r, 1000);
		memset(p, i, 1000);
	}
	char *big = http_request_alloc(r, 200000);
	memset(big, 'z', 200000);
	char *s = http_request_strdup(r, "arena-ok");
	http_request_set_log_ids(r, "tenant-1", "user-1");
	http_reply_raw(r, 200, "text/plain", big, 200000);
	(void)s;
}

static void h_empty(struct http_request *r, void *app)
{
	http_reply_empty(r, 204);
}

static void h_fallback(struct http_request *r, void *app)
{
	struct env *e = app;
	e->fallback_hits++;
	assert_null(http_request_route(r));
	http_reply_raw(r, 299, "text/plain", "fb", 2);
}

/* A reply far larger than the kernel's socket buffers, so part of it stays queued. */
#define BIG_REPLY (32u << 20)
static void h_big(struct http_request *r, void *app)
{
	char *b = malloc(BIG_REPLY);

	assert_non_null(b);
	memset(b, 'x', BIG_REPLY);
	http_reply_raw(r, 200, "application/octet-stream", b, BIG_REPLY);
	free(b);
}

static const struct http_route routes[] = {
	{HTTP_GET, "/big", h_big, 0, NULL},
	{HTTP_GET, "/users/{id}", h_echo, 0, "user-data"},
	{HTTP_GET, "/users/me", h_echo, 0, "me-data"},
	{HTTP_GET, "/echo", h_echo, 0, NULL},
	{HTTP_POST, "/json", h_json, 0, NULL},
	{HTTP_POST, "/validate", h_validate, 0, NULL},
	{HTTP_GET, "/headers", h_headers, 0, NULL},
	{HTTP_POST, "/body", h_body, 0, NULL},
	{HTTP_PUT, "/body", h_body, 0, NULL},
	{HTTP_GET, "/arena", h_arena, 0, NULL},
	{HTTP_DELETE, "/empty", h_empty, 0, NULL},
};

static bool info_down(void *arg)
{
	(void)arg;
	return false;
}

static bool ready_check(void *arg)
{
	return ((struct env *)arg)->ready;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	log_init("test", LOG_LEVEL_WARN);
	e->base = event_base_new();
	e->metrics = metrics_new();
	struct http_server_opts o;
	http_server_opts_default(&o, "test");
	o.metrics = e->metrics;
	o.max_body_bytes = 4096;
	e->srv = http_server_new(e->base, &o, routes, sizeof(routes) / sizeof(routes[0]), e);
	assert_non_null(e->srv);
	http_server_add_ready_check(e->srv, "db", ready_check, e);
	http_server_add_info_check(e->srv, "broker", info_down, NULL);
	assert_int_equal(http_server_listen(e->srv), 0);
	e->port = http_server_port(e->srv);
	assert_true(e->port > 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	http_server_free(e->srv);
	metrics_free(e->metrics);
	event_base_free(e->base);
	free(e);
	return 0;
}

/* One request on a fresh connection. */
static void roundtrip(struct env *e, const char *req, struct tu_resp *r)
{
	struct tu_cli c;
	assert_int_equal(tu_connect(e->port, &c), 0);
	assert_true(tu_sends(e->base, &c, req));
	assert_true(tu_read_resp(e->base, &c, r));
	tu_close(&c);
}

static void assert_envelope(const struct tu_resp *r, int status, const char *code)
{
	assert_int_equal(r->status, status);
	json_object *o = body_json(r);
	assert_non_null(o);
	assert_string_equal(jstr(o, "error", "code"), code);
	assert_non_null(jstr(o, "error", "message"));
	json_object *err, *d;
	assert_true(json_object_object_get_ex(o, "error", &err));
	assert_true(json_object_object_get_ex(err, "details", &d));
	char rid[80];
	assert_true(tu_header(r, "X-Request-Id", rid, sizeof(rid)));
	assert_string_equal(jstr(o, "error", "trace_id"), rid);
	char ct[80];
	assert_true(tu_header(r, "Content-Type", ct, sizeof(ct)));
	assert_string_equal(ct, "application/json");
	json_object_put(o);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_http_server_routes_params_query(void **state)
{
	struct env *e = *state;
	struct tu_resp r;
	roundtrip(e, "GET /users/a%20b?x=1&s+p=q%26r&x=2 HTTP/1.1\r\nHost: t\r\nX-Test: hi\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	json_object *o = body_json(&r);
	assert_string_equal(jstr(o, "id", NULL), "a b");
	assert_string_equal(jstr(o, "x", NULL), "1");
	assert_string_equal(jstr(o, "sp", NULL), "q&r");
	assert_string_equal(jstr(o, "path", NULL), "/users/a%20b");
	assert_string_equal(jstr(o, "query", NULL), "x=1&s+p=q%26r&x=2");
	assert_string_equal(jstr(o, "target", NULL), "/users/a%20b?x=1&s+p=q%26r&x=2");
	assert_string_equal(jstr(o, "route", NULL), "/users/{id}");
	assert_string_equal(jstr(o, "data", NULL), "user-data");
	assert_string_equal(jstr(o, "hdr", NULL), "hi");
	assert_string_equal(jstr(o, "peer", NULL), "127.0.0.1");
	assert_string_equal(jstr(o, "method", NULL), "GET");
	json_object_put(o);
	tu_resp_free(&r);

	roundtrip(e, "GET /users/me HTTP/1.1\r\n\r\n", &r);
	o = body_json(&r);
	assert_string_equal(jstr(o, "route", NULL), "/users/me");
	assert_null(jstr(o, "id", NULL));
	assert_null(jstr(o, "x", NULL));
	assert_string_equal(jstr(o, "query", NULL), "");
	json_object_put(o);
	tu_resp_free(&r);

	roundtrip(e, "GET /users/%zz HTTP/1.1\r\n\r\n", &r);
	assert_envelope(&r, 400, "invalid_parameter");
	tu_resp_free(&r);
}

static void test_http_server_404_405(void **state)
{
	struct env *e = *state;
	struct tu_resp r;
	roundtrip(e, "GET /nope HTTP/1.1\r\n\r\n", &r);
	assert_envelope(&r, 404, "route_not_found");
	tu_resp_free(&r);
	roundtrip(e, "DELETE /users/1 HTTP/1.1\r\n\r\n", &r);
	assert_envelope(&r, 405, "method_not_allowed");
	char allow[64];
	assert_true(tu_header(&r, "Allow", allow, sizeof(allow)));
	assert_string_equal(allow, "GET, HEAD");
	tu_resp_free(&r);
	roundtrip(e, "OPTIONS /body HTTP/1.1\r\n\r\n", &r);
	assert_envelope(&r, 405, "method_not_allowed");
	assert_true(tu_header(&r, "Allow", allow, sizeof(allow)));
	assert_string_equal(allow, "POST, PUT");
	tu_resp_free(&r);
	roundtrip(e, "OPTIONS * HTTP/1.1\r\n\r\n", &r);
	assert_envelope(&r, 404, "route_not_found");
	tu_resp_free(&r);
	roundtrip(e, "BREW /echo HTTP/1.1\r\n\r\n", &r);
	assert_envelope(&r, 405, "method_not_allowed");
	tu_resp_free(&r);
}

static void test_http_server_request_id(void **state)
{
	struct env *e = *state;
	struct tu_resp r;
	char rid[100];
	roundtrip(e, "GET /echo HTTP/1.1\r\nX-Request-Id: abc.DEF_1-2\r\n\r\n", &r);
	assert_true(tu_header(&r, "X-Request-Id", rid, sizeof(rid)));
	assert_string_equal(rid, "abc.DEF_1-2");
	json_object *o = body_json(&r);
	assert_string_equal(jstr(o, "rid", NULL), "abc.DEF_1-2");
	json_object_put(o);
	tu_resp_free(&r);

	const char *bad[] = {
		"GET /nope HTTP/1.1\r\nX-Request-Id: has space\r\n\r\n",
		"GET /nope HTTP/1.1\r\nX-Request-Id: semi;colon\r\n\r\n",
		("GET /nope HTTP/1.1\r\nX-Request-Id: "
		 "a1234567890123456789012345678901234567890123456789012345678901234\r\n\r\n"),
		"GET /nope HTTP/1.1\r\nX-Request-Id:\r\n\r\n",
		"GET /nope HTTP/1.1\r\n\r\n",
	};
	char prev[100] = "";
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		roundtrip(e, bad[i], &r);
		assert_envelope(&r, 404, "route_not_found");
		assert_true(tu_header(&r, "X-Request-Id", rid, sizeof(rid)));
		assert_int_equal(strlen(rid), 36);
		assert_int_equal(rid[14], '4');
		assert_string_not_equal(rid, prev);
		strcpy(prev, rid);
		tu_resp_free(&r);
	}
	/* exactly 64 characters is still valid */
	roundtrip(e, "GET /nope HTTP/1.1\r\nX-Request-Id: "
		     "a123456789012345678901234567890123456789012345678901234567890123\r\n\r\n", &r);
	assert_true(tu_header(&r, "X-Request-Id", rid, sizeof(rid)));
	assert_int_equal(strlen(rid), 64);
	tu_resp_free(&r);
}

static void post_json(struct env *e, const char *ctype, const char *body, struct tu_resp *r)
{
	char req[1024];
	snprintf(req, sizeof(req), "POST /json HTTP/1.1\r\n%s%s%sContent-Length: %zu\r\n\r\n%s",
		 ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "", strlen(body), body);
	roundtrip(e, req, r);
}

static void test_http_server_json_helpers(void **state)
{
	struct env *e = *state;
	struct tu_resp r;
	post_json(e, NULL, "{}", &r);
	assert_envelope(&r, 415, "unsupported_media_type");
	tu_resp_free(&r);
	post_json(e, "text/plain", "{}", &r);
	assert_envelope(&r, 415, "unsupported_media_type");
	tu_resp_free(&r);
	post_json(e, "application/jsonp", "{}", &r);
	assert_envelope(&r, 415, "unsupported_media_type");
	tu_resp_free(&r);

	post_json(e, "application/json", "{\"a\":", &r);
	assert_envelope(&r, 400, "malformed_json");
	json_object *o = body_json(&r);
	assert_non_null(jstr(json_object_object_get(o, "error"), "details", "reason"));
	json_object_put(o);
	tu_resp_free(&r);
	post_json(e, "application/json", "{\"a\":1,\"a\":2}", &r);
	assert_envelope(&r, 400, "malformed_json");
	tu_resp_free(&r);
	post_json(e, "application/json", "", &r);
	assert_envelope(&r, 400, "malformed_json");
	tu_resp_free(&r);

	post_json(e, "application/json", "[1,2]", &r);
	assert_envelope(&r, 422, "validation_failed");
	tu_resp_free(&r);

	post_json(e, "Application/JSON; charset=utf-8", "{\"k\":\"v\"}", &r);
	assert_int_equal(r.status, 200);
	o = body_json(&r);
	assert_string_equal(jstr(o, "k", NULL), "v");
	json_object_put(o);
	tu_resp_free(&r);
}

static void test_http_server_validation_reply(void **state)
{
	struct env *e = *state;
	struct tu_resp r;
	roundtrip(e, "POST /validate HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r);
	assert_envelope(&r, 422, "validation_failed");
	json_object *o = body_json(&r);
	json_object *d = json_object_object_get(json_object_object_get(o, "error"), "details");
	assert_true(json_object_is_type(d, json_type_array));
	assert_int_equal(json_object_array_length(d), 1);
	assert_string_equal(jstr(json_object_array_get_idx(d, 0), "field", NULL), "email");
	json_object_put(o);
	tu_resp_free(&r);
}

static void test_http_server_reply_headers(void **state)
{
	struct env *e = *state;
	struct tu_resp r;
	char v[64];
	roundtrip(e, "GET /headers HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_true(tu_header(&r, "X-Custom", v, sizeof(v)));
	assert_string_equal(v, "yes");
	assert_true(tu_header(&r, "Content-Length", v, sizeof(v)));
	assert_string_equal(v, "5");
	assert_true(tu_header(&r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "text/x-custom");
	assert_false(tu_header(&r, "Connection", v, sizeof(v)));
	assert_false(tu_header(&r, "X-Inject", v, sizeof(v)));
	assert_false(tu_header(&r, "X-Evil", v, sizeof(v)));
	assert_true(tu_header(&r, "Date", v, sizeof(v)));
	assert_true(strstr(v, "GMT") != NULL);
	assert_int_equal(r.body_len, 5);
	assert_memory_equal(r.body, "hello", 5);
	tu_resp_free(&r);

	roundtrip(e, "DELETE /empty HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 204);
	assert_false(tu_header(&r, "Content-Length", v, sizeof(v)));
	assert_true(tu_header(&r, "X-Request-Id", v, sizeof(v)));
	tu_resp_free(&r);
}

static void test_http_server_head_request(void **state)
{
	struct env *e = *state;
	struct tu_cli c;
	struct tu_resp r;
	char v[32];
	assert_int_equal(tu_connect(e->port, &c), 0);
	assert_true(tu_sends(e->base, &c, "HEAD /echo HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n"));
	assert_true(tu_read_resp_ex(e->base, &c, &r, true, 3000));
	assert_int_equal(r.status, 200);
	assert_true(tu_header(&r, "Content-Length", v, sizeof(v)));
	assert_true(atoi(v) > 10);
	tu_resp_free(&r);
	/* the next bytes are the next response, not a body */
	assert_true(tu_read_resp(e->base, &c, &r));
	assert_int_equal(r.status, 200);
	assert_memory_equal(r.body, "{\"status\":\"ok\"}", r.body_len);
	tu_resp_free(&r);
	tu_close(&c);
}

static void test_http_server_bodies(void **state)
{
	struct env *e = *state;
	struct tu_resp r;
	roundtrip(e, "POST /body HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world", &r);
	assert_int_equal(r.status, 201);
	assert_int_equal(r.body_len, 11);
	assert_memory_equal(r.body, "hello world", 11);
	tu_resp_free(&r);
	roundtrip(e, "PUT /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nTrailer: t\r\n\r\n", &r);
	assert_int_equal(r.status, 201);
	assert_int_equal(r.body_len, 11);
	assert_memory_equal(r.body, "hello world", 11);
	tu_resp_free(&r);
	/* a body of exactly the limit is accepted, chunked too */
	char *req = malloc(8192);
	char *body = malloc(4097);
	memset(body, 'b', 4096);
	body[4096] = '\0';
	snprintf(req, 8192, "POST /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n%s\r\n0\r\n\r\n", body);
	roundtrip(e, req, &r);
	assert_int_equal(r.status, 201);
	assert_int_equal(r.body_len, 4096);
	tu_resp_free(&r);
	free(req);
	free(body);
	/* arena: many small and one large allocation */
	roundtrip(e, "GET /arena HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 200000);
	assert_int_equal(r.body[199999], 'z');
	tu_resp_free(&r);
}

static void test_http_server_malformed_requests(void **state)
{
	struct env *e = *state;
	const char *bad[] = {
		"GET /echo HTTP/1.1\r\nBad Header: x\r\n\r\n",
		"GET /echo HTTP/9.9\r\n\r\n",
		"GET http://evil/echo HTTP/1.1\r\n\r\n",
		"GET /a/../echo HTTP/1.1\r\n\r\n",
		"GET /./echo HTTP/1.1\r\n\r\n",
		"GET /echo/.. HTTP/1.1\r\n\r\n",
		"POST /body HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
		"POST /body HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
		"POST /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"GET /echo HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tu_cli c;
		struct tu_resp r;
		char v[32];
		assert_int_equal(tu_connect(e->port, &c), 0);
		assert_true(tu_sends(e->base, &c, bad[i]));
		if (!tu_read_resp(e->base, &c, &r))
			fail_msg("no reply to case %zu", i);
		assert_envelope(&r, 400, "bad_request");
		assert_true(tu_header(&r, "Connection", v, sizeof(v)));
		assert_string_equal(v, "close");
		tu_resp_free(&r);
		assert_true(tu_wait_eof(e->base, &c, 3000));
		tu_close(&c);
	}
	/* dots that are not dot-segments are fine */
	struct tu_resp r;
	roundtrip(e, "GET /users/a..b HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	tu_resp_free(&r);
}

static void test_http_server_builtins(void **state)
{
	struct env *e = *state;
	struct tu_resp r;
	char v[64];
	roundtrip(e, "GET /healthz HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_memory_equal(r.body, "{\"status\":\"ok\"}", r.body_len);
	tu_resp_free(&r);

	e->ready = false;
	roundtrip(e, "GET /readyz HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 503);
	json_object *o = body_json(&r);
	assert_string_equal(jstr(o, "status", NULL), "not_ready");
	assert_false(json_object_get_boolean(json_object_object_get(json_object_object_get(o, "checks"), "db")));
	json_object_put(o);
	tu_resp_free(&r);
	e->ready = true;
	roundtrip(e, "GET /readyz HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	o = body_json(&r);
	assert_string_equal(jstr(o, "status", NULL), "ready");
	assert_true(json_object_get_boolean(json_object_object_get(json_object_object_get(o, "checks"), "db")));
	/* an info check is reported but does not gate readiness */
	json_object *broker = NULL;
	assert_true(json_object_object_get_ex(json_object_object_get(o, "checks"), "broker", &broker));
	assert_false(json_object_get_boolean(broker));
	json_object_put(o);
	tu_resp_free(&r);

	roundtrip(e, "GET /users/raw-path-123 HTTP/1.1\r\n\r\n", &r);
	tu_resp_free(&r);
	roundtrip(e, "GET /not/a/route/xyz HTTP/1.1\r\n\r\n", &r);
	tu_resp_free(&r);
	roundtrip(e, "GET /metrics HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_true(tu_header(&r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "text/plain; version=0.0.4");
	char *text = strndup(r.body, r.body_len);
	assert_non_null(strstr(text, "http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"));
	assert_non_null(strstr(text, "route=\"/users/{id}\""));
	assert_non_null(strstr(text, "route=\"unmatched\",status=\"404\""));
	assert_non_null(strstr(text, "http_request_duration_seconds"));
	assert_null(strstr(text, "raw-path-123"));
	assert_null(strstr(text, "xyz"));
	free(text);
	tu_resp_free(&r);
	roundtrip(e, "POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r);
	assert_envelope(&r, 405, "method_not_allowed");
	tu_resp_free(&r);
}

static void test_http_server_fallback(void **state)
{
	struct env *e = *state;
	struct tu_resp r;
	http_server_set_fallback(e->srv, h_fallback);
	roundtrip(e, "GET /anything/at/all HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 299);
	tu_resp_free(&r);
	roundtrip(e, "DELETE /users/1 HTTP/1.1\r\n\r\n", &r); /* would be 405 */
	assert_int_equal(r.status, 299);
	tu_resp_free(&r);
	roundtrip(e, "GET /users/1 HTTP/1.1\r\n\r\n", &r); /* routes still win */
	assert_int_equal(r.status, 200);
	tu_resp_free(&r);
	assert_int_equal(e->fallback_hits, 2);
}

/* A reply that is queued but not yet written still counts as in flight: a daemon that stops
 * its loop once http_server_inflight() is 0 must not drop it. */
static void test_http_server_inflight_counts_unflushed_reply(void **state)
{
	struct env *e = *state;
	struct tu_cli c;
	struct tu_resp r;

	assert_int_equal(tu_connect(e->port, &c), 0);
	assert_true(tu_sends(e->base, &c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
	tu_run_for(e->base, 200); /* handler has replied; the client reads nothing yet */
	assert_true(http_server_inflight(e->srv) > 0);
	assert_true(tu_read_resp_ex(e->base, &c, &r, false, 20000));
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, BIG_REPLY);
	tu_resp_free(&r);
	tu_run_for(e->base, 50);
	assert_int_equal(http_server_inflight(e->srv), 0);
	tu_close(&c);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as daemon_on_signals() does */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_http_server_routes_params_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_server_404_405, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_server_request_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_server_json_helpers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_server_validation_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_server_reply_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_server_head_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_server_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_server_malformed_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_server_builtins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_server_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_server_inflight_counts_unflushed_reply, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
