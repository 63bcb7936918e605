/*
 * pay_app.h - the payment side's share of the daemon: the provider environment
 * (provider.h's struct pay_env built from the BILLING_* payment rows) and the ZarinPal HTTP
 * client, plus small helpers the pay_*_http.c handlers share.
 *
 * main.c creates it with pay_app_new() and frees it with pay_app_free() before the pool.
 */
#ifndef BILLING_PAY_APP_H
#define BILLING_PAY_APP_H

#include <stddef.h>

#include "app.h"
#include "discount.h"
#include "provider.h"

struct pay_state {
	struct pay_env env;           /* borrowed strings from app->cfg */
	struct http_client *zarinpal; /* NULL when BILLING_ZARINPAL_URL is empty */
	char return_url[512];         /* BILLING_RETURN_URL or its default */
};

/* NULL (and logged) when BILLING_ZARINPAL_URL cannot be parsed or out of memory. */
struct pay_state *pay_app_new(struct billing_app *app);
void pay_app_free(struct pay_state *p);

/* "<return_url>?payment_id=<id>&status=<status>"; -1 when it does not fit. */
int pay_return_location(const struct billing_app *app, const char *payment_id, const char *status,
			char *out, size_t cap) MUST_CHECK;
/* Replies 302 to the return page of payment_id in status. */
void pay_reply_return(struct billing_app *app, struct http_request *req, const char *payment_id,
		      const char *status);

/* The quote of a purchase or a discount check: $1 plan id (NULL = a top-up), $2 discount
 * code (NULL = none), $3 the user. One row: 0 plan found, 1 price_minor, 2 currency, 3 name,
 * 4 discount_id (NULL = no such code), 5 kind, 6 value, 7 starts_s, 8 expires_s,
 * 9 max_use_count, 10 uses, 11 per_user_limit, 12 user_uses, 13 plan_restricted,
 * 14 plan_listed, 15 now_s (the database clock, Unix seconds). */
#define PAY_QUOTE_SQL                                                                              \
	"SELECT p.id IS NOT NULL, p.price_minor, p.currency, p.name, s.discount_id, s.kind,"       \
	" s.value, s.starts_s, s.expires_s, s.max_use_count, s.uses, s.per_user_limit,"           \
	" s.user_uses, s.plan_restricted, s.plan_listed, s.now_s"                                 \
	" FROM (SELECT 1) one LEFT JOIN plans p ON p.id = $1::uuid AND p.is_active"                \
	" LEFT JOIN LATERAL discount_state($2, $3::uuid, $1::uuid) s ON true"

/* Row 0 column col as a number; 0 for SQL NULL. */
long long pay_col_ll(const PGresult *res, int col);
/* The discount of the quote row (columns 4..14, discount_id not NULL); -1 on an unknown kind. */
int pay_discount_from_row(const PGresult *res, struct discount *d);
/* 422 discount_invalid with details {reason}. */
void pay_reply_discount_invalid(struct http_request *req, enum discount_reason why);

#endif
