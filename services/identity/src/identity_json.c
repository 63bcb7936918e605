/*
 * identity_json.c - identity's objects to JSON (see identity_json.h).
 *
 * NULL strings become JSON null; nullable integers likewise. Owns nothing: every object it
 * builds is handed to the caller.
 */
#include "identity_json.h"

#include "common/json.h"

static void json_set_opt_int(json_object *o, const char *key, struct opt_int v)
{
	if (v.set)
		json_set_int(o, key, v.v);
	else
		json_object_object_add(o, key, NULL);
}

json_object *tenant_to_json(const struct tenant *t)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_set_str(o, "id", t->id);
	json_set_str(o, "slug", t->slug);
	json_set_str(o, "name", t->name);
	json_set_str(o, "kind", t->kind);
	json_set_str(o, "status", t->status);
	json_set_str(o, "custom_domain", t->custom_domain);
	json_set_bool(o, "domain_verified", t->domain_verified);
	json_set_str(o, "contact_email", t->contact_email != NULL ? t->contact_email : "");
	json_set_opt_int(o, "max_users", t->max_users);
	json_set_opt_int(o, "max_storage_gb", t->max_storage_gb);
	json_set_opt_int(o, "monthly_render_qty", t->monthly_render_qty);
	json_set_str(o, "trial_ends_at", t->trial_ends_at);
	json_set_str(o, "created_at", t->created_at);
	return o;
}

json_object *user_to_json(const struct user *u)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_set_str(o, "id", u->id);
	json_set_str(o, "tenant_id", u->tenant_id);
	json_set_str(o, "email", u->email);
	json_set_bool(o, "email_verified", u->email_verified);
	json_set_str(o, "phone_number", u->phone_number);
	json_set_bool(o, "phone_verified", u->phone_verified);
	json_set_str(o, "full_name", u->full_name);
	json_set_str(o, "avatar_url", u->avatar_url);
	json_set_bool(o, "is_admin", u->is_admin);
	json_set_bool(o, "is_tenant_admin", u->is_tenant_admin);
	json_set_str(o, "register_mode", u->register_mode);
	json_set_str(o, "status", u->status);
	json_set_str(o, "slogan", u->slogan);
	json_set_str(o, "about_me", u->about_me);
	json_set_str(o, "company_name", u->company_name);
	json_set_str(o, "website_name", u->website_name);
	json_set_str(o, "birth_date", u->birth_date);
	json_set_str(o, "gender", u->gender);
	json_set_bool(o, "email_tell_me", u->email_tell_me);
	json_set_bool(o, "sms_tell_me", u->sms_tell_me);
	json_set_bool(o, "push_tell_me", u->push_tell_me);
	json_set_bool(o, "telegram_tell_me", u->telegram_tell_me);
	json_set_str(o, "last_active_date", u->last_active_date);
	json_set_str(o, "register_date", u->register_date);
	return o;
}

json_object *session_view_to_json(const struct session_view *s)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_set_str(o, "id", s->id);
	json_set_str(o, "device_name", s->device_name);
	json_set_str(o, "user_agent", s->user_agent);
	json_set_str(o, "ip_address", s->ip_address);
	json_set_str(o, "issued_at", s->issued_at);
	json_set_str(o, "last_used_at", s->last_used_at);
	json_set_str(o, "expires_at", s->expires_at);
	json_set_bool(o, "is_current", s->is_current);
	return o;
}

json_object *session_state_to_json(const struct session_state *s)
{
	json_object *o = json_object_new_object();
	enum session_reason r = session_state_reason(s);

	if (o == NULL)
		return NULL;
	json_set_str(o, "session_id", s->session_id);
	json_set_str(o, "user_id", s->user_id);
	json_set_str(o, "tenant_id", s->tenant_id);
	json_set_bool(o, "active", r == SESSION_ACTIVE);
	json_set_str(o, "reason", session_reason_str(r));
	json_set_bool(o, "is_admin", s->is_admin);
	json_set_bool(o, "is_tenant_admin", s->is_tenant_admin);
	return o;
}

json_object *auth_tokens_to_json(const char *access_token, const char *refresh_token,
				 long expires_in, const struct user *u, const struct tenant *t)
{
	json_object *o = json_object_new_object();
	json_object *uj, *tj;

	if (o == NULL)
		return NULL;
	uj = user_to_json(u);
	tj = tenant_to_json(t);
	if (uj == NULL || tj == NULL) {
		json_object_put(uj);
		json_object_put(tj);
		json_object_put(o);
		return NULL;
	}
	json_set_str(o, "access_token", access_token);
	json_set_str(o, "refresh_token", refresh_token);
	json_set_str(o, "token_type", "Bearer");
	json_set_int(o, "expires_in", expires_in);
	json_object_object_add(o, "user", uj);
	json_object_object_add(o, "tenant", tj);
	return o;
}
