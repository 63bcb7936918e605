/*
 * tenant_access.c - the administration rights of a caller (see tenant_access.h).
 *
 * Pure decisions over the resolved caller; owns nothing.
 */
#include "tenant_access.h"

#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "validate.h"

int platform_admin_or_reply(struct http_request *req, const struct authn_caller *c)
{
	if (c->is_admin)
		return 0;
	http_reply_error(req, 403, "forbidden", "Only a platform admin may do this.", NULL);
	return -1;
}

int tenant_admin_or_reply(struct http_request *req, const struct authn_caller *c,
			  const char *tenant_id)
{
	bool own = strcmp(c->tenant_id, tenant_id) == 0;

	if (c->is_admin || (own && c->is_tenant_admin))
		return 0;
	if (own)
		http_reply_error(req, 403, "forbidden", "Only a tenant admin may do this.", NULL);
	else
		http_reply_error(req, 404, "tenant_not_found", "No such tenant.", NULL);
	return -1;
}

const char *uuid_param_or_reply(struct http_request *req, const char *name)
{
	const char *v = http_request_param(req, name);
	char msg[96];

	if (v != NULL && uuid_valid(v))
		return v;
	snprintf(msg, sizeof(msg), "%s must be a UUID.", name);
	http_reply_error(req, 400, "invalid_parameter", msg, NULL);
	return NULL;
}

int page_or_reply(struct http_request *req, struct page *p)
{
	struct jv v;

	jv_init(&v);
	if (page_parse(http_request_query_param(req, "page"),
		       http_request_query_param(req, "page_size"), p, &v) == 0)
		return 0;
	http_reply_validation(req, &v);
	return -1;
}
