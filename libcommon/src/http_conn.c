/*
 * http_conn.c - one server connection: a bufferevent state machine that reads request
 * heads and bodies under the server's limits, dispatches one request at a time (pipelined
 * input waits in the buffer), answers protocol errors itself (400, 408, 413, 431, 503), and
 * closes gracefully (flush, shut the write side, linger briefly to drain input).
 *
 * Owns struct http_conn, its bufferevent and timer. States are described in http_internal.h;
 * every transition goes through conn_set_state(). A connection is never freed while
 * conn_process() is on the stack (in_process / dead guard).
 */
#include <event2/buffer.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "common/log.h"
#include "http_internal.h"

#define PIPELINE_HWM 65536 /* input buffered while a request is being handled */
#define OUTPUT_HWM 262144  /* unsent output above which no new request is started */
#define REJECT_MAX 256     /* connections being told 503 at once; beyond: plain close */
#define CHUNK_BODY_START 16384

static void conn_process(struct http_conn *c);

static void conn_timer_arm(struct http_conn *c, const struct timeval *tv)
{
	if (tv)
		evtimer_add(&c->timer, tv);
	else
		evtimer_del(&c->timer);
}

/* The single place where the state changes; keeps the timers and counters right. */
static void conn_set_state(struct http_conn *c, enum http_conn_state st)
{
	struct http_server *s = c->srv;
	static const unsigned char ok[6] = {
		/* allowed previous states for each new state (bit per state) */
		[HTTP_CONN_IDLE] = 1 << HTTP_CONN_HANDLER | 1 << HTTP_CONN_IDLE,
		[HTTP_CONN_HEAD] = 1 << HTTP_CONN_IDLE,
		[HTTP_CONN_BODY] = 1 << HTTP_CONN_HEAD,
		[HTTP_CONN_HANDLER] = 1 << HTTP_CONN_IDLE | 1 << HTTP_CONN_HEAD | 1 << HTTP_CONN_BODY,
		[HTTP_CONN_CLOSING] = 1 << HTTP_CONN_HANDLER | 1 << HTTP_CONN_IDLE,
		[HTTP_CONN_LINGER] = 1 << HTTP_CONN_CLOSING,
	};
	if (!(ok[st] & (1 << c->state))) {
		log_error(NULL, "http conn bad transition", LI("from", c->state), LI("to", st));
		abort();
	}
	if (c->state == HTTP_CONN_HEAD && st != HTTP_CONN_BODY)
		s->nheads--;
	if (st == HTTP_CONN_HEAD)
		s->nheads++;
	if (st == HTTP_CONN_BODY)
		s->nheads--;
	c->state = st;
	switch (st) {
	case HTTP_CONN_IDLE:
		bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
		conn_timer_arm(c, s->opts.idle_timeout_ms > 0 ? s->tv_idle : NULL);
		break;
	case HTTP_CONN_HEAD:
		clock_gettime(CLOCK_MONOTONIC, &c->t0);
		c->scanned = 0;
		c->scan_state = 0;
		conn_timer_arm(c, s->opts.read_timeout_ms > 0 ? s->tv_read : NULL);
		break;
	case HTTP_CONN_BODY:
		break; /* the read deadline keeps running */
	case HTTP_CONN_HANDLER:
		conn_timer_arm(c, NULL);
		bufferevent_setwatermark(c->bev, EV_READ, 0, PIPELINE_HWM);
		break;
	case HTTP_CONN_CLOSING:
		conn_timer_arm(c, NULL);
		bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
		break;
	case HTTP_CONN_LINGER:
		conn_timer_arm(c, s->tv_linger);
		break;
	}
}

/* ---- lifetime ----------------------------------------------------------------------------- */

void http_conn_free(struct http_conn *c)
{
	struct http_server *s = c->srv;
	if (c->req) {
		struct http_request *r = c->req;
		r->conn = NULL;
		if (!r->dispatched)
			http_req_free(r); /* still reading it: nobody else holds it */
	}
	if (c->state == HTTP_CONN_HEAD)
		s->nheads--;
	evtimer_del(&c->timer);
	bufferevent_free(c->bev);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	if (c->rejecting)
		s->nrejecting--;
	free(c);
}

