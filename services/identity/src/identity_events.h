/*
 * identity_events.h - what identity publishes: the payloads (`data`) of its events, exactly
 * as contracts/events/identity.yaml and tenant.yaml define them (closed schemas, every field
 * present, null when it has no value), and writing one event into the outbox inside the
 * caller's transaction (common/outbox.h). Identity consumes no events.
 *
 *   identity.user.registered.v1  a user registered (POST /v1/auth/register)
 *   identity.session.revoked.v1  logout, DELETE /v1/auth/sessions/{id}, refresh-token reuse
 *   identity.tenant.created.v1   a tenant was inserted (POST /v1/tenants, the seeded "default")
 *   identity.tenant.updated.v1   PATCH /v1/tenants/{id} changed something
 *   identity.tenant.suspended.v1 that PATCH set the status to Suspended
 *   identity.api_key.revoked.v1  DELETE /v1/tenants/{id}/api-keys/{key_id} revoked a key
 *
 * Every builder returns a new object the caller owns (json_object_put), or NULL when a
 * required field is missing (or out of memory).
 */
#ifndef IDENTITY_EVENTS_H
#define IDENTITY_EVENTS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "common/pg.h"
#include "model.h"

#define EV_PRODUCER "identity"
#define EV_USER_REGISTERED "identity.user.registered.v1"
#define EV_SESSION_REVOKED "identity.session.revoked.v1"
#define EV_TENANT_CREATED "identity.tenant.created.v1"
#define EV_TENANT_UPDATED "identity.tenant.updated.v1"
#define EV_TENANT_SUSPENDED "identity.tenant.suspended.v1"
#define EV_API_KEY_REVOKED "identity.api_key.revoked.v1"

/* data.reason of identity.session.revoked.v1 (the contract also has "admin", unused yet). */
enum revoke_reason {
	REVOKE_LOGOUT,        /* POST /v1/auth/logout */
	REVOKE_DELETED,       /* DELETE /v1/auth/sessions/{session_id} */
	REVOKE_REFRESH_REUSE, /* a spent refresh token was presented */
};
/* "logout", "deleted", "refresh_reuse"; NULL for a value outside the enum. */
const char *revoke_reason_str(enum revoke_reason r);

/* {user_id, tenant_id, email, full_name, register_mode, verification_required,
 * registered_at} from u's id, tenant_id, email, full_name (nullable), register_mode and
 * register_date. */
json_object *user_registered_data(const struct user *u, bool verification_required);
/* {session_id, user_id, tenant_id, reason, revoked_at}. */
json_object *session_revoked_data(const struct revoked_session *s, enum revoke_reason why);
/* {tenant_id, slug, name, kind, status, created_at} from t's id, slug, name, kind, status and
 * created_at. */
json_object *tenant_created_data(const struct tenant *t);

/* {tenant_id, slug, name, kind, status, changed_fields (array of the comma-joined
 * changed), updated_at} from t's id, slug, name, kind and status. */
json_object *tenant_updated_data(const struct tenant *t, const char *changed,
				 const char *updated_at);
/* {tenant_id, slug, previous_status, reason, suspended_by_user_id, suspended_at}; reason
 * and by_user_id may be NULL. */
json_object *tenant_suspended_data(const struct tenant *t, const char *previous_status,
				   const char *reason, const char *by_user_id,
				   const char *suspended_at);
/* data.reason of identity.api_key.revoked.v1. */
enum key_revoke_reason {
	KEY_REVOKE_REVOKED, /* a tenant admin of the key's tenant */
	KEY_REVOKE_ADMIN,   /* a platform admin of another tenant */
};
/* {api_key_id, tenant_id, key_prefix, reason, revoked_by_user_id, revoked_at}. */
json_object *api_key_revoked_data(const char *api_key_id, const char *tenant_id,
				  const char *key_prefix, enum key_revoke_reason why,
				  const char *by_user_id, const char *revoked_at);

/* The envelope of one event (event.h): producer "identity", tenant_id = data's tenant_id,
 * trace_id = the causing request's id (NULL when none). Takes data (put on failure too);
 * NULL when data is NULL or the envelope cannot be built. event_id_out (37 bytes, may be
 * NULL) receives the new event id. */
json_object *identity_event_envelope(const char *type, const char *trace_id, json_object *data,
				     char *event_id_out);

/* Wraps data (taken, even on failure) in identity_event_envelope() and inserts it into
 * <schema>.outbox inside tx, aggregate_id = the entity's id (may be NULL). Same contract as
 * outbox_add: 0 and cb later, or -1 at once (cb not called; the transaction is the caller's
 * to roll back). After the commit, call app_outbox_kick(). */
int identity_event_add(struct pg_tx *tx, const char *schema, const char *type, const char *trace_id,
		       json_object *data, const char *aggregate_id, pg_result_cb cb,
		       void *arg) MUST_CHECK;

#endif
