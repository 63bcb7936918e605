/*
 * http_client.c - asynchronous HTTP/1.1 client: a keep-alive pool of bufferevent
 * connections to one upstream, a bounded FIFO of waiting requests, per-request deadlines,
 * response framing (Content-Length, chunked, or until close) and one retry of requests
 * that die on a connection before any response byte (the idle keep-alive race).
 *
 * Connections and response parsing live in http_client_conn.c.
 *
 * Owns struct http_client, its connections and request copies. Callbacks are never run
 * inside http_client_send(): early failures are delivered through the request's timer
 * event made active. Objects are never freed inside their own callbacks: every libevent
 * entry point brackets its work with depth++/--, and http_client_free() called from a
 * callback only marks the client dying; the last one out destroys it.
 */
#include "http_client_internal.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/log.h"

static void hc_destroy(struct http_client *cl);

void hc_enter(struct http_client *cl)
{
	cl->depth++;
}

void hc_leave(struct http_client *cl)
{
	if (--cl->depth == 0 && cl->dying)
		hc_destroy(cl);
}

static struct timeval ms_tv(int ms)
{
	return (struct timeval){ms / 1000, (ms % 1000) * 1000};
}

/* ---- options, urls, errors ---------------------------------------------------------------- */

void http_client_opts_default(struct http_client_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = 80;
	o->max_conns = 64;
	o->max_queue = 1024;
	o->connect_timeout_ms = 2000;
	o->request_timeout_ms = 10000;
	o->idle_timeout_ms = 30000;
	o->max_response_bytes = 8u << 20;
}

int http_url_parse(const char *url, char **host, int *port)
{
	*host = NULL;
	if (!url || strncmp(url, "http://", 7) != 0)
		return -1;
	const char *h = url + 7, *e;
	size_t hl;
	if (*h == '[') {
		e = strchr(h, ']');
		if (!e)
			return -1;
		h++;
		hl = (size_t)(e - h);
		e++;
	} else {
		e = h + strcspn(h, ":/");
		hl = (size_t)(e - h);
	}
	if (hl == 0 || hl > 253)
		return -1;
	long p = 80;
	if (*e == ':') {
		char *end;
		if (e[1] < '0' || e[1] > '9')
			return -1;
		p = strtol(e + 1, &end, 10);
		e = end;
	}
	if (*e == '/')
		e++;
	if (*e != '\0' || p < 1 || p > 65535)
		return -1;
	*host = strndup(h, hl);
	if (!*host)
		return -1;
	*port = (int)p;
	return 0;
}

const char *http_client_strerror(enum http_client_err e)
{
	switch (e) {
	case HC_OK: return "ok";
	case HC_ECONNECT: return "connect failed";
	case HC_ETIMEOUT: return "timed out";
	case HC_EPROTO: return "protocol error";
	case HC_EOVERLOAD: return "queue full";
	case HC_ESHUTDOWN: return "client shut down";
	}
	return "unknown error";
}

/* ---- lists -------------------------------------------------------------------------------- */

void hc_q_push(struct http_client *cl, struct hc_req *r, bool front)
{
	r->queued = true;
	r->qprev = front ? NULL : cl->qtail;
	r->qnext = front ? cl->qhead : NULL;
	if (r->qprev)
		r->qprev->qnext = r;
	else
		cl->qhead = r;
	if (r->qnext)
		r->qnext->qprev = r;
	else
		cl->qtail = r;
	cl->nqueued++;
}

static void q_remove(struct http_client *cl, struct hc_req *r)
{
	if (!r->queued)
		return;
	if (r->qprev)
		r->qprev->qnext = r->qnext;
	else
		cl->qhead = r->qnext;
	if (r->qnext)
		r->qnext->qprev = r->qprev;
	else
		cl->qtail = r->qprev;
	r->queued = false;
	cl->nqueued--;
}

/* ---- requests ----------------------------------------------------------------------------- */

void hc_finish(struct hc_req *r, enum http_client_err err,
		      const struct http_client_response *resp)
{
	struct http_client *cl = r->cl;
	if (r->prev)
		r->prev->next = r->next;
	else
		cl->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	evtimer_del(&r->timer);
	cl->depth++;
	r->cb(err, err == HC_OK ? resp : NULL, r->arg);
	cl->depth--;
	free(r);
}

