/*
 * pay_start_http.c - starting a payment: POST /v1/users/me/plan/purchase and
 * POST /v1/users/me/balance/top-up.
 *
 * Steps: validate the body -> read the plan and the discount's state (pay_quote) -> judge the
 * code and compute its effect (discount.c) -> ONE transaction (op.h, payment_create): lock the
 * wallet, answer a repeated Idempotency-Key, re-check the code's use counts under its row
 * lock, insert the payment and its redemption; Balance (or nothing left to pay) settles right
 * there (debit / credit, plan, ledger row, billing.payment.succeeded.v1) or answers 402 ->
 * COMMIT -> a Pending payment asks its provider for the checkout (provider.h) and records the
 * provider's reference once (a replay reuses the stored one: a second ZarinPal checkout never
 * replaces the first) -> 201 {payment_id, status, redirect_url, user_plan}.
 * A provider that refuses to start fails the payment (billing.payment.failed.v1) and answers
 * 502 payment_provider_error. Owns a context in request memory.
 */
#include <stdio.h>
#include <string.h>

#include "billing_json.h"
#include "common/crypto.h"
#include "common/json.h"
#include "discount.h"
#include "handlers.h"
#include "idem.h"
#include "op.h"
#include "pay_app.h"
#include "provider_zarinpal_msg.h"

#define PAY_TOPUP_MAX 1000000000000LL
#define PAY_SQL_LONG 24
#define PAY_IDEM_HEADER_MAX 128 /* the IdempotencyKey header of the contract */

struct start_ctx {
	struct billing_app *app;
	struct http_request *req;
	struct iauth ia;
	const struct pay_provider *prov;
	const char *plan_id;  /* NULL for a top-up */
	long long amount;     /* top-up amount */
	const char *code;     /* discount code or NULL */
	bool auto_renew;
	const char *idem_key; /* Idempotency-Key or NULL */
	char hash[65];
	/* the quote */
	long long original;
	const char *title;
	const char *discount_id;
	struct discount_effect eff;
	char num[5][PAY_SQL_LONG];
	/* after the commit */
	json_object *body;
	int status;
	char payment_id[UUID_STR_LEN];
};

/* ---- the reply ---------------------------------------------------------------------------- */

/* Strips the internal "_" members of a payment_start_json body and sets redirect_url. */
static void start_reply(struct start_ctx *c, const char *redirect_url)
{
	json_object *b = c->body;
	static const char *const internal[] = {"_gateway", "_provider_ref", "_amount", "_title",
					       "_replayed"};

	c->body = NULL;
	for (size_t i = 0; i < sizeof(internal) / sizeof(internal[0]); i++)
		json_object_object_del(b, internal[i]);
	json_set_str(b, "redirect_url", redirect_url != NULL && redirect_url[0] != '\0'
						? redirect_url
						: NULL);
	http_reply_json(c->req, c->status, b);
}

static void start_on_failed(struct http_request *req, int status, json_object *body, void *arg)
{
	json_object_put(body);
	http_reply_error(req, 502, "payment_provider_error",
			 "The payment provider could not start the checkout; the payment failed.",
			 NULL);
}

/* The provider refused or was unreachable: the payment fails (once) with its event. */
static void start_fail_payment(struct start_ctx *c, const struct pay_result *res)
{
	struct op_spec op = {
		.name = "payment.fail",
		.sql = "SELECT * FROM payment_verdict($1::uuid, $2, false, $3, $4, NULL, NULL,"
		       " NULL, $5::bigint)",
		.nparams = 5,
		.params = {c->payment_id, c->prov->name,
			   http_request_strdup(c->req, res->failure_code[0] != '\0'
							       ? res->failure_code
							       : "provider_error"),
			   http_request_strdup(c->req, res->message), c->num[4]},
		.on_ok = start_on_failed,
	};

	log_warn(&(struct log_ctx){.request_id = http_request_id(c->req)},
		 "payment provider refused to start", LS("provider", c->prov->slug),
		 LS("payment_id", c->payment_id), LS("message", res->message));
	json_object_put(c->body);
	c->body = NULL;
	op_run(c->app, c->req, &op);
}

