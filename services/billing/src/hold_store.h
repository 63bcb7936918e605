/*
 * hold_store.h - SQL for billing.holds: the op statements of reserve, capture and release
 * (functions hold_reserve / hold_capture / hold_release of migrations/billing/0001_init.sql,
 * run by op_run), reading one hold, and the expiry sweep's batch.
 *
 * Owns nothing; every function borrows the pool from the caller.
 */
#ifndef BILLING_HOLD_STORE_H
#define BILLING_HOLD_STORE_H

#include "common/pg.h"

/* $1 user, $2 tenant, $3 seconds, $4 reference_type, $5 reference_id, $6 ttl_s,
 * $7 currency, $8 default second price. */
#define HOLD_SQL_RESERVE                                                                           \
	"SELECT status, body, events FROM hold_reserve($1::uuid, $2::uuid, $3::bigint, $4, $5,"    \
	" $6::integer, $7, $8::bigint)"
/* $1 hold, $2 used seconds, $3 low-balance threshold. */
#define HOLD_SQL_CAPTURE                                                                           \
	"SELECT status, body, events FROM hold_capture($1::uuid, $2::bigint, $3::bigint)"
/* $1 hold. */
#define HOLD_SQL_RELEASE "SELECT status, body, events FROM hold_release($1::uuid, 'Released')"

/* One row: the Hold JSON, or no row. */
int hold_store_get(struct pg_pool *pg, const char *hold_id, pg_result_cb cb, void *arg) MUST_CHECK;

/* The hold sweep's batch (sweep.h): expires up to BILLING_SWEEP_BATCH Held holds past their
 * expires_at whose wallets are not locked right now (FOR UPDATE SKIP LOCKED: a busy wallet is
 * retried next round). One row per hold: (status, body, events) of hold_release(..,
 * 'Expired'). */
struct billing_config;
int hold_store_expire_batch(struct pg_tx *tx, const struct billing_config *cfg, pg_result_cb cb,
			    void *arg) MUST_CHECK;

#endif
