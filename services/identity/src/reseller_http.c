/*
 * reseller_http.c - identity's side of the reseller API (contracts/rest/reseller-api.openapi
 * .yaml): GET /v1/reseller/me, GET /v1/reseller/users, GET /v1/reseller/users/{user_id},
 * POST /v1/reseller/users.
 *
 * Only the gateway reaches these, for a caller it authenticated with an API key: a valid
 * internal signature (common/iauth.h) naming an api_key_id and the key's tenant. Anything
 * else is 401. As defence in depth the signed scopes are checked again here (users:read /
 * users:write, else 403 scope_denied). Every query is confined to the key's tenant.
 * POST creates the user like register does (user_create.c: hash on the worker pool, then the
 * user and its identity.user.registered.v1 in one transaction; 409 email_taken) and answers
 * 201 User. Owns a per-request context in the request's memory.
 */
#include <stdlib.h>
#include <string.h>

#include "apikey_store.h"
#include "app.h"
#include "common/crypto.h"
#include "handlers.h"
#include "identity_json.h"
#include "tenant_access.h"
#include "tenant_store.h"
#include "user_create.h"
#include "user_store.h"
#include "validate.h"

struct res_ctx {
	struct identity_app *app;
	struct http_request *req;
	struct iauth ia;
	struct page page;
	struct reseller_user_req r; /* POST: e-mail copied, the rest borrowed from the body */
	struct user_create uc;      /* POST: the user to create */
};

/* A context for an API-key caller holding scope (NULL = any key); else replies 401 / 403 and
 * returns NULL. */
static struct res_ctx *reseller_or_reply(struct identity_app *app, struct http_request *req,
					 const char *scope)
{
	struct res_ctx *c;
	json_object *details;
	struct iauth ia;
	bool signed_ok;

	if (app_iauth_or_reply(app, req, &ia, &signed_ok) < 0)
		return NULL;
	if (!signed_ok || !uuid_valid(ia.api_key_id) || !uuid_valid(ia.tenant_id)) {
		http_reply_error(req, 401, "token_missing",
				 "This route needs an API key, through the gateway.", NULL);
		return NULL;
	}
	if (scope != NULL && !iauth_has_scope(&ia, scope)) {
		details = json_object_new_object();
		json_set_str(details, "required_scope", scope);
		http_reply_error(req, 403, "scope_denied", "The API key lacks a required scope.",
				 details);
		return NULL;
	}
	http_request_set_log_ids(req, ia.tenant_id, NULL);
	c = http_request_alloc(req, sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->app = app;
	c->req = req;
	c->ia = ia;
	return c;
}

/* ---- GET /v1/reseller/me ------------------------------------------------------------------- */

static void me_on_row(const struct pg_result *r, void *arg)
{
	struct res_ctx *c = arg;
	json_object *body, *key;
	struct tenant t;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "reseller me", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_error(c->req, 401, "api_key_invalid", "The API key is not valid.", NULL);
		return;
	}
	if (pg_bool(r->res, 0, ME_COL_REVOKED) || pg_bool(r->res, 0, ME_COL_EXPIRED)) {
		bool revoked = pg_bool(r->res, 0, ME_COL_REVOKED);
		http_reply_error(c->req, 401, revoked ? "api_key_revoked" : "api_key_expired",
				 revoked ? "The API key was revoked." : "The API key has expired.",
				 NULL);
		return;
	}
	tenant_from_row(r->res, 0, 0, &t, NULL);
	if (tenant_status_blocks(t.status)) {
		http_reply_error(c->req, 403, "tenant_suspended", "This tenant is suspended.", NULL);
		return;
	}
	key = json_object_new_object();
	json_set_str(key, "id", pg_val(r->res, 0, ME_COL_KEY_ID));
	json_set_str(key, "name", pg_val(r->res, 0, ME_COL_NAME));
	json_set_str(key, "key_prefix", pg_val(r->res, 0, ME_COL_PREFIX));
	json_set_str(key, "environment", pg_val(r->res, 0, ME_COL_ENVIRONMENT));
	json_object_object_add(key, "scopes", csv_to_json_array(pg_val(r->res, 0, ME_COL_SCOPES)));
	body = json_object_new_object();
	json_object_object_add(body, "tenant", tenant_to_json(&t));
	json_object_object_add(body, "api_key", key);
	http_reply_json(c->req, 200, body);
}

