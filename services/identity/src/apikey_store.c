/*
 * apikey_store.c - SQL for identity.api_keys (see apikey_store.h).
 *
 * Owns nothing; every function borrows the pool or transaction from the caller.
 */
#include "apikey_store.h"

#include <stdio.h>

#include "tenant_store.h"

_Static_assert(ME_COL_KEY_ID == TENANT_NCOLS, "ME_COL_* follow TENANT_COLS");

void api_key_from_row(const PGresult *res, int row, int col, struct api_key *k,
		      struct http_request *copy)
{
	k->id = sql_col(res, row, col + 0, copy);
	k->tenant_id = sql_col(res, row, col + 1, copy);
	k->name = sql_col(res, row, col + 2, copy);
	k->environment = sql_col(res, row, col + 3, copy);
	k->key_prefix = sql_col(res, row, col + 4, copy);
	k->last4 = sql_col(res, row, col + 5, copy);
	k->scopes = sql_col(res, row, col + 6, copy);
	k->allowed_ips = sql_col(res, row, col + 7, copy);
	k->rate_limit_rpm = pg_int(res, row, col + 8);
	k->is_active = pg_bool(res, row, col + 9);
	k->expires_at = sql_col(res, row, col + 10, copy);
	k->revoked_at = sql_col(res, row, col + 11, copy);
	k->last_used_at = sql_col(res, row, col + 12, copy);
	k->usage_count = pg_int(res, row, col + 13);
	k->created_at = sql_col(res, row, col + 14, copy);
}

int apikey_store_insert(struct pg_pool *pg, const struct api_key_new *n, pg_result_cb cb,
			void *arg)
{
	static const char sql[] =
		"INSERT INTO api_keys AS k (tenant_id, name, environment, key_prefix, last4,"
		" key_hash, scopes, allowed_ips, rate_limit_rpm, expires_at, created_by)"
		" SELECT t.id, $2, $3, $4, $5, $6, $7::text[], $8::cidr[], $9::int,"
		" $10::timestamptz, $11::uuid FROM tenants t WHERE t.id = $1"
		" RETURNING " API_KEY_COLS;
	char rpm[SQL_LONG_BUF];
	const char *params[11] = {n->tenant_id, n->r->name,     n->r->environment, n->key_prefix,
				  n->last4,     n->key_hash,    n->r->scopes,      n->r->allowed_ips,
				  rpm,          n->r->expires_at, n->created_by};

	snprintf(rpm, sizeof(rpm), "%ld", n->r->rate_limit_rpm);
	return pg_query(pg, sql, 11, params, cb, arg);
}

int apikey_store_list(struct pg_pool *pg, const char *tenant_id, long limit, long offset,
		      pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"SELECT c.total, " API_KEY_COLS
		" FROM (SELECT count(*) AS total FROM api_keys WHERE tenant_id = $1) c"
		" LEFT JOIN LATERAL (SELECT * FROM api_keys WHERE tenant_id = $1"
		" ORDER BY created_at DESC, id LIMIT $2 OFFSET $3) k ON true"
		" ORDER BY k.created_at DESC, k.id";
	char lim[SQL_LONG_BUF], off[SQL_LONG_BUF];
	const char *params[3] = {tenant_id, lim, off};

	snprintf(lim, sizeof(lim), "%ld", limit);
	snprintf(off, sizeof(off), "%ld", offset);
	return pg_query(pg, sql, 3, params, cb, arg);
}

int apikey_store_revoke(struct pg_tx *tx, const char *api_key_id, const char *tenant_id,
			const char *reason, pg_result_cb cb, void *arg)
{
	/* the lock makes two concurrent revocations serialise: one changes it, one sees it done */
	static const char sql[] =
		"WITH k AS (SELECT id, key_prefix, revoked_at IS NOT NULL AS was FROM api_keys"
		"  WHERE id = $1 AND tenant_id = $2 FOR UPDATE),"
		" u AS (UPDATE api_keys a SET revoked_at = now(), revoke_reason = $3 FROM k"
		"  WHERE a.id = k.id AND NOT k.was RETURNING a.id, a.revoked_at)"
		" SELECT k.id, k.key_prefix, u.id IS NOT NULL, " SQL_TS_MS("u.revoked_at")
		" FROM k LEFT JOIN u ON u.id = k.id";
	const char *params[3] = {api_key_id, tenant_id, reason};

	return pg_tx_query(tx, sql, 3, params, cb, arg);
}

int apikey_store_lookup(struct pg_pool *pg, const char *key_prefix, pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"SELECT k.id, k.tenant_id, k.environment, k.key_hash, array_to_string(k.scopes, ','),"
		" array_to_string(k.allowed_ips::text[], ','), k.rate_limit_rpm, " SQL_TS(
			"k.expires_at") ", k.revoked_at IS NOT NULL, COALESCE(k.expires_at <= now(), false),"
					" t.status IN ('Suspended', 'Cancelled')"
					" FROM api_keys k JOIN tenants t ON t.id = k.tenant_id"
					" WHERE k.key_prefix = $1";
	const char *params[1] = {key_prefix};

	return pg_query(pg, sql, 1, params, cb, arg);
}

int apikey_store_add_usage(struct pg_pool *pg, const char *ids, const char *counts,
			   const char *last_used, pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"UPDATE api_keys k SET usage_count = k.usage_count + u.n,"
		" last_used_at = GREATEST(k.last_used_at, LEAST(u.at, now()))"
		" FROM (SELECT id, sum(n)::bigint AS n, max(at) AS at"
		"  FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[]) AS x(id, n, at)"
		"  GROUP BY id) u WHERE k.id = u.id";
	const char *params[3] = {ids, counts, last_used};

	return pg_query(pg, sql, 3, params, cb, arg);
}

int apikey_store_me(struct pg_pool *pg, const char *api_key_id, const char *tenant_id,
		    pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"SELECT " TENANT_COLS ", k.id, k.name, k.key_prefix, k.environment,"
		" array_to_string(k.scopes, ','), k.revoked_at IS NOT NULL,"
		" COALESCE(k.expires_at <= now(), false)"
		" FROM api_keys k JOIN tenants t ON t.id = k.tenant_id"
		" WHERE k.id = $1 AND k.tenant_id = $2";
	const char *params[2] = {api_key_id, tenant_id};

	return pg_query(pg, sql, 2, params, cb, arg);
}