void http_conn_close(struct http_conn *c)
{
	if (c->in_process) {
		c->dead = true;
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	http_conn_free(c);
}

static void conn_linger(struct http_conn *c);

void http_conn_close_idle(struct http_conn *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		http_conn_close(c);
	else
		conn_set_state(c, HTTP_CONN_CLOSING); /* the write callback closes it */
}

static void conn_linger(struct http_conn *c)
{
	conn_set_state(c, HTTP_CONN_LINGER);
	if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) < 0) {
		http_conn_close(c);
		return;
	}
	evbuffer_drain(bufferevent_get_input(c->bev), (size_t)-1);
	bufferevent_enable(c->bev, EV_READ);
}

/* Answers a protocol error itself and closes (the request, if any, is reused for ids). */
static void conn_fail(struct http_conn *c, int status, const char *code, const char *msg)
{
	struct http_request *r = c->req;
	if (!r) {
		r = http_req_new(c);
		c->req = r;
	}
	r->force_close = true;
	conn_set_state(c, HTTP_CONN_HANDLER);
	http_reply_error(r, status, code, msg, NULL);
}

void http_conn_after_reply(struct http_conn *c, bool close)
{
	if (c->dead)
		return;
	if (close) {
		conn_set_state(c, HTTP_CONN_CLOSING);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			conn_linger(c);
		return;
	}
	conn_set_state(c, HTTP_CONN_IDLE);
	if (!c->in_process)
		conn_process(c);
}

/* ---- reading a head ----------------------------------------------------------------------- */

/* Searches new input for the blank line ending the head. Returns the head length or 0. */
static size_t conn_scan_head(struct http_conn *c, struct evbuffer *in, size_t limit)
{
	struct evbuffer_ptr ptr;
	struct evbuffer_iovec v[4];
	while (c->scanned < limit) {
		if (evbuffer_ptr_set(in, &ptr, c->scanned, EVBUFFER_PTR_SET) < 0)
			return 0;
		int n = evbuffer_peek(in, (ev_ssize_t)(limit - c->scanned), &ptr, v, 4);
		if (n > 4)
			n = 4;
		for (int k = 0; k < n; k++) {
			const char *p = v[k].iov_base;
			size_t len = v[k].iov_len, i = 0;
			if (len > limit - c->scanned)
				len = limit - c->scanned;
			while (i < len) {
				if (c->scan_state == 0) { /* mid-line: jump to the next LF */
					const char *lf = memchr(p + i, '\n', len - i);
					if (!lf) {
						i = len;
						break;
					}
					i = (size_t)(lf - p) + 1;
					c->scan_state = 1;
					continue;
				}
				char ch = p[i++];
				if (ch == '\n')
					return c->scanned + i;
				c->scan_state = ch == '\r' && c->scan_state == 1 ? 2 : 0;
			}
			c->scanned += len;
		}
		if (n <= 0)
			break;
	}
	return 0;
}

static bool target_ok(const struct http_head *h)
{
	const struct http_slice *t = &h->target;
	if (t->n == 1 && t->p[0] == '*')
		return h->method == HTTP_OPTIONS;
	if (t->p[0] != '/' || memchr(t->p, '#', t->n))
		return false;
	/* no dot-segments: nothing here normalises paths, so refuse them */
	for (size_t i = 0; i < t->n && t->p[i] != '?'; i++) {
		if (t->p[i] != '/' || i + 1 >= t->n || t->p[i + 1] != '.')
			continue;
		size_t j = i + 2;
		if (j < t->n && t->p[j] == '.')
			j++;
		if (j >= t->n || t->p[j] == '/' || t->p[j] == '?')
			return false;
	}
	return true;
}

/* Body framing after a good head: 1 = continue processing, 0 = wait/failed. */
static int conn_start_body(struct http_conn *c, const struct http_head *h)
{
	struct http_server *s = c->srv;
	struct http_request *r = c->req;
	bool has_body = h->chunked || (h->has_content_length && h->content_length > 0);
	if (!has_body) {
		conn_set_state(c, HTTP_CONN_HANDLER);
		http_req_dispatch(r);
		return 1;
	}
	if (h->has_content_length && h->content_length > s->opts.max_body_bytes) {
		conn_fail(c, 413, "body_too_large", "The request body is too large.");
		return 0;
	}
	c->chunked = h->chunked;
	if (c->chunked) {
		http_chunked_init(&c->chunk);
		size_t limit = s->opts.max_body_bytes + 1;
		r->body_cap = limit < CHUNK_BODY_START ? limit : CHUNK_BODY_START;
		r->body_heap = malloc(r->body_cap + 1);
		if (!r->body_heap)
			abort();
		r->body = r->body_heap;
	} else {
		c->body_left = h->content_length;
		r->body = http_request_alloc(r, (size_t)h->content_length + 1);
	}
	r->body_len = 0;
	r->body[0] = '\0';
	if (h->expect_continue && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
		bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	conn_set_state(c, HTTP_CONN_BODY);
	return 1;
}

static void drop_leading_blank_lines(struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in);
	size_t n = 0;
	unsigned char *p = evbuffer_pullup(in, len < 64 ? (ev_ssize_t)len : 64);
	size_t lim = len < 64 ? len : 64;
	while (p && n < lim && (p[n] == '\r' || p[n] == '\n'))
		n++;
	if (n)
		evbuffer_drain(in, n);
}