void hc_defer(struct hc_req *r, enum http_client_err err)
{
	r->pending = err;
	evtimer_del(&r->timer);
	event_active(&r->timer, EV_TIMEOUT, 1);
}

static void hc_req_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hc_req *r = arg;
	struct http_client *cl = r->cl;
	hc_enter(cl);
	enum http_client_err err = r->pending != HC_OK ? r->pending : HC_ETIMEOUT;
	q_remove(cl, r);
	if (r->conn) {
		struct hc_conn *k = r->conn;
		k->req = NULL;
		r->conn = NULL;
		hc_conn_close(k); /* a late response could not be told apart */
	}
	hc_finish(r, err, NULL);
	if (!cl->dying)
		hc_pump(cl);
	hc_leave(cl);
}

static bool token_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch))
			return false;
	}
	return true;
}

static bool value_ok(const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}

static bool target_ok(const char *t)
{
	if (!t || (t[0] != '/' && strcmp(t, "*") != 0))
		return false;
	for (; *t; t++) {
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return false;
	}
	return true;
}

static bool header_skipped(const char *name)
{
	return strcasecmp(name, "host") == 0 || strcasecmp(name, "content-length") == 0 ||
	       strcasecmp(name, "connection") == 0 || strcasecmp(name, "transfer-encoding") == 0;
}

static char *put(char *o, const char *s, size_t n)
{
	memcpy(o, s, n);
	return o + n;
}

static char *puts_(char *o, const char *s)
{
	return put(o, s, strlen(s));
}

/* Builds the request bytes; NULL when the request is invalid. */
static struct hc_req *hc_req_build(struct http_client *cl, const struct http_client_request *q)
{
	if (q->method == HTTP_M_UNKNOWN || q->method > HTTP_OPTIONS || !target_ok(q->target) ||
	    (q->body_len && !q->body))
		return NULL;
	size_t n = 64 + strlen(q->target) + strlen(cl->hosthdr) + q->body_len;
	for (size_t i = 0; i < q->nheaders; i++) {
		const struct http_client_header *h = &q->headers[i];
		if (!h->name || !h->value || !token_ok(h->name) || !value_ok(h->value))
			return NULL;
		n += strlen(h->name) + strlen(h->value) + 4;
	}
	struct hc_req *r = calloc(1, sizeof(*r) + n);
	if (!r)
		return NULL;
	char *o = r->wire;
	o = puts_(o, http_method_str(q->method));
	o = put(o, " ", 1);
	o = puts_(o, q->target);
	o = puts_(o, " HTTP/1.1\r\nHost: ");
	o = puts_(o, cl->hosthdr);
	o = put(o, "\r\n", 2);
	for (size_t i = 0; i < q->nheaders; i++) {
		if (header_skipped(q->headers[i].name))
			continue;
		o = puts_(o, q->headers[i].name);
		o = put(o, ": ", 2);
		o = puts_(o, q->headers[i].value);
		o = put(o, "\r\n", 2);
	}
	if (q->body_len || q->method == HTTP_POST || q->method == HTTP_PUT || q->method == HTTP_PATCH)
		o += sprintf(o, "Content-Length: %zu\r\n", q->body_len);
	o = put(o, "\r\n", 2);
	if (q->body_len)
		o = put(o, q->body, q->body_len);
	r->wire_len = (size_t)(o - r->wire);
	return r;
}

