/*
 * test_http_conn.c - the HTTP server's connection handling over real sockets: keep-alive,
 * pipelining, limits (413, 431, 503), timeouts (408, idle), Expect: 100-continue, clients
 * that disconnect while a handler is pending, half-closed clients, graceful shutdown.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/http.h"
#include "common/log.h"
#include <event2/buffer.h>

#include "../src/http_internal.h"
#include "http_test_util.h"

#include <netinet/tcp.h>

struct env {
	struct event_base *base;
	struct http_server *srv;
	int port;
	int slow_started, slow_done;
};

struct slow_ctx {
	struct http_request *req;
	struct event *ev;
	struct env *e;
};

static void slow_fire(evutil_socket_t fd, short what, void *arg)
{
	struct slow_ctx *sc = arg;
	event_free(sc->ev);
	sc->e->slow_done++;
	http_reply_raw(sc->req, 200, "text/plain", "late", 4); /* frees sc (arena) */
}

static void h_slow(struct http_request *r, void *app)
{
	struct env *e = app;
	struct slow_ctx *sc = http_request_alloc(r, sizeof(*sc));
	sc->req = r;
	sc->e = e;
	sc->ev = evtimer_new(e->base, slow_fire, sc);
	struct timeval tv = {0, 150000};
	evtimer_add(sc->ev, &tv);
	e->slow_started++;
}

static void h_ok(struct http_request *r, void *app)
{
	http_reply_raw(r, 200, "text/plain", "ok", 2);
}

static void h_upload(struct http_request *r, void *app)
{
	size_t n;
	(void)http_request_body(r, &n);
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%zu", n);
	http_reply_raw(r, 200, "text/plain", buf, (size_t)len);
}

static const struct http_route routes[] = {
	{HTTP_GET, "/ok", h_ok, 0, NULL},
	{HTTP_GET, "/slow", h_slow, 0, NULL},
	{HTTP_POST, "/upload", h_upload, 0, NULL},
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	log_init("test", LOG_LEVEL_ERROR);
	e->base = event_base_new();
	struct http_server_opts o;
	http_server_opts_default(&o, "test");
	o.max_header_bytes = 1024;
	o.max_body_bytes = 1000;
	o.read_timeout_ms = 200;
	o.idle_timeout_ms = 300;
	o.write_timeout_ms = 1000;
	o.max_connections = 4;
	o.access_log = true;
	e->srv = http_server_new(e->base, &o, routes, sizeof(routes) / sizeof(routes[0]), e);
	assert_non_null(e->srv);
	assert_int_equal(http_server_listen(e->srv), 0);
	e->port = http_server_port(e->srv);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	/* let pending handler timers finish so nothing refers to freed requests */
	tu_run_for(e->base, e->slow_started > e->slow_done ? 250 : 0);
	http_server_free(e->srv);
	event_base_free(e->base);
	free(e);
	return 0;
}

static void cli_open(struct env *e, struct tu_cli *c)
{
	assert_int_equal(tu_connect(e->port, c), 0);
}

static void expect_status(struct env *e, struct tu_cli *c, int status, const char *body)
{
	struct tu_resp r;
	assert_true(tu_read_resp(e->base, c, &r));
	assert_int_equal(r.status, status);
	if (body) {
		assert_int_equal(r.body_len, strlen(body));
		assert_memory_equal(r.body, body, r.body_len);
	}
	tu_resp_free(&r);
}

static void expect_error_close(struct env *e, struct tu_cli *c, int status, const char *code)
{
	struct tu_resp r;
	char v[64];
	assert_true(tu_read_resp(e->base, c, &r));
	assert_int_equal(r.status, status);
	assert_true(tu_header(&r, "Connection", v, sizeof(v)));
	assert_string_equal(v, "close");
	char want[96];
	snprintf(want, sizeof(want), "{\"error\":{\"code\":\"%s\"", code);
	assert_true(r.body_len > strlen(want));
	assert_memory_equal(r.body, want, strlen(want));
	assert_true(tu_header(&r, "X-Request-Id", v, sizeof(v)));
	assert_non_null(strstr(r.body, v));
	tu_resp_free(&r);
	assert_true(tu_wait_eof(e->base, c, 3000));
}

