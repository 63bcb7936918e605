/*
 * pay_http.c - reading payments and the sandbox provider's pages:
 *   GET /v1/payments                    the caller's payments, newest first, paginated
 *   GET /v1/payments/{payment_id}       one of them (404 for anybody else's)
 *   GET /v1/payments/sandbox/checkout   the sandbox "checkout": ?payment_id&sig[&outcome=fail]
 *                                       approves (or declines) the payment exactly as a
 *                                       provider callback would, then 302 to the return page;
 *                                       404 unless the sandbox is enabled (FR_ENV=local or
 *                                       BILLING_SANDBOX_ENABLED)
 *   GET /v1/payments/sandbox/return     the return page: 200 {payment_id, status}
 *
 * The checkout's sig is hex HMAC(BILLING_SANDBOX_SECRET, payment_id) (provider.h), checked in
 * constant time; the verdict is payment_verdict() in one transaction (op.h): applied once,
 * repeated fetches change nothing. Owns nothing beyond request memory.
 */
#include <stdio.h>
#include <string.h>

#include "billing_json.h"
#include "common/crypto.h"
#include "common/json.h"
#include "handlers.h"
#include "op.h"
#include "pay_app.h"

struct list_ctx {
	struct http_request *req;
	long page, page_size;
};

static void pay_on_list(const struct pg_result *r, void *arg)
{
	struct list_ctx *c = arg;
	json_object *doc, *total = NULL, *out;

	if (r->err != NULL || PQntuples(r->res) != 1) {
		app_reply_db_error(c->req, "list payments", r->err != NULL ? r : NULL);
		return;
	}
	if ((doc = billing_json_col(r->res, 0)) == NULL) {
		app_reply_internal(c->req, "list payments json");
		return;
	}
	json_object_object_get_ex(doc, "total", &total);
	out = json_object_new_object();
	json_object_object_add(out, "meta",
			       app_paging_meta(c->page, c->page_size, json_object_get_int64(total)));
	json_object_object_add(out, "data", NULL);
	if (json_object_object_get_ex(doc, "data", &total))
		json_object_object_add(out, "data", json_object_get(total));
	json_object_put(doc);
	http_reply_json(c->req, 200, out);
}

void pay_http_list(struct http_request *req, void *arg)
{
	static const char sql[] =
		"SELECT json_build_object('data', coalesce((SELECT json_agg(payment_json(p)"
		" ORDER BY p.created_at DESC, p.id) FROM (SELECT * FROM payments WHERE user_id = $1"
		" ORDER BY created_at DESC, id LIMIT $2 OFFSET $3) p), '[]'),"
		" 'total', (SELECT count(*) FROM payments WHERE user_id = $1))";
	struct billing_app *app = arg;
	struct list_ctx *c = http_request_alloc(req, sizeof(*c));
	struct iauth ia;
	char lim[24], off[24];
	const char *params[3];

	c->req = req;
	if (app_user_or_reply(app, req, &ia) < 0 || app_paging_or_reply(req, &c->page, &c->page_size) < 0)
		return;
	snprintf(lim, sizeof(lim), "%ld", c->page_size);
	snprintf(off, sizeof(off), "%ld", (c->page - 1) * c->page_size);
	params[0] = ia.user_id;
	params[1] = lim;
	params[2] = off;
	if (pg_query(app->pg, sql, 3, params, pay_on_list, c) < 0)
		app_reply_db_error(req, "list payments", NULL);
}

void pay_http_get(struct http_request *req, void *arg)
{
	static const char sql[] =
		"SELECT payment_json(p) FROM payments p WHERE p.id = $1 AND p.user_id = $2";
	struct billing_app *app = arg;
	struct iauth ia;
	const char *id;
	const char *params[2];

	if (app_user_or_reply(app, req, &ia) < 0 ||
	    (id = app_uuid_param_or_reply(req, "payment_id", "payment_not_found")) == NULL)
		return;
	params[0] = id;
	params[1] = ia.user_id;
	if (pg_query(app->pg, sql, 2, params, row_reply_cb,
		     row_reply_new(req, 200, "payment_not_found", "No such payment.")) < 0)
		app_reply_db_error(req, "get payment", NULL);
}

/* ---- the sandbox provider's pages ---------------------------------------------------------- */

struct checkout_ctx {
	struct billing_app *app;
	char payment_id[UUID_STR_LEN];
};

static void checkout_on_verdict(struct http_request *req, int status, json_object *body,
				void *arg)
{
	struct checkout_ctx *c = arg;
	const char *st = billing_json_str(body, "status");

	pay_reply_return(c->app, req, c->payment_id, st != NULL ? st : "Pending");
	json_object_put(body);
}

void pay_http_sandbox_checkout(struct http_request *req, void *arg)
{
	struct billing_app *app = arg;
	struct checkout_ctx *c = http_request_alloc(req, sizeof(*c));
	const char *pid = http_request_query_param(req, "payment_id");
	const char *sig = http_request_query_param(req, "sig");
	const char *outcome = http_request_query_param(req, "outcome");
	char low[24];
	bool ok;

	if (!app->pay->env.sandbox_enabled) {
		/* FR_ENV is not local and BILLING_SANDBOX_ENABLED is false: no sandbox here */
		http_reply_error(req, 404, "route_not_found", "No route matches the request path.",
				 NULL);
		return;
	}
	if (pid == NULL || !uuid_valid(pid)) {
		app_reply_invalid(req, "payment_id", "must be a UUID");
		return;
	}
	if (outcome != NULL && strcmp(outcome, "fail") != 0 && strcmp(outcome, "success") != 0) {
		app_reply_invalid(req, "outcome", "must be success or fail");
		return;
	}
	if (!pay_sandbox_sig_ok(app->cfg->sandbox_secret, pid, sig)) {
		http_reply_error(req, 403, "signature_invalid",
				 "This checkout link is not valid.", NULL);
		return;
	}
	ok = outcome == NULL || strcmp(outcome, "success") == 0;
	c->app = app;
	snprintf(c->payment_id, sizeof(c->payment_id), "%s", pid);
	for (char *p = c->payment_id; *p != '\0'; p++)
		*p = (*p >= 'A' && *p <= 'F') ? (char)(*p - 'A' + 'a') : *p;
	snprintf(low, sizeof(low), "%ld", app->cfg->low_balance_minor);
	struct op_spec op = {
		.name = ok ? "payment.sandbox.approve" : "payment.sandbox.decline",
		.sql = "SELECT * FROM payment_verdict($1::uuid, 'Sandbox', $2::boolean, 'declined',"
		       " 'Declined at the sandbox checkout.', NULL, NULL, NULL, $3::bigint)",
		.nparams = 3,
		.params = {c->payment_id, ok ? "true" : "false", http_request_strdup(req, low)},
		.on_ok = checkout_on_verdict,
		.on_ok_arg = c,
	};
	op_run(app, req, &op);
}

void pay_http_sandbox_return(struct http_request *req, void *arg)
{
	static const char sql[] =
		"SELECT json_build_object('payment_id', id, 'status', status) FROM payments"
		" WHERE id = $1";
	struct billing_app *app = arg;
	const char *pid = http_request_query_param(req, "payment_id");
	const char *params[1] = {pid};

	if (pid == NULL || !uuid_valid(pid)) {
		app_reply_invalid(req, "payment_id", "must be a UUID");
		return;
	}
	if (pg_query(app->pg, sql, 1, params, row_reply_cb,
		     row_reply_new(req, 200, "payment_not_found", "No such payment.")) < 0)
		app_reply_db_error(req, "payment return", NULL);
}
