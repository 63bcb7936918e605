/*
 * apikey_http.c - a tenant's API keys: POST and GET /v1/tenants/{tenant_id}/api-keys,
 * DELETE /v1/tenants/{tenant_id}/api-keys/{api_key_id}. Tenant admins of that tenant, or
 * platform admins (tenant_access.h).
 *
 * POST generates the key from the CSPRNG (apikey.h), stores only its prefix, last4 and
 * SHA-256, deletes a stale negative cache entry of the prefix and answers 201 with the key in
 * secret_key: the only time it is ever shown (it is never logged).
 * DELETE is one transaction: revoke + identity.api_key.revoked.v1 -> COMMIT; then the
 * gateway's fr:apikey:<prefix> becomes "revoked" (awaited, best effort) -> 204. Revoking a
 * key that is already revoked changes nothing and emits nothing (204 again).
 * Owns a per-request context in the request's memory and the transaction until it ends.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apikey.h"
#include "apikey_store.h"
#include "app.h"
#include "authn.h"
#include "cred_cache.h"
#include "handlers.h"
#include "identity_events.h"
#include "identity_json.h"
#include "tenant_access.h"
#include "validate.h"

#define KEY_ATTEMPTS 3 /* a prefix collision (62^8 space) is retried with a new key */

struct key_ctx {
	struct identity_app *app;
	struct http_request *req;
	struct authn_caller caller;
	const char *tenant_id;
	const char *key_id;
	struct apikey_create_req r; /* literals copied into request memory */
	struct apikey_secret secret;
	int attempts;
	json_object *created; /* the 201 body until the cache entry is cleared */
	const char *reason;   /* DELETE's optional reason */
	struct pg_tx *tx;
	char *prefix; /* of the revoked key, request memory */
	struct page page;
};

static struct key_ctx *key_ctx_new(struct http_request *req, struct identity_app *app)
{
	struct key_ctx *c = http_request_alloc(req, sizeof(*c));

	memset(c, 0, sizeof(*c));
	c->app = app;
	c->req = req;
	return c;
}

/* ---- POST /v1/tenants/{tenant_id}/api-keys ------------------------------------------------- */

static void create_reply(void *arg)
{
	struct key_ctx *c = arg;
	json_object *body = c->created;

	c->created = NULL;
	http_reply_json(c->req, 201, body);
}

static int create_insert(struct key_ctx *c);