int http_client_send(struct http_client *cl, const struct http_client_request *q, http_client_cb cb,
		     void *arg)
{
	if (!cl || cl->dying || !q || !cb)
		return -1;
	struct hc_req *r = hc_req_build(cl, q);
	if (!r)
		return -1;
	r->cl = cl;
	r->cb = cb;
	r->arg = arg;
	r->method = q->method;
	r->next = cl->reqs;
	if (cl->reqs)
		cl->reqs->prev = r;
	cl->reqs = r;
	event_assign(&r->timer, cl->base, -1, 0, hc_req_timer_cb, r);
	int ms = q->timeout_ms > 0 ? q->timeout_ms : cl->o.request_timeout_ms;
	if (ms > 0) {
		struct timeval tv = ms_tv(ms);
		evtimer_add(&r->timer, &tv);
	}
	bool can_start = cl->idle || cl->nconns < (size_t)cl->o.max_conns;
	if (!can_start && cl->nqueued >= (size_t)(cl->o.max_queue > 0 ? cl->o.max_queue : 0)) {
		hc_defer(r, HC_EOVERLOAD);
		return 0;
	}
	hc_q_push(cl, r, false);
	hc_pump(cl);
	return 0;
}

void hc_pump(struct http_client *cl)
{
	while (cl->qhead && !cl->dying) {
		struct hc_req *r = cl->qhead;
		struct hc_conn *k = r->fresh_only ? NULL : cl->idle;
		if (k) {
			q_remove(cl, r);
			if (hc_conn_start(k, r) < 0) {
				k->req = NULL;
				r->conn = NULL;
				hc_conn_close(k);
				hc_defer(r, HC_ECONNECT);
			}
			continue;
		}
		if (cl->nconns >= (size_t)cl->o.max_conns) {
			if (r->fresh_only && cl->idle) {
				hc_conn_close(cl->idle); /* make room for the retry */
				continue;
			}
			break;
		}
		q_remove(cl, r);
		hc_conn_open(cl, r);
	}
}

/* ---- client lifetime ---------------------------------------------------------------------- */

struct http_client *http_client_new(struct event_base *base, const struct http_client_opts *o)
{
	struct http_client *cl = calloc(1, sizeof(*cl));
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char port[16];
	if (!cl || !o || !o->host || o->port <= 0 || o->port > 65535)
		goto fail;
	cl->base = base;
	cl->o = *o;
	if (cl->o.max_conns <= 0)
		cl->o.max_conns = 1;
	if (cl->o.max_response_bytes < 1024)
		cl->o.max_response_bytes = 1024;
	cl->host = strdup(o->host);
	if (!cl->host)
		goto fail;
	cl->o.host = cl->host;
	bool v6 = strchr(o->host, ':') != NULL;
	if (o->port == 80)
		snprintf(cl->hosthdr, sizeof(cl->hosthdr), v6 ? "[%s]" : "%s", o->host);
	else
		snprintf(cl->hosthdr, sizeof(cl->hosthdr), v6 ? "[%s]:%d" : "%s:%d", o->host, o->port);
	snprintf(port, sizeof(port), "%d", o->port);
	int rc = getaddrinfo(o->host, port, &hints, &ai);
	if (rc != 0 || !ai || ai->ai_addrlen > sizeof(cl->addr)) {
		log_error(NULL, "http client: cannot resolve upstream", LS("host", o->host),
			  LS("error", rc ? gai_strerror(rc) : "no address"));
		goto fail;
	}
	memcpy(&cl->addr, ai->ai_addr, ai->ai_addrlen);
	cl->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	cl->tv_connect = ms_tv(cl->o.connect_timeout_ms);
	cl->tv_idle = ms_tv(cl->o.idle_timeout_ms);
	return cl;
fail:
	if (ai)
		freeaddrinfo(ai);
	if (cl)
		free(cl->host);
	free(cl);
	return NULL;
}

size_t http_client_open_conns(const struct http_client *cl)
{
	return cl->nconns;
}

static void hc_destroy(struct http_client *cl)
{
	while (cl->conns) {
		if (cl->conns->req)
			cl->conns->req->conn = NULL;
		hc_conn_close(cl->conns);
	}
	free(cl->host);
	free(cl);
}

void http_client_free(struct http_client *cl)
{
	if (!cl || cl->dying)
		return;
	cl->dying = true;
	cl->depth++;
	while (cl->reqs) {
		struct hc_req *r = cl->reqs;
		q_remove(cl, r);
		if (r->conn) {
			r->conn->req = NULL;
			r->conn = NULL;
		}
		hc_finish(r, HC_ESHUTDOWN, NULL);
	}
	hc_leave(cl);
}
