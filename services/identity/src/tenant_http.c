/*
 * tenant_http.c - the tenant administration API: POST /v1/tenants, GET /v1/tenants,
 * GET /v1/tenants/{tenant_id} (PATCH is in tenant_patch_http.c).
 *
 * POST (platform admins only): validate -> user_create.c hashes the first admin's password on
 * the worker pool -> one transaction: the tenant (409 slug_taken) and its
 * identity.tenant.created.v1, then (user_create.c) its tenant admin and that admin's
 * identity.user.registered.v1 -> COMMIT -> 201 TenantDetail. Any failure rolls back: no tenant
 * without its admin and its events.
 * Owns a per-request context in the request's memory.
 */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "authn.h"
#include "handlers.h"
#include "identity_events.h"
#include "identity_json.h"
#include "tenant_access.h"
#include "tenant_store.h"
#include "user_create.h"
#include "validate.h"

struct tenant_ctx {
	struct identity_app *app;
	struct http_request *req;
	struct authn_caller caller;
	struct tenant_create_req r; /* strings in request memory */
	struct user_create uc;      /* the tenant's first admin, in the tenant's transaction */
	struct tenant_detail d;     /* the inserted tenant, in request memory */
	struct page page;
};

static struct tenant_ctx *tenant_ctx_new(struct http_request *req, struct identity_app *app)
{
	struct tenant_ctx *c = http_request_alloc(req, sizeof(*c));

	memset(c, 0, sizeof(*c));
	c->app = app;
	c->req = req;
	return c;
}

/* ---- POST /v1/tenants ---------------------------------------------------------------------- */

static void create_done(struct user_create *uc)
{
	struct tenant_ctx *c = uc->arg;
	struct log_ctx lc = app_log_ctx(c->req, c->d.t.id, c->caller.user_id);

	log_info(&lc, "tenant created", LS("slug", c->d.t.slug));
	http_reply_json(c->req, 201, tenant_detail_to_json(&c->d));
}

/* identity.tenant.created.v1 is in: its first admin follows (user_create.c). */
static void create_on_tenant_event(const struct pg_result *r, void *arg)
{
	struct tenant_ctx *c = arg;

	if (r->err != NULL) {
		user_create_fail(&c->uc, "add tenant event", r);
		return;
	}
	c->uc.n.tenant_id = c->d.t.id;
	user_create_insert(&c->uc);
}

static void create_on_tenant(const struct pg_result *r, void *arg)
{
	struct tenant_ctx *c = arg;
	struct tenant t;
	json_object *data;

	if (r->err != NULL && r->sqlstate != NULL && strcmp(r->sqlstate, "23505") == 0) {
		user_create_fail(&c->uc, NULL, NULL);
		http_reply_error(c->req, 409, "slug_taken", "Another tenant has this slug.", NULL);
		return;
	}
	if (r->err != NULL || PQntuples(r->res) != 1) {
		user_create_fail(&c->uc, "insert tenant", r->err != NULL ? r : NULL);
		return;
	}
	tenant_detail_from_row(r->res, 0, 0, &c->d, c->req);
	t = c->d.t;
	t.created_at = pg_val(r->res, 0, TENANT_DETAIL_NCOLS); /* with milliseconds */
	if ((data = tenant_created_data(&t)) == NULL) {
		user_create_fail(&c->uc, NULL, NULL);
		app_reply_internal(c->req, "build tenant events");
		return;
	}
	if (identity_event_add(c->uc.tx, c->app->schema, EV_TENANT_CREATED, http_request_id(c->req),
			       data, c->d.t.id, create_on_tenant_event, c) < 0)
		user_create_fail(&c->uc, "add tenant event", NULL);
}

/* The first step of the transaction: the tenant, before its admin. */
static void create_before(struct user_create *uc)
{
	struct tenant_ctx *c = uc->arg;

	if (tenant_store_insert(uc->tx, &c->r, create_on_tenant, c) < 0)
		user_create_fail(uc, "insert tenant", NULL);
}

/* Copies the body's strings into request memory so the body can be released; the tenant's
 * first admin is created by user_create.c. */
