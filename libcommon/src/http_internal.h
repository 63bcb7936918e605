/*
 * http_internal.h - private structures shared by the HTTP server files (http_server.c,
 * http_conn.c, http_router.c, http_request.c, http_reply.c). Not part of the public API;
 * tests may include it to unit-test the router.
 */
#ifndef COMMON_HTTP_INTERNAL_H
#define COMMON_HTTP_INTERNAL_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/http.h"

/* ---- router (http_router.c) --------------------------------------------------------------- */

#define HTTP_ROUTE_MAX_SEGS 16   /* segments in a pattern */
#define HTTP_PATH_MAX_SEGS 32    /* segments of a request path considered for matching */

struct http_seg {
	const char *s; /* literal text, or the parameter name for {param} */
	unsigned short n;
	bool param;
};

struct http_croute {
	const struct http_route *row;
	const char *label; /* metrics-escaped pattern (owned by the router) */
	unsigned char nseg;
	bool prefix;
	struct http_seg seg[HTTP_ROUTE_MAX_SEGS];
};

struct http_router {
	struct http_croute *routes;
	size_t n;
};

struct http_param {
	const char *name;
	size_t name_len;
	const char *val; /* raw slice of the path (not decoded) */
	size_t val_len;
};

struct http_match {
	const struct http_croute *route; /* NULL: no route for this method and path */
	unsigned allow;                  /* bit (1 << method) for every route matching the path */
	size_t nparams;
	struct http_param params[HTTP_MAX_PARAMS];
};

/* Compiles tables a then b (b may be NULL); aborts on a malformed pattern (a programming
 * error caught at start-up). Returns 0, or -1 on OOM. */
int http_router_init(struct http_router *rt, const struct http_route *a, size_t na,
		     const struct http_route *b, size_t nb);
void http_router_free(struct http_router *rt);
/* Matches the raw path (no query). HEAD falls back to GET routes. */
void http_router_match(const struct http_router *rt, enum http_method m, const char *path,
		       size_t len, struct http_match *out);
/* Writes "GET, HEAD, POST" for an allow mask into buf. */
void http_allow_format(unsigned allow, char *buf, size_t cap);

/* ---- server, connection and request --------------------------------------------------------- */

enum http_conn_state {
	HTTP_CONN_IDLE,    /* keep-alive: waiting for the first byte of a request (idle timer) */
	HTTP_CONN_HEAD,    /* reading the request head (read timer) */
	HTTP_CONN_BODY,    /* reading the request body (read timer) */
	HTTP_CONN_HANDLER, /* request dispatched; further input stays buffered until the reply */
	HTTP_CONN_CLOSING, /* final reply queued; waiting for the output to drain */
	HTTP_CONN_LINGER,  /* write side shut; discarding input until EOF or the linger timer */
};

struct http_ready_check {
	char *name;
	http_ready_fn fn;
	void *arg;
	bool gating; /* false: reported in /readyz, never makes it 503 */
};

struct http_conn {
	struct http_server *srv;
	struct bufferevent *bev;
	struct event timer;
	enum http_conn_state state;
	struct http_request *req; /* being read or handled; NULL when idle */
	size_t scanned;           /* head bytes searched for the blank line */
	int scan_state;
	bool chunked;
	uint64_t body_left; /* Content-Length bytes still to read */
	struct http_chunked chunk;
	struct timespec t0; /* first byte of the current request */
	struct http_conn *prev, *next;
	int in_process; /* >0 while conn_process is on the stack: free deferred */
	bool dead;      /* close requested while in_process */
	bool rejecting; /* over max_connections: 503 and close */
	bool peer_eof;  /* the peer shut its write side; flush and close */
	bool out_blocked; /* too much unsent output: reading paused until it drains */
	char peer[INET6_ADDRSTRLEN];
};

struct http_server {
	struct event_base *base;
	struct http_server_opts opts;
	char *service, *bind_addr;
	void *app;
	http_handler_fn fallback;
	struct http_router router;
	struct evconnlistener *listener;
	struct event *accept_retry;
	const struct timeval *tv_read, *tv_idle, *tv_linger; /* common timeouts */
	struct timeval tv_write;
	struct http_conn *conns;
	size_t nconns, nrejecting, nheads; /* nheads: conns reading a request head */
	struct http_request *live; /* every request object not yet freed */
	size_t nlive;
	struct http_request *pool; /* recycled request objects */
	size_t npool;
	struct http_ready_check *checks;
	size_t nchecks;
	bool shutting_down;
	time_t date_sec;
	char date[40];
};

struct http_out_hdr {
	struct http_out_hdr *next;
	const char *name, *value;
};

struct http_arena_blk {
	struct http_arena_blk *next;
	max_align_t data[];
};

#define HTTP_REQ_INLINE 3072

struct http_request {
	struct http_server *srv;
	struct http_conn *conn; /* NULL once the client has gone */
	struct http_request *prev, *next;
	enum http_method method;
	const char *method_s, *target, *path, *query;
	size_t nheaders;
	const char **hnames, **hvalues;
	int minor;
	bool keep_alive, head_only, force_close, in_handler, replied, dispatched;
	char *body;
	size_t body_len;
	char *body_heap; /* chunked bodies grow here (malloc) */
	size_t body_cap;
	const struct http_croute *route;
	size_t nparams;
	const char *pnames[HTTP_MAX_PARAMS], *pvals[HTTP_MAX_PARAMS];
	char *tenant_id, *user_id;
	const char *out_ctype;
	struct http_out_hdr *out_hdrs, **out_tail;
	int status;
	size_t bytes_out;
	struct timespec t0;
	char id[HTTP_REQUEST_ID_MAX + 1];
	char peer[INET6_ADDRSTRLEN];
	struct http_arena_blk *blocks;
	char *a_cur;
	size_t a_left;
	/* everything above is reset per request; the inline arena must stay last */
	_Alignas(max_align_t) char a_inline[HTTP_REQ_INLINE];
};

/* http_request.c */
struct http_request *http_req_new(struct http_conn *c);
/* Fills r from a parsed head living in buf[0..len) (copied into r's arena). */
void http_req_set_head(struct http_request *r, const char *buf, size_t len,
		       const struct http_head *h);
void http_req_free(struct http_request *r);
/* Routes r and runs the handler (or the built-in error). */
void http_req_dispatch(struct http_request *r);

/* http_conn.c */
void http_conn_accept(struct http_server *s, evutil_socket_t fd, const struct sockaddr *sa,
		      int socklen);
/* Called by the reply path once the reply is queued (r already detached from c). */
void http_conn_after_reply(struct http_conn *c, bool close);
void http_conn_close(struct http_conn *c);
/* Closes an idle keep-alive connection once its queued output is flushed. */
void http_conn_close_idle(struct http_conn *c);
void http_conn_free(struct http_conn *c);

/* http_reply.c */
const char *http_server_date(struct http_server *s);

#endif
