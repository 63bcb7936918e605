/*
 * routes.h - the gateway's route table: which public endpoint goes to which service, and
 * which authentication surface guards it.
 *
 * Every row of the table is a libcommon struct http_route whose `data` points at a static
 * struct gw_route. The libcommon server matches method + pattern (404 / 405 with Allow come
 * from it); the gateway's handler reads the row's gw_route to know what to do.
 */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include <stddef.h>
#include <stdio.h>

#include "common/http.h"

struct extra_routes;

enum gw_auth {
	GW_AUTH_NONE = 0,  /* forwarded as is (login, register, JWKS, ...) */
	GW_AUTH_JWT,       /* Bearer access token + session validity check */
	GW_AUTH_PREFLIGHT, /* CORS preflight answered by the gateway itself (OPTIONS rows) */
	GW_AUTH_APIKEY,    /* X-API-Key + request signature (the reseller API) */
};
const char *gw_auth_str(enum gw_auth a);

/* What the gateway does itself after the upstream answered 2xx. */
enum gw_after {
	GW_AFTER_NONE = 0,
	GW_AFTER_REVOKE_OWN_SESSION,  /* logout: the caller's session is now revoked */
	GW_AFTER_REVOKE_PATH_SESSION, /* DELETE .../sessions/{session_id}: that one is */
};

/* Per-route flags. */
enum gw_route_flags {
	GW_RL_IP = 1u << 0, /* unauthenticated route limited per client IP (login, register, ...) */
};

struct gw_route {
	const char *service; /* upstream name (see upstreams.h), "gateway" for preflight rows */
	enum gw_auth auth;
	enum gw_after after; /* so this gateway stops honouring a session it saw revoked at once */
	const char *scope;   /* GW_AUTH_APIKEY: the scope the key must hold ("users:read"), or NULL */
	unsigned flags;      /* enum gw_route_flags */
};

/* The public contract: one row per endpoint of the API, in contract order. */
extern const struct http_route gw_public_routes[];
extern const size_t gw_public_nroutes;

/* Prints "METHOD PATTERN" per public route, the server's built-ins first (--routes). */
void gw_routes_print(FILE *out);

/* Writes "GET, PATCH, OPTIONS" (the public methods of pattern, then OPTIONS) into buf. */
void gw_routes_allow(const char *pattern, char *buf, size_t cap);

/* The table the server runs with: the public rows, one OPTIONS row per distinct public
 * pattern (CORS preflight), and the extra prefix routes (every method). Returns a malloc'd
 * array (caller frees; rows borrow strings from the static table and from x) and sets *n;
 * NULL on OOM. x may be NULL. */
struct http_route *gw_routes_build(const struct extra_routes *x, size_t *n);

#endif
