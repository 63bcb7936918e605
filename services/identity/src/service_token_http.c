/*
 * service_token_http.c - service tokens: POST /internal/v1/service-tokens mints one for a
 * service client (client credentials in the body), GET /internal/v1/whoami tells a caller
 * holding a service token addressed to identity who it is (ops, and the e2e proof that a
 * service token is accepted on an internal route and a user token is not).
 *
 * Token: ES256 by the keyring's current signer, claims iss, sub "svc:<client_id>", aud
 * <audience>, iat, nbf, exp (iat + SERVICE_TOKEN_TTL_S), jti, token_use "service". Neither
 * the secret nor the token is logged. Owns nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/svc_auth.h"
#include "common/svc_token.h"
#include "handlers.h"
#include "keyring.h"
#include "service_clients.h"

#define SERVICE_TOKEN_TTL_S 300

/* The claims of a service token; caller puts. */
static json_object *svc_claims(const struct identity_app *app, const char *client_id,
			       const char *audience, time_t now, long ttl)
{
	json_object *c = json_object_new_object();
	char sub[sizeof(SVC_TOKEN_SUB_PREFIX) + SVC_CLIENT_ID_MAX];
	char jti[UUID_STR_LEN];

	if (c == NULL)
		return NULL;
	snprintf(sub, sizeof(sub), "%s%s", SVC_TOKEN_SUB_PREFIX, client_id);
	uuid_v4(jti);
	json_set_str(c, "iss", app->cfg->common.jwt_issuer);
	json_set_str(c, "sub", sub);
	json_set_str(c, "aud", audience);
	json_set_int(c, "iat", now);
	json_set_int(c, "nbf", now);
	json_set_int(c, "exp", now + ttl);
	json_set_str(c, "jti", jti);
	json_set_str(c, "token_use", SVC_TOKEN_USE);
	return c;
}

static void svc_reply_token(struct identity_app *app, struct http_request *req,
			    const char *client_id, const char *audience)
{
	time_t now = time(NULL);
	const struct jwt_key *k = keyring_signer(app->keys, now);
	/* never outlive what the keyring guarantees for its access tokens */
	long ttl = app->cfg->access_ttl_s < SERVICE_TOKEN_TTL_S ? app->cfg->access_ttl_s
								: SERVICE_TOKEN_TTL_S;
	json_object *claims, *body;
	char *tok;

	if (k == NULL) {
		app_reply_unavailable(req, "no signing key");
		return;
	}
	if ((claims = svc_claims(app, client_id, audience, now, ttl)) == NULL) {
		app_reply_internal(req, "service token claims");
		return;
	}
	tok = jwt_sign(k, claims);
	json_object_put(claims);
	if (tok == NULL || (body = json_object_new_object()) == NULL) {
		free(tok);
		app_reply_internal(req, "sign service token");
		return;
	}
	json_set_str(body, "access_token", tok);
	json_set_str(body, "token_type", "Bearer");
	json_set_int(body, "expires_in", ttl);
	json_set_str(body, "audience", audience);
	free(tok);
	http_reply_header(req, "Cache-Control", "no-store");
	http_reply_json(req, 200, body);
	log_info(NULL, "service token issued", LS("client_id", client_id), LS("audience", audience),
		 LS("request_id", http_request_id(req)));
}

void service_token_http_create(struct http_request *req, void *arg)
{
	static const char *const known[] = {"client_id", "client_secret", "audience", NULL};
	struct identity_app *app = arg;
	time_t now = time(NULL);
	json_object *body = http_request_json_or_reply(req);
	const char *ip = http_request_peer(req);
	const char *id, *secret, *aud;
	struct jv v;
	long wait;

	if (body == NULL)
		return;
	jv_init(&v);
	id = jv_string(&v, body, "client_id", JV_REQUIRED, 1, SVC_CLIENT_ID_MAX);
	secret = jv_string(&v, body, "client_secret", JV_REQUIRED, 1, 512);
	aud = jv_string(&v, body, "audience", JV_REQUIRED, 1, SVC_CLIENT_ID_MAX);
	jv_no_unknown(&v, body, known);
	if (aud != NULL && !service_audience_known(aud))
		jv_fail(&v, "audience", "unknown audience");
	if (jv_failed(&v)) {
		http_reply_validation(req, &v);
	} else if ((wait = service_clients_blocked(app->svc_clients, id, ip, now)) > 0) {
		char ra[24];

		snprintf(ra, sizeof(ra), "%ld", wait);
		http_reply_header(req, "Retry-After", ra);
		http_reply_error(req, 429, "rate_limited", "Too many failed attempts.", NULL);
	} else if (!service_clients_verify(app->svc_clients, id, secret)) {
		service_clients_failed(app->svc_clients, id, ip, now);
		log_warn(NULL, "service token refused", LS("client_id", id),
			 LS("request_id", http_request_id(req)));
		http_reply_error(req, 401, "invalid_client", "Unknown client or wrong secret.",
				 NULL);
	} else {
		svc_reply_token(app, req, id, aud);
	}
	json_object_put(body);
}

void service_token_http_whoami(struct http_request *req, void *arg)
{
	struct identity_app *app = arg;
	struct svc_caller caller;
	json_object *body;

	if (svc_auth_or_reply(app->svc, req, &caller) < 0)
		return;
	if ((body = json_object_new_object()) == NULL) {
		app_reply_internal(req, "whoami");
		return;
	}
	json_set_str(body, "client_id", caller.client_id);
	http_reply_json(req, 200, body);
}
