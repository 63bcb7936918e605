/*
 * http_client_internal.h - private structures shared by http_client.c (requests, queue,
 * pool, lifetime) and http_client_conn.c (connections, response framing).
 */
#ifndef COMMON_HTTP_CLIENT_INTERNAL_H
#define COMMON_HTTP_CLIENT_INTERNAL_H

#include <event2/bufferevent.h>
#include <event2/event_struct.h>
#include <sys/socket.h>

#include "common/http_client.h"

enum hc_conn_state {
	HCC_CONNECTING, /* connect in progress; the request is already queued in the output */
	HCC_IDLE,       /* in the pool, idle timer running */
	HCC_BUSY,       /* request sent / response being read */
};

enum hc_framing { HCF_NONE, HCF_LENGTH, HCF_CHUNKED, HCF_CLOSE };

struct hc_conn;

struct hc_req {
	struct http_client *cl;
	struct hc_req *prev, *next;   /* cl->reqs: every live request */
	struct hc_req *qprev, *qnext; /* cl->queue while waiting for a connection */
	struct hc_conn *conn;
	struct event timer; /* deadline; also made active to deliver `pending` */
	http_client_cb cb;
	void *arg;
	enum http_method method;
	enum http_client_err pending;
	bool queued, retried, fresh_only;
	size_t wire_len;
	char wire[];
};

struct hc_conn {
	struct http_client *cl;
	struct hc_conn *prev, *next;   /* cl->conns */
	struct hc_conn *iprev, *inext; /* cl->idle */
	struct bufferevent *bev;
	struct event timer; /* connect timeout or idle timeout */
	enum hc_conn_state state;
	struct hc_req *req;
	bool reused, got_bytes, head_done;
	size_t scanned;
	enum hc_framing framing;
	struct http_head head; /* slices point into hbuf */
	char *hbuf;
	size_t hcap, head_len;
	uint64_t body_left;
	struct http_chunked chunk;
	char *body;
	size_t body_len, body_cap;
};

struct http_client {
	struct event_base *base;
	struct http_client_opts o;
	char *host;
	char hosthdr[300];
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct hc_conn *conns, *idle;
	size_t nconns;
	struct hc_req *reqs, *qhead, *qtail;
	size_t nqueued;
	struct timeval tv_connect, tv_idle;
	int depth;
	bool dying;
};

/* http_client.c */
void hc_enter(struct http_client *cl);
/* Leaves a libevent callback; destroys the client when it is dying and nothing is on the stack. */
void hc_leave(struct http_client *cl);
/* Delivers the outcome and frees r (r must be off the queue and its connection). */
void hc_finish(struct hc_req *r, enum http_client_err err, const struct http_client_response *resp);
/* Delivers err from the loop later (never from inside http_client_send). */
void hc_defer(struct hc_req *r, enum http_client_err err);
void hc_q_push(struct http_client *cl, struct hc_req *r, bool front);
/* Starts queued requests on idle connections or new ones. Never runs callbacks. */
void hc_pump(struct http_client *cl);

/* http_client_conn.c */
void hc_conn_open(struct http_client *cl, struct hc_req *r);
/* Puts r on k and queues its bytes; <0 when they could not be queued. */
int hc_conn_start(struct hc_conn *k, struct hc_req *r);
void hc_conn_close(struct hc_conn *k);

#endif
