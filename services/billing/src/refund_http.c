/*
 * refund_http.c - POST /v1/payments/refund (internal: a service token with aud "billing").
 *
 *   {idempotency_key, payment_id?, user_id?, tenant_id?, amount_minor?, seconds?, reason,
 *    refund_to: Balance | OriginalMethod | Plan} -> 200 {refund_id, status, refund_to,
 *    payment_id, amount_minor, seconds, ledger_entry}
 *
 * Only the service clients of BILLING_REFUND_CLIENTS may call it (others 403 forbidden).
 * Balance credits the wallet (not for a top-up: 422 refund_target_invalid); Plan gives seconds
 * back to the active plan (against a payment: at most the seconds it granted); OriginalMethod
 * goes through the payment's provider adapter first (provider.h: the sandbox refunds at once,
 * a Balance payment is credited back, Stripe and ZarinPal answer 422
 * refund_method_unsupported) and is then recorded; a top-up's credit is taken back in the
 * same transaction (409 insufficient_balance, checked before the adapter too, when the
 * available balance no longer holds it). The record is refund_issue() in ONE transaction with its idempotency
 * record (op.h): the same key and body answers the first result, another body 409; refunds of
 * one payment never exceed what it paid (409 refund_exceeds_payment).
 * Note: the adapter is asked before the idempotency check, so a repeated OriginalMethod call
 * asks it again (harmless for the sandbox; a real provider gets the same idempotency key).
 */
#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "common/json.h"
#include "common/svc_auth.h"
#include "handlers.h"
#include "idem.h"
#include "op.h"
#include "pay_app.h"

#define REFUND_MAX_AMOUNT 1000000000000LL
#define REFUND_MAX_SECONDS 1000000000LL
#define REFUND_NUM 24

struct refund_ctx {
	struct billing_app *app;
	struct http_request *req;
	const char *key, *payment_id, *user_id, *tenant_id, *reason, *to;
	long long amount, seconds; /* 0 = not given */
	char amount_s[REFUND_NUM], seconds_s[REFUND_NUM], low[REFUND_NUM];
	const char *provider_ref;
};

static void refund_record(struct refund_ctx *c)
{
	struct op_spec op = {
		.name = "refund.issue",
		.sql = "SELECT * FROM refund_issue($1::uuid, $2::uuid, $3::uuid, $4::bigint,"
		       " $5::bigint, $6, $7, $8, $9, $10::bigint)",
		.nparams = 10,
		.params = {c->payment_id, c->user_id, c->tenant_id,
			   c->amount > 0 ? c->amount_s : NULL, c->seconds > 0 ? c->seconds_s : NULL,
			   c->reason, c->to, c->provider_ref, c->key, c->low},
		.idem_scope = "refund",
		.idem_key = c->key,
	};

	idem_hash(op.idem_hash, "payment=%s\nuser=%s\ntenant=%s\namount=%lld\nseconds=%lld\n"
				"reason=%s\nto=%s",
		  c->payment_id != NULL ? c->payment_id : "", c->user_id != NULL ? c->user_id : "",
		  c->tenant_id != NULL ? c->tenant_id : "", c->amount, c->seconds, c->reason, c->to);
	op_run(c->app, c->req, &op);
}

static void refund_on_adapter(const struct pay_result *res, void *arg)
{
	struct refund_ctx *c = arg;

	switch (res->outcome) {
	case PAY_OUT_OK:
		c->provider_ref = res->provider_ref[0] != '\0'
					  ? http_request_strdup(c->req, res->provider_ref)
					  : NULL;
		refund_record(c);
		return;
	case PAY_OUT_UNSUPPORTED:
		http_reply_error(c->req, 422, "refund_method_unsupported",
				 "This payment's provider cannot refund here; refund to Balance.",
				 NULL);
		return;
	case PAY_OUT_DECLINED:
	case PAY_OUT_UNAVAILABLE:
		http_reply_error(c->req, 502, "payment_provider_error",
				 "The payment provider did not refund.", NULL);
		return;
	}
}

/* OriginalMethod: the payment's provider refunds first. */
static void refund_on_payment(const struct pg_result *r, void *arg)
{
	struct refund_ctx *c = arg;
	const struct pay_provider *prov;
	struct pay_op op;

	if (r->err != NULL || PQntuples(r->res) > 1) {
		app_reply_db_error(c->req, "find payment", r->err != NULL ? r : NULL);
		return;
	}
	if (PQntuples(r->res) == 0) {
		http_reply_error(c->req, 404, "payment_not_found", "No such payment.", NULL);
		return;
	}
	if ((prov = pay_provider_by_name(pg_val(r->res, 0, 0))) == NULL) {
		app_reply_internal(c->req, "payment gateway");
		return;
	}
	if (pg_int(r->res, 0, 3) > pg_int(r->res, 0, 4)) {
		/* a top-up's credit is no longer there to take back: ask no provider
		 * (refund_issue() checks it again under the wallet lock) */
		json_object *d = json_object_new_object();

		json_object_object_add(d, "required", json_object_new_int64(pg_int(r->res, 0, 3)));
		json_object_object_add(d, "available", json_object_new_int64(pg_int(r->res, 0, 4)));
		http_reply_error(c->req, 409, "insufficient_balance",
				 "The balance no longer holds the credit this refund takes back.", d);
		return;
	}
	op = (struct pay_op){c->payment_id,
			     c->amount > 0 ? c->amount : pg_int(r->res, 0, 1),
			     pg_val(r->res, 0, 2), c->reason};
	if (prov->refund(&c->app->pay->env, &op, refund_on_adapter, c) < 0)
		app_reply_internal(c->req, "provider refund");
}