struct start_ref {
	struct start_ctx *c;
	char redirect_url[PAY_URL_MAX];
	char provider_ref[PAY_REF_MAX];
};

/* The reference in force: ours, or the one a concurrent start with the same Idempotency-Key
 * stored first (then its checkout is the one to open; only ZarinPal's depends on it). */
static void start_on_ref(const struct pg_result *r, void *arg)
{
	struct start_ref *s = arg;
	const char *ref;

	if (r->err != NULL || PQntuples(r->res) != 1) {
		json_object_put(s->c->body);
		s->c->body = NULL;
		app_reply_db_error(s->c->req, "record provider reference",
				   r->err != NULL ? r : NULL);
		return;
	}
	ref = pg_val(r->res, 0, 0);
	if (ref != NULL && strcmp(ref, s->provider_ref) != 0 &&
	    s->c->prov->gw == PAY_GW_ZARINPAL &&
	    zarinpal_start_url(s->c->app->pay->env.zarinpal_url, ref, s->redirect_url,
			       sizeof(s->redirect_url)) < 0)
		s->redirect_url[0] = '\0';
	start_reply(s->c, s->redirect_url);
}

static void start_on_provider(const struct pay_result *res, void *arg)
{
	struct start_ctx *c = arg;
	struct start_ref *s;
	const char *params[2];

	if (res->outcome != PAY_OUT_OK) {
		start_fail_payment(c, res);
		return;
	}
	if (res->provider_ref[0] == '\0') {
		start_reply(c, res->redirect_url);
		return;
	}
	s = http_request_alloc(c->req, sizeof(*s));
	s->c = c;
	snprintf(s->redirect_url, sizeof(s->redirect_url), "%s", res->redirect_url);
	snprintf(s->provider_ref, sizeof(s->provider_ref), "%s", res->provider_ref);
	params[0] = c->payment_id;
	params[1] = s->provider_ref;
	if (pg_query(c->app->pg, "SELECT payment_claim_provider_ref($1, $2)", 2, params,
		     start_on_ref, s) < 0) {
		json_object_put(c->body);
		c->body = NULL;
		app_reply_db_error(c->req, "record provider reference", NULL);
	}
}

/* The committed payment: settled ones answer at once, Pending ones need their checkout. */
static void start_on_created(struct http_request *req, int status, json_object *body, void *arg)
{
	struct start_ctx *c = arg;
	const char *pid = billing_json_str(body, "payment_id");
	const char *ref = billing_json_str(body, "_provider_ref");
	const char *st = billing_json_str(body, "status");
	json_object *replayed = NULL;
	struct pay_op op;

	c->body = body;
	c->status = status;
	if (pid == NULL || st == NULL) {
		json_object_put(body);
		c->body = NULL;
		app_reply_internal(req, "payment start body");
		return;
	}
	snprintf(c->payment_id, sizeof(c->payment_id), "%s", pid);
	if (strcmp(st, "Pending") != 0) {
		start_reply(c, NULL);
		return;
	}
	json_object_object_get_ex(body, "_replayed", &replayed);
	if (json_object_get_boolean(replayed) && ref != NULL && c->prov->gw == PAY_GW_ZARINPAL) {
		char url[PAY_URL_MAX];
		/* a repeated Idempotency-Key: the checkout ZarinPal already opened */
		start_reply(c, zarinpal_start_url(c->app->pay->env.zarinpal_url, ref, url,
						  sizeof(url)) == 0 ? url : NULL);
		return;
	}
	op = (struct pay_op){c->payment_id, c->original - c->eff.discount_minor, NULL, c->title};
	if (c->prov->start(&c->app->pay->env, &op, start_on_provider, c) < 0) {
		struct pay_result res;
		pay_result_set(&res, PAY_OUT_UNAVAILABLE, "provider_error", "could not start");
		start_fail_payment(c, &res);
	}
}