static void test_http_conn_keep_alive(void **state)
{
	struct env *e = *state;
	struct tu_cli c;
	struct tu_resp r;
	char v[32];
	cli_open(e, &c);
	for (int i = 0; i < 3; i++) {
		assert_true(tu_sends(e->base, &c, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
		assert_true(tu_read_resp(e->base, &c, &r));
		assert_int_equal(r.status, 200);
		assert_false(tu_header(&r, "Connection", v, sizeof(v)));
		tu_resp_free(&r);
	}
	assert_false(c.eof);
	tu_close(&c);

	/* HTTP/1.0 closes unless asked to keep alive */
	cli_open(e, &c);
	assert_true(tu_sends(e->base, &c, "GET /ok HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
	assert_true(tu_read_resp(e->base, &c, &r));
	assert_true(tu_header(&r, "Connection", v, sizeof(v)));
	assert_string_equal(v, "keep-alive");
	tu_resp_free(&r);
	assert_true(tu_sends(e->base, &c, "GET /ok HTTP/1.0\r\n\r\n"));
	assert_true(tu_read_resp(e->base, &c, &r));
	assert_true(tu_header(&r, "Connection", v, sizeof(v)));
	assert_string_equal(v, "close");
	tu_resp_free(&r);
	assert_true(tu_wait_eof(e->base, &c, 2000));
	tu_close(&c);
}

static void test_http_conn_pipelining_in_order(void **state)
{
	struct env *e = *state;
	struct tu_cli c;
	cli_open(e, &c);
	/* leading blank lines are tolerated; the slow first request must not be overtaken */
	assert_true(tu_sends(e->base, &c,
			     "\r\nGET /slow HTTP/1.1\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"
			     "POST /upload HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /ok HTTP/1.1\r\n\r\n"));
	expect_status(e, &c, 200, "late");
	expect_status(e, &c, 200, "ok");
	expect_status(e, &c, 200, "3");
	expect_status(e, &c, 200, "ok");
	assert_int_equal(http_server_inflight(e->srv), 0);
	tu_close(&c);
}

static void test_http_conn_byte_by_byte(void **state)
{
	struct env *e = *state;
	struct tu_cli c;
	const char *req = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nwxyz";
	cli_open(e, &c);
	int one = 1;
	setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (size_t i = 0; req[i]; i++) {
		assert_true(tu_send(e->base, &c, req + i, 1));
		event_base_loop(e->base, EVLOOP_NONBLOCK);
	}
	expect_status(e, &c, 200, "4");
	tu_close(&c);
}

static void test_http_conn_413_by_content_length(void **state)
{
	struct env *e = *state;
	struct tu_cli c;
	cli_open(e, &c);
	assert_true(tu_sends(e->base, &c, "POST /upload HTTP/1.1\r\nContent-Length: 5000\r\n\r\n"));
	/* the client keeps sending; the server answers and drains before closing */
	char junk[5000];
	memset(junk, 'j', sizeof(junk));
	(void)tu_send(e->base, &c, junk, sizeof(junk));
	expect_error_close(e, &c, 413, "body_too_large");
	tu_close(&c);

	/* at the limit is fine */
	cli_open(e, &c);
	char req[1200];
	int n = snprintf(req, sizeof(req), "POST /upload HTTP/1.1\r\nContent-Length: 1000\r\n\r\n");
	memset(req + n, 'a', 1000);
	assert_true(tu_send(e->base, &c, req, (size_t)n + 1000));
	expect_status(e, &c, 200, "1000");
	tu_close(&c);
}

static void test_http_conn_413_chunked(void **state)
{
	struct env *e = *state;
	struct tu_cli c;
	cli_open(e, &c);
	assert_true(tu_sends(e->base, &c, "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
	char chunk[700];
	int n = snprintf(chunk, sizeof(chunk), "200\r\n");
	memset(chunk + n, 'c', 0x200);
	memcpy(chunk + n + 0x200, "\r\n", 2);
	for (int i = 0; i < 2 && !c.eof; i++) /* 1024 bytes > 1000 */
		(void)tu_send(e->base, &c, chunk, (size_t)n + 0x200 + 2);
	expect_error_close(e, &c, 413, "body_too_large");
	tu_close(&c);
}

static void test_http_conn_431(void **state)
{
	struct env *e = *state;
	struct tu_cli c;
	char req[3000];
	int n = snprintf(req, sizeof(req), "GET /ok HTTP/1.1\r\nX-Big: ");
	memset(req + n, 'h', 2000);
	memcpy(req + n + 2000, "\r\n\r\n", 5);
	cli_open(e, &c);
	assert_true(tu_sends(e->base, &c, req));
	expect_error_close(e, &c, 431, "headers_too_large");
	tu_close(&c);

	/* an unfinished head that is already over the limit */
	cli_open(e, &c);
	assert_true(tu_send(e->base, &c, req, 1100));
	expect_error_close(e, &c, 431, "headers_too_large");
	tu_close(&c);

	/* too many header lines */
	n = snprintf(req, sizeof(req), "GET /ok HTTP/1.1\r\n");
	for (int i = 0; i < 70; i++)
		n += snprintf(req + n, sizeof(req) - (size_t)n, "H%d: v\r\n", i);
	snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
	/* that head is < 1024 bytes but has more than HTTP_MAX_HEADERS lines */
	assert_true(strlen(req) <= 1024);
	cli_open(e, &c);
	assert_true(tu_sends(e->base, &c, req));
	expect_error_close(e, &c, 431, "headers_too_large");
	tu_close(&c);
}

static void test_http_conn_408_read_timeout(void **state)
{
	struct env *e = *state;
	struct tu_cli c;
	cli_open(e, &c);
	long t0 = tu_now_ms();
	assert_true(tu_sends(e->base, &c, "GET /ok HTTP/1.1\r\nHost: x\r\n"));
	expect_error_close(e, &c, 408, "request_timeout");
	long dt = tu_now_ms() - t0;
	assert_true(dt >= 150 && dt < 2000);
	tu_close(&c);

	/* a body that stops arriving */
	cli_open(e, &c);
	assert_true(tu_sends(e->base, &c, "POST /upload HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
	expect_error_close(e, &c, 408, "request_timeout");
	tu_close(&c);
}

static void test_http_conn_idle_timeout(void **state)
{
	struct env *e = *state;
	struct tu_cli c;
	cli_open(e, &c);
	/* a fresh connection that never sends anything is closed silently */
	assert_true(tu_wait_eof(e->base, &c, 2000));
	assert_int_equal(c.len, 0);
	tu_close(&c);

	cli_open(e, &c);
	assert_true(tu_sends(e->base, &c, "GET /ok HTTP/1.1\r\n\r\n"));
	expect_status(e, &c, 200, "ok");
	long t0 = tu_now_ms();
	assert_true(tu_wait_eof(e->base, &c, 2000));
	assert_true(tu_now_ms() - t0 >= 200);
	assert_int_equal(c.len, 0);
	tu_close(&c);
}

static void test_http_conn_max_connections(void **state)
{
	struct env *e = *state;
	struct tu_cli c[5];
	for (int i = 0; i < 4; i++)
		cli_open(e, &c[i]);
	tu_run_for(e->base, 50); /* let the server accept them */
	cli_open(e, &c[4]);
	expect_error_close(e, &c[4], 503, "service_unavailable");
	tu_close(&c[4]);
	/* the four accepted connections still work */
	assert_true(tu_sends(e->base, &c[0], "GET /ok HTTP/1.1\r\n\r\n"));
	expect_status(e, &c[0], 200, "ok");
	tu_close(&c[1]);
	tu_run_for(e->base, 50);
	cli_open(e, &c[1]);
	assert_true(tu_sends(e->base, &c[1], "GET /ok HTTP/1.1\r\n\r\n"));
	expect_status(e, &c[1], 200, "ok");
	for (int i = 0; i < 4; i++)
		tu_close(&c[i]);
}

static void test_http_conn_expect_continue(void **state)
{
	struct env *e = *state;
	struct tu_cli c;
	cli_open(e, &c);
	assert_true(tu_sends(e->base, &c,
			     "POST /upload HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
	expect_status(e, &c, 100, NULL);
	assert_true(tu_sends(e->base, &c, "12345"));
	expect_status(e, &c, 200, "5");

	/* over the limit: 413 straight away, never 100 */
	assert_true(tu_sends(e->base, &c,
			     "POST /upload HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n"));
	expect_error_close(e, &c, 413, "body_too_large");
	tu_close(&c);
}

static void test_http_conn_client_gone_during_handler(void **state)
{
	struct env *e = *state;
	struct tu_cli c;
	cli_open(e, &c);
	assert_true(tu_sends(e->base, &c, "GET /slow HTTP/1.1\r\n\r\n"));
	tu_run_for(e->base, 30);
	assert_int_equal(e->slow_started, 1);
	tu_close(&c);
	tu_run_for(e->base, 30);
	assert_int_equal(http_server_inflight(e->srv), 1); /* detached, still alive */
	tu_run_for(e->base, 300);
	assert_int_equal(e->slow_done, 1);
	assert_int_equal(http_server_inflight(e->srv), 0);

	/* a half-closed client still gets the answer to a request it completed */
	cli_open(e, &c);
	assert_true(tu_sends(e->base, &c, "GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n"));
	shutdown(c.fd, SHUT_WR);
	expect_status(e, &c, 200, "ok");
	assert_true(tu_wait_eof(e->base, &c, 2000));
	tu_close(&c);
}

static void test_http_conn_shutdown(void **state)
{
	struct env *e = *state;
	struct tu_cli idle, busy, partial;
	cli_open(e, &idle);
	assert_true(tu_sends(e->base, &idle, "GET /ok HTTP/1.1\r\n\r\n"));
	expect_status(e, &idle, 200, "ok");
	cli_open(e, &busy);
	assert_true(tu_sends(e->base, &busy, "GET /slow HTTP/1.1\r\n\r\n"));
	cli_open(e, &partial);
	assert_true(tu_sends(e->base, &partial, "GET /readyz HTTP/1.1\r\n"));
	tu_run_for(e->base, 30);
	assert_int_equal(e->slow_started, 1);
	assert_int_equal(http_server_inflight(e->srv), 2); /* busy + partial head */

	http_server_shutdown(e->srv);
	assert_true(tu_wait_eof(e->base, &idle, 1000));
	assert_int_equal(idle.len, 0);

	assert_true(tu_sends(e->base, &partial, "\r\n"));
	struct tu_resp r;
	char v[32];
	assert_true(tu_read_resp(e->base, &partial, &r));
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "\"status\":\"not_ready\""));
	assert_true(tu_header(&r, "Connection", v, sizeof(v)));
	assert_string_equal(v, "close");
	tu_resp_free(&r);

	assert_true(tu_read_resp(e->base, &busy, &r));
	assert_int_equal(r.status, 200);
	assert_true(tu_header(&r, "Connection", v, sizeof(v)));
	assert_string_equal(v, "close");
	tu_resp_free(&r);
	assert_true(tu_wait_eof(e->base, &busy, 2000));
	assert_int_equal(http_server_inflight(e->srv), 0);

	/* no longer accepting: a new connection gets no answer */
	struct tu_cli late;
	if (tu_connect(e->port, &late) == 0) {
		(void)tu_sends(e->base, &late, "GET /ok HTTP/1.1\r\n\r\n");
		assert_false(tu_read_resp_ex(e->base, &late, &r, false, 200));
		tu_close(&late);
	}
	tu_close(&idle);
	tu_close(&busy);
	tu_close(&partial);
}

static size_t server_output_bytes(struct env *e)
{
	size_t n = 0;
	for (struct http_conn *k = e->srv->conns; k; k = k->next)
		n += evbuffer_get_length(bufferevent_get_output(k->bev));
	return n;
}

static void test_http_conn_pipeline_backpressure(void **state)
{
	struct env *e = *state;
	struct tu_cli c;
	const char req[] = "GET /ok HTTP/1.1\r\n\r\n";
	/* ~8 MB of replies: more than the kernel's socket buffers (4 MB + the client's 16 KB) */
	size_t one = sizeof(req) - 1, nreq = 60000, sent = 0, peak = 0;
	char *all = malloc(one * nreq);
	for (size_t i = 0; i < nreq; i++)
		memcpy(all + i * one, req, one);
	cli_open(e, &c);
	int small = 16384;
	setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	/* pipeline everything and never read: the server must stop, not buffer 8 MB */
	bool blocked = false;
	long deadline = tu_now_ms() + 8000;
	while (!blocked && tu_now_ms() < deadline) {
		ssize_t w = sent < one * nreq ? send(c.fd, all + sent, one * nreq - sent, MSG_NOSIGNAL) : 0;
		if (w > 0)
			sent += (size_t)w;
		tu_run_for(e->base, 2);
		size_t out = server_output_bytes(e);
		peak = out > peak ? out : peak;
		blocked = e->srv->conns && e->srv->conns->out_blocked;
	}
	print_message("server output peaked at %zu bytes\n", peak);
	assert_true(peak < 262144 + 65536);
	assert_true(blocked);
	/* reading the replies lets it continue: every request gets its answer */
	int big = 4 << 20;
	setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	size_t got = 0, off = 0;
	deadline = tu_now_ms() + 20000;
	while (got < nreq && tu_now_ms() < deadline) {
		if (sent < one * nreq) {
			ssize_t w = send(c.fd, all + sent, one * nreq - sent, MSG_NOSIGNAL);
			sent += w > 0 ? (size_t)w : 0;
		}
		tu_run_for(e->base, 1);
		tu_fill(&c);
		for (;;) { /* count complete replies without moving the buffer each time */
			struct http_head h;
			ssize_t hl = http_parse_response(c.buf + off, c.len - off, 4096, &h);
			if (hl <= 0 || c.len - off < (size_t)hl + h.content_length)
				break;
			assert_int_equal(h.status, 200);
			off += (size_t)hl + h.content_length;
			got++;
		}
		memmove(c.buf, c.buf + off, c.len - off);
		c.len -= off;
		off = 0;
		size_t out = server_output_bytes(e);
		peak = out > peak ? out : peak;
	}
	assert_int_equal(got, nreq);
	assert_true(peak < 262144 + 65536);
	free(all);
	tu_close(&c);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as daemon_on_signals() does */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_http_conn_keep_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_conn_pipelining_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_conn_byte_by_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_conn_413_by_content_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_conn_413_chunked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_conn_431, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_conn_408_read_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_conn_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_conn_max_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_conn_expect_continue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_conn_client_gone_during_handler, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_conn_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_conn_pipeline_backpressure, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