static void create_keep(struct tenant_ctx *c)
{
	struct tenant_create_req *r = &c->r;
	struct user_create *uc = &c->uc;

	uc->password = http_request_strdup(c->req, r->admin_password);
	r->admin_password = NULL;
	r->slug = app_strdup(c->req, r->slug);
	r->name = app_strdup(c->req, r->name);
	r->kind = app_strdup(c->req, r->kind);
	r->contact_name = app_strdup(c->req, r->contact_name);
	r->contact_email = app_strdup(c->req, r->contact_email);
	r->contact_phone = app_strdup(c->req, r->contact_phone);
	uc->app = c->app;
	uc->req = c->req;
	uc->n = (struct user_new){.email = r->admin_email,
				  .full_name = r->contact_name,
				  .is_tenant_admin = true,
				  .email_verified = true};
	uc->verification_required = false;
	uc->before = create_before;
	uc->done = create_done;
	uc->arg = c;
}

static void create_as(struct http_request *req, const struct authn_caller *caller, void *arg)
{
	struct tenant_ctx *c = arg;
	json_object *body;
	struct jv v;

	c->caller = *caller;
	if (platform_admin_or_reply(req, caller) < 0 ||
	    (body = http_request_json_or_reply(req)) == NULL)
		return;
	jv_init(&v);
	if (tenant_create_parse(body, &c->r, &v) < 0) {
		json_object_put(body);
		http_reply_validation(req, &v);
		return;
	}
	create_keep(c);
	json_object_put(body);
	user_create_start(&c->uc);
}

void tenant_http_create(struct http_request *req, void *app)
{
	authn_resolve(app, req, 0, create_as, tenant_ctx_new(req, app));
}

/* ---- GET /v1/tenants ----------------------------------------------------------------------- */

static void list_on_rows(const struct pg_result *r, void *arg)
{
	struct tenant_ctx *c = arg;
	long long total = 0;
	json_object *items;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "list tenants", r);
		return;
	}
	items = json_object_new_array();
	for (int i = 0; i < PQntuples(r->res); i++) {
		struct tenant_detail d;

		total = pg_int(r->res, i, 0);
		if (PQgetisnull(r->res, i, 1))
			continue; /* the page is past the end */
		tenant_detail_from_row(r->res, i, 1, &d, NULL);
		json_object_array_add(items, tenant_detail_to_json(&d));
	}
	http_reply_json(c->req, 200, page_to_json(items, c->page.page, c->page.size, total));
}

static void list_as(struct http_request *req, const struct authn_caller *caller, void *arg)
{
	struct tenant_ctx *c = arg;

	if (platform_admin_or_reply(req, caller) < 0 || page_or_reply(req, &c->page) < 0)
		return;
	if (tenant_store_list(c->app->pg, c->page.size, (c->page.page - 1) * c->page.size,
			      list_on_rows, c) < 0)
		app_reply_db_error(req, "list tenants", NULL);
}

void tenant_http_list(struct http_request *req, void *app)
{
	authn_resolve(app, req, 0, list_as, tenant_ctx_new(req, app));
}

/* ---- GET /v1/tenants/{tenant_id} ----------------------------------------------------------- */

static void get_on_row(const struct pg_result *r, void *arg)
{
	struct tenant_ctx *c = arg;
	struct tenant_detail d;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "get tenant", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_error(c->req, 404, "tenant_not_found", "No such tenant.", NULL);
		return;
	}
	tenant_detail_from_row(r->res, 0, 0, &d, NULL);
	http_reply_json(c->req, 200, tenant_detail_to_json(&d));
}

static void get_as(struct http_request *req, const struct authn_caller *caller, void *arg)
{
	struct tenant_ctx *c = arg;
	const char *id;

	if ((id = uuid_param_or_reply(req, "tenant_id")) == NULL ||
	    tenant_admin_or_reply(req, caller, id) < 0)
		return;
	if (tenant_store_get(c->app->pg, id, get_on_row, c) < 0)
		app_reply_db_error(req, "get tenant", NULL);
}

void tenant_http_get(struct http_request *req, void *app)
{
	authn_resolve(app, req, 0, get_as, tenant_ctx_new(req, app));
}
