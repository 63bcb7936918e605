/*
 * hold_sweep.h - expires forgotten holds: every BILLING_SWEEP_INTERVAL_MS, one transaction
 * releases up to BILLING_SWEEP_BATCH Held holds past expires_at (status Expired, reserved
 * plan seconds and balance given back, billing.hold.released.v1 reason "expired" each), and
 * goes again at once while batches come back full. Wallets busy in another transaction are
 * skipped (SKIP LOCKED) and retried next round; replicas share the work the same way.
 */
#ifndef BILLING_HOLD_SWEEP_H
#define BILLING_HOLD_SWEEP_H

struct billing_app;
struct hold_sweep;

/* Borrows app (its pg, schema, cfg, outbox). NULL when out of memory. */
struct hold_sweep *hold_sweep_new(struct billing_app *app);
void hold_sweep_start(struct hold_sweep *s);
/* No new rounds; a round in flight finishes (or fails with the pool's shutdown). */
void hold_sweep_stop(struct hold_sweep *s);
/* After the pool is freed (no callback of a round can come any more). NULL is fine. */
void hold_sweep_free(struct hold_sweep *s);

#endif
