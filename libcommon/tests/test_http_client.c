/*
 * test_http_client.c - the HTTP client against the libcommon server and a scripted raw
 * server: GET/POST, HEAD/204, keep-alive reuse, chunked and read-until-close bodies,
 * timeouts, refused connections, idle connections closed by the server (with and without
 * the race), queue overflow, protocol errors, shutdown, and callbacks that free the client.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "common/http.h"
#include "common/http_client.h"
#include "common/log.h"
#include "http_test_util.h"

/* ---- a scripted upstream ------------------------------------------------------------------ */

enum smode {
	S_KEEPALIVE,   /* 200 "ok" with Content-Length, keep-alive */
	S_CHUNKED,     /* chunked body with an interim 100 first */
	S_UNTIL_CLOSE, /* no framing: body runs until the close */
	S_SLOW,        /* never answers */
	S_BAD,         /* CL + TE */
	S_TRUNCATED,   /* Content-Length 100, 5 bytes, close */
	S_BIG,         /* 4000-byte body */
};

struct ssrv;

struct sconn {
	struct ssrv *s;
	struct bufferevent *bev;
	struct sconn *next;
};

struct ssrv {
	struct evconnlistener *l;
	int port;
	enum smode mode;
	int accepts, requests;
	struct sconn *conns;
};

static void ssrv_unlink(struct sconn *c)
{
	for (struct sconn **pp = &c->s->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			return;
		}
	}
}

static void sconn_free(struct sconn *c)
{
	bufferevent_free(c->bev);
	free(c);
}

static void ssrv_close_all(struct ssrv *s)
{
	while (s->conns) {
		struct sconn *c = s->conns;
		s->conns = c->next;
		sconn_free(c);
	}
}

static void ssrv_respond(struct ssrv *s, struct bufferevent *bev, bool *close_after)
{
	static char big[4100];
	switch (s->mode) {
	case S_KEEPALIVE:
		bufferevent_write(bev, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 40);
		break;
	case S_CHUNKED: {
		const char *r = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
				"X-Up: 1\r\n\r\n5\r\nhello\r\n6;e=1\r\n world\r\n0\r\nT: x\r\n\r\n";
		bufferevent_write(bev, r, strlen(r));
		break;
	}
	case S_UNTIL_CLOSE:
		bufferevent_write(bev, "HTTP/1.1 200 OK\r\n\r\nbody-until-close", 35);
		*close_after = true;
		break;
	case S_SLOW:
		break;
	case S_BAD: {
		const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
		bufferevent_write(bev, r, strlen(r));
		break;
	}
	case S_TRUNCATED:
		bufferevent_write(bev, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello", 45);
		*close_after = true;
		break;
	case S_BIG: {
		int n = snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n");
		memset(big + n, 'b', 4000);
		bufferevent_write(bev, big, (size_t)n + 4000);
		break;
	}
	}
}

/* A connection being closed after its last response: free once flushed. */
static void sconn_closing_write_cb(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		sconn_free(arg);
}

static void sconn_closing_event_cb(struct bufferevent *bev, short what, void *arg)
{
	sconn_free(arg);
}

static void ssrv_read_cb(struct bufferevent *bev, void *arg)
{
	struct sconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		size_t len = evbuffer_get_length(in);
		const char *buf = (const char *)evbuffer_pullup(in, -1);
		struct http_head h;
		ssize_t hl = buf ? http_parse_request(buf, len, 65536, &h) : -1;
		if (hl <= 0 || len < (size_t)hl + h.content_length)
			return;
		evbuffer_drain(in, (size_t)hl + h.content_length);
		c->s->requests++;
		bool close_after = false;
		ssrv_respond(c->s, bev, &close_after);
		if (close_after) {
			ssrv_unlink(c);
			bufferevent_disable(bev, EV_READ);
			bufferevent_setcb(bev, NULL, sconn_closing_write_cb, sconn_closing_event_cb, c);
			return;
		}
	}
}