static void create_on_row(const struct pg_result *r, void *arg)
{
	struct key_ctx *c = arg;
	struct log_ctx lc = app_log_ctx(c->req, c->tenant_id, c->caller.user_id);
	struct cred_batch *b;
	struct api_key k;

	if (r->err != NULL && r->sqlstate != NULL && strcmp(r->sqlstate, "23505") == 0 &&
	    c->attempts < KEY_ATTEMPTS) {
		if (create_insert(c) < 0)
			app_reply_db_error(c->req, "insert api key", NULL);
		return;
	}
	if (r->err != NULL) {
		apikey_secret_wipe(&c->secret);
		app_reply_db_error(c->req, "insert api key", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		apikey_secret_wipe(&c->secret);
		http_reply_error(c->req, 404, "tenant_not_found", "No such tenant.", NULL);
		return;
	}
	api_key_from_row(r->res, 0, 0, &k, NULL);
	c->created = api_key_to_json(&k, c->secret.key);
	apikey_secret_wipe(&c->secret);
	c->prefix = http_request_strdup(c->req, k.key_prefix);
	log_info(&lc, "api key created", LS("api_key_id", k.id), LS("key_prefix", k.key_prefix));
	/* a gateway may have cached the prefix as unknown ("none") */
	b = cred_batch_new(c->app, c->req, create_reply, c);
	cred_batch_forget_key(b, c->prefix);
	cred_batch_end(b);
}

/* Generates a key and inserts it; -1 when nothing was queued (the secret is wiped). */
static int create_insert(struct key_ctx *c)
{
	struct api_key_new n;

	c->attempts++;
	if (apikey_generate(c->r.environment, &c->secret) < 0)
		return -1;
	n = (struct api_key_new){.tenant_id = c->tenant_id,
				 .r = &c->r,
				 .key_prefix = c->secret.prefix,
				 .last4 = c->secret.last4,
				 .key_hash = c->secret.hash,
				 .created_by = c->caller.user_id};
	if (apikey_store_insert(c->app->pg, &n, create_on_row, c) == 0)
		return 0;
	apikey_secret_wipe(&c->secret);
	return -1;
}

/* Copies the request's strings into request memory; frees the parser's literals. */
static void create_keep(struct key_ctx *c)
{
	struct apikey_create_req *r = &c->r;
	char *scopes = r->scopes, *ips = r->allowed_ips;

	r->name = app_strdup(c->req, r->name);
	r->environment = app_strdup(c->req, r->environment);
	r->expires_at = app_strdup(c->req, r->expires_at);
	r->scopes = app_strdup(c->req, scopes);
	r->allowed_ips = app_strdup(c->req, ips);
	free(scopes);
	free(ips);
}

static void create_as(struct http_request *req, const struct authn_caller *caller, void *arg)
{
	struct key_ctx *c = arg;
	json_object *body;
	struct jv v;

	c->caller = *caller;
	if ((c->tenant_id = uuid_param_or_reply(req, "tenant_id")) == NULL ||
	    tenant_admin_or_reply(req, caller, c->tenant_id) < 0 ||
	    (body = http_request_json_or_reply(req)) == NULL)
		return;
	jv_init(&v);
	if (apikey_create_parse(body, time(NULL), &c->r, &v) < 0) {
		json_object_put(body);
		http_reply_validation(req, &v);
		return;
	}
	create_keep(c);
	json_object_put(body);
	if (create_insert(c) < 0)
		app_reply_db_error(req, "insert api key", NULL);
}

void apikey_http_create(struct http_request *req, void *app)
{
	authn_resolve(app, req, 0, create_as, key_ctx_new(req, app));
}

/* ---- GET /v1/tenants/{tenant_id}/api-keys -------------------------------------------------- */

static void list_on_rows(const struct pg_result *r, void *arg)
{
	struct key_ctx *c = arg;
	long long total = 0;
	json_object *items;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "list api keys", r);
		return;
	}
	items = json_object_new_array();
	for (int i = 0; i < PQntuples(r->res); i++) {
		struct api_key k;

		total = pg_int(r->res, i, 0);
		if (PQgetisnull(r->res, i, 1))
			continue; /* the page is past the end */
		api_key_from_row(r->res, i, 1, &k, NULL);
		json_object_array_add(items, api_key_to_json(&k, NULL));
	}
	http_reply_json(c->req, 200, page_to_json(items, c->page.page, c->page.size, total));
}

static void list_as(struct http_request *req, const struct authn_caller *caller, void *arg)
{
	struct key_ctx *c = arg;

	if ((c->tenant_id = uuid_param_or_reply(req, "tenant_id")) == NULL ||
	    tenant_admin_or_reply(req, caller, c->tenant_id) < 0 || page_or_reply(req, &c->page) < 0)
		return;
	if (apikey_store_list(c->app->pg, c->tenant_id, c->page.size,
			      (c->page.page - 1) * c->page.size, list_on_rows, c) < 0)
		app_reply_db_error(req, "list api keys", NULL);
}

void apikey_http_list(struct http_request *req, void *app)
{
	authn_resolve(app, req, 0, list_as, key_ctx_new(req, app));
}

/* ---- DELETE /v1/tenants/{tenant_id}/api-keys/{api_key_id} ---------------------------------- */

static void revoke_abort(struct key_ctx *c, const char *what, const struct pg_result *r)
{
	if (c->tx != NULL) {
		pg_tx_rollback(c->tx, NULL, NULL);
		c->tx = NULL;
	}
	if (what != NULL)
		app_reply_db_error(c->req, what, r);
}

static void revoke_reply(void *arg)
{
	struct key_ctx *c = arg;

	http_reply_empty(c->req, 204);
}

/* The revocation is final in the database: tell the gateways, then answer. */
static void revoke_mark(struct key_ctx *c)
{
	struct cred_batch *b = cred_batch_new(c->app, c->req, revoke_reply, c);

	cred_batch_revoke_key(b, c->prefix);
	cred_batch_end(b);
}

