/*
 * identity_json.h - identity's objects rendered as JSON, exactly the shapes of api.md
 * (User, Tenant, Session, AuthTokens, SessionStatus). Every function returns a new object
 * the caller owns (json_object_put), or NULL when out of memory.
 */
#ifndef IDENTITY_JSON_H
#define IDENTITY_JSON_H

#include <json-c/json.h>

#include "model.h"

json_object *tenant_to_json(const struct tenant *t);
json_object *user_to_json(const struct user *u);
json_object *session_view_to_json(const struct session_view *s);
json_object *session_state_to_json(const struct session_state *s);
/* {access_token, refresh_token, token_type:"Bearer", expires_in, user, tenant}. */
json_object *auth_tokens_to_json(const char *access_token, const char *refresh_token,
				 long expires_in, const struct user *u, const struct tenant *t);

/* Tenant plus contact_name, contact_phone, billing_email, allowed_origins (array). */
json_object *tenant_detail_to_json(const struct tenant_detail *d);
/* ApiKey (scopes and allowed_ips as arrays); with secret_key added when secret is not NULL
 * (the 201 of a creation, the only time it is shown). */
json_object *api_key_to_json(const struct api_key *k, const char *secret);
/* {page, page_size, total, has_more}. */
json_object *page_meta_to_json(long page, long page_size, long long total);
/* {data: items (taken), meta}. */
json_object *page_to_json(json_object *items, long page, long page_size, long long total);
/* The array of a comma-joined list ("" -> []). */
json_object *csv_to_json_array(const char *csv);

#endif
