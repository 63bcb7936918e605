/*
 * http_client.h - asynchronous HTTP/1.1 client with a keep-alive connection pool per upstream.
 *
 * One struct http_client per upstream (host:port). Requests are queued when every connection
 * is busy (bounded queue), sent one at a time per connection (no pipelining), and answered
 * through a callback on the loop thread. Each request has a total deadline; connect, protocol
 * and timeout failures are reported distinctly so the gateway can map them to 502/503/504.
 */
#ifndef COMMON_HTTP_CLIENT_H
#define COMMON_HTTP_CLIENT_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/http_parser.h"

#define MUST_CHECK __attribute__((warn_unused_result))

struct http_client;

struct http_client_opts {
	const char *host;         /* numeric address or name (resolved once, at creation) */
	int port;
	int max_conns;            /* pool size */
	int max_queue;            /* waiting requests beyond the pool; more -> HC_EOVERLOAD */
	int connect_timeout_ms;
	int request_timeout_ms;   /* default deadline per request, from send to full response */
	int idle_timeout_ms;      /* idle pooled connections are closed after this */
	size_t max_response_bytes;/* head + body; larger -> HC_EPROTO */
};
void http_client_opts_default(struct http_client_opts *o);
/* Parses "http://host:port" (no path, no TLS) into host (caller frees) and port. */
int http_url_parse(const char *url, char **host, int *port) MUST_CHECK;

enum http_client_err {
	HC_OK = 0,
	HC_ECONNECT,  /* could not connect, or connection refused/reset before any response */
	HC_ETIMEOUT,  /* deadline passed */
	HC_EPROTO,    /* malformed or oversized response, or connection closed mid-response */
	HC_EOVERLOAD, /* queue full */
	HC_ESHUTDOWN, /* client freed with the request pending */
};
const char *http_client_strerror(enum http_client_err e);

struct http_client_header {
	const char *name;
	const char *value;
};

struct http_client_request {
	enum http_method method;
	const char *target;                       /* "/v1/users/me?x=1" */
	const struct http_client_header *headers; /* Host, Content-Length and Connection are added */
	size_t nheaders;
	const void *body;
	size_t body_len;
	int timeout_ms;                           /* 0 = the client's default */
};

struct http_client_response {
	int status;
	const struct http_head *head; /* names/values slices valid during the callback only */
	const char *body;             /* de-chunked */
	size_t body_len;
};

/* resp is borrowed for the duration of the callback and NULL unless err == HC_OK. */
typedef void (*http_client_cb)(enum http_client_err err, const struct http_client_response *resp,
			       void *arg);

struct http_client *http_client_new(struct event_base *base, const struct http_client_opts *o);
/* Copies everything in r; cb is called exactly once (never from inside this call).
 * Returns 0, or -1 when the request could not even be queued (then cb is not called). */
int http_client_send(struct http_client *c, const struct http_client_request *r, http_client_cb cb,
		     void *arg) MUST_CHECK;
/* Connections currently open (idle + busy), for metrics and readiness. */
size_t http_client_open_conns(const struct http_client *c);
/* Fails pending requests with HC_ESHUTDOWN, closes connections, frees. */
void http_client_free(struct http_client *c);

#endif