static void revoke_on_committed(const char *err, void *arg)
{
	struct key_ctx *c = arg;
	struct log_ctx lc = app_log_ctx(c->req, c->tenant_id, c->caller.user_id);

	c->tx = NULL;
	if (err != NULL) {
		struct pg_result r = {.res = NULL, .err = err, .sqlstate = ""};
		app_reply_db_error(c->req, "commit revocation", &r);
		return;
	}
	app_outbox_kick(c->app);
	log_info(&lc, "api key revoked", LS("api_key_id", c->key_id), LS("key_prefix", c->prefix));
	revoke_mark(c);
}

static void revoke_on_event(const struct pg_result *r, void *arg)
{
	struct key_ctx *c = arg;

	if (r->err != NULL) {
		revoke_abort(c, "add api key event", r);
		return;
	}
	pg_tx_commit(c->tx, revoke_on_committed, c);
}

static void revoke_on_row(const struct pg_result *r, void *arg)
{
	struct key_ctx *c = arg;
	enum key_revoke_reason why;
	json_object *data;

	if (r->err != NULL) {
		revoke_abort(c, "revoke api key", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		revoke_abort(c, NULL, NULL);
		http_reply_error(c->req, 404, "api_key_not_found", "No such API key.", NULL);
		return;
	}
	c->prefix = http_request_strdup(c->req, pg_val(r->res, 0, REVOKE_COL_PREFIX));
	if (!pg_bool(r->res, 0, REVOKE_COL_CHANGED)) { /* already revoked: nothing to announce */
		revoke_abort(c, NULL, NULL);
		revoke_mark(c);
		return;
	}
	why = strcmp(c->caller.tenant_id, c->tenant_id) == 0 ? KEY_REVOKE_REVOKED
							     : KEY_REVOKE_ADMIN;
	data = api_key_revoked_data(c->key_id, c->tenant_id, c->prefix, why, c->caller.user_id,
				    pg_val(r->res, 0, REVOKE_COL_REVOKED_AT));
	if (data == NULL) {
		revoke_abort(c, NULL, NULL);
		app_reply_internal(c->req, "build api key event");
		return;
	}
	if (identity_event_add(c->tx, c->app->schema, EV_API_KEY_REVOKED, http_request_id(c->req),
			       data, c->key_id, revoke_on_event, c) < 0)
		revoke_abort(c, "add api key event", NULL);
}

static void revoke_on_begun(struct pg_tx *tx, const char *err, void *arg)
{
	struct key_ctx *c = arg;

	if (tx == NULL) {
		struct pg_result r = {.res = NULL, .err = err, .sqlstate = ""};
		revoke_abort(c, "begin", &r);
		return;
	}
	c->tx = tx;
	if (apikey_store_revoke(tx, c->key_id, c->tenant_id, c->reason, revoke_on_row, c) < 0)
		revoke_abort(c, "revoke api key", NULL);
}

static const char *const revoke_fields[] = {"reason", NULL};

/* The optional body {"reason"} into c->reason; replies and returns -1 when it is invalid. */
static int revoke_reason_or_reply(struct key_ctx *c)
{
	json_object *body;
	size_t len = 0;
	struct jv v;

	(void)http_request_body(c->req, &len);
	if (len == 0)
		return 0;
	if ((body = http_request_json_or_reply(c->req)) == NULL)
		return -1;
	jv_init(&v);
	jv_no_unknown(&v, body, revoke_fields);
	c->reason = app_strdup(c->req, jv_string(&v, body, "reason", JV_OPTIONAL, 0, 500));
	json_object_put(body);
	if (!jv_failed(&v))
		return 0;
	http_reply_validation(c->req, &v);
	return -1;
}

static void revoke_as(struct http_request *req, const struct authn_caller *caller, void *arg)
{
	struct key_ctx *c = arg;

	c->caller = *caller;
	if ((c->tenant_id = uuid_param_or_reply(req, "tenant_id")) == NULL ||
	    (c->key_id = uuid_param_or_reply(req, "api_key_id")) == NULL ||
	    tenant_admin_or_reply(req, caller, c->tenant_id) < 0 || revoke_reason_or_reply(c) < 0)
		return;
	if (pg_tx_begin(c->app->pg, revoke_on_begun, c) < 0)
		app_reply_db_error(req, "begin", NULL);
}

void apikey_http_revoke(struct http_request *req, void *app)
{
	authn_resolve(app, req, 0, revoke_as, key_ctx_new(req, app));
}
