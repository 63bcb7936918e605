/*
 * authn.c - resolve the caller of a user route (see authn.h).
 *
 * Owns a small per-request context in the request's memory while the session check runs.
 */
#include "authn.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/crypto.h"
#include "common/jwt.h"
#include "keyring.h"
#include "session_store.h"

#define AUTHN_LEEWAY_S 30

struct authn_ctx {
	struct identity_app *app;
	struct http_request *req;
	unsigned flags;
	authn_cb cb;
	void *arg;
	struct authn_caller caller;
};

const char *authn_bearer(const char *authorization, size_t *len)
{
	const char *tok;

	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	tok = authorization + 7;
	while (*tok == ' ')
		tok++;
	*len = strlen(tok);
	while (*len > 0 && tok[*len - 1] == ' ')
		(*len)--;
	return *len > 0 ? tok : NULL;
}

/* Copies a claim that must be a UUID string; false when missing or malformed. */
static bool claim_uuid(json_object *claims, const char *name, char out[37])
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(claims, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	if (!uuid_valid(s))
		return false;
	snprintf(out, 37, "%s", s);
	return true;
}

static bool claim_bool(json_object *claims, const char *name)
{
	json_object *v;

	return json_object_object_get_ex(claims, name, &v) &&
	       json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static void authn_reply(struct http_request *req, int status, const char *code, const char *msg)
{
	http_reply_error(req, status, code, msg, NULL);
}

static void authn_on_state(const struct pg_result *r, void *arg)
{
	struct authn_ctx *a = arg;
	struct session_state st;
	enum session_reason why;

	if (r->err != NULL) {
		app_reply_db_error(a->req, "session check", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		authn_reply(a->req, 401, "session_revoked", "The session is no longer valid.");
		return;
	}
	session_state_from_row(r->res, 0, &st);
	why = session_state_reason(&st);
	if (strcmp(st.user_id, a->caller.user_id) != 0) {
		authn_reply(a->req, 401, "token_invalid", "The access token is invalid.");
		return;
	}
	a->caller.is_admin = st.is_admin;
	a->caller.is_tenant_admin = st.is_tenant_admin;
	if (a->flags & AUTHN_ALLOW_INACTIVE)
		a->cb(a->req, &a->caller, a->arg);
	else if (why == SESSION_USER_BANNED)
		authn_reply(a->req, 403, "user_banned", "This account is banned.");
	else if (why == SESSION_TENANT_SUSPENDED)
		authn_reply(a->req, 403, "tenant_suspended", "This tenant is suspended.");
	else if (why != SESSION_ACTIVE)
		authn_reply(a->req, 401, "session_revoked", "The session is no longer valid.");
	else
		a->cb(a->req, &a->caller, a->arg);
}

/* Verifies the bearer token; 0 with a->caller filled, or -1 after replying. */
static int authn_verify_token(struct authn_ctx *a, const char *tok, size_t len)
{
	const struct jwt_keyset *ks = keyring_keyset(a->app->keys);
	struct jwt_verify_opts o = {.issuer = a->app->cfg->common.jwt_issuer,
				    .audience = a->app->cfg->common.jwt_audience,
				    .leeway_s = AUTHN_LEEWAY_S};
	json_object *claims = NULL;
	char kid[128] = "";
	enum jwt_err e;
	bool ok;

	if (ks == NULL) {
		app_reply_unavailable(a->req, "no signing keys loaded");
		return -1;
	}
	e = jwt_verify(ks, tok, len, &o, &claims, kid);
	if (e == JWT_EKID)
		keyring_refresh_soon(a->app->keys); /* another replica may have rotated */
	if (e != JWT_OK) {
		authn_reply(a->req, 401, e == JWT_EEXPIRED ? "token_expired" : "token_invalid",
			    e == JWT_EEXPIRED ? "The access token has expired."
					      : "The access token is invalid.");
		return -1;
	}
	/* a service token (token_use "service") never stands for a user, whatever its aud */
	ok = !json_object_object_get_ex(claims, "token_use", NULL) &&
	     claim_uuid(claims, "sub", a->caller.user_id) &&
	     claim_uuid(claims, "tid", a->caller.tenant_id) &&
	     claim_uuid(claims, "sid", a->caller.session_id);
	a->caller.is_admin = claim_bool(claims, "adm");
	a->caller.is_tenant_admin = claim_bool(claims, "tadm");
	json_object_put(claims);
	if (!ok) {
		authn_reply(a->req, 401, "token_invalid", "The access token is invalid.");
		return -1;
	}
	return 0;
}

/* Copies the gateway-vouched identity; false when it names no valid user and session. */
static bool authn_from_iauth(const struct iauth *ia, struct authn_caller *c)
{
	if (!uuid_valid(ia->user_id) || !uuid_valid(ia->tenant_id) || !uuid_valid(ia->session_id))
		return false;
	memcpy(c->user_id, ia->user_id, sizeof(c->user_id));
	memcpy(c->tenant_id, ia->tenant_id, sizeof(c->tenant_id));
	memcpy(c->session_id, ia->session_id, sizeof(c->session_id));
	c->is_admin = ia->is_admin;
	c->is_tenant_admin = ia->is_tenant_admin;
	c->via_gateway = true;
	return true;
}

void authn_resolve(struct identity_app *app, struct http_request *req, unsigned flags, authn_cb cb,
		   void *arg)
{
	struct authn_ctx *a;
	struct iauth ia;
	bool signed_ok;
	const char *tok;
	size_t len = 0;

	if (app_iauth_or_reply(app, req, &ia, &signed_ok) < 0)
		return;
	a = http_request_alloc(req, sizeof(*a));
	*a = (struct authn_ctx){.app = app, .req = req, .flags = flags, .cb = cb, .arg = arg};
	if (signed_ok) {
		if (!authn_from_iauth(&ia, &a->caller)) {
			authn_reply(req, 401, "token_missing", "No user is authenticated.");
			return;
		}
		http_request_set_log_ids(req, a->caller.tenant_id, a->caller.user_id);
		cb(req, &a->caller, arg);
		return;
	}
	tok = authn_bearer(http_request_header(req, "Authorization"), &len);
	if (tok == NULL) {
		authn_reply(req, 401, "token_missing", "An access token is required.");
		return;
	}
	if (authn_verify_token(a, tok, len) < 0)
		return;
	http_request_set_log_ids(req, a->caller.tenant_id, a->caller.user_id);
	if (session_store_state(app->pg, a->caller.session_id, authn_on_state, a) < 0)
		app_reply_db_error(req, "session check", NULL);
}