/* ---- the transaction ---------------------------------------------------------------------- */

static void start_create(struct start_ctx *c)
{
	const struct billing_config *cfg = c->app->cfg;
	struct op_spec op = {
		.name = "payment.create",
		.sql = "SELECT * FROM payment_create($1::uuid, $2::uuid, $3, $4::uuid, $5::bigint,"
		       " $6::uuid, $7::bigint, $8::integer, $9::bigint, $10::boolean, $11, $12,"
		       " $13, $14, $15::bigint)",
		.nparams = 15,
		.on_ok = start_on_created,
		.on_ok_arg = c,
	};

	snprintf(c->num[0], PAY_SQL_LONG, "%lld", c->original);
	snprintf(c->num[1], PAY_SQL_LONG, "%lld", (long long)c->eff.discount_minor);
	snprintf(c->num[2], PAY_SQL_LONG, "%ld", c->eff.free_months);
	snprintf(c->num[3], PAY_SQL_LONG, "%ld", c->eff.render_seconds);
	snprintf(c->num[4], PAY_SQL_LONG, "%ld", cfg->low_balance_minor);
	const char *params[15] = {c->ia.user_id,     c->ia.tenant_id,
				  c->prov->name,     c->plan_id,
				  c->num[0],         c->discount_id,
				  c->num[1],         c->num[2],
				  c->num[3],         c->auto_renew ? "true" : "false",
				  c->title,          cfg->currency,
				  c->idem_key,       c->idem_key != NULL ? c->hash : NULL,
				  c->num[4]};
	memcpy(op.params, params, sizeof(params));
	op_run(c->app, c->req, &op);
}

/* ---- the quote: plan, discount ------------------------------------------------------------ */

/* Judges the code (if any) on the quote row; replies 422 and returns -1 when unusable. */
static int start_discount_or_reply(struct start_ctx *c, const PGresult *res)
{
	struct discount d;
	enum discount_reason why;

	memset(&c->eff, 0, sizeof(c->eff));
	c->eff.final_amount_minor = c->original;
	if (c->code == NULL)
		return 0;
	if (pg_val(res, 0, 4) == NULL) {
		pay_reply_discount_invalid(c->req, DISCOUNT_NOT_FOUND);
		return -1;
	}
	if (pay_discount_from_row(res, &d) < 0) {
		app_reply_internal(c->req, "discount kind");
		return -1;
	}
	why = discount_check(&d, (time_t)pay_col_ll(res, 15), c->plan_id != NULL);
	if (why != DISCOUNT_OK) {
		pay_reply_discount_invalid(c->req, why);
		return -1;
	}
	c->discount_id = http_request_strdup(c->req, pg_val(res, 0, 4));
	c->eff = discount_apply(&d, c->original);
	return 0;
}

static void start_on_quote(const struct pg_result *r, void *arg)
{
	struct start_ctx *c = arg;
	const PGresult *res = r->res;

	if (r->err != NULL || PQntuples(res) != 1) {
		app_reply_db_error(c->req, "payment quote", r->err != NULL ? r : NULL);
		return;
	}
	if (c->plan_id != NULL) {
		if (!pg_bool(res, 0, 0)) {
			http_reply_error(c->req, 404, "plan_not_found", "No such active plan.",
					 NULL);
			return;
		}
		if (strcmp(pg_val(res, 0, 2), c->app->cfg->currency) != 0) {
			http_reply_error(c->req, 422, "currency_mismatch",
					 "The plan is priced in another currency.", NULL);
			return;
		}
		c->original = pg_int(res, 0, 1);
		c->title = http_request_strdup(c->req, pg_val(res, 0, 3));
	} else {
		c->original = c->amount;
		c->title = "Balance top-up";
	}
	if (start_discount_or_reply(c, res) < 0)
		return;
	start_create(c);
}

