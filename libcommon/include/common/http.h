/*
 * http.h - the HTTP/1.1 server every FlatRender daemon uses, on libevent bufferevents.
 *
 * One struct http_server per daemon: a route table (method + path pattern with {params}),
 * hard limits (header bytes, body bytes, connections, read and idle timeouts), keep-alive and
 * pipelining, X-Request-Id in and out, the error envelope
 *   { "error": { "code", "message", "details", "trace_id" } }   (trace_id = request id)
 * for every error it produces itself (400, 404, 405 with Allow, 408, 413, 415, 431, 503, ...),
 * one JSON access-log line and metrics per request, and built-in GET /healthz, /readyz and
 * /metrics.
 *
 * Lifetime: the server creates a struct http_request per request and calls the handler.
 * The handler (or any callback it starts) must answer exactly once with one of the
 * http_reply_* functions; the request and everything allocated from it is freed right after
 * the reply has been queued. If the client disconnects first, the request stays alive until
 * the reply, which is then discarded. Handlers run on the loop thread and must not block.
 */
#ifndef COMMON_HTTP_H
#define COMMON_HTTP_H

#include <event2/event.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/http_parser.h"

#define MUST_CHECK __attribute__((warn_unused_result))
#define HTTP_MAX_PARAMS 8
#define HTTP_REQUEST_ID_MAX 64

struct http_server;
struct http_request;
struct metrics;
struct jv;

typedef void (*http_handler_fn)(struct http_request *req, void *app);

enum http_route_flags {
	HTTP_ROUTE_PREFIX = 1 << 0, /* pattern ending in "/" matches every path below it */
};

/* One row of a route table. pattern: "/v1/auth/sessions/{session_id}"; a {name} segment
 * matches one non-empty path segment. Exact segments win over {params} when both match. */
struct http_route {
	enum http_method method;
	const char *pattern;
	http_handler_fn fn;
	unsigned flags;
	const void *data; /* per-route static data (e.g. the gateway's owner + auth surface) */
};

struct http_server_opts {
	const char *service;          /* name for logs and metrics, e.g. "identity" */
	const char *bind_addr;        /* "127.0.0.1" */
	int port;                     /* 0 = ephemeral (see http_server_port) */
	size_t max_header_bytes;      /* request line + headers; larger -> 431 */
	size_t max_body_bytes;        /* larger -> 413 (checked on Content-Length and while reading) */
	int read_timeout_ms;          /* a started request must arrive completely within this -> 408 */
	int idle_timeout_ms;          /* keep-alive connection with no request in flight -> closed */
	int write_timeout_ms;         /* a reply that cannot be written in time -> connection dropped */
	int max_connections;          /* beyond this, new connections get 503 and are closed */
	bool access_log;              /* one info line per request */
	struct metrics *metrics;      /* may be NULL; borrowed for the server's lifetime */
};
void http_server_opts_default(struct http_server_opts *o, const char *service);

/* Creates a server (not yet listening). routes is borrowed for the server's lifetime;
 * app is passed to every handler. */
struct http_server *http_server_new(struct event_base *base, const struct http_server_opts *o,
				    const struct http_route *routes, size_t nroutes, void *app);
/* Binds and listens. 0 on success, -1 (and logs why) on failure. */
int http_server_listen(struct http_server *s) MUST_CHECK;
int http_server_port(const struct http_server *s);

/* Called for a request that matches no route (instead of the built-in 404/405); lets the
 * gateway route by its own table. */
void http_server_set_fallback(struct http_server *s, http_handler_fn fn);

/* Readiness checks behind GET /readyz: 200 {"status":"ready","checks":{name:true..}} when
 * every check returns true, else 503 with the failing ones false. */
typedef bool (*http_ready_fn)(void *arg);
void http_server_add_ready_check(struct http_server *s, const char *name, http_ready_fn fn, void *arg);
/* A dependency reported in /readyz's "checks" that never makes it 503: one the daemon keeps
 * working without (e.g. the broker behind an outbox, whose events simply wait). */
