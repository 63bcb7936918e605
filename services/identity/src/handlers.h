/*
 * handlers.h - identity's HTTP handlers, one per route (the table is in routes.c).
 *
 * Every handler borrows the request until it has replied exactly once; app is the
 * struct identity_app.
 */
#ifndef IDENTITY_HANDLERS_H
#define IDENTITY_HANDLERS_H

#include "common/http.h"

/* auth_register_http.c */
void auth_http_register(struct http_request *req, void *app);
/* auth_login_http.c */
void auth_http_login(struct http_request *req, void *app);
/* auth_refresh_http.c */
void auth_http_refresh(struct http_request *req, void *app);
/* session_http.c */
void session_http_logout(struct http_request *req, void *app);
void session_http_list(struct http_request *req, void *app);
void session_http_delete(struct http_request *req, void *app);
void session_http_status(struct http_request *req, void *app);
/* user_http.c */
void user_http_get_me(struct http_request *req, void *app);
void user_http_patch_me(struct http_request *req, void *app);
/* jwks_http.c */
void jwks_http_get(struct http_request *req, void *app);
/* service_token_http.c */
void service_token_http_create(struct http_request *req, void *app);
void service_token_http_whoami(struct http_request *req, void *app);
/* tenant_http.c, tenant_patch_http.c */
void tenant_http_create(struct http_request *req, void *app);
void tenant_http_list(struct http_request *req, void *app);
void tenant_http_get(struct http_request *req, void *app);
void tenant_http_patch(struct http_request *req, void *app);
/* apikey_http.c */
void apikey_http_create(struct http_request *req, void *app);
void apikey_http_list(struct http_request *req, void *app);
void apikey_http_revoke(struct http_request *req, void *app);
/* apikey_internal_http.c */
void apikey_http_validate(struct http_request *req, void *app);
void apikey_http_usage(struct http_request *req, void *app);
/* reseller_http.c */
void reseller_http_me(struct http_request *req, void *app);
void reseller_http_users_list(struct http_request *req, void *app);
void reseller_http_users_get(struct http_request *req, void *app);
void reseller_http_users_create(struct http_request *req, void *app);

#endif
