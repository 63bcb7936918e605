/*
 * identity_json.c - identity's objects to JSON (see identity_json.h).
 *
 * NULL strings become JSON null; nullable integers likewise. Owns nothing: every object it
 * builds is handed to the caller.
 */
#include "identity_json.h"

#include <string.h>

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

json_object *csv_to_json_array(const char *csv)
{
	json_object *a = json_object_new_array();
	const char *p = csv;

	if (a == NULL || p == NULL || *p == '\0')
		return a;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);

		json_object_array_add(a, json_object_new_string_len(p, (int)n));
		if (comma == NULL)
			return a;
		p = comma + 1;
	}
}

json_object *tenant_detail_to_json(const struct tenant_detail *d)
{
	json_object *o = tenant_to_json(&d->t);

	if (o == NULL)
		return NULL;
	json_set_str(o, "contact_name", d->contact_name);
	json_set_str(o, "contact_phone", d->contact_phone);
	json_set_str(o, "billing_email", d->billing_email);
	json_object_object_add(o, "allowed_origins", csv_to_json_array(d->allowed_origins));
	return o;
}

json_object *api_key_to_json(const struct api_key *k, const char *secret)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_set_str(o, "id", k->id);
	json_set_str(o, "tenant_id", k->tenant_id);
	json_set_str(o, "name", k->name);
	json_set_str(o, "environment", k->environment);
	json_set_str(o, "key_prefix", k->key_prefix);
	json_set_str(o, "last4", k->last4);
	json_object_object_add(o, "scopes", csv_to_json_array(k->scopes));
	json_object_object_add(o, "allowed_ips", csv_to_json_array(k->allowed_ips));
	json_set_int(o, "rate_limit_rpm", k->rate_limit_rpm);
	json_set_bool(o, "is_active", k->is_active);
	json_set_str(o, "expires_at", k->expires_at);
	json_set_str(o, "revoked_at", k->revoked_at);
	json_set_str(o, "last_used_at", k->last_used_at);
	json_set_int(o, "usage_count", k->usage_count);
	json_set_str(o, "created_at", k->created_at);
	if (secret != NULL)
		json_set_str(o, "secret_key", secret);
	return o;
}

json_object *page_meta_to_json(long page, long page_size, long long total)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_set_int(o, "page", page);
	json_set_int(o, "page_size", page_size);
	json_set_int(o, "total", total);
	json_set_bool(o, "has_more", (long long)page * page_size < total);
	return o;
}

json_object *page_to_json(json_object *items, long page, long page_size, long long total)
{
	json_object *o = json_object_new_object();
	json_object *meta = page_meta_to_json(page, page_size, total);

	if (o == NULL || meta == NULL || items == NULL) {
		json_object_put(o);
		json_object_put(meta);
		json_object_put(items);
		return NULL;
	}
	json_object_object_add(o, "data", items);
	json_object_object_add(o, "meta", meta);
	return o;
}
