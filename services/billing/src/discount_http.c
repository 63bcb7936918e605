/*
 * discount_http.c - promo codes:
 *   POST /v1/discounts/validate  (user)  {code, plan_id?, amount_minor?} -> 200 DiscountCheck:
 *                                        valid with the effect, or valid=false with a reason
 *   GET  /v1/discounts           (platform admin) paginated, newest first
 *   POST /v1/discounts           (platform admin) DiscountCreate -> 201; 409 code taken
 *
 * The rules are discount.c's (the same ones a purchase applies); the code's state comes from
 * PAY_QUOTE_SQL (pay_app.h). Owns nothing beyond request memory.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "billing_json.h"
#include "common/crypto.h"
#include "common/json.h"
#include "discount.h"
#include "handlers.h"
#include "op.h"
#include "pay_app.h"

#define DISCOUNT_MAX_PLANS 50
#define DISCOUNT_AMOUNT_MAX 1000000000000LL

/* ---- validate ------------------------------------------------------------------------------ */

struct check_ctx {
	struct http_request *req;
	const char *plan_id;
	long long amount;
};

static json_object *check_answer(enum discount_reason why, const struct discount *d,
				 const struct discount_effect *e)
{
	json_object *o = json_object_new_object();

	json_set_bool(o, "valid", why == DISCOUNT_OK);
	json_set_str(o, "reason", discount_reason_str(why));
	json_set_str(o, "kind", d != NULL ? discount_kind_str(d->kind) : NULL);
	if (d != NULL)
		json_set_int(o, "value", d->value);
	else
		json_object_object_add(o, "value", NULL);
	json_set_int(o, "discount_minor", e->discount_minor);
	json_set_int(o, "final_amount_minor", e->final_amount_minor);
	json_set_int(o, "free_months", e->free_months);
	json_set_int(o, "render_seconds", e->render_seconds);
	return o;
}

static void check_on_quote(const struct pg_result *r, void *arg)
{
	struct check_ctx *c = arg;
	const PGresult *res = r->res;
	struct discount_effect none;
	struct discount d;
	enum discount_reason why;
	long long amount = c->amount;

	if (r->err != NULL || PQntuples(res) != 1) {
		app_reply_db_error(c->req, "discount quote", r->err != NULL ? r : NULL);
		return;
	}
	if (c->plan_id != NULL) {
		if (!pg_bool(res, 0, 0)) {
			http_reply_error(c->req, 404, "plan_not_found", "No such active plan.",
					 NULL);
			return;
		}
		amount = pg_int(res, 0, 1);
	}
	none = (struct discount_effect){0, amount, 0, 0};
	if (pg_val(res, 0, 4) == NULL) {
		http_reply_json(c->req, 200, check_answer(DISCOUNT_NOT_FOUND, NULL, &none));
		return;
	}
	if (pay_discount_from_row(res, &d) < 0) {
		app_reply_internal(c->req, "discount kind");
		return;
	}
	why = discount_check(&d, (time_t)pay_col_ll(res, 15), c->plan_id != NULL);
	if (why != DISCOUNT_OK) {
		http_reply_json(c->req, 200, check_answer(why, &d, &none));
		return;
	}
	none = discount_apply(&d, amount);
	http_reply_json(c->req, 200, check_answer(DISCOUNT_OK, &d, &none));
}

void discount_http_validate(struct http_request *req, void *arg)
{
	static const char *const fields[] = {"code", "plan_id", "amount_minor", NULL};
	struct billing_app *app = arg;
	struct check_ctx *c = http_request_alloc(req, sizeof(*c));
	struct iauth ia;
	json_object *body;
	const char *code;
	const char *params[3];
	struct jv v;

	if (app_user_or_reply(app, req, &ia) < 0 || (body = http_request_json_or_reply(req)) == NULL)
		return;
	c->req = req;
	jv_init(&v);
	jv_no_unknown(&v, body, fields);
	code = app_strdup(req, jv_string(&v, body, "code", JV_REQUIRED, 1, 40));
	c->plan_id = app_strdup(req, jv_string(&v, body, "plan_id", JV_OPTIONAL, 1, 64));
	if (c->plan_id != NULL && !uuid_valid(c->plan_id))
		jv_fail(&v, "plan_id", "must be a UUID");
	c->amount = jv_int(&v, body, "amount_minor", JV_OPTIONAL, 0, DISCOUNT_AMOUNT_MAX, 0);
	json_object_put(body);
	if (jv_failed(&v)) {
		http_reply_validation(req, &v);
		return;
	}
	params[0] = c->plan_id;
	params[1] = code;
	params[2] = ia.user_id;
	if (pg_query(app->pg, PAY_QUOTE_SQL, 3, params, check_on_quote, c) < 0)
		app_reply_db_error(req, "discount quote", NULL);
}

/* ---- admin: list and create ----------------------------------------------------------------- */

struct list_ctx {
	struct http_request *req;
	long page, page_size;
};

static void discount_on_list(const struct pg_result *r, void *arg)
{
	struct list_ctx *c = arg;
	json_object *doc, *v = NULL, *out;

	if (r->err != NULL || PQntuples(r->res) != 1 || (doc = billing_json_col(r->res, 0)) == NULL) {
		app_reply_db_error(c->req, "list discounts", r->err != NULL ? r : NULL);
		return;
	}
	out = json_object_new_object();
	json_object_object_get_ex(doc, "total", &v);
	json_object_object_add(out, "meta",
			       app_paging_meta(c->page, c->page_size, json_object_get_int64(v)));
	json_object_object_get_ex(doc, "data", &v);
	json_object_object_add(out, "data", json_object_get(v));
	json_object_put(doc);
	http_reply_json(c->req, 200, out);
}

