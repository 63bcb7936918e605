/*
 * auth_refresh_http.c - POST /v1/auth/refresh: rotate a refresh token.
 *
 * One transaction (enum refresh_step): BEGIN -> SELECT the token by hash with its session,
 * user and tenant FOR UPDATE (concurrent refreshes of one token serialise here) ->
 *   unknown / expired token, revoked or expired session -> ROLLBACK, 401 invalid_refresh_token
 *   token already used -> revoke the session (+ identity.session.revoked.v1 into the outbox
 *     when that changed it), COMMIT, 401 refresh_token_reused
 *   banned user / suspended tenant -> ROLLBACK, 403
 *   else mark it used, insert its successor, renew the session -> COMMIT -> 200 AuthTokens.
 * Owns a per-request context in the request's memory and the transaction until it ends.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "common/crypto.h"
#include "handlers.h"
#include "identity_events.h"
#include "keyring.h"
#include "session_store.h"
#include "tenant_store.h"
#include "tokens.h"
#include "user_store.h"
#include "validate.h"

enum refresh_step {
	REFRESH_BEGIN,  /* BEGIN in flight */
	REFRESH_LOCK,   /* SELECT ... FOR UPDATE in flight */
	REFRESH_ROTATE, /* the rotation statement in flight */
	REFRESH_REVOKE, /* reuse detected: the session's revocation in flight */
	REFRESH_EVENT,  /* the revocation's event going into the outbox */
	REFRESH_COMMIT, /* COMMIT in flight */
};

struct refresh_ctx {
	struct identity_app *app;
	struct http_request *req;
	enum refresh_step step;
	struct pg_tx *tx;
	bool reused;  /* the presented token had been used: revoking the session */
	bool revoked; /* ... and this transaction revoked it (an event was added) */
	char token_hash[65];
	char session_id[UUID_STR_LEN];
	struct tenant tenant; /* request memory */
	struct user user;     /* request memory */
	char new_id[UUID_STR_LEN];
	char new_token[REFRESH_TOKEN_LEN + 1];
	char new_hash[65];
};

static void refresh_set_step(struct refresh_ctx *c, enum refresh_step next)
{
	switch (next) {
	case REFRESH_BEGIN: assert(0 && "the first step is set at creation"); break;
	case REFRESH_LOCK: assert(c->step == REFRESH_BEGIN); break;
	case REFRESH_ROTATE:
	case REFRESH_REVOKE: assert(c->step == REFRESH_LOCK); break;
	case REFRESH_EVENT: assert(c->step == REFRESH_REVOKE); break;
	case REFRESH_COMMIT:
		assert(c->step == REFRESH_ROTATE || c->step == REFRESH_REVOKE ||
		       c->step == REFRESH_EVENT);
		break;
	}
	c->step = next;
}

/* Ends the transaction (if any) with ROLLBACK and replies an error. */
static void refresh_abort(struct refresh_ctx *c, int status, const char *code, const char *msg,
			  const char *metric)
{
	if (c->tx != NULL) {
		pg_tx_rollback(c->tx, NULL, NULL);
		c->tx = NULL;
	}
	app_count(c->app, M_REFRESHES, metric);
	http_reply_error(c->req, status, code, msg, NULL);
}

static void refresh_abort_db(struct refresh_ctx *c, const char *what, const struct pg_result *r)
{
	if (c->tx != NULL) {
		pg_tx_rollback(c->tx, NULL, NULL);
		c->tx = NULL;
	}
	app_count(c->app, M_REFRESHES, "error");
	app_reply_db_error(c->req, what, r);
}

static void refresh_on_committed(const char *err, void *arg)
{
	struct refresh_ctx *c = arg;
	struct log_ctx lc = app_log_ctx(c->req, c->tenant.id, c->user.id);

	c->tx = NULL;
	if (c->reused) {
		if (err != NULL) {
			log_error(&lc, "revocation after refresh-token reuse failed",
				  LS("error", err));
		} else {
			if (c->revoked)
				app_outbox_kick(c->app);
			app_session_uncache(c->app, c->req, c->session_id);
		}
		log_warn(&lc, "refresh token reused: session revoked",
			 LS("session_id", c->session_id));
		app_count(c->app, M_REFRESHES, "reused");
		http_reply_error(c->req, 401, "refresh_token_reused",
				 "This refresh token was already used; the session is revoked.",
				 NULL);
		return;
	}
	if (err != NULL) {
		struct pg_result r = {.res = NULL, .err = err, .sqlstate = ""};
		app_count(c->app, M_REFRESHES, "error");
		app_reply_db_error(c->req, "commit refresh", &r);
		return;
	}
	app_count(c->app, M_REFRESHES, "ok");
	app_reply_tokens(c->app, c->req, &c->user, &c->tenant, c->session_id, c->new_token);
}

static void refresh_on_written(const struct pg_result *r, void *arg)
{
	struct refresh_ctx *c = arg;
	struct pg_tx *tx = c->tx;
	const char *what = c->step == REFRESH_EVENT ? "add session event" : "rotate refresh token";

	if (r->err != NULL) {
		refresh_abort_db(c, what, r);
		return;
	}
	refresh_set_step(c, REFRESH_COMMIT);
	pg_tx_commit(tx, refresh_on_committed, c);
}

/* Reuse: the session's revocation answered; its event joins the transaction when it
 * changed the session (an already revoked one emits nothing). */
