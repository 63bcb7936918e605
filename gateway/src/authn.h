/*
 * authn.h - the JWT auth surface: Bearer extraction, verification through the verified-token
 * cache, and the 401 answers (token_missing / token_invalid / token_expired).
 *
 * A token is verified (ES256 against identity's current key set, iss / aud from
 * FR_JWT_ISSUER / FR_JWT_AUDIENCE, 30 s leeway) only on a cache miss; its claims then go into
 * the token cache keyed by the token's signature, so later requests with the same token cost
 * one base64url decode of 86 characters and one lookup. No JSON is parsed on a hit.
 */
#ifndef GATEWAY_AUTHN_H
#define GATEWAY_AUTHN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/http.h"
#include "common/jwt.h"
#include "token_cache.h"

struct gateway;
struct jwks_waiter;

/* Pure: the token of an "Authorization: Bearer <token>" value (scheme case-insensitive, one
 * or more blanks, trailing blanks ignored). 0 and *tok / *len set, or -1 when absent. */
int authn_bearer(const char *authorization, const char **tok, size_t *len);

/* Pure: the claims the gateway needs from a verified payload: sub, tid, sid (UUIDs), exp
 * (integer), adm / tadm (booleans, absent = false). 0, or -1 when one is missing or bad, or
 * when the payload has a token_use claim (a service token is never a user's token). */
int authn_claims_from_json(json_object *payload, struct gw_claims *out);

/* Pure: the 401 code for a verification failure ("token_invalid" or "token_expired"). */
const char *authn_jwt_code(enum jwt_err e);

enum authn_result {
	AUTHN_OK = 0,  /* *claims filled */
	AUTHN_REPLIED, /* the request was answered (401 or 503) */
	AUTHN_WAIT,    /* parked on a JWKS re-fetch; w->fn runs later, then call again */
};

/* Authenticates req. w is used only when the token names an unknown kid and may_wait is true
 * (pass false on the retry, so a kid still unknown after the re-fetch gets 401). */
enum authn_result authn_check(struct gateway *gw, struct http_request *req, bool may_wait,
			      struct jwks_waiter *w, struct gw_claims *claims);

/* Answers 401 with code (and WWW-Authenticate: Bearer), counting the failure. */
void authn_reply_401(struct gateway *gw, struct http_request *req, const char *code);
/* Answers 503 auth_unavailable (no key set yet, or session validity cannot be established). */
void authn_reply_unavailable(struct gateway *gw, struct http_request *req);

#endif
