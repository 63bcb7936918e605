/*
 * wallet_http.c - the user's money: GET /v1/users/me/balance, GET /v1/users/me/transactions,
 * and the platform admin's POST /v1/admin/users/{user_id}/credits/grant and .../clawback.
 *
 * A grant or clawback is one ledger row written by credits_adjust() through op_run() (one
 * transaction, optional Idempotency-Key header). Owns nothing beyond request memory.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "billing_json.h"
#include "common/crypto.h"
#include "common/json.h"
#include "handlers.h"
#include "idem.h"
#include "op.h"
#include "wallet_store.h"

#define CREDITS_MAX_MINOR 1000000000000LL

void wallet_http_balance(struct http_request *req, void *arg)
{
	struct billing_app *app = arg;
	struct iauth ia;

	if (app_user_or_reply(app, req, &ia) < 0)
		return;
	if (wallet_store_balance(app->pg, ia.user_id, app->cfg->currency, row_reply_cb,
				 row_reply_new(req, 200, "wallet_not_found", "No wallet.")) < 0)
		app_reply_db_error(req, "balance", NULL);
}

struct page_ctx {
	struct http_request *req;
	long page, page_size;
};

static void wallet_on_page(const struct pg_result *r, void *arg)
{
	struct page_ctx *c = arg;
	json_object *body, *data;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "transactions", r);
		return;
	}
	if ((data = billing_json_col(r->res, 0)) == NULL) {
		app_reply_internal(c->req, "render transactions");
		return;
	}
	body = json_object_new_object();
	json_object_object_add(body, "data", data);
	json_object_object_add(body, "meta",
			       app_paging_meta(c->page, c->page_size, pg_int(r->res, 0, 1)));
	http_reply_json(c->req, 200, body);
}

void wallet_http_transactions(struct http_request *req, void *arg)
{
	struct billing_app *app = arg;
	struct page_ctx *c = http_request_alloc(req, sizeof(*c));
	struct iauth ia;

	c->req = req;
	if (app_user_or_reply(app, req, &ia) < 0 ||
	    app_paging_or_reply(req, &c->page, &c->page_size) < 0)
		return;
	if (wallet_store_transactions(app->pg, ia.user_id, c->page, c->page_size, wallet_on_page,
				      c) < 0)
		app_reply_db_error(req, "transactions", NULL);
}

/* The optional Idempotency-Key header: 1..128 printable ASCII characters. NULL when absent;
 * replies 422 and sets *bad when malformed. */
static const char *wallet_idem_header(struct http_request *req, bool *bad)
{
	const char *k = http_request_header(req, "Idempotency-Key");
	size_t n;

	*bad = false;
	if (k == NULL)
		return NULL;
	n = strlen(k);
	for (size_t i = 0; i < n; i++)
		if (k[i] < 0x21 || k[i] > 0x7e)
			n = 0;
	if (n >= 1 && n <= 128)
		return k;
	*bad = true;
	app_reply_invalid(req, "Idempotency-Key", "must be 1..128 printable characters");
	return NULL;
}

/* Validates {amount_minor, description, tenant_id?} into the op's parameters. -1 after
 * replying. */
static int credits_parse(struct http_request *req, struct op_spec *op, const char *kind,
			 long long *amount)
{
	static const char *const known[] = {"amount_minor", "description", "tenant_id", NULL};
	json_object *body = http_request_json_or_reply(req);
	const char *desc, *tenant;
	struct jv v;

	if (body == NULL)
		return -1;
	jv_init(&v);
	jv_no_unknown(&v, body, known);
	*amount = jv_int(&v, body, "amount_minor", JV_REQUIRED, 1, CREDITS_MAX_MINOR, 0);
	desc = jv_string(&v, body, "description", JV_REQUIRED, 1, 500);
	tenant = jv_string(&v, body, "tenant_id", JV_OPTIONAL, 36, 36);
	if (tenant != NULL && !uuid_valid(tenant))
		jv_fail(&v, "tenant_id", "must be a UUID");
	if (jv_failed(&v)) {
		json_object_put(body);
		http_reply_validation(req, &v);
		return -1;
	}
	op->params[1] = app_strdup(req, tenant);
	op->params[2] = kind;
	op->params[4] = http_request_strdup(req, desc);
	json_object_put(body);
	return 0;
}

static void credits_http(struct http_request *req, struct billing_app *app, const char *kind)
{
	struct op_spec op = {.sql = WALLET_SQL_CREDITS_ADJUST, .nparams = 9};
	struct iauth ia;
	long long amount;
	const char *user, *key;
	char *num, *low;
	bool bad;

	if (app_admin_or_reply(app, req, &ia) < 0 ||
	    (user = app_uuid_param_or_reply(req, "user_id", "wallet_not_found")) == NULL)
		return;
	key = wallet_idem_header(req, &bad);
	if (bad || credits_parse(req, &op, kind, &amount) < 0)
		return;
	op.name = strcmp(kind, "grant") == 0 ? "credits.grant" : "credits.clawback";
	num = http_request_alloc(req, 24);
	snprintf(num, 24, "%lld", strcmp(kind, "clawback") == 0 ? -amount : amount);
	low = http_request_alloc(req, 24);
	snprintf(low, 24, "%ld", app->cfg->low_balance_minor);
	op.params[0] = user;
	op.params[3] = num;
	op.params[5] = NULL; /* the ledger key: idempotency_keys already guards replays */
	op.params[6] = http_request_strdup(req, ia.user_id);
	op.params[7] = app->cfg->currency;
	op.params[8] = low;
	if (key != NULL) {
		char *scope = http_request_alloc(req, 96);

		snprintf(scope, 96, "credits.%s:%s", kind, ia.user_id);
		op.idem_scope = scope;
		op.idem_key = key;
		idem_hash(op.idem_hash, "user=%s\ntenant=%s\namount=%s\ndescription=%s", user,
			  op.params[1] != NULL ? op.params[1] : "", num, op.params[4]);
	}
	op_run(app, req, &op);
}

void wallet_http_grant(struct http_request *req, void *app)
{
	credits_http(req, app, "grant");
}

void wallet_http_clawback(struct http_request *req, void *app)
{
	credits_http(req, app, "clawback");
}
