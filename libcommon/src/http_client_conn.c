/*
 * http_client_conn.c - the HTTP client's upstream connections: connect, send, read and
 * frame responses (Content-Length, chunked, until close, interim 1xx skipped), pool or
 * close afterwards, and fail or retry the request when a connection breaks.
 *
 * Owns struct hc_conn (its bufferevent, timer and response buffers). Every libevent entry
 * point brackets its work with hc_enter()/hc_leave() so the client is never destroyed while
 * one of its callbacks is on the stack.
 */
#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "http_client_internal.h"

#define HEAD_LIMIT_MAX 65536

static void idle_remove(struct http_client *cl, struct hc_conn *k)
{
	if (k->state != HCC_IDLE)
		return;
	if (k->iprev)
		k->iprev->inext = k->inext;
	else
		cl->idle = k->inext;
	if (k->inext)
		k->inext->iprev = k->iprev;
	k->iprev = k->inext = NULL;
}

/* ---- connections -------------------------------------------------------------------------- */

void hc_conn_close(struct hc_conn *k)
{
	struct http_client *cl = k->cl;
	idle_remove(cl, k);
	if (k->prev)
		k->prev->next = k->next;
	else
		cl->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	cl->nconns--;
	evtimer_del(&k->timer);
	bufferevent_free(k->bev);
	free(k->hbuf);
	free(k->body);
	free(k);
}

static void hc_conn_reset_parse(struct hc_conn *k)
{
	k->head_done = false;
	k->got_bytes = false;
	k->scanned = 0;
	k->framing = HCF_NONE;
	k->body_left = 0;
	k->body_len = 0;
}

static void hc_conn_make_idle(struct hc_conn *k)
{
	struct http_client *cl = k->cl;
	k->state = HCC_IDLE;
	k->reused = true;
	k->iprev = NULL;
	k->inext = cl->idle;
	if (cl->idle)
		cl->idle->iprev = k;
	cl->idle = k;
	if (cl->o.idle_timeout_ms > 0)
		evtimer_add(&k->timer, &cl->tv_idle);
}

/* Queues r's bytes on k (sent as soon as the connection is up). */
int hc_conn_start(struct hc_conn *k, struct hc_req *r)
{
	idle_remove(k->cl, k);
	if (k->state == HCC_IDLE) {
		k->state = HCC_BUSY;
		evtimer_del(&k->timer);
	}
	k->req = r;
	r->conn = k;
	hc_conn_reset_parse(k);
	return bufferevent_write(k->bev, r->wire, r->wire_len);
}

/* Fails or retries k's request after the connection broke; closes k. */
static void hc_conn_broken(struct hc_conn *k)
{
	struct http_client *cl = k->cl;
	struct hc_req *r = k->req;
	bool connecting = k->state == HCC_CONNECTING, reused = k->reused, nobytes = !k->got_bytes;
	if (r) {
		k->req = NULL;
		r->conn = NULL;
	}
	hc_conn_close(k);
	if (!r)
		return;
	enum http_client_err err = HC_EPROTO;
	if (connecting) {
		err = HC_ECONNECT;
	} else if (nobytes) {
		bool idempotent = r->method != HTTP_POST && r->method != HTTP_PATCH;
		if (!r->retried && (reused || idempotent)) {
			r->retried = true;
			r->fresh_only = true;
			hc_q_push(cl, r, true);
			hc_pump(cl);
			return;
		}
		err = HC_ECONNECT;
	}
	hc_finish(r, err, NULL);
	if (!cl->dying)
		hc_pump(cl);
}

static void hc_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hc_conn *k = arg;
	struct http_client *cl = k->cl;
	hc_enter(cl);
	if (k->state == HCC_CONNECTING)
		hc_conn_broken(k); /* connect timeout */
	else if (k->state == HCC_IDLE)
		hc_conn_close(k);
	hc_leave(cl);
}

static void hc_read_cb(struct bufferevent *bev, void *arg);
static void hc_event_cb(struct bufferevent *bev, short what, void *arg);

