/*
 * svc_auth.c - verifies service tokens on internal routes (see svc_auth.h).
 *
 * Owns the verifier: its names, and in the JWKS variant the jwks_client that keeps identity's
 * public keys. Verification is local (no call per request).
 */
#include "common/svc_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/jwks_client.h"
#include "common/log.h"
#include "common/svc_token.h"

struct svc_verifier {
	const struct jwt_keyset *(*keys)(void *);
	void *arg;
	struct jwks_client *jwks; /* JWKS variant only */
	char self[SVC_CLIENT_ID_MAX + 1];
	char *issuer;
};

/* A client id (and a daemon name) is 1..63 of [a-z0-9_-]. */
static bool svc_client_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SVC_CLIENT_ID_MAX)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static const struct jwt_keyset *svc_jwks_keys(void *arg)
{
	return jwks_client_current(arg);
}

static struct svc_verifier *svc_verifier_alloc(const char *self_name, const char *issuer)
{
	struct svc_verifier *v;

	if (self_name == NULL || !svc_client_id_ok(self_name) || issuer == NULL)
		return NULL;
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return NULL;
	snprintf(v->self, sizeof(v->self), "%s", self_name);
	v->issuer = strdup(issuer);
	if (v->issuer == NULL) {
		free(v);
		return NULL;
	}
	return v;
}

struct svc_verifier *svc_verifier_new_keys(const struct jwt_keyset *(*keys)(void *), void *arg,
					   const char *self_name, const char *issuer)
{
	struct svc_verifier *v = svc_verifier_alloc(self_name, issuer);

	if (v == NULL)
		return NULL;
	v->keys = keys;
	v->arg = arg;
	return v;
}

struct svc_verifier *svc_verifier_new_jwks(struct event_base *base, struct http_client *identity,
					   const char *self_name, const char *issuer)
{
	struct jwks_client_opts o = {.refresh_s = SVC_JWKS_REFRESH_S};
	struct svc_verifier *v = svc_verifier_alloc(self_name, issuer);

	if (v == NULL)
		return NULL;
	v->jwks = jwks_client_new(base, identity, &o);
	if (v->jwks == NULL) {
		svc_verifier_free(v);
		return NULL;
	}
	v->keys = svc_jwks_keys;
	v->arg = v->jwks;
	jwks_client_start(v->jwks);
	return v;
}

void svc_verifier_free(struct svc_verifier *v)
{
	if (v == NULL)
		return;
	jwks_client_free(v->jwks);
	free(v->issuer);
	free(v);
}

bool svc_verifier_ready(void *arg)
{
	struct svc_verifier *v = arg;

	return v->keys(v->arg) != NULL;
}

/* The string claim name, or NULL when missing or not a string. */
static const char *svc_claim_str(json_object *claims, const char *name)
{
	json_object *o;

	if (!json_object_object_get_ex(claims, name, &o) ||
	    !json_object_is_type(o, json_type_string))
		return NULL;
	return json_object_get_string(o);
}

/* True when aud (a string, or an array of strings) is exactly want. */
static bool svc_aud_is(json_object *claims, const char *want)
{
	json_object *aud;

	if (!json_object_object_get_ex(claims, "aud", &aud))
		return false;
	if (json_object_is_type(aud, json_type_string))
		return strcmp(json_object_get_string(aud), want) == 0;
	if (!json_object_is_type(aud, json_type_array) || json_object_array_length(aud) != 1)
		return false;
	aud = json_object_array_get_idx(aud, 0);
	return json_object_is_type(aud, json_type_string) &&
	       strcmp(json_object_get_string(aud), want) == 0;
}

/* Service-token claims on an already verified payload. */
static enum jwt_err svc_check_claims(const struct svc_verifier *v, json_object *claims,
				     struct svc_caller *out)
{
	const char *use = svc_claim_str(claims, "token_use");
	const char *sub = svc_claim_str(claims, "sub");
	size_t pl = strlen(SVC_TOKEN_SUB_PREFIX);

	if (use == NULL || strcmp(use, SVC_TOKEN_USE) != 0 || sub == NULL ||
	    strncmp(sub, SVC_TOKEN_SUB_PREFIX, pl) != 0 || !svc_client_id_ok(sub + pl))
		return JWT_ECLAIMS;
	if (!svc_aud_is(claims, v->self))
		return JWT_EAUD;
	snprintf(out->client_id, sizeof(out->client_id), "%s", sub + pl);
	return JWT_OK;
}

enum jwt_err svc_verify_token(struct svc_verifier *v, const char *token, size_t len,
			      struct svc_caller *out)
{
	const struct jwt_keyset *ks = v->keys(v->arg);
	/* aud is checked after token_use, so that a user token is told apart from a service
	 * token meant for another daemon */
	struct jwt_verify_opts o = {.issuer = v->issuer, .leeway_s = SVC_AUTH_LEEWAY_S};
	json_object *claims = NULL;
	char kid[128] = "";
	enum jwt_err e;

	if (ks == NULL)
		return JWT_EKID;
	e = jwt_verify(ks, token, len, &o, &claims, kid);
	if (e == JWT_EKID && v->jwks != NULL && kid[0] != '\0')
		(void)jwks_client_refresh_for_kid(v->jwks, NULL); /* rotated: the retry will pass */
	if (e == JWT_ECLAIMS)
		return JWT_EMALFORMED; /* keep JWT_ECLAIMS for "not a service token" */
	if (e != JWT_OK)
		return e;
	e = svc_check_claims(v, claims, out);
	json_object_put(claims);
	return e;
}

/* The token of "Authorization: Bearer <token>", or NULL. */
static const char *svc_bearer(const char *h, size_t *len)
{
	const char *tok;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	tok = h + 7;
	while (*tok == ' ')
		tok++;
	*len = strlen(tok);
	while (*len > 0 && tok[*len - 1] == ' ')
		(*len)--;
	return *len > 0 ? tok : NULL;
}

static int svc_refuse(struct http_request *req, const char *code, const char *msg)
{
	http_reply_header(req, "WWW-Authenticate", "Bearer");
	http_reply_error(req, 401, code, msg, NULL);
	return -1;
}

int svc_auth_or_reply(struct svc_verifier *v, struct http_request *req, struct svc_caller *out)
{
	size_t len = 0;
	const char *tok = svc_bearer(http_request_header(req, "Authorization"), &len);
	enum jwt_err e;

	if (tok == NULL)
		return svc_refuse(req, "token_missing", "A service token is required.");
	if (v->keys(v->arg) == NULL) {
		http_reply_header(req, "Retry-After", "1");
		http_reply_error(req, 503, "auth_unavailable",
				 "Identity's signing keys are not loaded yet.", NULL);
		return -1;
	}
	e = svc_verify_token(v, tok, len, out);
	switch (e) {
	case JWT_OK: return 0;
	case JWT_EEXPIRED:
		return svc_refuse(req, "token_expired", "The service token has expired.");
	case JWT_ECLAIMS:
		return svc_refuse(req, "service_token_required",
				  "This route accepts service tokens only.");
	default:
		log_debug(NULL, "service token refused", LS("reason", jwt_strerror(e)),
			  LS("request_id", http_request_id(req)));
		return svc_refuse(req, "token_invalid", "The service token is invalid.");
	}
}
