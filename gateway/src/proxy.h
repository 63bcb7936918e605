/*
 * proxy.h - forwarding one request to an upstream and relaying its answer.
 *
 * Forwarded request: method, target, body and the end-to-end client headers. Dropped: the
 * hop-by-hop headers (Connection and every header it names, Keep-Alive, TE, Trailer,
 * Transfer-Encoding, Upgrade, Proxy-*), Host / Content-Length / Expect (the client sets its
 * own framing), every X-FR-* header and X-User-Id / X-Tenant-Id / X-Session-Id (identity
 * claims only the gateway may make), the client's X-Request-Id / X-Forwarded-Proto (replaced)
 * and X-Forwarded-For (extended with the peer address), and Authorization on jwt routes (the
 * signed iauth headers carry the verified caller instead). Added: X-Request-Id,
 * X-Forwarded-For, X-Forwarded-Proto and the iauth headers signed with FR_INTERNAL_SECRET.
 *
 * Relayed answer: the upstream status, headers minus hop-by-hop / framing / CORS (the
 * gateway owns CORS), and body. A failed call becomes 502 bad_gateway (connect, protocol),
 * 504 gateway_timeout or 503 service_unavailable (overload, shutdown), in the error envelope.
 */
#ifndef GATEWAY_PROXY_H
#define GATEWAY_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/http.h"
#include "common/http_client.h"
#include "common/iauth.h"

struct gateway;
struct upstream;

/* Headers the gateway itself adds to every forwarded request. */
#define PROXY_ADDED_HEADERS 13

enum proxy_filter_flags {
	PROXY_DROP_AUTHORIZATION = 1 << 0,
};

/* Pure: copies into out (capacity cap; out may equal in) the client headers in[0..n) that may
 * be forwarded. Returns how many were kept. */
size_t proxy_filter_request_headers(const struct http_client_header *in, size_t n, unsigned flags,
				    struct http_client_header *out, size_t cap);

/* Pure: the X-Forwarded-For value to send: every client X-Forwarded-For value in order, then
 * peer, joined by ", ". Writes at most cap bytes (NUL included); returns the full length
 * (like snprintf), so a caller can size the buffer with cap 0. */
size_t proxy_build_xff(const struct http_client_header *in, size_t n, const char *peer, char *out,
		       size_t cap);

/* Pure: whether an upstream response header (name[0..len)) is relayed to the client (not
 * hop-by-hop, CORS, or RateLimit-*: those the gateway sets itself). */
bool proxy_response_header_relayed(const char *name, size_t len);

/* Pure: how an upstream failure is answered. */
void proxy_error_map(enum http_client_err e, int *status, const char **code, const char **message);

/* Forwards req to up with the caller context who (user / tenant / session / roles; caller
 * and client ip are filled here) and answers req when the upstream does. Borrows req until
 * the reply. */
void proxy_forward(struct gateway *gw, struct http_request *req, struct upstream *up,
		   const struct iauth *who, unsigned flags);

#endif
