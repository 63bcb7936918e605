/*
 * hold_http.c - the internal holds API for services (service token, aud "billing"):
 * POST /internal/v1/holds (reserve), GET /internal/v1/holds/{hold_id},
 * POST /internal/v1/holds/{hold_id}/capture and .../release.
 *
 * Every write carries an idempotency_key (scope "hold.<op>:<caller client id>"); the money
 * rules are in the migration's hold_* functions, run in one transaction by op_run(). Owns
 * nothing beyond request memory.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/svc_auth.h"
#include "handlers.h"
#include "hold_store.h"
#include "idem.h"
#include "op.h"

#define HOLD_SECONDS_MAX 100000000LL

/* A decimal copy of n in request memory. */
static const char *hold_num(struct http_request *req, long long n)
{
	char *s = http_request_alloc(req, 24);

	snprintf(s, 24, "%lld", n);
	return s;
}

/* scope "hold.<op>:<client>" in request memory. */
static const char *hold_scope(struct http_request *req, const char *op,
			      const struct svc_caller *caller)
{
	char *s = http_request_alloc(req, 128);

	snprintf(s, 128, "hold.%s:%s", op, caller->client_id);
	return s;
}

/* reference_type: [a-z0-9_]{1,40}. */
static void hold_check_reference_type(struct jv *v, const char *t)
{
	if (t == NULL)
		return;
	for (const char *c = t; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) {
			jv_fail(v, "reference_type", "must be lower-case letters, digits and _");
			return;
		}
}

/* The body's {idempotency_key, ...} after the service check: NULL after replying. */
static json_object *hold_body_or_reply(struct http_request *req, struct jv *v,
				       const char *const *known, const char **key)
{
	json_object *body = http_request_json_or_reply(req);

	if (body == NULL)
		return NULL;
	jv_init(v);
	jv_no_unknown(v, body, known);
	*key = jv_string(v, body, "idempotency_key", JV_REQUIRED, 1, IDEM_KEY_MAX);
	return body;
}

/* Hands v's failures to a 422 when there are some (then puts body and returns -1). */
static int hold_valid_or_reply(struct http_request *req, struct jv *v, json_object *body)
{
	if (!jv_failed(v))
		return 0;
	json_object_put(body);
	http_reply_validation(req, v);
	return -1;
}

void hold_http_reserve(struct http_request *req, void *arg)
{
	static const char *const known[] = {"idempotency_key", "user_id",	"tenant_id",
					    "seconds",	       "reference_type", "reference_id",
					    "ttl_s",	       NULL};
	struct billing_app *app = arg;
	struct op_spec op = {.name = "hold.reserve", .sql = HOLD_SQL_RESERVE, .nparams = 8};
	struct svc_caller caller;
	const char *key, *user, *tenant, *rtype, *rid;
	long long seconds, ttl;
	json_object *body;
	struct jv v;

	if (app_service_or_reply(app, req, &caller) < 0 ||
	    (body = hold_body_or_reply(req, &v, known, &key)) == NULL)
		return;
	user = jv_string(&v, body, "user_id", JV_REQUIRED, 36, 36);
	tenant = jv_string(&v, body, "tenant_id", JV_REQUIRED, 36, 36);
	seconds = jv_int(&v, body, "seconds", JV_REQUIRED, 1, HOLD_SECONDS_MAX, 0);
	rtype = jv_string(&v, body, "reference_type", JV_REQUIRED, 1, 40);
	rid = jv_string(&v, body, "reference_id", JV_REQUIRED, 36, 36);
	ttl = jv_int(&v, body, "ttl_s", JV_OPTIONAL, 1, BILLING_HOLD_MAX_TTL_S,
		     app->cfg->hold_ttl_s);
	if (user != NULL && !uuid_valid(user))
		jv_fail(&v, "user_id", "must be a UUID");
	if (tenant != NULL && !uuid_valid(tenant))
		jv_fail(&v, "tenant_id", "must be a UUID");
	if (rid != NULL && !uuid_valid(rid))
		jv_fail(&v, "reference_id", "must be a UUID");
	hold_check_reference_type(&v, rtype);
	if (hold_valid_or_reply(req, &v, body) < 0)
		return;
	op.params[0] = http_request_strdup(req, user);
	op.params[1] = http_request_strdup(req, tenant);
	op.params[2] = hold_num(req, seconds);
	op.params[3] = http_request_strdup(req, rtype);
	op.params[4] = http_request_strdup(req, rid);
	op.params[5] = hold_num(req, ttl);
	op.params[6] = app->cfg->currency;
	op.params[7] = hold_num(req, app->cfg->default_second_price_minor);
	op.idem_scope = hold_scope(req, "reserve", &caller);
	op.idem_key = http_request_strdup(req, key);
	idem_hash(op.idem_hash, "user=%s\ntenant=%s\nseconds=%lld\nref=%s:%s\nttl=%lld", user,
		  tenant, seconds, rtype, rid, ttl);
	json_object_put(body);
	op_run(app, req, &op);
}