void http_server_add_info_check(struct http_server *s, const char *name, http_ready_fn fn, void *arg);

/* Graceful shutdown, step 1: stop accepting, close idle keep-alive connections, make
 * /readyz answer 503, and send "Connection: close" on every further reply. */
void http_server_shutdown(struct http_server *s);
/* Requests accepted but not yet answered, plus connections whose reply is still being
 * written (drain until 0 before freeing). */
size_t http_server_inflight(const struct http_server *s);
/* Closes every connection and frees the server. Requests still in flight are freed too: call
 * only after draining (or at a forced exit). */
void http_server_free(struct http_server *s);

/* ---- the request ------------------------------------------------------------------------ */

enum http_method http_request_method(const struct http_request *r);
const char *http_request_method_str(const struct http_request *r);
/* The request target as sent ("/v1/users/me?x=1"), its path part, and the raw query (no '?')
 * or "" when there is none. The path is not percent-decoded. */
const char *http_request_target(const struct http_request *r);
const char *http_request_path(const struct http_request *r);
const char *http_request_query(const struct http_request *r);
/* The matched route pattern (for logs/metrics), or NULL for the fallback handler. */
const char *http_request_route(const struct http_request *r);
/* The matched route row's data pointer, or NULL for the fallback handler. */
const void *http_request_route_data(const struct http_request *r);
/* Path parameter by name from the matched pattern, percent-decoded; NULL when absent. */
const char *http_request_param(const struct http_request *r, const char *name);
/* First query parameter by name, percent-decoded ('+' = space); NULL when absent. */
const char *http_request_query_param(struct http_request *r, const char *name);
/* Header by name (case-insensitive), NULL when absent. */
const char *http_request_header(const struct http_request *r, const char *name);
size_t http_request_header_count(const struct http_request *r);
/* i-th header as sent; 0 <= i < count. */
void http_request_header_at(const struct http_request *r, size_t i, const char **name, const char **value);
const char *http_request_body(const struct http_request *r, size_t *len);
/* The request id (from a valid incoming X-Request-Id, else a new UUID); also the trace_id. */
const char *http_request_id(const struct http_request *r);
/* The peer's address as text ("127.0.0.1"). */
const char *http_request_peer(const struct http_request *r);
/* Per-request memory, freed with the request. Never NULL (aborts on OOM). */
void *http_request_alloc(struct http_request *r, size_t n);
char *http_request_strdup(struct http_request *r, const char *s);
/* Tenant / user ids to put on this request's access-log line (copied). */
void http_request_set_log_ids(struct http_request *r, const char *tenant_id, const char *user_id);

/* ---- replying (exactly once per request) --------------------------------------------------- */

/* Adds a response header for the coming reply (copied). */
void http_reply_header(struct http_request *r, const char *name, const char *value);
/* JSON reply; takes ownership of body (puts it). */
void http_reply_json(struct http_request *r, int status, json_object *body);
/* Error envelope; details may be NULL (-> null) and is owned by the call. */
void http_reply_error(struct http_request *r, int status, const char *code, const char *message,
		      json_object *details);
/* 500 internal_error; logs what failed (error level, with the request id). */
void http_reply_internal(struct http_request *r, const char *what);
/* 503 service_unavailable; logs why (warn level, with the request id). */
void http_reply_unavailable(struct http_request *r, const char *why);
/* 422 "validation_failed" with v's details (taken from v). */
void http_reply_validation(struct http_request *r, struct jv *v);
/* Raw bytes with the given Content-Type (NULL = none); body copied. */
void http_reply_raw(struct http_request *r, int status, const char *content_type, const void *body,
		    size_t len);
/* No body (204, 304, ...). */
void http_reply_empty(struct http_request *r, int status);

/* Strict JSON body: replies 415 (not application/json), 400 (malformed, with the reason) or
 * 422 (not an object) itself and returns NULL; otherwise returns the object (caller puts). */
json_object *http_request_json_or_reply(struct http_request *r);

/* The standard reason phrase for a status ("Not Found"). */
const char *http_status_text(int status);

#endif
