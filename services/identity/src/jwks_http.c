/*
 * jwks_http.c - GET /v1/.well-known/jwks.json: the public keys that verify access tokens.
 *
 * Serves the keyring's current JWKS text (every key still published), cacheable for five
 * minutes; 503 until the first key is loaded. Owns nothing.
 */
#include "app.h"
#include "handlers.h"
#include "keyring.h"

void jwks_http_get(struct http_request *req, void *arg)
{
	struct identity_app *app = arg;
	struct iauth ia;
	bool signed_ok;
	size_t len = 0;
	const char *jwks;

	if (app_iauth_or_reply(app, req, &ia, &signed_ok) < 0)
		return;
	jwks = keyring_jwks(app->keys, &len);
	if (jwks == NULL) {
		app_reply_unavailable(req, "no published keys yet");
		return;
	}
	http_reply_header(req, "Cache-Control", "public, max-age=300");
	http_reply_raw(req, 200, "application/json", jwks, len);
}
