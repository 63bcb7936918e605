/*
 * svc_auth.h - service tokens on the receiving side: verifies "Authorization: Bearer <token>"
 * on internal routes, locally, against identity's public keys.
 *
 * A token is accepted when it is an ES256 JWT signed by a key of the set, iss == issuer,
 * aud == self_name (this daemon's service name), token_use == "service", sub ==
 * "svc:<client_id>" and exp not passed (30 s leeway). An end-user access token (aud =
 * FR_JWT_AUDIENCE, no token_use) is therefore refused here, and a service token is refused
 * on user routes (see authn in identity and the gateway).
 *
 * Keys come either from a callback (identity, which holds the keyring itself) or from
 * identity's JWKS document fetched through a common/jwks_client.h (every other service):
 * fetched at start, refreshed every 60 s, re-fetched at most once per second when a token
 * names an unknown kid (that token is refused 401 token_invalid; the caller's retry finds
 * the new key). Until the first set is loaded, requests are answered 503 auth_unavailable
 * with Retry-After: 1.
 */
#ifndef COMMON_SVC_AUTH_H
#define COMMON_SVC_AUTH_H

#include <event2/event.h>
#include <stdbool.h>

#include "common/http.h"
#include "common/http_client.h"
#include "common/jwt.h"

#define SVC_AUTH_LEEWAY_S 30
#define SVC_JWKS_REFRESH_S 60

struct svc_caller {
	char client_id[64];
};

struct svc_verifier; /* keys: identity's JWKS fetched over http (services), or a callback */

/* Starts fetching identity's JWKS through identity (borrowed; must outlive the verifier).
 * self_name and issuer are copied. NULL on failure. */
struct svc_verifier *svc_verifier_new_jwks(struct event_base *base, struct http_client *identity,
					   const char *self_name, const char *issuer);
/* keys(arg) is asked for the current set on every verification (may return NULL: not ready). */
struct svc_verifier *svc_verifier_new_keys(const struct jwt_keyset *(*keys)(void *), void *arg,
					   const char *self_name, const char *issuer);
/* Stops the JWKS refresh and frees (before or after the identity http_client). */
void svc_verifier_free(struct svc_verifier *v);
bool svc_verifier_ready(void *v); /* http_ready_fn: a key set is available */

/* Checks "Authorization: Bearer <service token>" (aud == self_name, token_use == "service").
 * Returns 0 with *out filled, or replies 401 (token_missing / token_invalid / token_expired /
 * service_token_required) or 503 and returns -1. */
int svc_auth_or_reply(struct svc_verifier *v, struct http_request *req, struct svc_caller *out);

/* The same check on a bare token, without replying (unit tests, non-HTTP callers).
 * Returns JWT_OK with *out filled; JWT_ECLAIMS when the token verifies but is not a service
 * token (token_use, sub: e.g. a user access token -> 401 service_token_required); JWT_EAUD
 * for a service token of another audience; else the jwt_verify error (JWT_EKID also when no
 * key set is loaded). */
enum jwt_err svc_verify_token(struct svc_verifier *v, const char *token, size_t len,
			      struct svc_caller *out);

#endif
