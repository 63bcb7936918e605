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

#endif
