/*
 * plan_http.c - the plan catalog: GET /v1/plans, GET /v1/plans/{plan_id} (public), and the
 * platform admin's POST /v1/plans and PATCH /v1/plans/{plan_id}.
 *
 * A PlanCreate / PlanUpdate body is validated here field by field (unknown fields refused)
 * and handed to plan_store.c as one JSON document. Owns nothing beyond request memory.
 */
#include <math.h>
#include <string.h>

#include "app.h"
#include "common/json.h"
#include "handlers.h"
#include "plan_store.h"

#define PLAN_MINOR_MAX 1000000000000LL
#define PLAN_SECONDS_MAX 1000000000LL

static const char *const plan_fields[] = {
	"code", "name", "description", "price_minor", "before_price_minor", "billing_period",
	"seconds_charge", "second_price_minor", "monthly_renders_quota", "storage_gb",
	"parallel_renders", "max_resolution", "render_speed_factor", "icon", "is_featured",
	"is_active", "sort_order", "features", NULL};
static const char *const plan_periods[] = {"OneTime", "Monthly", "Yearly", NULL};

/* code: lower-case letters, digits, '-' and '_', starting with a letter or digit. */
static void plan_check_code(struct jv *v, json_object *body, enum jv_presence p)
{
	const char *code = jv_string(v, body, "code", p, 1, 40);

	if (code == NULL)
		return;
	for (const char *c = code; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		      (c != code && (*c == '-' || *c == '_')))) {
			jv_fail(v, "code", "must be lower-case letters, digits, - and _");
			return;
		}
}

/* render_speed_factor: a number in (0, 1000]; features: an object. */
static void plan_check_number_and_features(struct jv *v, json_object *body)
{
	json_object *f;

	if (json_object_object_get_ex(body, "render_speed_factor", &f) && f != NULL) {
		double d = json_object_get_double(f);
		bool num = json_object_is_type(f, json_type_double) ||
			   json_object_is_type(f, json_type_int);

		if (!num || !isfinite(d) || d <= 0 || d > 1000)
			jv_fail(v, "render_speed_factor", "must be a number in (0, 1000]");
	}
	if (json_object_object_get_ex(body, "features", &f) && f != NULL &&
	    !json_object_is_type(f, json_type_object))
		jv_fail(v, "features", "must be an object");
}

/* Every field of PlanCreate (create: the required ones must be there) or PlanUpdate. */
static void plan_check_body(struct jv *v, json_object *body, bool create)
{
	enum jv_presence req = create ? JV_REQUIRED : JV_OPTIONAL;

	jv_no_unknown(v, body, plan_fields);
	if (create)
		plan_check_code(v, body, JV_REQUIRED);
	else if (json_object_object_get_ex(body, "code", NULL))
		jv_fail(v, "code", "cannot be changed");
	(void)jv_string(v, body, "name", req, 1, 100);
	(void)jv_string(v, body, "description", JV_OPTIONAL, 0, 2000);
	(void)jv_int(v, body, "price_minor", req, 0, PLAN_MINOR_MAX, 0);
	(void)jv_int(v, body, "before_price_minor", JV_OPTIONAL, 0, PLAN_MINOR_MAX, 0);
	(void)jv_enum(v, body, "billing_period", req, plan_periods);
	(void)jv_int(v, body, "seconds_charge", req, 0, PLAN_SECONDS_MAX, 0);
	(void)jv_int(v, body, "second_price_minor", req, 0, PLAN_MINOR_MAX, 0);
	(void)jv_int(v, body, "monthly_renders_quota", JV_OPTIONAL, 0, 100000000, 0);
	(void)jv_int(v, body, "storage_gb", JV_OPTIONAL, 0, 1000000, 0);
	(void)jv_int(v, body, "parallel_renders", JV_OPTIONAL, 1, 10000, 1);
	(void)jv_string(v, body, "max_resolution", JV_OPTIONAL, 1, 16);
	(void)jv_string(v, body, "icon", JV_OPTIONAL, 0, 200);
	(void)jv_bool(v, body, "is_featured", JV_OPTIONAL, false);
	(void)jv_bool(v, body, "is_active", JV_OPTIONAL, true);
	(void)jv_int(v, body, "sort_order", JV_OPTIONAL, -1000000, 1000000, 0);
	plan_check_number_and_features(v, body);
}

void plan_http_list(struct http_request *req, void *arg)
{
	struct billing_app *app = arg;

	if (plan_store_list(app->pg, row_reply_cb, row_reply_new(req, 200, NULL, NULL)) < 0)
		app_reply_db_error(req, "list plans", NULL);
}

void plan_http_get(struct http_request *req, void *arg)
{
	struct billing_app *app = arg;
	const char *id = app_uuid_param_or_reply(req, "plan_id", "plan_not_found");

	if (id != NULL &&
	    plan_store_get(app->pg, id, row_reply_cb,
			   row_reply_new(req, 200, "plan_not_found", "No such plan.")) < 0)
		app_reply_db_error(req, "get plan", NULL);
}

/* The admin write's answer: 409 plan_code_taken on a unique violation, else row_reply. */
static void plan_on_written(const struct pg_result *r, void *arg)
{
	struct row_reply *rr = arg;

	if (r->err != NULL && r->sqlstate != NULL && strcmp(r->sqlstate, "23505") == 0) {
		http_reply_error(row_reply_req(rr), 409, "plan_code_taken",
				 "Another plan has this code.", NULL);
		return;
	}
	row_reply_cb(r, arg);
}

/* The validated body as JSON text in request memory, or NULL after replying. */
static const char *plan_body_or_reply(struct http_request *req, bool create)
{
	json_object *body = http_request_json_or_reply(req);
	const char *text;
	struct jv v;

	if (body == NULL)
		return NULL;
	jv_init(&v);
	plan_check_body(&v, body, create);
	if (jv_failed(&v)) {
		json_object_put(body);
		http_reply_validation(req, &v);
		return NULL;
	}
	text = http_request_strdup(req, json_compact(body, NULL));
	json_object_put(body);
	return text;
}

void plan_http_create(struct http_request *req, void *arg)
{
	struct billing_app *app = arg;
	struct iauth ia;
	const char *body;

	if (app_admin_or_reply(app, req, &ia) < 0 || (body = plan_body_or_reply(req, true)) == NULL)
		return;
	if (plan_store_create(app->pg, body, app->cfg->currency, plan_on_written,
			      row_reply_new(req, 201, "plan_not_found", "No such plan.")) < 0)
		app_reply_db_error(req, "create plan", NULL);
}

void plan_http_update(struct http_request *req, void *arg)
{
	struct billing_app *app = arg;
	struct iauth ia;
	const char *id, *body;

	if (app_admin_or_reply(app, req, &ia) < 0 ||
	    (id = app_uuid_param_or_reply(req, "plan_id", "plan_not_found")) == NULL ||
	    (body = plan_body_or_reply(req, false)) == NULL)
		return;
	if (plan_store_update(app->pg, id, body, plan_on_written,
			      row_reply_new(req, 200, "plan_not_found", "No such plan.")) < 0)
		app_reply_db_error(req, "update plan", NULL);
}
