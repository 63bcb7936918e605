/*
 * session_http.c - the caller's sessions: POST /v1/auth/logout, GET /v1/auth/sessions,
 * DELETE /v1/auth/sessions/{session_id}, and the gateway's session check
 * GET /internal/v1/sessions/{session_id}.
 *
 * A revocation is one transaction: BEGIN -> UPDATE the session -> when a row changed, its
 * identity.session.revoked.v1 into the outbox -> COMMIT (any failure rolls back; nothing
 * changed: no event). Then the gateway's cached session state in Redis is deleted (best
 * effort). Owns a per-request context in the request's memory and the transaction until it
 * ends.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "authn.h"
#include "common/crypto.h"
#include "handlers.h"
#include "identity_events.h"
#include "identity_json.h"
#include "session_store.h"

struct sess_ctx {
	struct identity_app *app;
	struct http_request *req;
	struct authn_caller caller;
	const char *target;     /* the session to revoke: the caller's (logout) or the path's */
	enum revoke_reason why; /* REVOKE_LOGOUT or REVOKE_DELETED */
	struct pg_tx *tx;       /* the revocation's transaction while it runs */
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

/* ---- revocation with its event (logout and DELETE) ----------------------------------------- */

static void revoke_abort(struct sess_ctx *c)
{
	if (c->tx != NULL) {
		pg_tx_rollback(c->tx, NULL, NULL);
		c->tx = NULL;
	}
}

static void revoke_abort_db(struct sess_ctx *c, const char *what, const struct pg_result *r)
{
	revoke_abort(c);
	app_reply_db_error(c->req, what, r);
}

/* The answer once settled. logout is always 204 (and always uncaches); DELETE of a session
 * that was not revoked now (not the caller's, already revoked or expired) is 404. */
static void revoke_reply(struct sess_ctx *c, bool revoked)
{
	struct log_ctx lc = app_log_ctx(c->req, c->caller.tenant_id, c->caller.user_id);

	if (!revoked && c->why == REVOKE_DELETED) {
		http_reply_error(c->req, 404, "session_not_found", "No such active session.", NULL);
		return;
	}
	if (revoked)
		log_info(&lc, c->why == REVOKE_LOGOUT ? "logout" : "session revoked",
			 LS("session_id", c->target));
	app_session_uncache(c->app, c->req, c->target);
	http_reply_empty(c->req, 204);
}

static void revoke_on_committed(const char *err, void *arg)
{
	struct sess_ctx *c = arg;

	c->tx = NULL;
	if (err != NULL) {
		struct pg_result r = {.res = NULL, .err = err, .sqlstate = ""};
		app_reply_db_error(c->req, "commit revocation", &r);
		return;
	}
	app_outbox_kick(c->app);
	revoke_reply(c, true);
}

static void revoke_on_event(const struct pg_result *r, void *arg)
{
	struct sess_ctx *c = arg;
	struct pg_tx *tx = c->tx;

	if (r->err != NULL) {
		revoke_abort_db(c, "add session event", r);
		return;
	}
	pg_tx_commit(tx, revoke_on_committed, c);
}

static void revoke_on_row(const struct pg_result *r, void *arg)
{
	struct sess_ctx *c = arg;
	struct revoked_session s;
	json_object *data;

	if (r->err != NULL) {
		revoke_abort_db(c, "revoke session", r);
		return;
	}
	if (PQntuples(r->res) != 1) { /* nothing changed: no event */
		revoke_abort(c);
		revoke_reply(c, false);
		return;
	}
	revoked_session_from_row(r->res, 0, &s);
	if ((data = session_revoked_data(&s, c->why)) == NULL) {
		revoke_abort(c);
		app_reply_internal(c->req, "build session event");
		return;
	}
	if (identity_event_add(c->tx, c->app->schema, EV_SESSION_REVOKED, http_request_id(c->req),
			       data, s.session_id, revoke_on_event, c) < 0)
		revoke_abort_db(c, "add session event", NULL);
}

static void revoke_on_begun(struct pg_tx *tx, const char *err, void *arg)
{
	struct sess_ctx *c = arg;
	int rc;

	if (tx == NULL) {
		struct pg_result r = {.res = NULL, .err = err, .sqlstate = ""};
		revoke_abort_db(c, "begin", &r);
		return;
	}
	c->tx = tx;
	if (c->why == REVOKE_LOGOUT)
		rc = session_store_revoke(tx, c->target, c->caller.user_id, "logout", revoke_on_row,
					  c);
	else
		rc = session_store_revoke_active(tx, c->target, c->caller.user_id, "user_revoked",
						 revoke_on_row, c);
	if (rc < 0)
		revoke_abort_db(c, "revoke session", NULL);
}

/* Revokes c->target for c->caller (reason why) and replies. */
static void revoke_start(struct sess_ctx *c, enum revoke_reason why)
{
	c->why = why;
	if (pg_tx_begin(c->app->pg, revoke_on_begun, c) < 0)
		app_reply_db_error(c->req, "begin", NULL);
}

/* ---- POST /v1/auth/logout ------------------------------------------------------------------ */

static void logout_as(struct http_request *req, const struct authn_caller *caller, void *arg)
{
	struct sess_ctx *c = arg;

	(void)req;
	c->caller = *caller;
	c->target = c->caller.session_id;
	revoke_start(c, REVOKE_LOGOUT);
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

static void delete_as(struct http_request *req, const struct authn_caller *caller, void *arg)
{
	struct sess_ctx *c = arg;

	c->caller = *caller;
	if ((c->target = session_param_or_reply(req)) == NULL)
		return;
	revoke_start(c, REVOKE_DELETED);
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