void hc_conn_open(struct http_client *cl, struct hc_req *r)
{
	struct hc_conn *k = calloc(1, sizeof(*k));
	struct bufferevent *bev = k ? bufferevent_socket_new(cl->base, -1, BEV_OPT_CLOSE_ON_FREE) : NULL;
	if (!bev) {
		free(k);
		hc_defer(r, HC_ECONNECT);
		return;
	}
	k->cl = cl;
	k->bev = bev;
	k->state = HCC_CONNECTING;
	k->next = cl->conns;
	if (cl->conns)
		cl->conns->prev = k;
	cl->conns = k;
	cl->nconns++;
	evtimer_assign(&k->timer, cl->base, hc_conn_timer_cb, k);
	if (cl->o.connect_timeout_ms > 0)
		evtimer_add(&k->timer, &cl->tv_connect);
	bufferevent_setcb(bev, hc_read_cb, NULL, hc_event_cb, k);
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&cl->addr, (int)cl->addrlen) < 0 ||
	    bufferevent_enable(bev, EV_READ | EV_WRITE) < 0 || hc_conn_start(k, r) < 0) {
		k->req = NULL;
		r->conn = NULL;
		hc_conn_close(k);
		hc_defer(r, HC_ECONNECT);
	}
}

/* ---- responses ---------------------------------------------------------------------------- */

static size_t hc_head_limit(const struct http_client *cl)
{
	return cl->o.max_response_bytes < HEAD_LIMIT_MAX ? cl->o.max_response_bytes : HEAD_LIMIT_MAX;
}

static void rebase(struct http_slice *s, const char *from, char *to)
{
	if (s->p)
		s->p = to + (s->p - from);
}

/* Copies the parsed head out of the input buffer and decides the body framing. */
static int hc_take_head(struct hc_conn *k, const char *buf, size_t hl)
{
	if (hl + 1 > k->hcap) {
		char *nb = realloc(k->hbuf, hl + 1);
		if (!nb)
			return -1;
		k->hbuf = nb;
		k->hcap = hl + 1;
	}
	memcpy(k->hbuf, buf, hl);
	rebase(&k->head.reason, buf, k->hbuf);
	for (size_t i = 0; i < k->head.nheaders; i++) {
		rebase(&k->head.names[i], buf, k->hbuf);
		rebase(&k->head.values[i], buf, k->hbuf);
	}
	k->head_len = hl;
	int st = k->head.status;
	if (k->req->method == HTTP_HEAD || st == 204 || st == 304) {
		k->framing = HCF_NONE;
	} else if (k->head.chunked) {
		k->framing = HCF_CHUNKED;
		http_chunked_init(&k->chunk);
	} else if (k->head.has_content_length) {
		if (k->head.content_length > k->cl->o.max_response_bytes - hl)
			return -1;
		k->framing = HCF_LENGTH;
		k->body_left = k->head.content_length;
	} else {
		k->framing = HCF_CLOSE;
	}
	return 0;
}

/* 1 head read, 2 an interim 1xx was skipped, 0 need more, -1 protocol error. */
static int hc_read_head(struct hc_conn *k)
{
	struct evbuffer *in = bufferevent_get_input(k->bev);
	size_t max = hc_head_limit(k->cl);
	size_t len = evbuffer_get_length(in);
	size_t n = len < max ? len : max;
	if (n == 0 || n <= k->scanned)
		return 0;
	const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
	if (!buf)
		return -1;
	bool lf = memchr(buf + k->scanned, '\n', n - k->scanned) != NULL;
	k->scanned = n;
	if (!lf)
		return n >= max ? -1 : 0;
	ssize_t hl = http_parse_response(buf, n, max, &k->head);
	if (hl == HTTP_PARSE_INCOMPLETE)
		return 0;
	if (hl < 0)
		return -1;
	if (k->head.status < 200) {
		if (k->head.status == 101)
			return -1; /* never asked to switch protocols */
		evbuffer_drain(in, (size_t)hl);
		k->scanned = 0;
		return 2;
	}
	if (hc_take_head(k, buf, (size_t)hl) < 0)
		return -1;
	evbuffer_drain(in, (size_t)hl);
	k->head_done = true;
	return 1;
}

