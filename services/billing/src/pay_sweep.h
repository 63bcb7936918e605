/*
 * pay_sweep.h - expires abandoned payments (as a sweep.h round): every
 * BILLING_SWEEP_INTERVAL_MS, one transaction fails up to BILLING_SWEEP_BATCH payments still Pending BILLING_PAYMENT_PENDING_TTL_S after
 * they were created (status Failed, failure_code "expired", the discount use given back,
 * billing.payment.failed.v1 each, all by payment_expire() of 0005_payment_expiry.sql), and
 * goes again at once while batches come back full. Wallets busy in another transaction are
 * skipped (SKIP LOCKED) and retried next round; replicas share the work the same way.
 * A verdict arriving later finds the payment Failed and credits nothing (payment_verdict).
 */
#ifndef BILLING_PAY_SWEEP_H
#define BILLING_PAY_SWEEP_H

#include "common/pg.h"

struct billing_config;

/* The sweep's batch (sweep_batch_fn): up to BILLING_SWEEP_BATCH due payments failed as expired. */
int pay_expire_batch(struct pg_tx *tx, const struct billing_config *cfg, pg_result_cb cb,
		     void *arg) MUST_CHECK;

#endif