static void ssrv_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sconn *c = arg;
	ssrv_unlink(c);
	sconn_free(c);
}

static void ssrv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
			void *arg)
{
	struct ssrv *s = arg;
	struct sconn *c = calloc(1, sizeof(*c));
	c->s = s;
	c->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
	c->next = s->conns;
	s->conns = c;
	s->accepts++;
	bufferevent_setcb(c->bev, ssrv_read_cb, NULL, ssrv_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void ssrv_start(struct event_base *base, struct ssrv *s, enum smode mode)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->l = evconnlistener_new_bind(base, ssrv_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
				       16, (struct sockaddr *)&sa, sizeof(sa));
	assert_non_null(s->l);
	socklen_t sl = sizeof(sa);
	getsockname(evconnlistener_get_fd(s->l), (struct sockaddr *)&sa, &sl);
	s->port = ntohs(sa.sin_port);
}

static void ssrv_stop(struct ssrv *s)
{
	ssrv_close_all(s);
	evconnlistener_free(s->l);
}

/* ---- the libcommon server as upstream ----------------------------------------------------- */

static void h_hello(struct http_request *r, void *app)
{
	http_reply_header(r, "X-Hello", "yes");
	http_reply_raw(r, 200, "text/plain", "hi", 2);
}

static void h_echo(struct http_request *r, void *app)
{
	size_t n;
	const char *b = http_request_body(r, &n);
	const char *t = http_request_header(r, "x-test");
	char out[256];
	int len = snprintf(out, sizeof(out), "%s %s %s %.*s", http_request_method_str(r),
			   http_request_target(r), t ? t : "-", (int)n, b);
	http_reply_raw(r, 200, "text/plain", out, (size_t)len);
}

static void h_nocontent(struct http_request *r, void *app)
{
	http_reply_empty(r, 204);
}

static const struct http_route routes[] = {
	{HTTP_GET, "/hello", h_hello, 0, NULL},
	{HTTP_POST, "/echo", h_echo, 0, NULL},
	{HTTP_PUT, "/echo", h_echo, 0, NULL},
	{HTTP_DELETE, "/nothing", h_nocontent, 0, NULL},
};

/* ---- fixture ------------------------------------------------------------------------------ */

struct result {
	int calls;
	enum http_client_err err;
	int status;
	char body[8192];
	size_t body_len;
	char hdr[64];
	struct http_client *free_me; /* freed from inside the callback when set */
};

struct env {
	struct event_base *base;
	struct http_server *srv;
	int port;
};

static void on_done(enum http_client_err err, const struct http_client_response *resp, void *arg)
{
	struct result *r = arg;
	r->calls++;
	r->err = err;
	if (resp) {
		assert_int_equal(err, HC_OK);
		r->status = resp->status;
		r->body_len = resp->body_len < sizeof(r->body) ? resp->body_len : sizeof(r->body) - 1;
		memcpy(r->body, resp->body, r->body_len);
		r->body[r->body_len] = '\0';
		size_t n;
		const char *v = http_head_get(resp->head, "x-hello", &n);
		if (!v)
			v = http_head_get(resp->head, "x-up", &n);
		if (v)
			snprintf(r->hdr, sizeof(r->hdr), "%.*s", (int)n, v);
	} else {
		assert_int_not_equal(err, HC_OK);
	}
	if (r->free_me) {
		struct http_client *c = r->free_me;
		r->free_me = NULL;
		http_client_free(c);
	}
}

static bool pred_called(void *arg)
{
	return ((struct result *)arg)->calls > 0;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	log_init("test", LOG_LEVEL_ERROR);
	e->base = event_base_new();
	struct http_server_opts o;
	http_server_opts_default(&o, "upstream");
	e->srv = http_server_new(e->base, &o, routes, sizeof(routes) / sizeof(routes[0]), NULL);
	assert_int_equal(http_server_listen(e->srv), 0);
	e->port = http_server_port(e->srv);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	http_server_free(e->srv);
	event_base_free(e->base);
	free(e);
	return 0;
}

static struct http_client *client(struct env *e, int port, int max_conns, int max_queue)
{
	struct http_client_opts o;
	http_client_opts_default(&o);
	o.port = port;
	o.max_conns = max_conns;
	o.max_queue = max_queue;
	o.request_timeout_ms = 2000;
	struct http_client *c = http_client_new(e->base, &o);
	assert_non_null(c);
	return c;
}

static void do_req(struct env *e, struct http_client *c, enum http_method m, const char *target,
		   const char *body, struct result *res)
{
	memset(res, 0, sizeof(*res));
	struct http_client_header hdrs[] = {{"X-Test", "t1"}, {"Host", "ignored"}, {"Content-Length", "999"}};
	struct http_client_request rq = {.method = m, .target = target, .headers = hdrs, .nheaders = 3,
					 .body = body, .body_len = body ? strlen(body) : 0};
	assert_int_equal(http_client_send(c, &rq, on_done, res), 0);
	assert_int_equal(res->calls, 0); /* never inside send */
	assert_true(tu_pump(e->base, pred_called, res, 5000));
	assert_int_equal(res->calls, 1);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_http_client_get_post(void **state)
{
	struct env *e = *state;
	struct http_client *c = client(e, e->port, 4, 16);
	struct result res;
	do_req(e, c, HTTP_GET, "/hello", NULL, &res);
	assert_int_equal(res.err, HC_OK);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.body, "hi");
	assert_string_equal(res.hdr, "yes");
	do_req(e, c, HTTP_POST, "/echo?q=1", "payload", &res);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.body, "POST /echo?q=1 t1 payload");
	do_req(e, c, HTTP_PUT, "/echo", NULL, &res);
	assert_string_equal(res.body, "PUT /echo t1 ");
	do_req(e, c, HTTP_HEAD, "/hello", NULL, &res);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.body_len, 0);
	do_req(e, c, HTTP_DELETE, "/nothing", NULL, &res);
	assert_int_equal(res.status, 204);
	assert_int_equal(res.body_len, 0);
	do_req(e, c, HTTP_GET, "/missing", NULL, &res);
	assert_int_equal(res.status, 404);
	assert_non_null(strstr(res.body, "route_not_found"));
	assert_int_equal(http_client_open_conns(c), 1); /* all on one kept-alive connection */
	http_client_free(c);
}

