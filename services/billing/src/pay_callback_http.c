/*
 * pay_callback_http.c - the providers' callbacks (no user auth: each proves itself):
 *   POST /v1/payments/callback/stripe    Stripe-style webhook: Stripe-Signature over the raw
 *                                        body (provider_stripe_sig.h) -> the event
 *                                        (provider_stripe_event.h) -> stripe_webhook_apply()
 *                                        in one transaction: applied once per event id;
 *                                        payment_failed only records the attempt's failure
 *                                        (the payment stays Pending: Stripe retries).
 *   GET  /v1/payments/callback/zarinpal  ZarinPal's browser redirect ?Authority&Status: NOK
 *                                        changes nothing (the route is unauthenticated; the
 *                                        payment stays Pending), OK is verified server-side
 *                                        through the adapter first (its verdict settles or
 *                                        fails the payment); then 302 to the return page.
 *
 * Owns a context in request memory per ZarinPal callback while its verify call runs.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "billing_json.h"
#include "common/crypto.h"
#include "common/json.h"
#include "handlers.h"
#include "op.h"
#include "pay_app.h"
#include "provider_stripe_event.h"
#include "provider_stripe_sig.h"
#include "provider_zarinpal_msg.h"

#define CB_NUM 24

/* ---- Stripe ------------------------------------------------------------------------------- */

static const char *stripe_kind_str(enum stripe_event_kind k)
{
	switch (k) {
	case STRIPE_EV_SUCCEEDED: return "succeeded";
	case STRIPE_EV_FAILED: return "failed";
	case STRIPE_EV_OTHER: return "other";
	}
	return "other";
}

static const char *stripe_type_str(enum stripe_event_kind k)
{
	switch (k) {
	case STRIPE_EV_SUCCEEDED: return "payment_intent.succeeded";
	case STRIPE_EV_FAILED: return "payment_intent.payment_failed";
	case STRIPE_EV_OTHER: return "other";
	}
	return "other";
}

/* Checks Stripe-Signature over the raw body; replies 400 and returns -1 when it fails. */
static int stripe_sig_or_reply(struct billing_app *app, struct http_request *req,
			       const char *body, size_t len)
{
	const char *hdr = http_request_header(req, "Stripe-Signature");
	enum stripe_sig_result r;

	r = stripe_sig_verify(hdr, hdr != NULL ? strlen(hdr) : 0, app->cfg->stripe_webhook_secret,
			      body, len, time(NULL), app->cfg->stripe_tolerance_s);
	if (r == STRIPE_SIG_OK)
		return 0;
	log_warn(&(struct log_ctx){.request_id = http_request_id(req)},
		 "stripe webhook refused", LS("reason", stripe_sig_error_code(r)),
		 LS("peer", http_request_peer(req)));
	http_reply_error(req, 400, stripe_sig_error_code(r),
			 r == STRIPE_SIG_STALE ? "The signature timestamp is out of the window."
					       : "The webhook signature is invalid.",
			 NULL);
	return -1;
}

void pay_http_stripe_webhook(struct http_request *req, void *arg)
{
	struct billing_app *app = arg;
	struct stripe_event *e = http_request_alloc(req, sizeof(*e));
	size_t len = 0;
	const char *body = http_request_body(req, &len);
	char *num = http_request_alloc(req, 2 * CB_NUM);
	bool payment;

	if (stripe_sig_or_reply(app, req, body, len) < 0)
		return;
	if (stripe_event_parse(body, len, e) < 0) {
		http_reply_error(req, 400, "invalid_event", "The webhook body is not an event.",
				 NULL);
		return;
	}
	payment = e->kind != STRIPE_EV_OTHER;
	snprintf(num, CB_NUM, "%lld", (long long)e->amount);
	snprintf(num + CB_NUM, CB_NUM, "%ld", app->cfg->low_balance_minor);
	struct op_spec op = {
		.name = "payment.stripe.webhook",
		.sql = "SELECT * FROM stripe_webhook_apply($1, $2, $3, $4::uuid, $5, $6::bigint,"
		       " $7, $8, $9, $10::bigint)",
		.nparams = 10,
		.params = {e->id, stripe_type_str(e->kind), stripe_kind_str(e->kind),
			   payment ? e->payment_id : NULL, payment ? e->object_id : NULL,
			   payment && e->has_amount ? num : NULL,
			   payment && e->currency[0] != '\0' ? e->currency : NULL,
			   e->kind == STRIPE_EV_FAILED ? e->failure_code : NULL,
			   e->kind == STRIPE_EV_FAILED ? e->failure_message : NULL, num + CB_NUM},
	};
	op_run(app, req, &op);
}

/* ---- ZarinPal ----------------------------------------------------------------------------- */

