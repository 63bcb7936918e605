/*
 * pay_routes.c - billing's payment routes (payments, discounts, refunds): one row per such
 * endpoint of contracts/rest/billing.openapi.yaml. Joined with routes.c's table at start-up.
 *
 * Owns the static table.
 */
#include "routes.h"

#include "handlers.h"

const struct http_route billing_pay_routes[] = {
	{HTTP_POST, "/v1/users/me/plan/purchase", pay_http_purchase, 0, NULL},
	{HTTP_POST, "/v1/users/me/balance/top-up", pay_http_top_up, 0, NULL},
	{HTTP_GET, "/v1/payments", pay_http_list, 0, NULL},
	{HTTP_GET, "/v1/payments/{payment_id}", pay_http_get, 0, NULL},
	{HTTP_GET, "/v1/payments/sandbox/checkout", pay_http_sandbox_checkout, 0, NULL},
	{HTTP_GET, "/v1/payments/sandbox/return", pay_http_sandbox_return, 0, NULL},
	{HTTP_POST, "/v1/payments/callback/stripe", pay_http_stripe_webhook, 0, NULL},
	{HTTP_GET, "/v1/payments/callback/zarinpal", pay_http_zarinpal_callback, 0, NULL},
	{HTTP_POST, "/v1/payments/refund", refund_http_issue, 0, NULL},
	{HTTP_POST, "/v1/discounts/validate", discount_http_validate, 0, NULL},
	{HTTP_GET, "/v1/discounts", discount_http_list, 0, NULL},
	{HTTP_POST, "/v1/discounts", discount_http_create, 0, NULL},
};
const size_t billing_pay_nroutes = sizeof(billing_pay_routes) / sizeof(billing_pay_routes[0]);
