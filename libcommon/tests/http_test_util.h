/*
 * http_test_util.h - helpers for the HTTP tests: drive an event loop until a condition
 * holds, and a raw-socket HTTP client (non-blocking fd polled between loop turns) that
 * collects whole responses. Single-threaded, so tests can inspect server state directly.
 * Header-only (static inline) because each test file is built on its own.
 */
#ifndef HTTP_TEST_UTIL_H
#define HTTP_TEST_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/http_parser.h"

static inline long tu_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static inline void tu_noop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Runs the loop until pred(arg) is true or ms elapse; returns pred's final value. */
static inline bool tu_pump(struct event_base *base, bool (*pred)(void *), void *arg, int ms)
{
	struct event *tick = evtimer_new(base, tu_noop_cb, NULL);
	long deadline = tu_now_ms() + ms;
	bool ok = pred ? pred(arg) : false;
	while (!ok && tu_now_ms() < deadline) {
		struct timeval tv = {0, 5000};
		evtimer_add(tick, &tv);
		event_base_loop(base, EVLOOP_ONCE);
		ok = pred ? pred(arg) : false;
	}
	event_free(tick);
	return ok;
}

/* Runs the loop for ms milliseconds. */
static inline void tu_run_for(struct event_base *base, int ms)
{
	(void)tu_pump(base, NULL, NULL, ms);
}

struct tu_cli {
	int fd;
	char *buf;
	size_t len, cap;
	bool eof;
};

struct tu_resp {
	char *raw;
	size_t len;
	struct http_head h;
	int status;
	const char *body;
	size_t body_len;
};

static inline int tu_connect(int port, struct tu_cli *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	c->cap = 1 << 16;
	c->buf = malloc(c->cap);
	return c->buf ? 0 : -1;
}

static inline void tu_close(struct tu_cli *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

/* Sends everything (the loop is pumped while the socket is full). */
static inline bool tu_send(struct event_base *base, struct tu_cli *c, const void *data, size_t n)
{
	const char *p = data;
	long deadline = tu_now_ms() + 5000;
	while (n > 0 && tu_now_ms() < deadline) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			tu_run_for(base, 5);
		} else {
			return false;
		}
	}
	return n == 0;
}

static inline bool tu_sends(struct event_base *base, struct tu_cli *c, const char *s)
{
	return tu_send(base, c, s, strlen(s));
}

/* Reads whatever is available without blocking. */
static inline void tu_fill(struct tu_cli *c)
{
	for (;;) {
		if (c->len == c->cap) {
			c->cap *= 2;
			c->buf = realloc(c->buf, c->cap);
		}
		ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (r > 0) {
			c->len += (size_t)r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			c->eof = true;
		return;
	}
}

/* Length of the first complete response in the buffer (0 = not yet; -1 = garbage).
 * Bodies are framed by Content-Length, or none for 1xx/204/304 and head_only. */
static inline ssize_t tu_resp_complete(struct tu_cli *c, bool head_only)
{
	struct http_head h;
	ssize_t hl = http_parse_response(c->buf, c->len, 1 << 20, &h);
	if (hl == HTTP_PARSE_INCOMPLETE)
		return 0;
	if (hl < 0)
		return -1;
	size_t need = (size_t)hl;
	if (!head_only && h.status >= 200 && h.status != 204 && h.status != 304)
		need += (size_t)h.content_length;
	return c->len >= need ? (ssize_t)need : 0;
}

struct tu_wait {
	struct tu_cli *c;
	bool head_only;
};

static inline bool tu_pred_resp(void *arg)
{
	struct tu_wait *w = arg;
	tu_fill(w->c);
	return tu_resp_complete(w->c, w->head_only) != 0 || w->c->eof;
}

/* Waits for one response and moves it out of the client buffer; false on timeout/EOF. */
static inline bool tu_read_resp_ex(struct event_base *base, struct tu_cli *c, struct tu_resp *r,
				   bool head_only, int ms)
{
	struct tu_wait w = {c, head_only};
	memset(r, 0, sizeof(*r));
	tu_pump(base, tu_pred_resp, &w, ms);
	ssize_t n = tu_resp_complete(c, head_only);
	if (n <= 0)
		return false;
	r->raw = malloc((size_t)n + 1);
	memcpy(r->raw, c->buf, (size_t)n);
	r->raw[n] = '\0';
	r->len = (size_t)n;
	memmove(c->buf, c->buf + n, c->len - (size_t)n);
	c->len -= (size_t)n;
	ssize_t hl = http_parse_response(r->raw, r->len, 1 << 20, &r->h);
	r->status = r->h.status;
	r->body = r->raw + hl;
	r->body_len = r->len - (size_t)hl;
	return true;
}

static inline bool tu_read_resp(struct event_base *base, struct tu_cli *c, struct tu_resp *r)
{
	return tu_read_resp_ex(base, c, r, false, 3000);
}

static inline void tu_resp_free(struct tu_resp *r)
{
	free(r->raw);
	r->raw = NULL;
}

/* Header value as a NUL-terminated copy in buf (empty string when absent -> false). */
static inline bool tu_header(const struct tu_resp *r, const char *name, char *buf, size_t cap)
{
	size_t n;
	const char *v = http_head_get(&r->h, name, &n);
	buf[0] = '\0';
	if (!v)
		return false;
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return true;
}

static inline bool tu_pred_eof(void *arg)
{
	struct tu_cli *c = arg;
	tu_fill(c);
	return c->eof;
}

/* True when the server closed the connection within ms. */
static inline bool tu_wait_eof(struct event_base *base, struct tu_cli *c, int ms)
{
	return tu_pump(base, tu_pred_eof, c, ms);
}

#endif
