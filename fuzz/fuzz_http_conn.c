/*
 * fuzz_http_conn.c - libFuzzer target for the server's connection state machine
 * (http_conn.c, http_request.c, http_reply.c, http_router.c) fed arbitrary client bytes.
 *
 * Each input is written in pieces (size from the first byte) into one end of a socketpair
 * whose other end the server adopted; the loop runs between pieces. Checks: the server
 * never crashes or leaks, everything it writes back is a sequence of well-formed responses
 * each framed by Content-Length (bodyless for 1xx/204/304 and HEAD), and once the client
 * closes, the connection and every request are freed.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../libcommon/src/http_internal.h"
#include "common/http.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;
static struct http_server *srv;

/* Bodies here never start with "HTTP/", so the checker can tell HEAD replies apart. */
static void h_sync(struct http_request *r, void *app)
{
	const char *q = http_request_query_param(r, "x");
	const char *p = http_request_param(r, "id");
	char body[64];
	int n = snprintf(body, sizeof(body), "q=%zu p=%zu", q ? strlen(q) : 0, p ? strlen(p) : 0);
	http_reply_raw(r, 200, "text/plain", body, (size_t)n);
}

static void h_json(struct http_request *r, void *app)
{
	json_object *o = http_request_json_or_reply(r);
	if (o)
		http_reply_json(r, 201, o);
}

static void async_fire(evutil_socket_t fd, short what, void *arg)
{
	struct http_request *r = arg;
	http_reply_empty(r, 204);
}

static void h_async(struct http_request *r, void *app)
{
	struct event *ev = http_request_alloc(r, event_get_struct_event_size());
	event_assign(ev, base, -1, 0, async_fire, r);
	event_active(ev, EV_TIMEOUT, 1);
}

static const struct http_route routes[] = {
	{HTTP_GET, "/a", h_sync, 0, NULL},
	{HTTP_GET, "/u/{id}", h_sync, 0, NULL},
	{HTTP_POST, "/j", h_json, 0, NULL},
	{HTTP_PUT, "/async", h_async, 0, NULL},
	{HTTP_GET, "/p/", h_sync, HTTP_ROUTE_PREFIX, NULL},
};

static void init_once(void)
{
	if (srv)
		return;
	signal(SIGPIPE, SIG_IGN);
	log_init("fuzz", LOG_LEVEL_ERROR);
	base = event_base_new();
	struct http_server_opts o;
	http_server_opts_default(&o, "fuzz");
	o.max_header_bytes = 1024;
	o.max_body_bytes = 2048;
	o.access_log = false;
	srv = http_server_new(base, &o, routes, sizeof(routes) / sizeof(routes[0]), NULL);
	if (!srv)
		abort();
}

static void spin(void)
{
	for (int i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

/* Reads what the server wrote and checks it is a run of well-formed responses. */
static void drain_and_check(int fd, char *acc, size_t *acclen, size_t cap)
{
	for (;;) {
		ssize_t n = read(fd, acc + *acclen, cap - *acclen);
		if (n <= 0)
			break;
		*acclen += (size_t)n;
		while (*acclen > 0) {
			struct http_head h;
			ssize_t hl = http_parse_response(acc, *acclen, 8192, &h);
			if (hl == HTTP_PARSE_INCOMPLETE)
				break;
			if (hl < 0)
				abort(); /* the server wrote something malformed */
			bool bodyless = h.status < 200 || h.status == 204 || h.status == 304;
			if (!bodyless && !h.has_content_length)
				abort();
			size_t blen = bodyless ? 0 : (size_t)h.content_length;
			size_t avail = *acclen - (size_t)hl, k = avail < 9 ? avail : 9;
			if (blen > 0 && memcmp(acc + hl, "HTTP/1.1 ", k) == 0) {
				if (k < 9)
					break; /* cannot tell yet */
				blen = 0;      /* a reply to HEAD: Content-Length without a body */
			}
			size_t need = (size_t)hl + blen;
			if (*acclen < need)
				break;
			memmove(acc, acc + need, *acclen - need);
			*acclen -= need;
		}
		if (*acclen == cap)
			abort(); /* one response larger than anything this server sends */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	if (size < 1)
		return 0;
	size_t step = 1 + (size_t)data[0] * 4;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(1234)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	http_conn_accept(srv, sv[0], (struct sockaddr *)&sa, sizeof(sa));
	static char acc[65536];
	size_t acclen = 0;
	for (size_t i = 1; i < size; i += step) {
		size_t n = size - i < step ? size - i : step;
		if (write(sv[1], data + i, n) < 0)
			break;
		spin();
		drain_and_check(sv[1], acc, &acclen, sizeof(acc));
	}
	spin();
	drain_and_check(sv[1], acc, &acclen, sizeof(acc));
	close(sv[1]);
	for (int i = 0; i < 16 && (srv->nconns || http_server_inflight(srv)); i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	if (srv->nconns != 0 || http_server_inflight(srv) != 0)
		abort(); /* a connection or request outlived its client */
	return 0;
}