static int conn_on_head(struct http_conn *c)
{
	struct http_server *s = c->srv;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	if (c->state == HTTP_CONN_IDLE) {
		if (evbuffer_get_length(in) == 0)
			return 0;
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > OUTPUT_HWM) {
			/* a pipelining client that does not read: stop until it does */
			c->out_blocked = true;
			bufferevent_disable(c->bev, EV_READ);
			conn_timer_arm(c, NULL); /* not idle: the write timeout guards this */
			return 0;
		}
		conn_set_state(c, HTTP_CONN_HEAD);
	}
	if (c->scanned == 0)
		drop_leading_blank_lines(in);
	size_t len = evbuffer_get_length(in);
	size_t max = s->opts.max_header_bytes;
	size_t end = conn_scan_head(c, in, len < max ? len : max);
	if (end == 0) {
		if (len >= max)
			conn_fail(c, 431, "headers_too_large", "The request headers are too large.");
		return 0;
	}
	const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)end);
	struct http_head h;
	ssize_t rc = buf ? http_parse_request(buf, end, max, &h) : HTTP_PARSE_ERROR;
	if (rc == HTTP_PARSE_TOO_LARGE) {
		conn_fail(c, 431, "headers_too_large", "The request headers are too large.");
		return 0;
	}
	if (rc != (ssize_t)end || !target_ok(&h)) {
		conn_fail(c, 400, "bad_request", "The request is malformed.");
		return 0;
	}
	c->req = http_req_new(c);
	http_req_set_head(c->req, buf, end, &h);
	evbuffer_drain(in, end);
	return conn_start_body(c, &h);
}

/* ---- reading a body ----------------------------------------------------------------------- */

/* Decodes chunked input into the request body. 1 done, 0 need more, -1 failed (replied).
 * The buffer grows up to max + 1 bytes so that one byte over the limit is noticed. */
static int conn_read_chunked(struct http_conn *c, struct evbuffer *in)
{
	struct http_request *r = c->req;
	size_t limit = c->srv->opts.max_body_bytes + 1;
	struct evbuffer_iovec v;
	while (evbuffer_peek(in, -1, NULL, &v, 1) >= 1 && v.iov_len > 0) {
		if (r->body_len == r->body_cap) {
			size_t cap = r->body_cap * 2 > limit ? limit : r->body_cap * 2;
			char *nb = realloc(r->body_heap, cap + 1);
			if (!nb)
				abort();
			r->body_heap = r->body = nb;
			r->body_cap = cap;
		}
		size_t got = 0;
		bool done = false;
		ssize_t used = http_chunked_decode(&c->chunk, v.iov_base, v.iov_len, r->body + r->body_len,
						   r->body_cap - r->body_len, &got, &done);
		if (used < 0) {
			conn_fail(c, 400, "bad_request", "The chunked request body is malformed.");
			return -1;
		}
		r->body_len += got;
		evbuffer_drain(in, (size_t)used);
		if (r->body_len >= limit) {
			conn_fail(c, 413, "body_too_large", "The request body is too large.");
			return -1;
		}
		if (done) {
			r->body[r->body_len] = '\0';
			return 1;
		}
		if (used == 0 && got == 0)
			break; /* cannot happen with room left; never spin */
	}
	return 0;
}

static int conn_on_body(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct http_request *r = c->req;
	if (c->chunked) {
		int rc = conn_read_chunked(c, in);
		if (rc <= 0)
			return 0;
	} else {
		size_t n = evbuffer_get_length(in);
		if (n > c->body_left)
			n = (size_t)c->body_left;
		if (n && evbuffer_remove(in, r->body + r->body_len, n) != (int)n) {
			conn_fail(c, 400, "bad_request", "The request body could not be read.");
			return 0;
		}
		r->body_len += n;
		c->body_left -= n;
		if (c->body_left > 0)
			return 0;
		r->body[r->body_len] = '\0';
	}
	conn_set_state(c, HTTP_CONN_HANDLER);
	http_req_dispatch(r);
	return 1;
}