void reseller_http_me(struct http_request *req, void *app)
{
	struct res_ctx *c = reseller_or_reply(app, req, NULL);

	if (c != NULL && apikey_store_me(c->app->pg, c->ia.api_key_id, c->ia.tenant_id, me_on_row,
					 c) < 0)
		app_reply_db_error(req, "reseller me", NULL);
}

/* ---- GET /v1/reseller/users ---------------------------------------------------------------- */

static void users_on_rows(const struct pg_result *r, void *arg)
{
	struct res_ctx *c = arg;
	long long total = 0;
	json_object *items;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "list users", r);
		return;
	}
	items = json_object_new_array();
	for (int i = 0; i < PQntuples(r->res); i++) {
		struct user u;

		total = pg_int(r->res, i, 0);
		if (PQgetisnull(r->res, i, 1))
			continue; /* the page is past the end */
		user_from_row(r->res, i, 1, &u, NULL);
		json_object_array_add(items, user_to_json(&u));
	}
	http_reply_json(c->req, 200, page_to_json(items, c->page.page, c->page.size, total));
}

void reseller_http_users_list(struct http_request *req, void *app)
{
	struct res_ctx *c = reseller_or_reply(app, req, "users:read");

	if (c == NULL || page_or_reply(req, &c->page) < 0)
		return;
	if (user_store_list(c->app->pg, c->ia.tenant_id, c->page.size,
			    (c->page.page - 1) * c->page.size, users_on_rows, c) < 0)
		app_reply_db_error(req, "list users", NULL);
}

/* ---- GET /v1/reseller/users/{user_id} ------------------------------------------------------ */

static void user_on_row(const struct pg_result *r, void *arg)
{
	struct res_ctx *c = arg;
	struct user u;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "get user", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_error(c->req, 404, "user_not_found", "No such user in this tenant.", NULL);
		return;
	}
	user_from_row(r->res, 0, 0, &u, NULL);
	http_reply_json(c->req, 200, user_to_json(&u));
}

void reseller_http_users_get(struct http_request *req, void *app)
{
	struct res_ctx *c = reseller_or_reply(app, req, "users:read");
	const char *id;

	if (c == NULL || (id = uuid_param_or_reply(req, "user_id")) == NULL)
		return;
	if (user_store_get_in_tenant(c->app->pg, c->ia.tenant_id, id, user_on_row, c) < 0)
		app_reply_db_error(req, "get user", NULL);
}

/* ---- POST /v1/reseller/users --------------------------------------------------------------- */

static void create_done(struct user_create *uc)
{
	struct res_ctx *c = uc->arg;
	struct log_ctx lc = app_log_ctx(c->req, c->ia.tenant_id, uc->u.id);

	app_count(c->app, M_REGISTRATIONS, NULL);
	log_info(&lc, "user created by api key", LS("api_key_id", c->ia.api_key_id));
	http_reply_json(c->req, 201, user_to_json(&uc->u));
}

/* The key's tenant must still be active before any hashing. */
static void create_on_tenant(const struct pg_result *r, void *arg)
{
	struct res_ctx *c = arg;
	struct tenant_detail d;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "find tenant", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_error(c->req, 401, "api_key_invalid", "The API key is not valid.", NULL);
		return;
	}
	tenant_detail_from_row(r->res, 0, 0, &d, NULL);
	if (tenant_status_blocks(d.t.status)) {
		http_reply_error(c->req, 403, "tenant_suspended", "This tenant is suspended.", NULL);
		return;
	}
	user_create_start(&c->uc);
}

void reseller_http_users_create(struct http_request *req, void *app)
{
	struct res_ctx *c = reseller_or_reply(app, req, "users:write");
	json_object *body;
	struct jv v;

	if (c == NULL || (body = http_request_json_or_reply(req)) == NULL)
		return;
	jv_init(&v);
	if (reseller_user_parse(body, &c->r, &v) < 0) {
		json_object_put(body);
		http_reply_validation(req, &v);
		return;
	}
	c->uc = (struct user_create){
		.app = c->app,
		.req = req,
		.password = http_request_strdup(req, c->r.password),
		.verification_required = c->app->cfg->require_email_verification,
		.done = create_done,
		.arg = c};
	c->uc.n = (struct user_new){.tenant_id = c->ia.tenant_id,
				    .email = c->r.email,
				    .full_name = app_strdup(req, c->r.full_name),
				    .phone_number = app_strdup(req, c->r.phone_number)};
	c->r.password = NULL;
	json_object_put(body);
	if (tenant_store_get(c->app->pg, c->ia.tenant_id, create_on_tenant, c) < 0)
		app_reply_db_error(req, "find tenant", NULL);
}
