/*
 * apikey_store.h - identity.api_keys in PostgreSQL: create, list, revoke, the gateway's
 * lookup by prefix, batched usage, and the reseller's "who am I". One function per statement.
 *
 * Every function borrows the pool or transaction; params are copied before return; callbacks
 * follow pg.h.
 */
#ifndef IDENTITY_APIKEY_STORE_H
#define IDENTITY_APIKEY_STORE_H

#include "common/http.h"
#include "common/pg.h"
#include "model.h"
#include "sql.h"
#include "validate.h"

/* The ApiKey columns of alias k, in the order api_key_from_row() reads them. */
#define API_KEY_COLS                                                                               \
	"k.id, k.tenant_id, k.name, k.environment, k.key_prefix, k.last4,"                        \
	" array_to_string(k.scopes, ','), array_to_string(k.allowed_ips::text[], ','),"            \
	" k.rate_limit_rpm, (k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at >"     \
	" now())), " SQL_TS("k.expires_at") ", " SQL_TS("k.revoked_at") ", " SQL_TS(                \
		"k.last_used_at") ", k.usage_count, " SQL_TS("k.created_at")
#define API_KEY_NCOLS 15
/* Fills k from columns col..col+14 of row (borrowed from res, or copied into copy). */
void api_key_from_row(const PGresult *res, int row, int col, struct api_key *k,
		      struct http_request *copy);

struct api_key_new {
	const char *tenant_id;
	const struct apikey_create_req *r;
	const char *key_prefix;
	const char *last4;
	const char *key_hash;
	const char *created_by; /* the caller's user id */
};
/* API_KEY_COLS of the new key; zero rows when the tenant does not exist; SQLSTATE 23505 when
 * the prefix collides (generate another key). */
int apikey_store_insert(struct pg_pool *pg, const struct api_key_new *n, pg_result_cb cb,
			void *arg) MUST_CHECK;
/* One page of a tenant's keys, newest first: every row starts with the total count, then
 * API_KEY_COLS; a page past the end is one row whose key columns are all NULL. */
int apikey_store_list(struct pg_pool *pg, const char *tenant_id, long limit, long offset,
		      pg_result_cb cb, void *arg) MUST_CHECK;

/* DELETE, inside the transaction that also writes identity.api_key.revoked.v1: zero rows
 * when the tenant has no such key, else one: REVOKE_COL_*. */
enum {
	REVOKE_COL_ID,
	REVOKE_COL_PREFIX,
	REVOKE_COL_CHANGED,    /* true when revoked now, false when it already was */
	REVOKE_COL_REVOKED_AT, /* ISO 8601 with milliseconds when revoked now, else NULL */
};
int apikey_store_revoke(struct pg_tx *tx, const char *api_key_id, const char *tenant_id,
			const char *reason, pg_result_cb cb, void *arg) MUST_CHECK;

/* The gateway's validate: zero or one row, LOOKUP_COL_*. */
enum {
	LOOKUP_COL_ID,
	LOOKUP_COL_TENANT_ID,
	LOOKUP_COL_ENVIRONMENT,
	LOOKUP_COL_HASH,
	LOOKUP_COL_SCOPES,      /* comma-joined */
	LOOKUP_COL_ALLOWED_IPS, /* comma-joined */
	LOOKUP_COL_RPM,
	LOOKUP_COL_EXPIRES_AT,  /* ISO 8601 or NULL */
	LOOKUP_COL_REVOKED,
	LOOKUP_COL_EXPIRED,
	LOOKUP_COL_TENANT_BLOCKED,
};
int apikey_store_lookup(struct pg_pool *pg, const char *key_prefix, pg_result_cb cb,
			void *arg) MUST_CHECK;

/* Adds the gateway's counts in one statement: ids (uuid[]), counts (bigint[]) and last_used
 * (timestamptz[]) are parallel array literals; repeated ids are summed, unknown ids ignored,
 * last_used_at only moves forward and never past now(). */
int apikey_store_add_usage(struct pg_pool *pg, const char *ids, const char *counts,
			   const char *last_used, pg_result_cb cb, void *arg) MUST_CHECK;

/* GET /v1/reseller/me: zero or one row: TENANT_COLS, then ME_COL_*. */
enum {
	ME_COL_KEY_ID = 13, /* TENANT_NCOLS */
	ME_COL_NAME,
	ME_COL_PREFIX,
	ME_COL_ENVIRONMENT,
	ME_COL_SCOPES, /* comma-joined */
	ME_COL_REVOKED,
	ME_COL_EXPIRED,
};
int apikey_store_me(struct pg_pool *pg, const char *api_key_id, const char *tenant_id,
		    pg_result_cb cb, void *arg) MUST_CHECK;

#endif
