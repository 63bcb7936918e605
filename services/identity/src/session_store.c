/*
 * session_store.c - SQL for identity.sessions and identity.refresh_tokens (see
 * session_store.h).
 *
 * Owns nothing; every function borrows a pool or transaction from the caller.
 */
#include "session_store.h"

#include <stdio.h>

#include "sql.h"
#include "tenant_store.h"
#include "user_store.h"

#define SQL_SECONDS(p) "(" p "::int * interval '1 second')"

int session_store_create(struct pg_pool *pg, const struct session_new *s, pg_result_cb cb,
			 void *arg)
{
	static const char sql[] =
		"WITH s AS (INSERT INTO sessions (id, user_id, tenant_id, device_id, device_name,"
		"  user_agent, ip_address, expires_at)"
		"  VALUES ($1, $2, $3, $4, $5, $6, $7, now() + " SQL_SECONDS(
			"$10") ") RETURNING id),"
			       " r AS (INSERT INTO refresh_tokens (id, session_id, token_hash, "
			       "expires_at)"
			       "  SELECT $8::uuid, s.id, $9::text, now() + " SQL_SECONDS(
				       "$10") " FROM s),"
					      " u AS (UPDATE users SET last_active_at = now() "
					      "WHERE id = $2 RETURNING last_active_at)"
					      " SELECT " SQL_TS("u.last_active_at") " FROM u";
	char ttl[SQL_LONG_BUF];
	const char *params[10] = {
		s->id,         s->user_id,    s->tenant_id,  s->device_id,    s->device_name,
		s->user_agent, s->ip_address, s->refresh_id, s->refresh_hash, ttl};

	snprintf(ttl, sizeof(ttl), "%ld", s->ttl_s);
	return pg_query(pg, sql, 10, params, cb, arg);
}

int session_store_refresh_lock(struct pg_tx *tx, const char *token_hash, pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"SELECT rt.id, rt.session_id, rt.used_at IS NOT NULL, rt.expires_at <= now(),"
		" s.revoked_at IS NOT NULL, s.expires_at <= now(), " TENANT_COLS ", " USER_COLS
		" FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id"
		" JOIN users u ON u.id = s.user_id JOIN tenants t ON t.id = s.tenant_id"
		" WHERE rt.token_hash = $1 FOR UPDATE OF rt, s";
	const char *params[1] = {token_hash};

	return pg_tx_query(tx, sql, 1, params, cb, arg);
}

int session_store_refresh_rotate(struct pg_tx *tx, const char *old_token_id, const char *session_id,
				 const char *new_token_id, const char *new_hash, long ttl_s,
				 pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"WITH o AS (UPDATE refresh_tokens SET used_at = now(), replaced_by = $3 WHERE id = "
		"$1),"
		" n AS (INSERT INTO refresh_tokens (id, session_id, token_hash, expires_at)"
		"  VALUES ($3, $2, $4, now() + " SQL_SECONDS(
			"$5") "))"
			      " UPDATE sessions SET last_used_at = now(), expires_at = now() "
			      "+ " SQL_SECONDS("$5") " WHERE id = $2";
	char ttl[SQL_LONG_BUF];
	const char *params[5] = {old_token_id, session_id, new_token_id, new_hash, ttl};

	snprintf(ttl, sizeof(ttl), "%ld", ttl_s);
	return pg_tx_query(tx, sql, 5, params, cb, arg);
}

/* What a revocation answers: the row it changed (revoked_session_from_row). */
#define REVOKED_RETURNING " RETURNING id, user_id, tenant_id, " SQL_TS_MS("revoked_at")

int session_store_revoke_reused(struct pg_tx *tx, const char *session_id, const char *reason,
				pg_result_cb cb, void *arg)
{
	static const char sql[] = "UPDATE sessions SET revoked_at = now(), revoke_reason = $2"
				  " WHERE id = $1 AND revoked_at IS NULL" REVOKED_RETURNING;
	const char *params[2] = {session_id, reason};

	return pg_tx_query(tx, sql, 2, params, cb, arg);
}

