/*
 * user_plan_http.c - the caller's plan: GET /v1/users/me/plan, POST /v1/users/me/plan/cancel
 * (auto_renew off + cancelled_at; the plan stays usable until expires_at) and
 * PATCH /v1/users/me/plan {auto_renew}. Buying a plan is in pay_*.c.
 *
 * Owns nothing beyond request memory.
 */
#include "app.h"
#include "common/json.h"
#include "handlers.h"
#include "plan_store.h"

#define NO_PLAN_CODE "no_active_plan"
#define NO_PLAN_MSG "You have no active plan."

void user_plan_http_get(struct http_request *req, void *arg)
{
	struct billing_app *app = arg;
	struct iauth ia;

	if (app_user_or_reply(app, req, &ia) < 0)
		return;
	if (user_plan_store_current(app->pg, ia.user_id, row_reply_cb,
				    row_reply_new(req, 200, NO_PLAN_CODE, NO_PLAN_MSG)) < 0)
		app_reply_db_error(req, "user plan", NULL);
}

void user_plan_http_cancel(struct http_request *req, void *arg)
{
	struct billing_app *app = arg;
	struct iauth ia;

	if (app_user_or_reply(app, req, &ia) < 0)
		return;
	if (user_plan_store_set_renew(app->pg, ia.user_id, false, true, row_reply_cb,
				      row_reply_new(req, 200, NO_PLAN_CODE, NO_PLAN_MSG)) < 0)
		app_reply_db_error(req, "cancel plan", NULL);
}

void user_plan_http_patch(struct http_request *req, void *arg)
{
	static const char *const known[] = {"auto_renew", NULL};
	struct billing_app *app = arg;
	struct iauth ia;
	json_object *body;
	bool renew;
	struct jv v;

	if (app_user_or_reply(app, req, &ia) < 0 || (body = http_request_json_or_reply(req)) == NULL)
		return;
	jv_init(&v);
	jv_no_unknown(&v, body, known);
	renew = jv_bool(&v, body, "auto_renew", JV_REQUIRED, false);
	json_object_put(body);
	if (jv_failed(&v)) {
		http_reply_validation(req, &v);
		return;
	}
	if (user_plan_store_set_renew(app->pg, ia.user_id, renew, false, row_reply_cb,
				      row_reply_new(req, 200, NO_PLAN_CODE, NO_PLAN_MSG)) < 0)
		app_reply_db_error(req, "patch plan", NULL);
}
