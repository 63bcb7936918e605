/*
 * tenant_patch_http.c - PATCH /v1/tenants/{tenant_id}: settings by the tenant's admins, the
 * status by platform admins only.
 *
 * One transaction: lock and update the tenant (404 when absent) -> when something changed,
 * identity.tenant.updated.v1, and identity.tenant.suspended.v1 when the status became
 * Suspended -> COMMIT. When the tenant became blocked (Suspended / Cancelled) every gateway
 * replica is told at once through Redis: each unrevoked key's fr:apikey:<prefix> becomes
 * "revoked" and each active session's fr:sess:<sid> "revoked|tenant_suspended"; when it
 * is unblocked those markers are deleted. Then 200 TenantDetail. An Internal tenant's
 * status cannot change (it holds the platform admins). Owns a per-request context in the
 * request's memory and the transaction until it ends.
 */
#include <string.h>

#include "app.h"
#include "authn.h"
#include "cred_cache.h"
#include "handlers.h"
#include "identity_events.h"
#include "identity_json.h"
#include "tenant_access.h"
#include "tenant_store.h"
#include "validate.h"

#define CRED_MARK_LIMIT 10000 /* keys and sessions marked per suspension (each) */

struct patch_ctx {
	struct identity_app *app;
	struct http_request *req;
	struct authn_caller caller;
	const char *tenant_id;
	struct pg_tx *tx;
	struct tenant_detail d;  /* after the change, in request memory */
	char *old_status;        /* request memory */
	char *changed;           /* comma-joined, request memory */
	char *updated_at;        /* request memory */
	json_object *suspended;  /* its event data until queued */
	bool block, unblock;     /* the change locks the tenant out / lets it back in */
};

static void patch_abort(struct patch_ctx *c, const char *what, const struct pg_result *r)
{
	json_object_put(c->suspended);
	c->suspended = NULL;
	if (c->tx != NULL) {
		pg_tx_rollback(c->tx, NULL, NULL);
		c->tx = NULL;
	}
	if (what != NULL)
		app_reply_db_error(c->req, what, r);
}

static void patch_reply(void *arg)
{
	struct patch_ctx *c = arg;

	http_reply_json(c->req, 200, tenant_detail_to_json(&c->d));
}

/* After the commit of a (un)blocking change: the markers, then the answer. */
static void patch_on_credentials(const struct pg_result *r, void *arg)
{
	struct patch_ctx *c = arg;
	struct cred_batch *b;

	if (r->err != NULL) { /* the caches' TTLs still end it within seconds */
		struct log_ctx lc = app_log_ctx(c->req, c->tenant_id, c->caller.user_id);
		log_warn(&lc, "tenant credentials not read", LS("error", r->err));
		patch_reply(c);
		return;
	}
	b = cred_batch_new(c->app, c->req, patch_reply, c);
	for (int i = 0; i < PQntuples(r->res); i++) {
		const char *kind = pg_val(r->res, i, 0), *v = pg_val(r->res, i, 1);
		bool key = kind != NULL && kind[0] == 'k';

		if (v == NULL)
			continue;
		if (key && c->block)
			cred_batch_revoke_key(b, v);
		else if (key)
			cred_batch_forget_key(b, v);
		else if (c->block)
			cred_batch_revoke_session(b, v, "tenant_suspended");
		else
			cred_batch_forget_session(b, v);
	}
	cred_batch_end(b);
}

static void patch_on_committed(const char *err, void *arg)
{
	struct patch_ctx *c = arg;
	struct log_ctx lc = app_log_ctx(c->req, c->tenant_id, c->caller.user_id);

	c->tx = NULL;
	if (err != NULL) {
		struct pg_result r = {.res = NULL, .err = err, .sqlstate = ""};
		app_reply_db_error(c->req, "commit tenant", &r);
		return;
	}
	app_outbox_kick(c->app);
	if (c->changed[0] != '\0')
		log_info(&lc, "tenant updated", LS("changed", c->changed),
			 LS("status", c->d.t.status));
	if (!c->block && !c->unblock) {
		patch_reply(c);
		return;
	}
	if (tenant_store_credentials(c->app->pg, c->tenant_id, CRED_MARK_LIMIT,
				     patch_on_credentials, c) < 0)
		patch_reply(c);
}

static void patch_on_event(const struct pg_result *r, void *arg)
{
	struct patch_ctx *c = arg;
	json_object *next = c->suspended;

	if (r->err != NULL) {
		patch_abort(c, "add tenant event", r);
		return;
	}
	if (next == NULL) {
		pg_tx_commit(c->tx, patch_on_committed, c);
		return;
	}
	c->suspended = NULL;
	if (identity_event_add(c->tx, c->app->schema, EV_TENANT_SUSPENDED, http_request_id(c->req),
			       next, c->tenant_id, patch_on_event, c) < 0)
		patch_abort(c, "add suspension event", NULL);
}

