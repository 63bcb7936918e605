/*
 * routes.c - THE route table of the gateway: one row per public endpoint (method, pattern,
 * owning service, auth surface). Adding a service's endpoint to the gateway is one row here
 * (plus its upstream URL in upstreams.c).
 *
 * Owns the static table; gw_routes_build() assembles the runtime table around it.
 */
#include "routes.h"

#include <stdlib.h>
#include <string.h>

#include "extra_routes.h"
#include "handler.h"

static const struct gw_route R_IDENTITY_NONE = {"identity", GW_AUTH_NONE, GW_AFTER_NONE, NULL, 0};
static const struct gw_route R_IDENTITY_NONE_RL = {"identity", GW_AUTH_NONE, GW_AFTER_NONE, NULL,
						   GW_RL_IP};
static const struct gw_route R_IDENTITY_JWT = {"identity", GW_AUTH_JWT, GW_AFTER_NONE, NULL, 0};
static const struct gw_route R_PREFLIGHT = {"gateway", GW_AUTH_PREFLIGHT, GW_AFTER_NONE, NULL, 0};
static const struct gw_route R_LOGOUT = {"identity", GW_AUTH_JWT, GW_AFTER_REVOKE_OWN_SESSION,
					 NULL, 0};
static const struct gw_route R_SESSION_DELETE = {"identity", GW_AUTH_JWT,
						 GW_AFTER_REVOKE_PATH_SESSION, NULL, 0};
/* ---- billing rows' data ---- */
static const struct gw_route R_BILLING_NONE = {"billing", GW_AUTH_NONE, GW_AFTER_NONE, NULL, 0};
static const struct gw_route R_BILLING_JWT = {"billing", GW_AUTH_JWT, GW_AFTER_NONE, NULL, 0};
/* ---- reseller API rows' data ---- */
static const struct gw_route R_RESELLER_KEY = {"identity", GW_AUTH_APIKEY, GW_AFTER_NONE, NULL, 0};
static const struct gw_route R_RESELLER_USERS_READ = {"identity", GW_AUTH_APIKEY, GW_AFTER_NONE,
						      "users:read", 0};
static const struct gw_route R_RESELLER_USERS_WRITE = {"identity", GW_AUTH_APIKEY, GW_AFTER_NONE,
						       "users:write", 0};

#define ROW(m, pattern, data) {(m), (pattern), gw_handle, 0, &(data)}

const struct http_route gw_public_routes[] = {
	ROW(HTTP_POST, "/v1/auth/register", R_IDENTITY_NONE_RL),
	ROW(HTTP_POST, "/v1/auth/login", R_IDENTITY_NONE_RL),
	ROW(HTTP_POST, "/v1/auth/refresh", R_IDENTITY_NONE_RL),
	ROW(HTTP_POST, "/v1/auth/logout", R_LOGOUT),
	ROW(HTTP_GET, "/v1/auth/sessions", R_IDENTITY_JWT),
	ROW(HTTP_DELETE, "/v1/auth/sessions/{session_id}", R_SESSION_DELETE),
	ROW(HTTP_GET, "/v1/users/me", R_IDENTITY_JWT),
	ROW(HTTP_PATCH, "/v1/users/me", R_IDENTITY_JWT),
	ROW(HTTP_GET, "/v1/.well-known/jwks.json", R_IDENTITY_NONE),
	/* ---- identity: tenants and API keys ---- */
	ROW(HTTP_POST, "/v1/tenants", R_IDENTITY_JWT),
	ROW(HTTP_GET, "/v1/tenants", R_IDENTITY_JWT),
	ROW(HTTP_GET, "/v1/tenants/{tenant_id}", R_IDENTITY_JWT),
	ROW(HTTP_PATCH, "/v1/tenants/{tenant_id}", R_IDENTITY_JWT),
	ROW(HTTP_POST, "/v1/tenants/{tenant_id}/api-keys", R_IDENTITY_JWT),
	ROW(HTTP_GET, "/v1/tenants/{tenant_id}/api-keys", R_IDENTITY_JWT),
	ROW(HTTP_DELETE, "/v1/tenants/{tenant_id}/api-keys/{api_key_id}", R_IDENTITY_JWT),
	/* ---- billing: plans, balance, usage ---- */
	ROW(HTTP_GET, "/v1/plans", R_BILLING_NONE),
	ROW(HTTP_POST, "/v1/plans", R_BILLING_JWT),
	ROW(HTTP_GET, "/v1/plans/{plan_id}", R_BILLING_NONE),
	ROW(HTTP_PATCH, "/v1/plans/{plan_id}", R_BILLING_JWT),
	ROW(HTTP_GET, "/v1/users/me/plan", R_BILLING_JWT),
	ROW(HTTP_PATCH, "/v1/users/me/plan", R_BILLING_JWT),
	ROW(HTTP_POST, "/v1/users/me/plan/cancel", R_BILLING_JWT),
	ROW(HTTP_GET, "/v1/users/me/balance", R_BILLING_JWT),
	ROW(HTTP_GET, "/v1/users/me/transactions", R_BILLING_JWT),
	ROW(HTTP_POST, "/v1/admin/users/{user_id}/credits/grant", R_BILLING_JWT),
	ROW(HTTP_POST, "/v1/admin/users/{user_id}/credits/clawback", R_BILLING_JWT),
	ROW(HTTP_GET, "/v1/tenants/{tenant_id}/usage", R_BILLING_JWT),
	/* ---- billing: payments, discounts ---- */
	ROW(HTTP_POST, "/v1/users/me/plan/purchase", R_BILLING_JWT),
	ROW(HTTP_POST, "/v1/users/me/balance/top-up", R_BILLING_JWT),
	ROW(HTTP_GET, "/v1/payments", R_BILLING_JWT),
	ROW(HTTP_GET, "/v1/payments/{payment_id}", R_BILLING_JWT),
	ROW(HTTP_GET, "/v1/payments/sandbox/checkout", R_BILLING_NONE),
	ROW(HTTP_GET, "/v1/payments/sandbox/return", R_BILLING_NONE),
	ROW(HTTP_POST, "/v1/payments/callback/stripe", R_BILLING_NONE),
	ROW(HTTP_GET, "/v1/payments/callback/zarinpal", R_BILLING_NONE),
	ROW(HTTP_POST, "/v1/discounts/validate", R_BILLING_JWT),
	ROW(HTTP_GET, "/v1/discounts", R_BILLING_JWT),
	ROW(HTTP_POST, "/v1/discounts", R_BILLING_JWT),
	/* ---- reseller API ---- */
	ROW(HTTP_GET, "/v1/reseller/me", R_RESELLER_KEY),
	ROW(HTTP_GET, "/v1/reseller/users", R_RESELLER_USERS_READ),
	ROW(HTTP_POST, "/v1/reseller/users", R_RESELLER_USERS_WRITE),
	ROW(HTTP_GET, "/v1/reseller/users/{user_id}", R_RESELLER_USERS_READ),
};
const size_t gw_public_nroutes = sizeof(gw_public_routes) / sizeof(gw_public_routes[0]);