int session_store_revoke(struct pg_tx *tx, const char *session_id, const char *user_id,
			 const char *reason, pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"UPDATE sessions SET revoked_at = now(), revoke_reason = $3"
		" WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL" REVOKED_RETURNING;
	const char *params[3] = {session_id, user_id, reason};

	return pg_tx_query(tx, sql, 3, params, cb, arg);
}

int session_store_revoke_active(struct pg_tx *tx, const char *session_id, const char *user_id,
				const char *reason, pg_result_cb cb, void *arg)
{
	static const char sql[] = "UPDATE sessions SET revoked_at = now(), revoke_reason = $3"
				  " WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND "
				  "expires_at > now()" REVOKED_RETURNING;
	const char *params[3] = {session_id, user_id, reason};

	return pg_tx_query(tx, sql, 3, params, cb, arg);
}

void revoked_session_from_row(const PGresult *res, int row, struct revoked_session *s)
{
	s->session_id = pg_val(res, row, 0);
	s->user_id = pg_val(res, row, 1);
	s->tenant_id = pg_val(res, row, 2);
	s->revoked_at = pg_val(res, row, 3);
}

int session_store_list_active(struct pg_pool *pg, const char *user_id, pg_result_cb cb, void *arg)
{
	static const char sql[] = "SELECT s.id, s.device_name, s.user_agent, s.ip_address, " SQL_TS(
		"s.issued_at") ", " SQL_TS("s.last_used_at") ", " SQL_TS("s.expires_at") " FROM "
											 "sessions "
											 "s WHERE "
											 "s.user_"
											 "id = $1 "
											 "AND "
											 "s."
											 "revoked_"
											 "at IS "
											 "NULL"
											 " AND "
											 "s."
											 "expires_"
											 "at > "
											 "now() "
											 "ORDER BY "
											 "s.issued_"
											 "at DESC, "
											 "s.id "
											 "LIMIT "
											 "500";
	const char *params[1] = {user_id};

	return pg_query(pg, sql, 1, params, cb, arg);
}

void session_view_from_row(const PGresult *res, int row, struct session_view *s)
{
	s->id = pg_val(res, row, 0);
	s->device_name = pg_val(res, row, 1);
	s->user_agent = pg_val(res, row, 2);
	s->ip_address = pg_val(res, row, 3);
	s->issued_at = pg_val(res, row, 4);
	s->last_used_at = pg_val(res, row, 5);
	s->expires_at = pg_val(res, row, 6);
	s->is_current = false;
}

int session_store_state(struct pg_pool *pg, const char *session_id, pg_result_cb cb, void *arg)
{
	static const char sql[] = "SELECT s.id, s.user_id, s.tenant_id, s.revoked_at IS NOT NULL,"
				  " s.expires_at <= now(), u.status = 'Banned', t.status IN "
				  "('Suspended', 'Cancelled'),"
				  " u.is_admin, u.is_tenant_admin"
				  " FROM sessions s JOIN users u ON u.id = s.user_id JOIN tenants "
				  "t ON t.id = s.tenant_id"
				  " WHERE s.id = $1";
	const char *params[1] = {session_id};

	return pg_query(pg, sql, 1, params, cb, arg);
}

void session_state_from_row(const PGresult *res, int row, struct session_state *s)
{
	s->session_id = pg_val(res, row, 0);
	s->user_id = pg_val(res, row, 1);
	s->tenant_id = pg_val(res, row, 2);
	s->revoked = pg_bool(res, row, 3);
	s->expired = pg_bool(res, row, 4);
	s->user_banned = pg_bool(res, row, 5);
	s->tenant_suspended = pg_bool(res, row, 6);
	s->is_admin = pg_bool(res, row, 7);
	s->is_tenant_admin = pg_bool(res, row, 8);
}