static void test_http_client_keepalive_reuse(void **state)
{
	struct env *e = *state;
	struct ssrv s;
	ssrv_start(e->base, &s, S_KEEPALIVE);
	struct http_client *c = client(e, s.port, 4, 16);
	struct result res;
	for (int i = 0; i < 3; i++) {
		do_req(e, c, HTTP_GET, "/x", NULL, &res);
		assert_int_equal(res.err, HC_OK);
		assert_string_equal(res.body, "ok");
	}
	assert_int_equal(s.accepts, 1);
	assert_int_equal(s.requests, 3);
	assert_int_equal(http_client_open_conns(c), 1);
	http_client_free(c);
	ssrv_stop(&s);
}

static void test_http_client_chunked_and_until_close(void **state)
{
	struct env *e = *state;
	struct ssrv s;
	struct result res;
	ssrv_start(e->base, &s, S_CHUNKED);
	struct http_client *c = client(e, s.port, 4, 16);
	do_req(e, c, HTTP_GET, "/x", NULL, &res);
	assert_int_equal(res.err, HC_OK);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.body, "hello world");
	assert_string_equal(res.hdr, "1");
	do_req(e, c, HTTP_GET, "/x", NULL, &res); /* reused after a chunked body */
	assert_string_equal(res.body, "hello world");
	assert_int_equal(s.accepts, 1);
	s.mode = S_UNTIL_CLOSE;
	do_req(e, c, HTTP_GET, "/x", NULL, &res);
	assert_int_equal(res.err, HC_OK);
	assert_string_equal(res.body, "body-until-close");
	assert_int_equal(http_client_open_conns(c), 0); /* never reused */
	http_client_free(c);
	ssrv_stop(&s);
}