struct zp_ctx {
	struct billing_app *app;
	struct http_request *req;
	char payment_id[UUID_STR_LEN];
	char authority[ZARINPAL_AUTHORITY_MAX + 1];
	char low[CB_NUM];
	char ref[PAY_REF_MAX];
	char code[64];
	char message[256];
};

static void zp_on_verdict(struct http_request *req, int status, json_object *body, void *arg)
{
	struct zp_ctx *c = arg;
	const char *st = billing_json_str(body, "status");

	pay_reply_return(c->app, req, c->payment_id, st != NULL ? st : "Pending");
	json_object_put(body);
}

static void zp_verdict(struct zp_ctx *c, bool ok)
{
	struct op_spec op = {
		.name = ok ? "payment.zarinpal.verified" : "payment.zarinpal.failed",
		.sql = "SELECT * FROM payment_verdict($1::uuid, 'ZarinPal', $2::boolean, $3, $4,"
		       " $5, NULL, NULL, $6::bigint)",
		.nparams = 6,
		.params = {c->payment_id, ok ? "true" : "false", ok ? NULL : c->code,
			   ok ? NULL : c->message, ok ? c->ref : NULL, c->low},
		.on_ok = zp_on_verdict,
		.on_ok_arg = c,
	};

	op_run(c->app, c->req, &op);
}

static void zp_on_verify(const struct pay_result *res, void *arg)
{
	struct zp_ctx *c = arg;

	switch (res->outcome) {
	case PAY_OUT_OK:
		snprintf(c->ref, sizeof(c->ref), "%s", res->provider_ref);
		zp_verdict(c, true);
		return;
	case PAY_OUT_DECLINED:
		snprintf(c->code, sizeof(c->code), "%s", res->failure_code);
		snprintf(c->message, sizeof(c->message), "%s", res->message);
		zp_verdict(c, false);
		return;
	case PAY_OUT_UNAVAILABLE:
	case PAY_OUT_UNSUPPORTED:
		/* nothing is known: the payment stays Pending and the callback can come again */
		log_warn(&(struct log_ctx){.request_id = http_request_id(c->req)},
			 "zarinpal verify failed", LS("payment_id", c->payment_id),
			 LS("message", res->message));
		pay_reply_return(c->app, c->req, c->payment_id, "Pending");
		return;
	}
}

static void zp_on_payment(const struct pg_result *r, void *arg)
{
	struct zp_ctx *c = arg;
	const char *status = c->message; /* the callback's Status, kept here until now */
	struct pay_op op;

	if (r->err != NULL || PQntuples(r->res) > 1) {
		app_reply_db_error(c->req, "find zarinpal payment", r->err != NULL ? r : NULL);
		return;
	}
	if (PQntuples(r->res) == 0) {
		http_reply_error(c->req, 404, "payment_not_found", "No payment has this authority.",
				 NULL);
		return;
	}
	snprintf(c->payment_id, sizeof(c->payment_id), "%s", pg_val(r->res, 0, 0));
	if (strcmp(pg_val(r->res, 0, 1), "Pending") != 0) {
		pay_reply_return(c->app, c->req, c->payment_id, pg_val(r->res, 0, 1));
		return;
	}
	if (strcmp(status, "OK") != 0) {
		/* anybody can send Status=NOK: unverified, it changes nothing */
		pay_reply_return(c->app, c->req, c->payment_id, "Pending");
		return;
	}
	op = (struct pay_op){c->payment_id, pg_int(r->res, 0, 2), c->authority, NULL};
	if (pay_provider_zarinpal.verify(&c->app->pay->env, &op, zp_on_verify, c) < 0)
		app_reply_internal(c->req, "zarinpal verify");
}

void pay_http_zarinpal_callback(struct http_request *req, void *arg)
{
	static const char sql[] = "SELECT id, status, amount_minor FROM payments"
				  " WHERE gateway = 'ZarinPal' AND provider_ref = $1";
	struct billing_app *app = arg;
	struct zp_ctx *c = http_request_alloc(req, sizeof(*c));
	const char *authority = http_request_query_param(req, "Authority");
	const char *status = http_request_query_param(req, "Status");
	const char *params[1];

	memset(c, 0, sizeof(*c));
	if (!zarinpal_authority_valid(authority)) {
		app_reply_invalid(req, "Authority", "must be 1..64 letters and digits");
		return;
	}
	if (status == NULL || (strcmp(status, "OK") != 0 && strcmp(status, "NOK") != 0)) {
		app_reply_invalid(req, "Status", "must be OK or NOK");
		return;
	}
	c->app = app;
	c->req = req;
	snprintf(c->authority, sizeof(c->authority), "%s", authority);
	snprintf(c->message, sizeof(c->message), "%s", status);
	snprintf(c->low, sizeof(c->low), "%ld", app->cfg->low_balance_minor);
	params[0] = c->authority;
	if (pg_query(app->pg, sql, 1, params, zp_on_payment, c) < 0)
		app_reply_db_error(req, "find zarinpal payment", NULL);
}
