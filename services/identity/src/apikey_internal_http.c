/*
 * apikey_internal_http.c - the gateway's API-key calls: POST /v1/api-keys/validate (the
 * lookup behind its cache) and POST /internal/v1/api-keys/usage (its batched use counts).
 * Both require a service token addressed to identity from the client "gateway"
 * (common/svc_auth.h); the gateway never routes them.
 *
 * validate answers 200 either way: {"valid":true, ...the key's rules} or
 * {"valid":false,"reason":"unknown"|"revoked"|"expired"|"tenant_suspended"}. The presented
 * key_hash is compared with the stored one in constant time; a wrong hash is "unknown", like
 * a prefix no key has, so nothing tells the two apart.
 * usage adds every count in one UPDATE (no write per API request).
 * Owns a per-request context in the request's memory.
 */
#include <string.h>

#include "apikey.h"
#include "apikey_store.h"
#include "app.h"
#include "common/crypto.h"
#include "common/svc_auth.h"
#include "handlers.h"
#include "identity_json.h"
#include "validate.h"

#define GATEWAY_CLIENT "gateway"

struct internal_ctx {
	struct identity_app *app;
	struct http_request *req;
	char key_hash[APIKEY_HASH_LEN + 1];
};

/* 0 when the caller holds a service token of the gateway; else replies (401/403/503). */
static int gateway_or_reply(struct identity_app *app, struct http_request *req)
{
	struct svc_caller caller;

	if (svc_auth_or_reply(app->svc, req, &caller) < 0)
		return -1;
	if (strcmp(caller.client_id, GATEWAY_CLIENT) == 0)
		return 0;
	http_reply_error(req, 403, "forbidden", "Only the gateway may call this.", NULL);
	return -1;
}

/* ---- POST /v1/api-keys/validate ------------------------------------------------------------ */

static void validate_refuse(struct http_request *req, const char *reason)
{
	json_object *o = json_object_new_object();

	json_set_bool(o, "valid", false);
	json_set_str(o, "reason", reason);
	http_reply_json(req, 200, o);
}

static void validate_accept(struct http_request *req, const PGresult *res)
{
	json_object *o = json_object_new_object();

	json_set_bool(o, "valid", true);
	json_set_str(o, "api_key_id", pg_val(res, 0, LOOKUP_COL_ID));
	json_set_str(o, "tenant_id", pg_val(res, 0, LOOKUP_COL_TENANT_ID));
	json_set_str(o, "environment", pg_val(res, 0, LOOKUP_COL_ENVIRONMENT));
	json_object_object_add(o, "scopes", csv_to_json_array(pg_val(res, 0, LOOKUP_COL_SCOPES)));
	json_object_object_add(o, "allowed_ips",
			       csv_to_json_array(pg_val(res, 0, LOOKUP_COL_ALLOWED_IPS)));
	json_set_int(o, "rate_limit_rpm", pg_int(res, 0, LOOKUP_COL_RPM));
	json_set_str(o, "expires_at", pg_val(res, 0, LOOKUP_COL_EXPIRES_AT));
	http_request_set_log_ids(req, pg_val(res, 0, LOOKUP_COL_TENANT_ID), NULL);
	http_reply_json(req, 200, o);
}

static void validate_on_row(const struct pg_result *r, void *arg)
{
	struct internal_ctx *c = arg;
	const char *stored;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "api key lookup", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		validate_refuse(c->req, "unknown");
		return;
	}
	stored = pg_val(r->res, 0, LOOKUP_COL_HASH);
	if (stored == NULL || strlen(stored) != APIKEY_HASH_LEN ||
	    !ct_equal(stored, c->key_hash, APIKEY_HASH_LEN))
		validate_refuse(c->req, "unknown");
	else if (pg_bool(r->res, 0, LOOKUP_COL_REVOKED))
		validate_refuse(c->req, "revoked");
	else if (pg_bool(r->res, 0, LOOKUP_COL_EXPIRED))
		validate_refuse(c->req, "expired");
	else if (pg_bool(r->res, 0, LOOKUP_COL_TENANT_BLOCKED))
		validate_refuse(c->req, "tenant_suspended");
	else
		validate_accept(c->req, r->res);
}

void apikey_http_validate(struct http_request *req, void *arg)
{
	struct identity_app *app = arg;
	struct apikey_validate_req vr;
	struct internal_ctx *c;
	json_object *body;
	struct jv v;
	int rc;

	if (gateway_or_reply(app, req) < 0 || (body = http_request_json_or_reply(req)) == NULL)
		return;
	jv_init(&v);
	if (apikey_validate_parse(body, &vr, &v) < 0) {
		json_object_put(body);
		http_reply_validation(req, &v);
		return;
	}
	if (!apikey_prefix_valid(vr.key_prefix)) { /* no key can have it */
		json_object_put(body);
		validate_refuse(req, "unknown");
		return;
	}
	c = http_request_alloc(req, sizeof(*c));
	c->app = app;
	c->req = req;
	memcpy(c->key_hash, vr.key_hash, sizeof(c->key_hash));
	rc = apikey_store_lookup(app->pg, vr.key_prefix, validate_on_row, c);
	json_object_put(body);
	if (rc < 0)
		app_reply_db_error(req, "api key lookup", NULL);
}

/* ---- POST /internal/v1/api-keys/usage ------------------------------------------------------ */

static void usage_on_done(const struct pg_result *r, void *arg)
{
	struct internal_ctx *c = arg;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "api key usage", r);
		return;
	}
	http_reply_empty(c->req, 204);
}

void apikey_http_usage(struct http_request *req, void *arg)
{
	struct identity_app *app = arg;
	struct apikey_usage_req u;
	struct internal_ctx *c;
	json_object *body;
	struct jv v;
	int rc;

	if (gateway_or_reply(app, req) < 0 || (body = http_request_json_or_reply(req)) == NULL)
		return;
	jv_init(&v);
	rc = apikey_usage_parse(body, &u, &v);
	json_object_put(body);
	if (rc < 0) {
		http_reply_validation(req, &v);
		return;
	}
	if (u.n == 0) {
		apikey_usage_free(&u);
		http_reply_empty(req, 204);
		return;
	}
	c = http_request_alloc(req, sizeof(*c));
	c->app = app;
	c->req = req;
	rc = apikey_store_add_usage(app->pg, u.ids, u.counts, u.last_used, usage_on_done, c);
	apikey_usage_free(&u);
	if (rc < 0)
		app_reply_db_error(req, "api key usage", NULL);
}