static void test_http_client_timeout(void **state)
{
	struct env *e = *state;
	struct ssrv s;
	ssrv_start(e->base, &s, S_SLOW);
	struct http_client *c = client(e, s.port, 4, 16);
	struct result res = {0};
	struct http_client_request rq = {.method = HTTP_GET, .target = "/slow", .timeout_ms = 100};
	long t0 = tu_now_ms();
	assert_int_equal(http_client_send(c, &rq, on_done, &res), 0);
	assert_true(tu_pump(e->base, pred_called, &res, 3000));
	assert_int_equal(res.err, HC_ETIMEOUT);
	assert_true(tu_now_ms() - t0 >= 90);
	assert_int_equal(http_client_open_conns(c), 0);
	http_client_free(c);
	ssrv_stop(&s);
}

static void test_http_client_connect_refused(void **state)
{
	struct env *e = *state;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd); /* nothing listens there now */
	struct http_client *c = client(e, ntohs(sa.sin_port), 4, 16);
	struct result res;
	do_req(e, c, HTTP_GET, "/x", NULL, &res);
	assert_int_equal(res.err, HC_ECONNECT);
	assert_int_equal(http_client_open_conns(c), 0);
	http_client_free(c);
}

static void test_http_client_idle_closed_by_server(void **state)
{
	struct env *e = *state;
	struct ssrv s;
	struct result res;
	ssrv_start(e->base, &s, S_KEEPALIVE);
	struct http_client *c = client(e, s.port, 1, 16);
	do_req(e, c, HTTP_GET, "/x", NULL, &res);
	assert_int_equal(res.err, HC_OK);

	/* the client notices the close before the next request */
	ssrv_close_all(&s);
	tu_run_for(e->base, 50);
	assert_int_equal(http_client_open_conns(c), 0);
	do_req(e, c, HTTP_GET, "/x", NULL, &res);
	assert_int_equal(res.err, HC_OK);
	assert_int_equal(s.accepts, 2);

	/* the race: the request goes out on a connection the server has just closed */
	ssrv_close_all(&s);
	do_req(e, c, HTTP_POST, "/x", "body", &res);
	assert_int_equal(res.err, HC_OK);
	assert_string_equal(res.body, "ok");
	assert_int_equal(s.accepts, 3);
	ssrv_close_all(&s);
	do_req(e, c, HTTP_GET, "/x", NULL, &res);
	assert_int_equal(res.err, HC_OK);
	assert_int_equal(s.accepts, 4);
	http_client_free(c);
	ssrv_stop(&s);
}

static void test_http_client_queue_overflow_and_shutdown(void **state)
{
	struct env *e = *state;
	struct ssrv s;
	ssrv_start(e->base, &s, S_SLOW);
	struct http_client *c = client(e, s.port, 1, 1);
	struct result r1 = {0}, r2 = {0}, r3 = {0};
	struct http_client_request rq = {.method = HTTP_GET, .target = "/x"};
	assert_int_equal(http_client_send(c, &rq, on_done, &r1), 0); /* takes the connection */
	assert_int_equal(http_client_send(c, &rq, on_done, &r2), 0); /* waits in the queue */
	assert_int_equal(http_client_send(c, &rq, on_done, &r3), 0); /* no room */
	assert_int_equal(r3.calls, 0);
	assert_true(tu_pump(e->base, pred_called, &r3, 2000));
	assert_int_equal(r3.err, HC_EOVERLOAD);
	assert_int_equal(r1.calls + r2.calls, 0);
	http_client_free(c);
	assert_int_equal(r1.calls, 1);
	assert_int_equal(r1.err, HC_ESHUTDOWN);
	assert_int_equal(r2.calls, 1);
	assert_int_equal(r2.err, HC_ESHUTDOWN);
	ssrv_stop(&s);
}

