/*
 * pay_app.c - the provider environment and the ZarinPal client (see pay_app.h).
 *
 * Owns the struct pay_state and its ZarinPal http_client.
 */
#include "pay_app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_client.h"
#include "common/json.h"

static struct http_client *pay_zarinpal_client(struct billing_app *app)
{
	struct http_client_opts o;
	struct http_client *c;
	char *host = NULL;
	int port;

	if (http_url_parse(app->cfg->zarinpal_url, &host, &port) < 0) {
		log_error(NULL, "bad BILLING_ZARINPAL_URL (http://host:port)");
		return NULL;
	}
	http_client_opts_default(&o);
	o.host = host;
	o.port = port;
	c = http_client_new(app->base, &o);
	free(host);
	return c;
}

struct pay_state *pay_app_new(struct billing_app *app)
{
	const struct billing_config *cfg = app->cfg;
	struct pay_state *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	if (cfg->zarinpal_url[0] != '\0' && (p->zarinpal = pay_zarinpal_client(app)) == NULL) {
		free(p);
		return NULL;
	}
	p->env = (struct pay_env){
		.zarinpal = p->zarinpal,
		.public_url = cfg->public_url,
		.sandbox_secret = cfg->sandbox_secret,
		.zarinpal_url = cfg->zarinpal_url,
		.zarinpal_merchant = cfg->zarinpal_merchant_id,
		.currency = cfg->currency,
		.sandbox_enabled = fr_common_is_local(&cfg->common) || cfg->sandbox_enabled,
	};
	if (cfg->return_url[0] != '\0')
		snprintf(p->return_url, sizeof(p->return_url), "%s", cfg->return_url);
	else
		snprintf(p->return_url, sizeof(p->return_url), "%s/v1/payments/sandbox/return",
			 cfg->public_url);
	return p;
}

void pay_app_free(struct pay_state *p)
{
	if (p == NULL)
		return;
	if (p->zarinpal != NULL)
		http_client_free(p->zarinpal); /* calls in flight answer HC_ESHUTDOWN now */
	free(p);
}

int pay_return_location(const struct billing_app *app, const char *payment_id, const char *status,
			char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s?payment_id=%s&status=%s", app->pay->return_url, payment_id,
			 status);

	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

void pay_reply_return(struct billing_app *app, struct http_request *req, const char *payment_id,
		      const char *status)
{
	char loc[1024];

	if (pay_return_location(app, payment_id, status, loc, sizeof(loc)) < 0) {
		app_reply_internal(req, "return url");
		return;
	}
	http_reply_header(req, "Location", loc);
	http_reply_header(req, "Cache-Control", "no-store");
	http_reply_empty(req, 302);
}

long long pay_col_ll(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? 0 : pg_int(res, 0, col);
}

int pay_discount_from_row(const PGresult *res, struct discount *d)
{
	memset(d, 0, sizeof(*d));
	if (discount_kind_parse(pg_val(res, 0, 5), &d->kind) < 0)
		return -1;
	d->value = pay_col_ll(res, 6);
	d->starts_at = (time_t)pay_col_ll(res, 7);
	d->expires_at = (time_t)pay_col_ll(res, 8);
	d->max_uses = (long)pay_col_ll(res, 9);
	d->uses = (long)pay_col_ll(res, 10);
	d->per_user_limit = (long)pay_col_ll(res, 11);
	d->user_uses = (long)pay_col_ll(res, 12);
	d->plan_restricted = pg_bool(res, 0, 13);
	d->plan_listed = pg_bool(res, 0, 14);
	return 0;
}

void pay_reply_discount_invalid(struct http_request *req, enum discount_reason why)
{
	json_object *details = json_object_new_object();

	json_set_str(details, "reason", discount_reason_str(why));
	http_reply_error(req, 422, "discount_invalid", "The discount code cannot be used.",
			 details);
}
