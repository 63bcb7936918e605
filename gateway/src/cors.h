/*
 * cors.h - browser CORS for the gateway: exact-match allowed origins, preflights answered by
 * the gateway itself (no auth), and the headers added to actual responses.
 *
 * Rules (api.md): an OPTIONS preflight from an allowed origin gets 204 with
 * Access-Control-Allow-Origin (echoed), -Allow-Methods, -Allow-Headers (Authorization,
 * Content-Type, X-Request-Id, Idempotency-Key), -Max-Age 600 and Vary: Origin; from any other
 * origin 403 cors_origin_denied. Actual responses to an allowed origin carry
 * Access-Control-Allow-Origin, Access-Control-Expose-Headers: X-Request-Id and Vary: Origin.
 */
#ifndef GATEWAY_CORS_H
#define GATEWAY_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/http.h"

#define CORS_MAX_ORIGINS 64
#define CORS_ALLOW_METHODS "GET, POST, PUT, PATCH, DELETE, OPTIONS"
#define CORS_ALLOW_HEADERS "Authorization, Content-Type, X-Request-Id, Idempotency-Key"
#define CORS_MAX_AGE "600"
#define CORS_EXPOSE_HEADERS "X-Request-Id"

struct cors {
	size_t n;
	char *origins[CORS_MAX_ORIGINS];
};

/* Parses a comma-separated origin list ("" = none allowed). 0, or -1 with err (and nothing
 * held). Each origin must look like scheme://host[:port] with no path. */
int cors_init(struct cors *c, const char *list, char *err, size_t errlen) MUST_CHECK;
void cors_free(struct cors *c);

bool cors_origin_allowed(const struct cors *c, const char *origin);

enum cors_decision {
	CORS_NOT_CORS = 0,     /* no Origin header: nothing to add */
	CORS_ACTUAL_ALLOWED,   /* add the actual-response headers, then carry on */
	CORS_ACTUAL_OTHER,     /* an origin we do not allow: carry on without CORS headers */
	CORS_PREFLIGHT_OK,     /* answer 204 with the preflight headers */
	CORS_PREFLIGHT_DENIED, /* answer 403 cors_origin_denied */
};

/* Pure decision from the method and the Origin / Access-Control-Request-Method headers
 * (either may be NULL). A preflight is OPTIONS with both headers present. */
enum cors_decision cors_decide(const struct cors *c, enum http_method m, const char *origin,
			       const char *acrm);

/* Adds the actual-response CORS headers for origin to the coming reply. */
void cors_add_actual_headers(struct http_request *r, const char *origin);
/* Answers a preflight from an allowed origin (204) or a denied one (403). */
void cors_reply_preflight(struct http_request *r, enum cors_decision d, const char *origin);

#endif