static int hc_read_chunked(struct hc_conn *k, struct evbuffer *in)
{
	size_t limit = k->cl->o.max_response_bytes - k->head_len;
	struct evbuffer_iovec v;
	while (evbuffer_peek(in, -1, NULL, &v, 1) >= 1 && v.iov_len > 0) {
		if (k->body_len == k->body_cap) {
			if (k->body_cap >= limit)
				return -1;
			size_t cap = k->body_cap ? k->body_cap * 2 : 4096;
			cap = cap > limit ? limit : cap;
			char *nb = realloc(k->body, cap + 1);
			if (!nb)
				return -1;
			k->body = nb;
			k->body_cap = cap;
		}
		size_t got = 0;
		bool done = false;
		ssize_t used = http_chunked_decode(&k->chunk, v.iov_base, v.iov_len, k->body + k->body_len,
						   k->body_cap - k->body_len, &got, &done);
		if (used < 0)
			return -1;
		k->body_len += got;
		evbuffer_drain(in, (size_t)used);
		if (done) {
			k->body[k->body_len] = '\0';
			return 1;
		}
		if (used == 0 && got == 0)
			break;
	}
	return 0;
}

/* 1 complete, 0 need more (or until close), -1 protocol error. */
static int hc_read_body(struct hc_conn *k)
{
	struct evbuffer *in = bufferevent_get_input(k->bev);
	switch (k->framing) {
	case HCF_NONE:
		return 1;
	case HCF_LENGTH:
		return evbuffer_get_length(in) >= k->body_left ? 1 : 0;
	case HCF_CHUNKED:
		return hc_read_chunked(k, in);
	case HCF_CLOSE:
		return evbuffer_get_length(in) > k->cl->o.max_response_bytes - k->head_len ? -1 : 0;
	}
	return -1;
}

/* Hands the complete response to the callback, then pools or closes k. */
static void hc_deliver(struct hc_conn *k)
{
	struct http_client *cl = k->cl;
	struct hc_req *r = k->req;
	struct evbuffer *in = bufferevent_get_input(k->bev);
	struct http_client_response resp = {.status = k->head.status, .head = &k->head};
	size_t used = 0;
	if (k->framing == HCF_LENGTH || k->framing == HCF_CLOSE) {
		used = k->framing == HCF_LENGTH ? (size_t)k->body_left : evbuffer_get_length(in);
		resp.body = used ? (const char *)evbuffer_pullup(in, (ev_ssize_t)used) : "";
		resp.body_len = used;
	} else if (k->framing == HCF_CHUNKED) {
		resp.body = k->body;
		resp.body_len = k->body_len;
	} else {
		resp.body = "";
	}
	if (!resp.body) {
		hc_conn_broken(k);
		return;
	}
	bool reuse = k->framing != HCF_CLOSE && k->head.keep_alive &&
		     evbuffer_get_length(bufferevent_get_output(k->bev)) == 0 &&
		     evbuffer_get_length(in) == used;
	k->req = NULL;
	r->conn = NULL;
	hc_finish(r, HC_OK, &resp);
	if (cl->dying)
		return;
	evbuffer_drain(in, used);
	hc_conn_reset_parse(k);
	if (reuse)
		hc_conn_make_idle(k);
	else
		hc_conn_close(k);
	hc_pump(cl);
}

static void hc_read_cb(struct bufferevent *bev, void *arg)
{
	struct hc_conn *k = arg;
	struct http_client *cl = k->cl;
	hc_enter(cl);
	if (k->state == HCC_IDLE || !k->req) {
		hc_conn_close(k); /* bytes nobody asked for */
		goto out;
	}
	if (k->state == HCC_CONNECTING) { /* data can beat the connected event */
		evtimer_del(&k->timer);
		k->state = HCC_BUSY;
	}
	k->got_bytes = true;
	for (;;) {
		int rc = k->head_done ? 1 : hc_read_head(k);
		if (rc == 2)
			continue;
		if (rc > 0)
			rc = hc_read_body(k);
		if (rc == 0)
			break;
		if (rc < 0) {
			hc_conn_broken(k);
			break;
		}
		hc_deliver(k);
		break;
	}
out:
	hc_leave(cl);
}

static void hc_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct hc_conn *k = arg;
	struct http_client *cl = k->cl;
	hc_enter(cl);
	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;
		(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		evtimer_del(&k->timer);
		k->state = HCC_BUSY;
	} else if (k->state == HCC_BUSY && k->req && k->head_done && k->framing == HCF_CLOSE &&
		   (what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		hc_deliver(k); /* the body ran until the close */
	} else {
		hc_conn_broken(k);
	}
	hc_leave(cl);
}

