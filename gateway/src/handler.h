/*
 * handler.h - the gateway's request pipeline, one handler for every row of the route table:
 *
 *   route data -> CORS -> auth (none | jwt) -> session validity -> proxy to the owning service
 *
 * Each request gets a small context in its own memory (http_request_alloc) with a state enum;
 * asynchronous steps (JWKS re-fetch, session lookup, upstream call) resume it from callbacks.
 */
#ifndef GATEWAY_HANDLER_H
#define GATEWAY_HANDLER_H

#include <stdbool.h>

#include "common/http.h"

struct gw_claims;
struct gw_session;

/* The http_handler_fn of every gateway route; app is the struct gateway. */
void gw_handle(struct http_request *req, void *app);

/* Pure: whether a session verdict's user / tenant match the token's (a mismatch is treated as
 * a revoked session). */
bool gw_session_matches(const struct gw_claims *c, const struct gw_session *s);

#endif