static void refresh_on_revoked(const struct pg_result *r, void *arg)
{
	struct refresh_ctx *c = arg;
	struct revoked_session s;
	json_object *data;

	if (r->err != NULL) {
		refresh_abort_db(c, "revoke session", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		refresh_set_step(c, REFRESH_COMMIT);
		pg_tx_commit(c->tx, refresh_on_committed, c);
		return;
	}
	revoked_session_from_row(r->res, 0, &s);
	if ((data = session_revoked_data(&s, REVOKE_REFRESH_REUSE)) == NULL) {
		refresh_abort(c, 500, "internal_error", "An internal error occurred.", "error");
		return;
	}
	c->revoked = true;
	refresh_set_step(c, REFRESH_EVENT);
	if (identity_event_add(c->tx, c->app->schema, EV_SESSION_REVOKED, http_request_id(c->req),
			       data, c->session_id, refresh_on_written, c) < 0)
		refresh_abort_db(c, "add session event", NULL);
}

/* The token is valid: its successor replaces it. */
static void refresh_rotate(struct refresh_ctx *c, const char *old_id)
{
	uuid_v4(c->new_id);
	if (refresh_token_new(c->new_token, c->new_hash) < 0) {
		refresh_abort(c, 500, "internal_error", "An internal error occurred.", "error");
		return;
	}
	refresh_set_step(c, REFRESH_ROTATE);
	if (session_store_refresh_rotate(c->tx, old_id, c->session_id, c->new_id, c->new_hash,
					 c->app->cfg->refresh_ttl_s, refresh_on_written, c) < 0)
		refresh_abort_db(c, "rotate refresh token", NULL);
}

static void refresh_on_locked(const struct pg_result *r, void *arg)
{
	struct refresh_ctx *c = arg;
	const PGresult *res = r->res;

	if (r->err != NULL) {
		refresh_abort_db(c, "find refresh token", r);
		return;
	}
	if (PQntuples(res) != 1 || pg_bool(res, 0, REFRESH_COL_TOKEN_EXPIRED)) {
		refresh_abort(c, 401, "invalid_refresh_token",
			      "The refresh token is invalid or expired.", "invalid");
		return;
	}
	snprintf(c->session_id, sizeof(c->session_id), "%s",
		 pg_val(res, 0, REFRESH_COL_SESSION_ID));
	tenant_from_row(res, 0, REFRESH_COL_TENANT, &c->tenant, c->req);
	user_from_row(res, 0, REFRESH_COL_TENANT + TENANT_NCOLS, &c->user, c->req);
	http_request_set_log_ids(c->req, c->tenant.id, c->user.id);
	if (pg_bool(res, 0, REFRESH_COL_USED)) {
		c->reused = true;
		refresh_set_step(c, REFRESH_REVOKE);
		if (session_store_revoke_reused(c->tx, c->session_id, "refresh_token_reused",
						refresh_on_revoked, c) < 0)
			refresh_abort_db(c, "revoke session", NULL);
		return;
	}
	if (pg_bool(res, 0, REFRESH_COL_REVOKED) || pg_bool(res, 0, REFRESH_COL_SESSION_EXPIRED))
		refresh_abort(c, 401, "invalid_refresh_token",
			      "The refresh token is invalid or expired.", "invalid");
	else if (tenant_status_blocks(c->tenant.status))
		refresh_abort(c, 403, "tenant_suspended", "This tenant is suspended.",
			      "tenant_suspended");
	else if (strcmp(c->user.status, "Active") != 0)
		refresh_abort(c, 403, "user_banned", "This account is banned.", "user_banned");
	else if (!keyring_ready(c->app->keys))
		refresh_abort(c, 503, "service_unavailable",
			      "The service is temporarily unavailable.", "error");
	else
		refresh_rotate(c, pg_val(res, 0, REFRESH_COL_TOKEN_ID));
}

static void refresh_on_begun(struct pg_tx *tx, const char *err, void *arg)
{
	struct refresh_ctx *c = arg;

	if (tx == NULL) {
		struct pg_result r = {.res = NULL, .err = err, .sqlstate = ""};
		refresh_abort_db(c, "begin", &r);
		return;
	}
	c->tx = tx;
	refresh_set_step(c, REFRESH_LOCK);
	if (session_store_refresh_lock(tx, c->token_hash, refresh_on_locked, c) < 0)
		refresh_abort_db(c, "find refresh token", NULL);
}

void auth_http_refresh(struct http_request *req, void *arg)
{
	struct identity_app *app = arg;
	struct refresh_ctx *c;
	struct refresh_req rr;
	struct iauth ia;
	bool signed_ok;
	json_object *body;
	struct jv v;
	bool well_formed;

	if (app_iauth_or_reply(app, req, &ia, &signed_ok) < 0 ||
	    (body = http_request_json_or_reply(req)) == NULL)
		return;
	jv_init(&v);
	if (refresh_req_parse(body, &rr, &v) < 0) {
		json_object_put(body);
		http_reply_validation(req, &v);
		return;
	}
	c = http_request_alloc(req, sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->app = app;
	c->req = req;
	c->step = REFRESH_BEGIN;
	well_formed = refresh_token_well_formed(rr.refresh_token);
	if (well_formed)
		refresh_token_hash(rr.refresh_token, c->token_hash);
	json_object_put(body);
	if (!well_formed) {
		refresh_abort(c, 401, "invalid_refresh_token",
			      "The refresh token is invalid or expired.", "invalid");
		return;
	}
	if (pg_tx_begin(app->pg, refresh_on_begun, c) < 0)
		refresh_abort_db(c, "begin", NULL);
}