/* ---- the processing loop ------------------------------------------------------------------ */

static void conn_process(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	c->in_process++;
	for (;;) {
		if (c->dead)
			break;
		int more = 0;
		switch (c->state) {
		case HTTP_CONN_IDLE:
			if (c->srv->shutting_down && evbuffer_get_length(in) == 0) {
				http_conn_close(c);
				break;
			}
			/* FALLTHROUGH */
		case HTTP_CONN_HEAD:
			more = conn_on_head(c);
			break;
		case HTTP_CONN_BODY:
			more = conn_on_body(c);
			break;
		case HTTP_CONN_CLOSING:
		case HTTP_CONN_LINGER:
			evbuffer_drain(in, (size_t)-1);
			break;
		case HTTP_CONN_HANDLER:
			break;
		}
		if (!more)
			break;
	}
	c->in_process--;
	if (c->in_process == 0 && c->dead)
		http_conn_free(c);
}

/* ---- bufferevent callbacks ---------------------------------------------------------------- */

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	if (c->out_blocked && evbuffer_get_length(bufferevent_get_output(bev)) <= OUTPUT_HWM / 2) {
		c->out_blocked = false;
		bufferevent_enable(bev, EV_READ);
		conn_timer_arm(c, c->srv->opts.idle_timeout_ms > 0 ? c->srv->tv_idle : NULL);
		conn_process(c);
		return;
	}
	if (c->state != HTTP_CONN_CLOSING || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	if (c->peer_eof)
		http_conn_close(c);
	else
		conn_linger(c);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;
	/* A half-closed peer still gets the replies already queued. */
	if ((what & BEV_EVENT_EOF) && !(what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) &&
	    (c->state == HTTP_CONN_IDLE || c->state == HTTP_CONN_CLOSING) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		c->peer_eof = true;
		bufferevent_disable(bev, EV_READ);
		if (c->state == HTTP_CONN_IDLE)
			conn_set_state(c, HTTP_CONN_CLOSING);
		return;
	}
	/* Otherwise the peer is gone or stuck: close. A request being handled stays alive
	 * (detached) until its handler replies. */
	http_conn_close(c);
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;
	switch (c->state) {
	case HTTP_CONN_HEAD:
	case HTTP_CONN_BODY:
		c->in_process++;
		conn_fail(c, 408, "request_timeout", "The request was not received in time.");
		c->in_process--;
		if (c->dead)
			http_conn_free(c);
		break;
	case HTTP_CONN_IDLE:
	case HTTP_CONN_LINGER:
		http_conn_close(c);
		break;
	default:
		break;
	}
}

void http_conn_accept(struct http_server *s, evutil_socket_t fd, const struct sockaddr *sa,
		      int socklen)
{
	bool reject = s->opts.max_connections > 0 && s->nconns - s->nrejecting >= (size_t)s->opts.max_connections;
	if (reject && s->nrejecting >= REJECT_MAX) {
		evutil_closesocket(fd);
		return;
	}
	struct http_conn *c = calloc(1, sizeof(*c));
	struct bufferevent *bev = c ? bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
	if (!bev) {
		free(c);
		evutil_closesocket(fd);
		log_error(NULL, "http accept: out of memory");
		return;
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->srv = s;
	c->bev = bev;
	c->state = HTTP_CONN_IDLE;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->peer, sizeof(c->peer));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, c->peer, sizeof(c->peer));
	evtimer_assign(&c->timer, s->base, conn_timer_cb, c);
	bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	if (s->opts.write_timeout_ms > 0)
		bufferevent_set_timeouts(bev, NULL, &s->tv_write);
	bufferevent_setwatermark(bev, EV_WRITE, OUTPUT_HWM / 2, 0);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	if (reject) {
		c->rejecting = true;
		s->nrejecting++;
		c->in_process++;
		conn_fail(c, 503, "service_unavailable", "The server is at its connection limit.");
		c->in_process--;
		if (c->dead)
			http_conn_free(c);
		return;
	}
	conn_set_state(c, HTTP_CONN_IDLE);
}
