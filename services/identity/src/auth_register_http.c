/*
 * auth_register_http.c - POST /v1/auth/register.
 *
 * Steps: validate the body -> find the tenant (404 / 403) -> hash the password on the worker
 * pool -> one transaction: BEGIN -> insert the user (409 on a taken e-mail) -> its
 * identity.user.registered.v1 into the outbox -> COMMIT -> 201 {user_id,
 * verification_required}. Any failure rolls back: no user without its event.
 * Owns a per-request context in the request's memory and the transaction until it ends; the
 * password hash (malloc'd by the worker) is freed as soon as the INSERT has copied it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "common/json.h"
#include "handlers.h"
#include "identity_events.h"
#include "tenant_store.h"
#include "user_store.h"
#include "validate.h"

struct reg_ctx {
	struct identity_app *app;
	struct http_request *req;
	struct register_req r; /* strings copied into request memory */
	char *password;        /* request memory; wiped after hashing */
	char tenant_id[37];
	char *hash; /* malloc'd by the worker */
	struct pg_tx *tx;
	char *user_id; /* request memory, once inserted */
};

static void reg_wipe_hash(struct reg_ctx *c)
{
	if (c->hash == NULL)
		return;
	explicit_bzero(c->hash, strlen(c->hash));
	free(c->hash);
	c->hash = NULL;
}

/* Ends the transaction (if any) with ROLLBACK. */
static void reg_rollback(struct reg_ctx *c)
{
	if (c->tx != NULL) {
		pg_tx_rollback(c->tx, NULL, NULL);
		c->tx = NULL;
	}
}

static void reg_abort_db(struct reg_ctx *c, const char *what, const struct pg_result *r)
{
	reg_rollback(c);
	app_reply_db_error(c->req, what, r);
}

static void reg_on_committed(const char *err, void *arg)
{
	struct reg_ctx *c = arg;
	struct log_ctx lc = app_log_ctx(c->req, c->tenant_id, c->user_id);
	json_object *body;

	c->tx = NULL;
	if (err != NULL) {
		struct pg_result r = {.res = NULL, .err = err, .sqlstate = ""};
		app_reply_db_error(c->req, "commit registration", &r);
		return;
	}
	app_outbox_kick(c->app);
	http_request_set_log_ids(c->req, c->tenant_id, c->user_id);
	log_info(&lc, "user registered");
	app_count(c->app, M_REGISTRATIONS, NULL);
	body = json_object_new_object();
	json_set_str(body, "user_id", c->user_id);
	json_set_bool(body, "verification_required", c->app->cfg->require_email_verification);
	http_reply_json(c->req, 201, body);
}

static void reg_on_event(const struct pg_result *r, void *arg)
{
	struct reg_ctx *c = arg;
	struct pg_tx *tx = c->tx;

	if (r->err != NULL) {
		reg_abort_db(c, "add user event", r);
		return;
	}
	pg_tx_commit(tx, reg_on_committed, c);
}

static void reg_on_inserted(const struct pg_result *r, void *arg)
{
	struct reg_ctx *c = arg;
	struct user u;
	json_object *data;

	if (r->err != NULL && r->sqlstate != NULL && strcmp(r->sqlstate, "23505") == 0) {
		reg_rollback(c);
		http_reply_error(c->req, 409, "email_taken",
				 "This e-mail address is already registered in this tenant.", NULL);
		return;
	}
	if (r->err != NULL || PQntuples(r->res) != 1) {
		reg_abort_db(c, "insert user", r->err != NULL ? r : NULL);
		return;
	}
	user_registered_from_row(r->res, 0, &u);
	c->user_id = http_request_strdup(c->req, u.id);
	if ((data = user_registered_data(&u, c->app->cfg->require_email_verification)) == NULL) {
		reg_rollback(c);
		app_reply_internal(c->req, "build user event");
		return;
	}
	if (identity_event_add(c->tx, c->app->schema, EV_USER_REGISTERED, http_request_id(c->req),
			       data, c->user_id, reg_on_event, c) < 0)
		reg_abort_db(c, "add user event", NULL);
}

static void reg_on_begun(struct pg_tx *tx, const char *err, void *arg)
{
	struct reg_ctx *c = arg;
	int rc;

	if (tx == NULL) {
		struct pg_result r = {.res = NULL, .err = err, .sqlstate = ""};
		reg_wipe_hash(c);
		reg_abort_db(c, "begin", &r);
		return;
	}
	c->tx = tx;
	rc = user_store_insert(tx, c->tenant_id, &c->r, c->hash, reg_on_inserted, c);
	reg_wipe_hash(c);
	if (rc < 0)
		reg_abort_db(c, "insert user", NULL);
}

static void reg_hash_work(void *arg)
{
	struct reg_ctx *c = arg;

	app_worker_nice();
	if (!app_stopping(c->app)) /* on a forced stop the done callback answers 503 */
		c->hash = password_hash(c->password, &c->app->pw);
}

static void reg_hash_done(void *arg)
{
	struct reg_ctx *c = arg;

	explicit_bzero(c->password, strlen(c->password));
	if (c->hash == NULL) {
		if (app_stopping(c->app))
			app_reply_unavailable(c->req, "shutting down");
		else
			app_reply_internal(c->req, "password hash");
		return;
	}
	if (pg_tx_begin(c->app->pg, reg_on_begun, c) < 0) {
		reg_wipe_hash(c);
		app_reply_db_error(c->req, "begin", NULL);
	}
}

static void reg_on_tenant(const struct pg_result *r, void *arg)
{
	struct reg_ctx *c = arg;
	struct tenant t;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "find tenant", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_error(c->req, 404, "tenant_not_found", "No tenant has this slug.", NULL);
		return;
	}
	tenant_from_row(r->res, 0, 0, &t, NULL);
	if (tenant_status_blocks(t.status)) {
		http_reply_error(c->req, 403, "tenant_suspended", "This tenant is suspended.",
				 NULL);
		return;
	}
	snprintf(c->tenant_id, sizeof(c->tenant_id), "%s", t.id);
	(void)app_work_or_reply(c->app, c->req, reg_hash_work, reg_hash_done, c);
}

/* Copies the borrowed strings of r into request memory so the body can be released. */
static void reg_keep(struct reg_ctx *c)
{
	c->password = http_request_strdup(c->req, c->r.password);
	c->r.password = NULL;
	c->r.full_name = app_strdup(c->req, c->r.full_name);
	c->r.phone_number = app_strdup(c->req, c->r.phone_number);
	c->r.affiliate_code = app_strdup(c->req, c->r.affiliate_code);
}

void auth_http_register(struct http_request *req, void *arg)
{
	struct identity_app *app = arg;
	struct reg_ctx *c;
	struct iauth ia;
	bool signed_ok;
	json_object *body;
	struct jv v;

	if (app_iauth_or_reply(app, req, &ia, &signed_ok) < 0 ||
	    (body = http_request_json_or_reply(req)) == NULL)
		return;
	c = http_request_alloc(req, sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->app = app;
	c->req = req;
	jv_init(&v);
	if (register_req_parse(body, &c->r, &v) < 0) {
		json_object_put(body);
		http_reply_validation(req, &v);
		return;
	}
	reg_keep(c);
	json_object_put(body);
	if (tenant_store_by_slug(app->pg, c->r.tenant_slug, reg_on_tenant, c) < 0)
		app_reply_db_error(req, "find tenant", NULL);
}
