/*
 * sweep.h - periodic expiry rounds: every BILLING_SWEEP_INTERVAL_MS one transaction runs a
 * batch statement that expires up to BILLING_SWEEP_BATCH due rows (one row back per item:
 * status, body, events of the money function that expired it), adds their events to the
 * outbox and commits; it goes again at once while batches come back full. Batch statements
 * lock wallets first with SKIP LOCKED, so a busy wallet is retried next round and replicas
 * share the work. Two instances run: forgotten holds (hold_store_expire_batch) and abandoned
 * Pending payments (pay_expire_batch).
 */
#ifndef BILLING_SWEEP_H
#define BILLING_SWEEP_H

#include "common/pg.h"

struct billing_app;
struct billing_config;
struct sweep;

/* Queues the round's batch statement on tx; cb gets (status, body, events) rows. */
typedef int (*sweep_batch_fn)(struct pg_tx *tx, const struct billing_config *cfg, pg_result_cb cb,
			      void *arg);

/* Borrows app (its pg, schema, cfg, outbox) and what (a static string). NULL on OOM. */
struct sweep *sweep_new(struct billing_app *app, const char *what, sweep_batch_fn batch);
void sweep_start(struct sweep *s);
/* No new rounds; a round in flight finishes (or fails with the pool's shutdown). */
void sweep_stop(struct sweep *s);
/* After the pool is freed (no callback of a round can come any more). NULL is fine. */
void sweep_free(struct sweep *s);

#endif
