/*
 * routes.c - THE route table of identity: one row per endpoint of
 * contracts/rest/identity.openapi.yaml. GET /healthz, /readyz and /metrics are served by
 * libcommon's HTTP server itself.
 *
 * Owns the static table.
 */
#include "routes.h"

#include "handlers.h"

const struct http_route identity_routes[] = {
	{HTTP_POST, "/v1/auth/register", auth_http_register, 0, NULL},
	{HTTP_POST, "/v1/auth/login", auth_http_login, 0, NULL},
	{HTTP_POST, "/v1/auth/refresh", auth_http_refresh, 0, NULL},
	{HTTP_POST, "/v1/auth/logout", session_http_logout, 0, NULL},
	{HTTP_GET, "/v1/auth/sessions", session_http_list, 0, NULL},
	{HTTP_DELETE, "/v1/auth/sessions/{session_id}", session_http_delete, 0, NULL},
	{HTTP_GET, "/v1/users/me", user_http_get_me, 0, NULL},
	{HTTP_PATCH, "/v1/users/me", user_http_patch_me, 0, NULL},
	{HTTP_GET, "/v1/.well-known/jwks.json", jwks_http_get, 0, NULL},
	{HTTP_GET, "/internal/v1/sessions/{session_id}", session_http_status, 0, NULL},
	{HTTP_POST, "/internal/v1/service-tokens", service_token_http_create, 0, NULL},
	{HTTP_GET, "/internal/v1/whoami", service_token_http_whoami, 0, NULL},
	{HTTP_POST, "/v1/tenants", tenant_http_create, 0, NULL},
	{HTTP_GET, "/v1/tenants", tenant_http_list, 0, NULL},
	{HTTP_GET, "/v1/tenants/{tenant_id}", tenant_http_get, 0, NULL},
	{HTTP_PATCH, "/v1/tenants/{tenant_id}", tenant_http_patch, 0, NULL},
	{HTTP_POST, "/v1/tenants/{tenant_id}/api-keys", apikey_http_create, 0, NULL},
	{HTTP_GET, "/v1/tenants/{tenant_id}/api-keys", apikey_http_list, 0, NULL},
	{HTTP_DELETE, "/v1/tenants/{tenant_id}/api-keys/{api_key_id}", apikey_http_revoke, 0, NULL},
	{HTTP_POST, "/v1/api-keys/validate", apikey_http_validate, 0, NULL},
	{HTTP_POST, "/internal/v1/api-keys/usage", apikey_http_usage, 0, NULL},
	{HTTP_GET, "/v1/reseller/me", reseller_http_me, 0, NULL},
	{HTTP_GET, "/v1/reseller/users", reseller_http_users_list, 0, NULL},
	{HTTP_GET, "/v1/reseller/users/{user_id}", reseller_http_users_get, 0, NULL},
	{HTTP_POST, "/v1/reseller/users", reseller_http_users_create, 0, NULL},
};
const size_t identity_nroutes = sizeof(identity_routes) / sizeof(identity_routes[0]);

void identity_routes_print(FILE *out)
{
	fprintf(out, "GET /healthz\nGET /readyz\nGET /metrics\n");
	for (size_t i = 0; i < identity_nroutes; i++)
		fprintf(out, "%s %s\n", http_method_str(identity_routes[i].method),
			identity_routes[i].pattern);
}
