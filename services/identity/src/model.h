/*
 * model.h - identity's domain objects as the handlers see them: a tenant, a user, a session.
 *
 * Plain structs of borrowed strings (NULL = SQL NULL = JSON null). Who owns the strings is
 * said where a struct is filled: usually a PGresult (valid during its callback) or the
 * request's memory (valid until the reply). identity_json.c renders them exactly as api.md,
 * identity_events.c as the event payloads of contracts/events/.
 */
#ifndef IDENTITY_MODEL_H
#define IDENTITY_MODEL_H

#include <stdbool.h>
#include <stdint.h>

/* A nullable integer column. */
struct opt_int {
	bool set;
	int64_t v;
};

struct tenant {
	const char *id;
	const char *slug;
	const char *name;
	const char *kind;   /* Internal | Reseller | Enterprise */
	const char *status; /* Active | Trial | Suspended | Cancelled */
	const char *custom_domain;
	bool domain_verified;
	const char *contact_email;
	struct opt_int max_users;
	struct opt_int max_storage_gb;
	struct opt_int monthly_render_qty;
	const char *trial_ends_at; /* ISO 8601 UTC or NULL */
	const char *created_at;
};

/* A tenant with the settings only its admins see (GET/PATCH /v1/tenants/{id}). */
struct tenant_detail {
	struct tenant t;
	const char *contact_name;
	const char *contact_phone;
	const char *billing_email;
	const char *allowed_origins; /* comma-joined, "" for none */
};

/* One API key as listed (never its secret; key_hash only where a lookup needs it). */
struct api_key {
	const char *id;
	const char *tenant_id;
	const char *name;
	const char *environment; /* Live | Test */
	const char *key_prefix;
	const char *last4;
	const char *scopes;      /* comma-joined */
	const char *allowed_ips; /* comma-joined canonical CIDRs, "" for none */
	int64_t rate_limit_rpm;
	bool is_active; /* not revoked and not expired */
	const char *expires_at;
	const char *revoked_at;
	const char *last_used_at;
	int64_t usage_count;
	const char *created_at;
};

struct user {
	const char *id;
	const char *tenant_id;
	const char *email;
	bool email_verified;
	const char *phone_number;
	bool phone_verified;
	const char *full_name;
	const char *avatar_url;
	bool is_admin;
	bool is_tenant_admin;
	const char *register_mode;
	const char *status; /* Active | Banned */
	const char *slogan;
	const char *about_me;
	const char *company_name;
	const char *website_name;
	const char *birth_date; /* YYYY-MM-DD or NULL */
	const char *gender;
	bool email_tell_me;
	bool sms_tell_me;
	bool push_tell_me;
	bool telegram_tell_me;
	const char *last_active_date;
	const char *register_date;
};

/* One row of GET /v1/auth/sessions. */
struct session_view {
	const char *id;
	const char *device_name;
	const char *user_agent;
	const char *ip_address;
	const char *issued_at;
	const char *last_used_at;
	const char *expires_at;
	bool is_current;
};

/* A session revoked just now (the row a revocation statement changed). */
struct revoked_session {
	const char *session_id;
	const char *user_id;
	const char *tenant_id;
	const char *revoked_at; /* ISO 8601 UTC with milliseconds */
};

/* Why a session no longer works (SessionStatus.reason). */
enum session_reason {
	SESSION_ACTIVE = 0,
	SESSION_REVOKED,
	SESSION_EXPIRED,
	SESSION_USER_BANNED,
	SESSION_TENANT_SUSPENDED,
};

/* The state of one session with its user and tenant (internal status, authn). */
struct session_state {
	const char *session_id;
	const char *user_id;
	const char *tenant_id;
	bool revoked;
	bool expired;
	bool user_banned;
	bool tenant_suspended;
	bool is_admin;
	bool is_tenant_admin;
};

/* The first reason that applies, in the order revoked, expired, banned, suspended. */
enum session_reason session_state_reason(const struct session_state *s);
/* "revoked", ... or NULL for SESSION_ACTIVE. */
const char *session_reason_str(enum session_reason r);
/* True when a tenant in this status may not log in, register or refresh. */
bool tenant_status_blocks(const char *status);

#endif
