/*
 * session_store.h - identity.sessions and identity.refresh_tokens in PostgreSQL: create a
 * session with its first refresh token, the steps of a refresh transaction, revocation,
 * listing and the state check. One function per statement.
 *
 * Every function borrows the pool or transaction; params are copied before return;
 * callbacks follow pg.h.
 */
#ifndef IDENTITY_SESSION_STORE_H
#define IDENTITY_SESSION_STORE_H

#include "common/pg.h"
#include "model.h"

struct session_new {
	const char *id; /* uuid_v4() */
	const char *user_id;
	const char *tenant_id;
	const char *device_id;    /* may be NULL */
	const char *device_name;  /* may be NULL */
	const char *user_agent;   /* may be NULL */
	const char *ip_address;   /* may be NULL */
	const char *refresh_id;   /* uuid_v4() */
	const char *refresh_hash; /* hex SHA-256 */
	long ttl_s;               /* session and refresh-token lifetime */
};
/* Inserts the session, its first refresh token and bumps the user's last_active_at in one
 * statement. One row: the user's new last_active_at (ISO 8601). */
int session_store_create(struct pg_pool *pg, const struct session_new *s, pg_result_cb cb,
			 void *arg) MUST_CHECK;

/* Refresh, step 1 (in a transaction): the token row by hash and its session, both locked.
 * Zero or one row: the REFRESH_COL_* flags, then TENANT_COLS, then USER_COLS. */
enum {
	REFRESH_COL_TOKEN_ID,
	REFRESH_COL_SESSION_ID,
	REFRESH_COL_USED,
	REFRESH_COL_TOKEN_EXPIRED,
	REFRESH_COL_REVOKED,
	REFRESH_COL_SESSION_EXPIRED,
	REFRESH_NCOLS,
};
#define REFRESH_COL_TENANT REFRESH_NCOLS
int session_store_refresh_lock(struct pg_tx *tx, const char *token_hash, pg_result_cb cb,
			       void *arg) MUST_CHECK;
/* Refresh, step 2: marks the old token used (replaced by the new one), inserts the new token
 * and renews the session's last_used_at and expiry. */
int session_store_refresh_rotate(struct pg_tx *tx, const char *old_token_id, const char *session_id,
				 const char *new_token_id, const char *new_hash, long ttl_s,
				 pg_result_cb cb, void *arg) MUST_CHECK;
/* Revocations, each inside the transaction that also writes identity.session.revoked.v1.
 * Each answers zero rows when nothing changed (so no event is due), or one row read with
 * revoked_session_from_row(). */
/* Refresh-token reuse: revokes the session unless already revoked. */
int session_store_revoke_reused(struct pg_tx *tx, const char *session_id, const char *reason,
				pg_result_cb cb, void *arg) MUST_CHECK;
/* Logout: revokes the user's session unless already revoked. */
int session_store_revoke(struct pg_tx *tx, const char *session_id, const char *user_id,
			 const char *reason, pg_result_cb cb, void *arg) MUST_CHECK;
/* DELETE: revokes the user's session only when it is active (not revoked, not expired). */
int session_store_revoke_active(struct pg_tx *tx, const char *session_id, const char *user_id,
				const char *reason, pg_result_cb cb, void *arg) MUST_CHECK;
/* Borrowed from res. */
void revoked_session_from_row(const PGresult *res, int row, struct revoked_session *s);

/* The user's active sessions, newest first (session_view_from_row per row). */
int session_store_list_active(struct pg_pool *pg, const char *user_id, pg_result_cb cb,
			      void *arg) MUST_CHECK;
/* Borrowed from res; is_current left false. */
void session_view_from_row(const PGresult *res, int row, struct session_view *s);

/* The session with its user's and tenant's state (zero or one row). */
int session_store_state(struct pg_pool *pg, const char *session_id, pg_result_cb cb,
			void *arg) MUST_CHECK;
/* Borrowed from res. */
void session_state_from_row(const PGresult *res, int row, struct session_state *s);

#endif
