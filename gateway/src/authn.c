/*
 * authn.c - Bearer tokens: extraction, cached verification, 401 answers (see authn.h).
 *
 * Owns nothing; the token cache and key set belong to main.c / jwks.c.
 */
#include "authn.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/crypto.h"
#include "common/log.h"
#include "gateway.h"
#include "gw_metrics.h"
#include "jwks.h"

int authn_bearer(const char *authorization, const char **tok, size_t *len)
{
	const char *p = authorization, *e;

	if (p == NULL || strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return -1;
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e == p)
		return -1;
	*tok = p;
	*len = (size_t)(e - p);
	return 0;
}

static int authn_uuid_claim(json_object *o, const char *key, char out[UUID_STR_LEN])
{
	json_object *v = NULL;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	if (json_object_get_string_len(v) != UUID_STR_LEN - 1 || !uuid_valid(s))
		return -1;
	memcpy(out, s, UUID_STR_LEN);
	return 0;
}

static int authn_bool_claim(json_object *o, const char *key, bool *out)
{
	json_object *v = NULL;

	*out = false;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return -1;
	*out = json_object_get_boolean(v);
	return 0;
}

int authn_claims_from_json(json_object *payload, struct gw_claims *out)
{
	json_object *exp = NULL, *use = NULL;

	memset(out, 0, sizeof(*out));
	if (payload == NULL || !json_object_is_type(payload, json_type_object))
		return -1;
	/* a service token (svc_token.h) is never a user's access token, whatever its aud */
	if (json_object_object_get_ex(payload, "token_use", &use))
		goto bad;
	if (authn_uuid_claim(payload, "sub", out->sub) < 0 ||
	    authn_uuid_claim(payload, "tid", out->tid) < 0 ||
	    authn_uuid_claim(payload, "sid", out->sid) < 0 ||
	    authn_bool_claim(payload, "adm", &out->adm) < 0 ||
	    authn_bool_claim(payload, "tadm", &out->tadm) < 0)
		goto bad;
	if (!json_object_object_get_ex(payload, "exp", &exp) ||
	    !json_object_is_type(exp, json_type_int))
		goto bad;
	out->exp = json_object_get_int64(exp);
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -1;
}

const char *authn_jwt_code(enum jwt_err e)
{
	return e == JWT_EEXPIRED ? "token_expired" : "token_invalid";
}

void authn_reply_401(struct gateway *gw, struct http_request *req, const char *code)
{
	const char *msg = "The access token is invalid.";

	if (strcmp(code, "token_missing") == 0)
		msg = "An access token is required (Authorization: Bearer).";
	else if (strcmp(code, "token_expired") == 0)
		msg = "The access token has expired.";
	else if (strcmp(code, "session_revoked") == 0)
		msg = "The session of this access token has ended.";
	gw_metrics_auth_failure(gw->metrics, code);
	http_reply_header(req, "WWW-Authenticate", "Bearer");
	http_reply_error(req, 401, code, msg, NULL);
}

void authn_reply_unavailable(struct gateway *gw, struct http_request *req)
{
	gw_metrics_auth_failure(gw->metrics, "auth_unavailable");
	http_reply_header(req, "Retry-After", "1");
	http_reply_error(req, 503, "auth_unavailable",
			 "Authentication is temporarily unavailable; retry shortly.", NULL);
}

/* The expensive path: ES256 verify, then cache the claims. */
static enum authn_result authn_verify(struct gateway *gw, struct http_request *req,
				      const char *tok, size_t len, const unsigned char *key,
				      bool may_wait, struct jwks_waiter *w, struct gw_claims *claims)
{
	const struct jwt_keyset *ks = jwks_current(gw->jwks);
	json_object *payload = NULL;
	char kid[128] = "";
	enum jwt_err e;
	int rc;

	if (ks == NULL) {
		authn_reply_unavailable(gw, req);
		return AUTHN_REPLIED;
	}
	e = jwt_verify(ks, tok, len, &gw->verify, &payload, kid);
	if (e == JWT_EKID && may_wait && kid[0] != '\0' && jwks_refresh_for_kid(gw->jwks, w) == 0)
		return AUTHN_WAIT;
	if (e != JWT_OK) {
		struct log_ctx lc = {http_request_id(req), NULL, NULL};

		log_debug(&lc, "token rejected", LS("reason", jwt_strerror(e)));
		authn_reply_401(gw, req, authn_jwt_code(e));
		return AUTHN_REPLIED;
	}
	rc = authn_claims_from_json(payload, claims);
	json_object_put(payload);
	if (rc < 0) {
		authn_reply_401(gw, req, "token_invalid");
		return AUTHN_REPLIED;
	}
	if (jwt_peek_kid(tok, len, kid) == 0)
		token_cache_insert(gw->tokens, key, tok, len, kid, claims, time(NULL),
				   gw->verify.leeway_s);
	return AUTHN_OK;
}

enum authn_result authn_check(struct gateway *gw, struct http_request *req, bool may_wait,
			      struct jwks_waiter *w, struct gw_claims *claims)
{
	unsigned char key[TC_KEY_LEN];
	const char *tok = NULL;
	size_t len = 0;

	if (authn_bearer(http_request_header(req, "Authorization"), &tok, &len) < 0) {
		authn_reply_401(gw, req, "token_missing");
		return AUTHN_REPLIED;
	}
	if (len > JWT_MAX_LEN) {
		authn_reply_401(gw, req, "token_invalid");
		return AUTHN_REPLIED;
	}
	if (token_cache_key(tok, len, key) < 0) {
		authn_reply_401(gw, req, "token_invalid"); /* not an ES256 compact token */
		return AUTHN_REPLIED;
	}
	switch (token_cache_lookup(gw->tokens, key, tok, len, time(NULL), gw->verify.leeway_s,
				   claims)) {
	case TC_HIT:
		gw_metrics_token_cache(gw->metrics, 1);
		return AUTHN_OK;
	case TC_EXPIRED:
		gw_metrics_token_cache(gw->metrics, 1);
		authn_reply_401(gw, req, "token_expired");
		return AUTHN_REPLIED;
	case TC_MISS:
		break;
	}
	gw_metrics_token_cache(gw->metrics, 0);
	return authn_verify(gw, req, tok, len, key, may_wait, w, claims);
}