void discount_http_list(struct http_request *req, void *arg)
{
	static const char sql[] =
		"SELECT json_build_object('data', coalesce((SELECT json_agg(discount_json(d)"
		" ORDER BY d.created_at DESC, d.id) FROM (SELECT * FROM discounts"
		" ORDER BY created_at DESC, id LIMIT $1 OFFSET $2) d), '[]'),"
		" 'total', (SELECT count(*) FROM discounts))";
	struct billing_app *app = arg;
	struct list_ctx *c = http_request_alloc(req, sizeof(*c));
	struct iauth ia;
	char lim[24], off[24];
	const char *params[2] = {lim, off};

	c->req = req;
	if (app_admin_or_reply(app, req, &ia) < 0 ||
	    app_paging_or_reply(req, &c->page, &c->page_size) < 0)
		return;
	snprintf(lim, sizeof(lim), "%ld", c->page_size);
	snprintf(off, sizeof(off), "%ld", (c->page - 1) * c->page_size);
	if (pg_query(app->pg, sql, 2, params, discount_on_list, c) < 0)
		app_reply_db_error(req, "list discounts", NULL);
}

static void discount_check_code(struct jv *v, json_object *body)
{
	const char *code = jv_string(v, body, "code", JV_REQUIRED, 3, 40);

	for (const char *p = code; p != NULL && *p != '\0'; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')) {
			jv_fail(v, "code", "must be letters, digits, _ and -");
			return;
		}
}

static void discount_check_plans(struct jv *v, json_object *body)
{
	json_object *a;
	size_t n;

	if (!json_object_object_get_ex(body, "applies_to_plan_ids", &a) || a == NULL)
		return;
	if (!json_object_is_type(a, json_type_array) ||
	    (n = json_object_array_length(a)) > DISCOUNT_MAX_PLANS) {
		jv_fail(v, "applies_to_plan_ids", "must be an array of at most 50 plan ids");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		if (!json_object_is_type(e, json_type_string) ||
		    !uuid_valid(json_object_get_string(e))) {
			jv_fail(v, "applies_to_plan_ids", "must hold plan ids (UUIDs)");
			return;
		}
	}
}

/* starts_at / expires_at: RFC 3339 with a zone, starts before expires. */
static void discount_check_window(struct jv *v, json_object *body)
{
	const char *s = jv_string(v, body, "starts_at", JV_OPTIONAL, 1, 40);
	const char *e = jv_string(v, body, "expires_at", JV_OPTIONAL, 1, 40);
	time_t ts = 0, te = 0;

	if (s != NULL && discount_parse_time(s, &ts) < 0)
		jv_fail(v, "starts_at", "must be an RFC 3339 date-time with a zone");
	if (e != NULL && discount_parse_time(e, &te) < 0)
		jv_fail(v, "expires_at", "must be an RFC 3339 date-time with a zone");
	else if (s != NULL && e != NULL && ts != 0 && te <= ts)
		jv_fail(v, "expires_at", "must be after starts_at");
}

void discount_http_create(struct http_request *req, void *arg)
{
	static const char *const fields[] = {"name",           "code",          "kind",
					     "value",          "max_use_count", "per_user_limit",
					     "applies_to_plan_ids", "starts_at", "expires_at", NULL};
	struct billing_app *app = arg;
	struct iauth ia;
	json_object *body;
	const char *kind;
	enum discount_kind k;
	int64_t value;
	struct jv v;

	if (app_admin_or_reply(app, req, &ia) < 0 || (body = http_request_json_or_reply(req)) == NULL)
		return;
	jv_init(&v);
	jv_no_unknown(&v, body, fields);
	(void)jv_string(&v, body, "name", JV_REQUIRED, 1, 100);
	discount_check_code(&v, body);
	kind = jv_enum(&v, body, "kind", JV_REQUIRED, discount_kind_names);
	value = jv_int(&v, body, "value", JV_REQUIRED, 1, DISCOUNT_MAX_FIXED, 0);
	if (kind != NULL && value > 0 && discount_kind_parse(kind, &k) == 0 &&
	    !discount_value_ok(k, value))
		jv_fail(&v, "value", "out of range for this kind (Percentage 1..100, "
				     "FreeMonths 1..36)");
	(void)jv_int(&v, body, "max_use_count", JV_OPTIONAL, 1, 1000000000, 0);
	(void)jv_int(&v, body, "per_user_limit", JV_OPTIONAL, 1, 1000000000, 0);
	discount_check_plans(&v, body);
	discount_check_window(&v, body);
	if (jv_failed(&v)) {
		json_object_put(body);
		http_reply_validation(req, &v);
		return;
	}
	struct op_spec op = {
		.name = "discount.create",
		.sql = "SELECT * FROM discount_create($1::json, $2::uuid)",
		.nparams = 2,
		.params = {http_request_strdup(req, json_compact(body, NULL)),
			   http_request_strdup(req, ia.user_id)},
	};
	json_object_put(body);
	op_run(app, req, &op);
}
