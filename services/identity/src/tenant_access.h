/*
 * tenant_access.h - who may administer what: a platform admin (is_admin) every tenant, a
 * tenant admin (is_tenant_admin) only its own tenant, nobody else. Shared by the tenant and
 * API-key handlers, with the path and query helpers they share; each *_or_reply helper answers
 * the refusal itself and returns -1.
 */
#ifndef IDENTITY_TENANT_ACCESS_H
#define IDENTITY_TENANT_ACCESS_H

#include "authn.h"

/* 0 for a platform admin; else 403 forbidden. */
int platform_admin_or_reply(struct http_request *req, const struct authn_caller *c);
/* 0 when c may administer tenant_id; else 403 forbidden (a user of that tenant without the
 * role) or 404 tenant_not_found (any other tenant: its existence is not revealed). */
int tenant_admin_or_reply(struct http_request *req, const struct authn_caller *c,
			  const char *tenant_id);
/* The path parameter name when it is a UUID; else replies 400 invalid_parameter and returns
 * NULL. */
const char *uuid_param_or_reply(struct http_request *req, const char *name);

/* Reads ?page & page_size; replies 422 validation_failed and returns -1 when invalid. */
struct page;
int page_or_reply(struct http_request *req, struct page *p);

#endif