/* Methods an extra prefix route proxies. */
static const enum http_method gw_extra_methods[] = {HTTP_GET,   HTTP_HEAD,   HTTP_POST, HTTP_PUT,
						    HTTP_PATCH, HTTP_DELETE, HTTP_OPTIONS};
#define GW_NEXTRA_METHODS (sizeof(gw_extra_methods) / sizeof(gw_extra_methods[0]))

const char *gw_auth_str(enum gw_auth a)
{
	switch (a) {
	case GW_AUTH_NONE:
		return "none";
	case GW_AUTH_JWT:
		return "jwt";
	case GW_AUTH_PREFLIGHT:
		return "preflight";
	case GW_AUTH_APIKEY:
		return "apikey";
	}
	return "?";
}

void gw_routes_print(FILE *out)
{
	fprintf(out, "GET /healthz\nGET /readyz\nGET /metrics\n");
	for (size_t i = 0; i < gw_public_nroutes; i++)
		fprintf(out, "%s %s\n", http_method_str(gw_public_routes[i].method),
			gw_public_routes[i].pattern);
}

void gw_routes_allow(const char *pattern, char *buf, size_t cap)
{
	size_t o = 0;
	int w;

	buf[0] = '\0';
	for (size_t i = 0; pattern != NULL && i < gw_public_nroutes; i++) {
		if (strcmp(gw_public_routes[i].pattern, pattern) != 0)
			continue;
		w = snprintf(buf + o, cap - o, "%s, ", http_method_str(gw_public_routes[i].method));
		if (w < 0 || (size_t)w >= cap - o)
			return;
		o += (size_t)w;
	}
	snprintf(buf + o, cap - o, "OPTIONS");
}

/* True when pattern already appears in rows[0..i). */
static bool gw_pattern_seen(const struct http_route *rows, size_t i, const char *pattern)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(rows[j].pattern, pattern) == 0)
			return true;
	return false;
}

struct http_route *gw_routes_build(const struct extra_routes *x, size_t *n)
{
	size_t nextra = x != NULL ? x->n : 0;
	size_t cap = 2 * gw_public_nroutes + nextra * GW_NEXTRA_METHODS;
	struct http_route *rows = calloc(cap, sizeof(*rows));
	size_t k = 0;

	if (rows == NULL)
		return NULL;
	for (size_t i = 0; i < gw_public_nroutes; i++)
		rows[k++] = gw_public_routes[i];
	for (size_t i = 0; i < gw_public_nroutes; i++) {
		const char *p = gw_public_routes[i].pattern;

		if (gw_pattern_seen(gw_public_routes, i, p))
			continue;
		rows[k++] = (struct http_route){HTTP_OPTIONS, p, gw_handle, 0, &R_PREFLIGHT};
	}
	for (size_t i = 0; i < nextra; i++)
		for (size_t m = 0; m < GW_NEXTRA_METHODS; m++)
			rows[k++] = (struct http_route){gw_extra_methods[m], x->v[i].prefix, gw_handle,
							HTTP_ROUTE_PREFIX, &x->v[i].route};
	*n = k;
	return rows;
}
