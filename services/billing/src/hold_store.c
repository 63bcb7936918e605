/*
 * hold_store.c - SQL for holds outside the op statements (see hold_store.h).
 *
 * Owns nothing.
 */
#include "hold_store.h"

#include "config.h"

#include <stdio.h>

int hold_store_get(struct pg_pool *pg, const char *hold_id, pg_result_cb cb, void *arg)
{
	static const char sql[] = "SELECT hold_json(h) FROM holds h WHERE h.id = $1";
	const char *params[1] = {hold_id};

	return pg_query(pg, sql, 1, params, cb, arg);
}

int hold_store_expire_batch(struct pg_tx *tx, const struct billing_config *cfg, pg_result_cb cb,
			    void *arg)
{
	/* wallets are locked first (SKIP LOCKED), then hold_release locks each hold: the same
	 * order as every other money statement, so the sweep never deadlocks with them */
	static const char sql[] =
		"WITH due AS (SELECT h.id FROM holds h JOIN wallets w ON w.user_id = h.user_id"
		" WHERE h.status = 'Held' AND h.expires_at <= now()"
		" ORDER BY h.expires_at LIMIT $1 FOR UPDATE OF w SKIP LOCKED)"
		" SELECT r.status, r.body, r.events FROM due, LATERAL hold_release(due.id, 'Expired') r";
	char n[24];
	const char *params[1] = {n};

	snprintf(n, sizeof(n), "%ld", cfg->sweep_batch);
	return pg_tx_query(tx, sql, 1, params, cb, arg);
}