static const char *refund_uuid(struct jv *v, json_object *body, const char *key,
			       struct http_request *req)
{
	const char *s = app_strdup(req, jv_string(v, body, key, JV_OPTIONAL, 1, 64));

	if (s != NULL && !uuid_valid(s))
		jv_fail(v, key, "must be a UUID");
	return s;
}

/* The combinations each target needs (after the field checks). */
static void refund_check_target(struct refund_ctx *c, struct jv *v)
{
	if (c->to == NULL)
		return;
	if (c->payment_id == NULL && (c->user_id == NULL || c->tenant_id == NULL))
		jv_fail(v, "payment_id", "is required unless user_id and tenant_id are given");
	if (strcmp(c->to, "Plan") == 0) {
		if (c->seconds <= 0)
			jv_fail(v, "seconds", "is required when refunding to Plan");
		if (c->amount > 0)
			jv_fail(v, "amount_minor", "is not used when refunding to Plan");
		return;
	}
	if (c->seconds > 0)
		jv_fail(v, "seconds", "is only used when refunding to Plan");
	if (strcmp(c->to, "OriginalMethod") == 0 && c->payment_id == NULL)
		jv_fail(v, "payment_id", "is required when refunding to OriginalMethod");
	if (strcmp(c->to, "Balance") == 0 && c->payment_id == NULL && c->amount <= 0)
		jv_fail(v, "amount_minor", "is required when refunding to Balance without a payment");
}

static int refund_parse_or_reply(struct refund_ctx *c)
{
	static const char *const fields[] = {"idempotency_key", "payment_id", "user_id",
					     "tenant_id", "amount_minor", "seconds", "reason",
					     "refund_to", NULL};
	static const char *const targets[] = {"Balance", "OriginalMethod", "Plan", NULL};
	json_object *body = http_request_json_or_reply(c->req);
	struct jv v;

	if (body == NULL)
		return -1;
	jv_init(&v);
	jv_no_unknown(&v, body, fields);
	c->key = app_strdup(c->req, jv_string(&v, body, "idempotency_key", JV_REQUIRED, 1,
					       IDEM_KEY_MAX));
	c->payment_id = refund_uuid(&v, body, "payment_id", c->req);
	c->user_id = refund_uuid(&v, body, "user_id", c->req);
	c->tenant_id = refund_uuid(&v, body, "tenant_id", c->req);
	c->amount = jv_int(&v, body, "amount_minor", JV_OPTIONAL, 1, REFUND_MAX_AMOUNT, 0);
	c->seconds = jv_int(&v, body, "seconds", JV_OPTIONAL, 1, REFUND_MAX_SECONDS, 0);
	c->reason = app_strdup(c->req, jv_string(&v, body, "reason", JV_REQUIRED, 1, 500));
	c->to = app_strdup(c->req, jv_enum(&v, body, "refund_to", JV_REQUIRED, targets));
	json_object_put(body);
	refund_check_target(c, &v);
	if (jv_failed(&v)) {
		http_reply_validation(c->req, &v);
		return -1;
	}
	return 0;
}

void refund_http_issue(struct http_request *req, void *arg)
{
	/* 3: the credit a top-up refund takes back (0 otherwise), 4: the available balance */
	static const char sql[] =
		"SELECT p.gateway, p.amount_minor - p.refunded_minor, p.provider_ref,"
		" CASE WHEN p.action = 'TopUp' AND p.status IN ('Succeeded', 'PartiallyRefunded')"
		" THEN refund_topup_debit(p, least(coalesce($2::bigint, p.amount_minor),"
		" p.amount_minor - p.refunded_minor)) ELSE 0 END,"
		" (SELECT w.balance_minor - w.held_minor FROM wallets w WHERE w.user_id = p.user_id)"
		" FROM payments p WHERE p.id = $1";
	struct billing_app *app = arg;
	struct refund_ctx *c = http_request_alloc(req, sizeof(*c));
	struct svc_caller caller;
	const char *params[2];

	memset(c, 0, sizeof(*c));
	c->app = app;
	c->req = req;
	if (app_service_or_reply(app, req, &caller) < 0)
		return;
	if (!billing_refund_client_allowed(app->cfg, caller.client_id)) {
		http_reply_error(req, 403, "forbidden",
				 "This service client may not issue refunds (BILLING_REFUND_CLIENTS).",
				 NULL);
		return;
	}
	if (refund_parse_or_reply(c) < 0)
		return;
	snprintf(c->amount_s, sizeof(c->amount_s), "%lld", c->amount);
	snprintf(c->seconds_s, sizeof(c->seconds_s), "%lld", c->seconds);
	snprintf(c->low, sizeof(c->low), "%ld", app->cfg->low_balance_minor);
	log_info(&(struct log_ctx){.request_id = http_request_id(req)}, "refund requested",
		 LS("caller", caller.client_id), LS("refund_to", c->to));
	if (strcmp(c->to, "OriginalMethod") != 0) {
		refund_record(c);
		return;
	}
	params[0] = c->payment_id;
	params[1] = c->amount > 0 ? c->amount_s : NULL;
	if (pg_query(app->pg, sql, 2, params, refund_on_payment, c) < 0)
		app_reply_db_error(req, "find payment", NULL);
}
