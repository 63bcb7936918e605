/*
 * session_http.c - the caller's sessions: POST /v1/auth/logout, GET /v1/auth/sessions,
 * DELETE /v1/auth/sessions/{session_id}, and the gateway's session check
 * GET /internal/v1/sessions/{session_id}.
 *
 * Every revocation also deletes the gateway's cached session state in Redis (best effort).
 * Owns a per-request context in the request's memory.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "authn.h"
#include "common/crypto.h"
#include "handlers.h"
#include "identity_json.h"
#include "session_store.h"

struct sess_ctx {
	struct identity_app *app;
	struct http_request *req;
	struct authn_caller caller;
	const char *target; /* DELETE: the session id from the path */
};

static struct sess_ctx *sess_ctx_new(struct http_request *req, struct identity_app *app)
{
	struct sess_ctx *c = http_request_alloc(req, sizeof(*c));

	memset(c, 0, sizeof(*c));
	c->app = app;
	c->req = req;
	return c;
}

/* The {session_id} path parameter when it is a UUID; else replies 400 and returns NULL. */
static const char *session_param_or_reply(struct http_request *req)
{
	const char *sid = http_request_param(req, "session_id");

	if (sid != NULL && uuid_valid(sid))
		return sid;
	http_reply_error(req, 400, "invalid_parameter", "session_id must be a UUID.", NULL);
	return NULL;
}

/* ---- POST /v1/auth/logout ------------------------------------------------------------------ */

static void logout_on_revoked(const struct pg_result *r, void *arg)
{
	struct sess_ctx *c = arg;
	struct log_ctx lc = app_log_ctx(c->req, c->caller.tenant_id, c->caller.user_id);

	if (r->err != NULL) {
		app_reply_db_error(c->req, "revoke session", r);
		return;
	}
	if (PQntuples(r->res) > 0)
		log_info(&lc, "logout", LS("session_id", c->caller.session_id));
	app_session_uncache(c->app, c->req, c->caller.session_id);
	http_reply_empty(c->req, 204);
}

static void logout_as(struct http_request *req, const struct authn_caller *caller, void *arg)
{
	struct sess_ctx *c = arg;

	c->caller = *caller;
	if (session_store_revoke(c->app->pg, caller->session_id, caller->user_id, "logout",
				 logout_on_revoked, c) < 0)
		app_reply_db_error(req, "revoke session", NULL);
}

void session_http_logout(struct http_request *req, void *app)
{
	authn_resolve(app, req, AUTHN_ALLOW_INACTIVE, logout_as, sess_ctx_new(req, app));
}

/* ---- GET /v1/auth/sessions ----------------------------------------------------------------- */

static void list_on_rows(const struct pg_result *r, void *arg)
{
	struct sess_ctx *c = arg;
	json_object *body, *arr;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "list sessions", r);
		return;
	}
	body = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(body, "sessions", arr);
	for (int i = 0; i < PQntuples(r->res); i++) {
		struct session_view s;

		session_view_from_row(r->res, i, &s);
		s.is_current = strcmp(s.id, c->caller.session_id) == 0;
		json_object_array_add(arr, session_view_to_json(&s));
	}
	http_reply_json(c->req, 200, body);
}

static void list_as(struct http_request *req, const struct authn_caller *caller, void *arg)
{
	struct sess_ctx *c = arg;

	c->caller = *caller;
	if (session_store_list_active(c->app->pg, caller->user_id, list_on_rows, c) < 0)
		app_reply_db_error(req, "list sessions", NULL);
}

void session_http_list(struct http_request *req, void *app)
{
	authn_resolve(app, req, 0, list_as, sess_ctx_new(req, app));
}

/* ---- DELETE /v1/auth/sessions/{session_id} ------------------------------------------------- */

static void delete_on_revoked(const struct pg_result *r, void *arg)
{
	struct sess_ctx *c = arg;
	struct log_ctx lc = app_log_ctx(c->req, c->caller.tenant_id, c->caller.user_id);

	if (r->err != NULL) {
		app_reply_db_error(c->req, "revoke session", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_error(c->req, 404, "session_not_found", "No such active session.", NULL);
		return;
	}
	log_info(&lc, "session revoked", LS("session_id", pg_val(r->res, 0, 0)));
	app_session_uncache(c->app, c->req, pg_val(r->res, 0, 0));
	http_reply_empty(c->req, 204);
}

static void delete_as(struct http_request *req, const struct authn_caller *caller, void *arg)
{
	struct sess_ctx *c = arg;

	c->caller = *caller;
	if ((c->target = session_param_or_reply(req)) == NULL)
		return;
	if (session_store_revoke_active(c->app->pg, c->target, caller->user_id, "user_revoked",
					delete_on_revoked, c) < 0)
		app_reply_db_error(req, "revoke session", NULL);
}

void session_http_delete(struct http_request *req, void *app)
{
	authn_resolve(app, req, 0, delete_as, sess_ctx_new(req, app));
}

/* ---- GET /internal/v1/sessions/{session_id} ------------------------------------------------ */

static void status_on_row(const struct pg_result *r, void *arg)
{
	struct sess_ctx *c = arg;
	struct session_state st;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "session state", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_error(c->req, 404, "session_not_found", "No such session.", NULL);
		return;
	}
	session_state_from_row(r->res, 0, &st);
	http_request_set_log_ids(c->req, st.tenant_id, st.user_id);
	http_reply_json(c->req, 200, session_state_to_json(&st));
}

void session_http_status(struct http_request *req, void *arg)
{
	struct identity_app *app = arg;
	struct iauth ia;
	bool signed_ok;
	const char *sid;

	if (app_iauth_or_reply(app, req, &ia, &signed_ok) < 0)
		return;
	if (!signed_ok) {
		http_reply_error(req, 401, "token_missing", "An internal signature is required.",
				 NULL);
		return;
	}
	if ((sid = session_param_or_reply(req)) == NULL)
		return;
	if (session_store_state(app->pg, sid, status_on_row, sess_ctx_new(req, app)) < 0)
		app_reply_db_error(req, "session state", NULL);
}