static void test_http_client_protocol_errors(void **state)
{
	struct env *e = *state;
	struct ssrv s;
	struct result res;
	ssrv_start(e->base, &s, S_BAD);
	struct http_client *c = client(e, s.port, 2, 16);
	do_req(e, c, HTTP_GET, "/x", NULL, &res);
	assert_int_equal(res.err, HC_EPROTO);
	s.mode = S_TRUNCATED;
	do_req(e, c, HTTP_GET, "/x", NULL, &res);
	assert_int_equal(res.err, HC_EPROTO);
	http_client_free(c);

	s.mode = S_BIG;
	struct http_client_opts o;
	http_client_opts_default(&o);
	o.port = s.port;
	o.max_response_bytes = 2048;
	c = http_client_new(e->base, &o);
	do_req(e, c, HTTP_GET, "/x", NULL, &res);
	assert_int_equal(res.err, HC_EPROTO);
	http_client_free(c);
	ssrv_stop(&s);
}

static void test_http_client_invalid_requests(void **state)
{
	struct env *e = *state;
	struct http_client *c = client(e, e->port, 1, 1);
	struct result res = {0};
	struct http_client_header bad[] = {{"X-A", "v\r\nX-Injected: 1"}};
	struct http_client_header badname[] = {{"X A", "v"}};
	struct http_client_request rq = {.method = HTTP_GET, .target = "no-slash"};
	assert_int_equal(http_client_send(c, &rq, on_done, &res), -1);
	rq.target = "/a b";
	assert_int_equal(http_client_send(c, &rq, on_done, &res), -1);
	rq.target = "/ok";
	rq.method = HTTP_M_UNKNOWN;
	assert_int_equal(http_client_send(c, &rq, on_done, &res), -1);
	rq.method = HTTP_GET;
	rq.headers = bad;
	rq.nheaders = 1;
	assert_int_equal(http_client_send(c, &rq, on_done, &res), -1);
	rq.headers = badname;
	assert_int_equal(http_client_send(c, &rq, on_done, &res), -1);
	tu_run_for(e->base, 20);
	assert_int_equal(res.calls, 0);
	http_client_free(c);
}

static void test_http_client_free_inside_callback(void **state)
{
	struct env *e = *state;
	struct http_client *c = client(e, e->port, 2, 4);
	struct result a = {0}, b = {0};
	struct http_client_request rq = {.method = HTTP_GET, .target = "/hello"};
	a.free_me = c;
	assert_int_equal(http_client_send(c, &rq, on_done, &a), 0);
	rq.timeout_ms = 5000;
	assert_int_equal(http_client_send(c, &rq, on_done, &b), 0);
	assert_true(tu_pump(e->base, pred_called, &a, 3000));
	tu_run_for(e->base, 50);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1); /* answered, or failed by the free: exactly once */
}

static void test_http_client_url_parse(void **state)
{
	(void)state;
	char *host;
	int port;
	assert_int_equal(http_url_parse("http://127.0.0.1:8081", &host, &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8081);
	free(host);
	assert_int_equal(http_url_parse("http://identity/", &host, &port), 0);
	assert_string_equal(host, "identity");
	assert_int_equal(port, 80);
	free(host);
	assert_int_equal(http_url_parse("http://[::1]:9000", &host, &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 9000);
	free(host);
	const char *bad[] = {"https://x:1", "http://", "http://:80", "http://x:0", "http://x:65536",
			     "http://x:80/path", "http://x:abc", "ftp://x", "http://[::1", "http://x:"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (http_url_parse(bad[i], &host, &port) == 0)
			fail_msg("accepted %s", bad[i]);
		assert_null(host);
	}
	assert_string_equal(http_client_strerror(HC_ETIMEOUT), "timed out");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as daemon_on_signals() does */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_http_client_get_post, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_client_keepalive_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_client_chunked_and_until_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_client_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_client_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_client_idle_closed_by_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_client_queue_overflow_and_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_client_protocol_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_client_invalid_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_client_free_inside_callback, setup, teardown),
		cmocka_unit_test(test_http_client_url_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