/* ---- the request -------------------------------------------------------------------------- */

/* Idempotency-Key: optional, 1..200 visible ASCII characters. */
static int start_idem_key_or_reply(struct start_ctx *c)
{
	const char *k = http_request_header(c->req, "Idempotency-Key");
	size_t n = k != NULL ? strlen(k) : 0;

	if (k == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)k[i] <= 0x20 || (unsigned char)k[i] >= 0x7f)
			n = 0;
	if (n == 0 || n > PAY_IDEM_HEADER_MAX) {
		app_reply_invalid(c->req, "Idempotency-Key", "must be 1..128 visible characters");
		return -1;
	}
	c->idem_key = http_request_strdup(c->req, k);
	return 0;
}

/* Parses the body (purchase when plan, else top-up) into c; replies 4xx and -1 on failure. */
static int start_parse_or_reply(struct start_ctx *c, bool plan)
{
	static const char *const plan_fields[] = {"plan_id", "gateway", "discount_code",
						  "auto_renew", NULL};
	static const char *const topup_fields[] = {"amount_minor", "gateway", "discount_code",
						   NULL};
	json_object *body = http_request_json_or_reply(c->req);
	const char *gw;
	struct jv v;

	if (body == NULL)
		return -1;
	jv_init(&v);
	jv_no_unknown(&v, body, plan ? plan_fields : topup_fields);
	if (plan) {
		c->plan_id = app_strdup(c->req, jv_string(&v, body, "plan_id", JV_REQUIRED, 1, 64));
		if (c->plan_id != NULL && !uuid_valid(c->plan_id))
			jv_fail(&v, "plan_id", "must be a UUID");
		c->auto_renew = jv_bool(&v, body, "auto_renew", JV_OPTIONAL, false);
	} else {
		c->amount = jv_int(&v, body, "amount_minor", JV_REQUIRED, 1, PAY_TOPUP_MAX, 0);
	}
	gw = jv_enum(&v, body, "gateway", JV_REQUIRED, pay_provider_names(!plan));
	c->code = app_strdup(c->req, jv_string(&v, body, "discount_code", JV_OPTIONAL, 1, 40));
	c->prov = pay_provider_by_name(gw);
	json_object_put(body);
	if (jv_failed(&v)) {
		http_reply_validation(c->req, &v);
		return -1;
	}
	if (!pay_provider_offered(c->prov, &c->app->pay->env)) {
		http_reply_error(c->req, 422, "gateway_unavailable",
				 "This payment gateway is not offered here.", NULL);
		return -1;
	}
	return 0;
}

static void pay_start(struct http_request *req, struct billing_app *app, bool plan)
{
	struct start_ctx *c = http_request_alloc(req, sizeof(*c));
	const char *params[3];

	memset(c, 0, sizeof(*c));
	c->app = app;
	c->req = req;
	if (app_user_or_reply(app, req, &c->ia) < 0 || start_parse_or_reply(c, plan) < 0 ||
	    start_idem_key_or_reply(c) < 0)
		return;
	idem_hash(c->hash, "user=%s\nplan=%s\namount=%lld\ngateway=%s\ncode=%s\nrenew=%d",
		  c->ia.user_id, c->plan_id != NULL ? c->plan_id : "", c->amount, c->prov->name,
		  c->code != NULL ? c->code : "", c->auto_renew);
	params[0] = c->plan_id;
	params[1] = c->code;
	params[2] = c->ia.user_id;
	if (pg_query(app->pg, PAY_QUOTE_SQL, 3, params, start_on_quote, c) < 0)
		app_reply_db_error(req, "payment quote", NULL);
}

void pay_http_purchase(struct http_request *req, void *app)
{
	pay_start(req, app, true);
}

void pay_http_top_up(struct http_request *req, void *app)
{
	pay_start(req, app, false);
}