/* Events of the change (updated, then suspended when due), in order. */
static void patch_add_events(struct patch_ctx *c)
{
	json_object *data = tenant_updated_data(&c->d.t, c->changed, c->updated_at);
	bool suspending =
		strcmp(c->d.t.status, "Suspended") == 0 && strcmp(c->old_status, "Suspended") != 0;

	if (suspending)
		c->suspended = tenant_suspended_data(&c->d.t, c->old_status, NULL,
						     c->caller.user_id, c->updated_at);
	if (data == NULL || (suspending && c->suspended == NULL)) {
		json_object_put(data);
		patch_abort(c, NULL, NULL);
		app_reply_internal(c->req, "build tenant events");
		return;
	}
	if (identity_event_add(c->tx, c->app->schema, EV_TENANT_UPDATED, http_request_id(c->req),
			       data, c->tenant_id, patch_on_event, c) < 0)
		patch_abort(c, "add tenant event", NULL);
}

static void patch_on_row(const struct pg_result *r, void *arg)
{
	struct patch_ctx *c = arg;
	struct jv v;

	if (r->err != NULL) {
		patch_abort(c, "update tenant", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		patch_abort(c, NULL, NULL);
		http_reply_error(c->req, 404, "tenant_not_found", "No such tenant.", NULL);
		return;
	}
	tenant_detail_from_row(r->res, 0, 0, &c->d, c->req);
	c->old_status = http_request_strdup(c->req, pg_val(r->res, 0, TENANT_UPD_COL_OLD_STATUS));
	c->changed = http_request_strdup(c->req, pg_val(r->res, 0, TENANT_UPD_COL_CHANGED));
	c->updated_at = http_request_strdup(c->req, pg_val(r->res, 0, TENANT_UPD_COL_UPDATED_AT));
	if (strcmp(c->d.t.kind, "Internal") == 0 && strcmp(c->old_status, c->d.t.status) != 0) {
		patch_abort(c, NULL, NULL);
		jv_init(&v);
		jv_fail(&v, "status", "cannot change on an Internal tenant");
		http_reply_validation(c->req, &v);
		return;
	}
	c->block = tenant_status_blocks(c->d.t.status) && !tenant_status_blocks(c->old_status);
	c->unblock = !tenant_status_blocks(c->d.t.status) && tenant_status_blocks(c->old_status);
	if (c->changed[0] == '\0') /* same values as before: nothing to announce */
		pg_tx_commit(c->tx, patch_on_committed, c);
	else
		patch_add_events(c);
}

struct patch_begin {
	struct patch_ctx *c;
	struct tenant_patch p; /* strings in request memory; origins malloc'd until queued */
};

static void patch_on_begun(struct pg_tx *tx, const char *err, void *arg)
{
	struct patch_begin *b = arg;
	struct patch_ctx *c = b->c;
	int rc;

	if (tx == NULL) {
		struct pg_result r = {.res = NULL, .err = err, .sqlstate = ""};
		tenant_patch_free(&b->p);
		patch_abort(c, "begin", &r);
		return;
	}
	c->tx = tx;
	rc = tenant_store_update(tx, c->tenant_id, &b->p, patch_on_row, c);
	tenant_patch_free(&b->p);
	if (rc < 0)
		patch_abort(c, "update tenant", NULL);
}

/* An empty patch changes nothing: the tenant as it is. */
static void patch_on_current(const struct pg_result *r, void *arg)
{
	struct patch_ctx *c = arg;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "get tenant", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_error(c->req, 404, "tenant_not_found", "No such tenant.", NULL);
		return;
	}
	tenant_detail_from_row(r->res, 0, 0, &c->d, NULL);
	patch_reply(c);
}

/* Copies the patch's values into request memory (the body is released before the query). */
static void patch_keep(struct http_request *req, struct tenant_patch *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->set[i].value != p->origins)
			p->set[i].value = app_strdup(req, p->set[i].value);
	p->status = app_strdup(req, p->status);
}

static void patch_as(struct http_request *req, const struct authn_caller *caller, void *arg)
{
	struct patch_ctx *c = arg;
	struct patch_begin *b = http_request_alloc(req, sizeof(*b));
	json_object *body;
	struct jv v;

	c->caller = *caller;
	b->c = c;
	if ((c->tenant_id = uuid_param_or_reply(req, "tenant_id")) == NULL ||
	    tenant_admin_or_reply(req, caller, c->tenant_id) < 0 ||
	    (body = http_request_json_or_reply(req)) == NULL)
		return;
	jv_init(&v);
	if (tenant_patch_parse(body, &b->p, &v) < 0) {
		json_object_put(body);
		http_reply_validation(req, &v);
		return;
	}
	patch_keep(req, &b->p);
	json_object_put(body);
	if (b->p.status != NULL && !caller->is_admin) {
		tenant_patch_free(&b->p);
		http_reply_error(req, 403, "forbidden", "Only a platform admin may change the status.",
				 NULL);
		return;
	}
	if (b->p.n == 0) {
		if (tenant_store_get(c->app->pg, c->tenant_id, patch_on_current, c) < 0)
			app_reply_db_error(req, "get tenant", NULL);
		return;
	}
	if (pg_tx_begin(c->app->pg, patch_on_begun, b) < 0) {
		tenant_patch_free(&b->p);
		app_reply_db_error(req, "begin", NULL);
	}
}

void tenant_http_patch(struct http_request *req, void *app)
{
	struct patch_ctx *c = http_request_alloc(req, sizeof(*c));

	memset(c, 0, sizeof(*c));
	c->app = app;
	c->req = req;
	authn_resolve(app, req, 0, patch_as, c);
}
