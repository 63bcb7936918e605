/*
 * routes.c - THE route table of billing's core: one row per endpoint of
 * contracts/rest/billing.openapi.yaml outside payments (those rows are in pay_routes.c).
 * GET /healthz, /readyz and /metrics are served by libcommon's HTTP server itself.
 *
 * Owns the static table; billing_routes_build() hands out a joined copy.
 */
#include "routes.h"

#include <stdlib.h>
#include <string.h>

#include "handlers.h"

const struct http_route billing_routes[] = {
	{HTTP_GET, "/v1/plans", plan_http_list, 0, NULL},
	{HTTP_GET, "/v1/plans/{plan_id}", plan_http_get, 0, NULL},
	{HTTP_POST, "/v1/plans", plan_http_create, 0, NULL},
	{HTTP_PATCH, "/v1/plans/{plan_id}", plan_http_update, 0, NULL},
	{HTTP_GET, "/v1/users/me/plan", user_plan_http_get, 0, NULL},
	{HTTP_PATCH, "/v1/users/me/plan", user_plan_http_patch, 0, NULL},
	{HTTP_POST, "/v1/users/me/plan/cancel", user_plan_http_cancel, 0, NULL},
	{HTTP_GET, "/v1/users/me/balance", wallet_http_balance, 0, NULL},
	{HTTP_GET, "/v1/users/me/transactions", wallet_http_transactions, 0, NULL},
	{HTTP_POST, "/v1/admin/users/{user_id}/credits/grant", wallet_http_grant, 0, NULL},
	{HTTP_POST, "/v1/admin/users/{user_id}/credits/clawback", wallet_http_clawback, 0, NULL},
	{HTTP_GET, "/v1/tenants/{tenant_id}/usage", usage_http_get, 0, NULL},
	{HTTP_POST, "/internal/v1/holds", hold_http_reserve, 0, NULL},
	{HTTP_GET, "/internal/v1/holds/{hold_id}", hold_http_get, 0, NULL},
	{HTTP_POST, "/internal/v1/holds/{hold_id}/capture", hold_http_capture, 0, NULL},
	{HTTP_POST, "/internal/v1/holds/{hold_id}/release", hold_http_release, 0, NULL},
};
const size_t billing_nroutes = sizeof(billing_routes) / sizeof(billing_routes[0]);

struct http_route *billing_routes_build(size_t *n)
{
	struct http_route *all = calloc(billing_nroutes + billing_pay_nroutes + 1, sizeof(*all));

	if (all == NULL)
		return NULL;
	memcpy(all, billing_routes, billing_nroutes * sizeof(*all));
	if (billing_pay_nroutes > 0)
		memcpy(all + billing_nroutes, billing_pay_routes,
		       billing_pay_nroutes * sizeof(*all));
	*n = billing_nroutes + billing_pay_nroutes;
	return all;
}

static void routes_print_table(FILE *out, const struct http_route *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s %s\n", http_method_str(t[i].method), t[i].pattern);
}

void billing_routes_print(FILE *out)
{
	fprintf(out, "GET /healthz\nGET /readyz\nGET /metrics\n");
	routes_print_table(out, billing_routes, billing_nroutes);
	routes_print_table(out, billing_pay_routes, billing_pay_nroutes);
}
