/*
 * handlers.h - billing's HTTP handlers, one per route (the tables are in routes.c and
 * pay_routes.c).
 *
 * Every handler borrows the request until it has replied exactly once; app is the
 * struct billing_app.
 */
#ifndef BILLING_HANDLERS_H
#define BILLING_HANDLERS_H

#include "common/http.h"

/* plan_http.c */
void plan_http_list(struct http_request *req, void *app);
void plan_http_get(struct http_request *req, void *app);
void plan_http_create(struct http_request *req, void *app);
void plan_http_update(struct http_request *req, void *app);
/* user_plan_http.c */
void user_plan_http_get(struct http_request *req, void *app);
void user_plan_http_patch(struct http_request *req, void *app);
void user_plan_http_cancel(struct http_request *req, void *app);
/* wallet_http.c */
void wallet_http_balance(struct http_request *req, void *app);
void wallet_http_transactions(struct http_request *req, void *app);
void wallet_http_grant(struct http_request *req, void *app);
void wallet_http_clawback(struct http_request *req, void *app);
/* usage_http.c */
void usage_http_get(struct http_request *req, void *app);
/* hold_http.c (internal, service token) */
void hold_http_reserve(struct http_request *req, void *app);
void hold_http_get(struct http_request *req, void *app);
void hold_http_capture(struct http_request *req, void *app);
void hold_http_release(struct http_request *req, void *app);

/* ---- payments, discounts, refunds ---- */
/* pay_start_http.c */
void pay_http_purchase(struct http_request *req, void *app);
void pay_http_top_up(struct http_request *req, void *app);
/* pay_http.c */
void pay_http_list(struct http_request *req, void *app);
void pay_http_get(struct http_request *req, void *app);
void pay_http_sandbox_checkout(struct http_request *req, void *app);
void pay_http_sandbox_return(struct http_request *req, void *app);
/* pay_callback_http.c */
void pay_http_stripe_webhook(struct http_request *req, void *app);
void pay_http_zarinpal_callback(struct http_request *req, void *app);
/* discount_http.c */
void discount_http_validate(struct http_request *req, void *app);
void discount_http_list(struct http_request *req, void *app);
void discount_http_create(struct http_request *req, void *app);
/* refund_http.c */
void refund_http_issue(struct http_request *req, void *app);

#endif