void hold_http_get(struct http_request *req, void *arg)
{
	struct billing_app *app = arg;
	struct svc_caller caller;
	const char *id;

	if (app_service_or_reply(app, req, &caller) < 0 ||
	    (id = app_uuid_param_or_reply(req, "hold_id", "hold_not_found")) == NULL)
		return;
	if (hold_store_get(app->pg, id, row_reply_cb,
			   row_reply_new(req, 200, "hold_not_found", "No such hold.")) < 0)
		app_reply_db_error(req, "get hold", NULL);
}

void hold_http_capture(struct http_request *req, void *arg)
{
	static const char *const known[] = {"idempotency_key", "seconds", NULL};
	struct billing_app *app = arg;
	struct op_spec op = {.name = "hold.capture", .sql = HOLD_SQL_CAPTURE, .nparams = 3};
	struct svc_caller caller;
	const char *id, *key;
	long long seconds;
	json_object *body;
	struct jv v;

	if (app_service_or_reply(app, req, &caller) < 0 ||
	    (id = app_uuid_param_or_reply(req, "hold_id", "hold_not_found")) == NULL ||
	    (body = hold_body_or_reply(req, &v, known, &key)) == NULL)
		return;
	seconds = jv_int(&v, body, "seconds", JV_REQUIRED, 0, HOLD_SECONDS_MAX, 0);
	if (hold_valid_or_reply(req, &v, body) < 0)
		return;
	op.params[0] = id;
	op.params[1] = hold_num(req, seconds);
	op.params[2] = hold_num(req, app->cfg->low_balance_minor);
	op.idem_scope = hold_scope(req, "capture", &caller);
	op.idem_key = http_request_strdup(req, key);
	idem_hash(op.idem_hash, "hold=%s\nseconds=%lld", id, seconds);
	json_object_put(body);
	op_run(app, req, &op);
}

void hold_http_release(struct http_request *req, void *arg)
{
	static const char *const known[] = {"idempotency_key", NULL};
	struct billing_app *app = arg;
	struct op_spec op = {.name = "hold.release", .sql = HOLD_SQL_RELEASE, .nparams = 1};
	struct svc_caller caller;
	const char *id, *key;
	json_object *body;
	struct jv v;

	if (app_service_or_reply(app, req, &caller) < 0 ||
	    (id = app_uuid_param_or_reply(req, "hold_id", "hold_not_found")) == NULL ||
	    (body = hold_body_or_reply(req, &v, known, &key)) == NULL)
		return;
	if (hold_valid_or_reply(req, &v, body) < 0)
		return;
	op.params[0] = id;
	op.idem_scope = hold_scope(req, "release", &caller);
	op.idem_key = http_request_strdup(req, key);
	idem_hash(op.idem_hash, "hold=%s", id);
	json_object_put(body);
	op_run(app, req, &op);
}
