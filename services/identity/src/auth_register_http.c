/*
 * auth_register_http.c - POST /v1/auth/register.
 *
 * Steps: validate the body -> find the tenant (404 / 403) -> user_create.c (hash the password
 * on the worker pool, then the user and its identity.user.registered.v1 in one transaction;
 * 409 on a taken e-mail) -> 201 {user_id, verification_required}.
 * Owns a per-request context in the request's memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "common/json.h"
#include "handlers.h"
#include "tenant_store.h"
#include "user_create.h"
#include "validate.h"

struct reg_ctx {
	struct register_req r; /* strings copied into request memory */
	char tenant_id[37];
	struct user_create uc;
};

static void reg_done(struct user_create *uc)
{
	struct reg_ctx *c = uc->arg;
	struct log_ctx lc = app_log_ctx(uc->req, c->tenant_id, uc->u.id);
	json_object *body;

	http_request_set_log_ids(uc->req, c->tenant_id, uc->u.id);
	log_info(&lc, "user registered");
	app_count(uc->app, M_REGISTRATIONS, NULL);
	body = json_object_new_object();
	json_set_str(body, "user_id", uc->u.id);
	json_set_bool(body, "verification_required", uc->verification_required);
	http_reply_json(uc->req, 201, body);
}

static void reg_on_tenant(const struct pg_result *r, void *arg)
{
	struct reg_ctx *c = arg;
	struct http_request *req = c->uc.req;
	struct tenant t;

	if (r->err != NULL) {
		app_reply_db_error(req, "find tenant", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_error(req, 404, "tenant_not_found", "No tenant has this slug.", NULL);
		return;
	}
	tenant_from_row(r->res, 0, 0, &t, NULL);
	if (tenant_status_blocks(t.status)) {
		http_reply_error(req, 403, "tenant_suspended", "This tenant is suspended.", NULL);
		return;
	}
	snprintf(c->tenant_id, sizeof(c->tenant_id), "%s", t.id);
	user_create_start(&c->uc);
}

/* The user to create, its strings copied into request memory so the body can be released. */
static void reg_keep(struct reg_ctx *c, struct identity_app *app, struct http_request *req)
{
	struct user_create *uc = &c->uc;

	uc->app = app;
	uc->req = req;
	uc->password = http_request_strdup(req, c->r.password);
	c->r.password = NULL;
	uc->n = (struct user_new){.tenant_id = c->tenant_id,
				  .email = c->r.email,
				  .full_name = app_strdup(req, c->r.full_name),
				  .phone_number = app_strdup(req, c->r.phone_number),
				  .affiliate_code = app_strdup(req, c->r.affiliate_code),
				  .accept_terms = c->r.accept_terms};
	uc->verification_required = app->cfg->require_email_verification;
	uc->done = reg_done;
	uc->arg = c;
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
	jv_init(&v);
	if (register_req_parse(body, &c->r, &v) < 0) {
		json_object_put(body);
		http_reply_validation(req, &v);
		return;
	}
	reg_keep(c, app, req);
	json_object_put(body);
	if (tenant_store_by_slug(app->pg, c->r.tenant_slug, reg_on_tenant, c) < 0)
		app_reply_db_error(req, "find tenant", NULL);
}
