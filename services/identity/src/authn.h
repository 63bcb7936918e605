/*
 * authn.h - who is calling a /v1 user route.
 *
 * 1. A valid internal signature (iauth, from the gateway) -> trust its user, tenant, session
 *    and roles (the gateway has verified the token and the session).
 * 2. A present but bad signature -> 401 token_invalid.
 * 3. Else `Authorization: Bearer <access token>`, verified with identity's own published keys
 *    (issuer, audience, expiry), then the session checked in the database: revoked or expired
 *    -> 401 session_revoked, banned user -> 403 user_banned, suspended tenant -> 403
 *    tenant_suspended.
 * 4. Nothing -> 401 token_missing.
 */
#ifndef IDENTITY_AUTHN_H
#define IDENTITY_AUTHN_H

#include <stdbool.h>

#include "app.h"

struct authn_caller {
	char user_id[37];
	char tenant_id[37];
	char session_id[37];
	bool is_admin;
	bool is_tenant_admin;
	bool via_gateway;
};

enum authn_flags {
	AUTHN_ALLOW_INACTIVE = 1 << 0, /* logout: a revoked session is still "the caller" */
};

/* Called only on success; c is borrowed for the call. On failure authn has replied. */
typedef void (*authn_cb)(struct http_request *req, const struct authn_caller *c, void *arg);

/* Resolves the caller and calls cb (maybe before returning), or replies the error itself. */
void authn_resolve(struct identity_app *app, struct http_request *req, unsigned flags, authn_cb cb,
		   void *arg);

/* The access token of an "Authorization: Bearer <token>" value, or NULL. */
const char *authn_bearer(const char *authorization, size_t *len);

#endif
