/*
 * identity_events.c - identity's event payloads and their outbox rows (see
 * identity_events.h).
 *
 * Owns nothing: every object it builds is handed to the caller or to the outbox insert,
 * whose parameters are copied before it returns.
 */
#include "identity_events.h"

#include <string.h>

#include "common/event.h"
#include "common/json.h"
#include "common/outbox.h"
#include "identity_json.h"

const char *revoke_reason_str(enum revoke_reason r)
{
	switch (r) {
	case REVOKE_LOGOUT: return "logout";
	case REVOKE_DELETED: return "deleted";
	case REVOKE_REFRESH_REUSE: return "refresh_reuse";
	}
	return NULL;
}

json_object *user_registered_data(const struct user *u, bool verification_required)
{
	json_object *o;

	if (u->id == NULL || u->tenant_id == NULL || u->email == NULL || u->register_mode == NULL ||
	    u->register_date == NULL)
		return NULL;
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_set_str(o, "user_id", u->id);
	json_set_str(o, "tenant_id", u->tenant_id);
	json_set_str(o, "email", u->email);
	json_set_str(o, "full_name", u->full_name);
	json_set_str(o, "register_mode", u->register_mode);
	json_set_bool(o, "verification_required", verification_required);
	json_set_str(o, "registered_at", u->register_date);
	return o;
}

json_object *session_revoked_data(const struct revoked_session *s, enum revoke_reason why)
{
	const char *reason = revoke_reason_str(why);
	json_object *o;

	if (reason == NULL || s->session_id == NULL || s->user_id == NULL || s->tenant_id == NULL ||
	    s->revoked_at == NULL)
		return NULL;
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_set_str(o, "session_id", s->session_id);
	json_set_str(o, "user_id", s->user_id);
	json_set_str(o, "tenant_id", s->tenant_id);
	json_set_str(o, "reason", reason);
	json_set_str(o, "revoked_at", s->revoked_at);
	return o;
}

json_object *tenant_created_data(const struct tenant *t)
{
	json_object *o;

	if (t->id == NULL || t->slug == NULL || t->name == NULL || t->kind == NULL ||
	    t->status == NULL || t->created_at == NULL)
		return NULL;
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_set_str(o, "tenant_id", t->id);
	json_set_str(o, "slug", t->slug);
	json_set_str(o, "name", t->name);
	json_set_str(o, "kind", t->kind);
	json_set_str(o, "status", t->status);
	json_set_str(o, "created_at", t->created_at);
	return o;
}

json_object *tenant_updated_data(const struct tenant *t, const char *changed,
				 const char *updated_at)
{
	json_object *o;

	if (t->id == NULL || t->slug == NULL || t->name == NULL || t->kind == NULL ||
	    t->status == NULL || changed == NULL || changed[0] == '\0' || updated_at == NULL)
		return NULL;
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_set_str(o, "tenant_id", t->id);
	json_set_str(o, "slug", t->slug);
	json_set_str(o, "name", t->name);
	json_set_str(o, "kind", t->kind);
	json_set_str(o, "status", t->status);
	json_object_object_add(o, "changed_fields", csv_to_json_array(changed));
	json_set_str(o, "updated_at", updated_at);
	return o;
}

json_object *tenant_suspended_data(const struct tenant *t, const char *previous_status,
				   const char *reason, const char *by_user_id,
				   const char *suspended_at)
{
	json_object *o;

	if (t->id == NULL || t->slug == NULL || previous_status == NULL ||
	    strcmp(previous_status, "Suspended") == 0 || suspended_at == NULL)
		return NULL;
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_set_str(o, "tenant_id", t->id);
	json_set_str(o, "slug", t->slug);
	json_set_str(o, "previous_status", previous_status);
	json_set_str(o, "reason", reason);
	json_set_str(o, "suspended_by_user_id", by_user_id);
	json_set_str(o, "suspended_at", suspended_at);
	return o;
}

json_object *api_key_revoked_data(const char *api_key_id, const char *tenant_id,
				  const char *key_prefix, enum key_revoke_reason why,
				  const char *by_user_id, const char *revoked_at)
{
	const char *reason = why == KEY_REVOKE_REVOKED ? "revoked"
			     : why == KEY_REVOKE_ADMIN ? "admin"
						       : NULL;
	json_object *o;

	if (reason == NULL || api_key_id == NULL || tenant_id == NULL || key_prefix == NULL ||
	    revoked_at == NULL)
		return NULL;
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_set_str(o, "api_key_id", api_key_id);
	json_set_str(o, "tenant_id", tenant_id);
	json_set_str(o, "key_prefix", key_prefix);
	json_set_str(o, "reason", reason);
	json_set_str(o, "revoked_by_user_id", by_user_id);
	json_set_str(o, "revoked_at", revoked_at);
	return o;
}

json_object *identity_event_envelope(const char *type, const char *trace_id, json_object *data,
				     char *event_id_out)
{
	json_object *tid = NULL;

	if (data == NULL || !json_object_is_type(data, json_type_object))
		goto fail;
	/* the envelope's tenant is the payload's: both are equal by contract */
	if (!json_object_object_get_ex(data, "tenant_id", &tid) ||
	    !json_object_is_type(tid, json_type_string))
		goto fail;
	/* event_envelope_new puts data itself when it fails */
	return event_envelope_new(type, EV_PRODUCER, json_object_get_string(tid), trace_id, data,
				  event_id_out);
fail:
	json_object_put(data);
	return NULL;
}

int identity_event_add(struct pg_tx *tx, const char *schema, const char *type, const char *trace_id,
		       json_object *data, const char *aggregate_id, pg_result_cb cb, void *arg)
{
	json_object *env = identity_event_envelope(type, trace_id, data, NULL);
	int rc;

	if (env == NULL)
		return -1;
	rc = outbox_add(tx, schema, env, aggregate_id, cb, arg); /* copies the payload text */
	json_object_put(env);
	return rc;
}
