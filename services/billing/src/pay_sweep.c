/*
 * pay_sweep.c - the batch statement of the payment expiry sweep (see pay_sweep.h).
 */
#include "pay_sweep.h"

#include <stdio.h>

#include "config.h"

/* Up to batch due payments failed as expired: (status, body, events) per payment. Wallets
 * are locked first (SKIP LOCKED), then payment_expire locks each payment: the order of every
 * other money statement, so the sweep never deadlocks with them. */
int pay_expire_batch(struct pg_tx *tx, const struct billing_config *cfg, pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"WITH due AS (SELECT p.id FROM payments p JOIN wallets w ON w.user_id = p.user_id"
		" WHERE p.status = 'Pending' AND p.created_at <= now() - make_interval(secs => $1::bigint)"
		" ORDER BY p.created_at LIMIT $2 FOR UPDATE OF w SKIP LOCKED)"
		" SELECT r.status, r.body, r.events FROM due,"
		" LATERAL payment_expire(due.id, $1::bigint) r";
	char ttl[24], n[24];
	const char *params[2] = {ttl, n};

	snprintf(ttl, sizeof(ttl), "%ld", cfg->payment_pending_ttl_s);
	snprintf(n, sizeof(n), "%ld", cfg->sweep_batch);
	return pg_tx_query(tx, sql, 2, params, cb, arg);
}
