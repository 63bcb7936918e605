/*
 * billing_events.h - what billing publishes and how an event reaches the outbox.
 *
 * The payloads (`data`) are built by PostgreSQL in the same statement as the change they
 * describe (the op functions of migrations/billing/0001_init.sql return them as a JSON array
 * of {"type", "aggregate_id", "data"}), exactly as contracts/events/billing.yaml defines
 * them. This module wraps each in the envelope (common/event.h: producer "billing", tenant_id =
 * data.tenant_id, trace_id = the request id) and inserts it into billing.outbox inside the
 * caller's transaction (common/outbox.h). After the commit, call app_outbox_kick().
 *
 *   billing.hold.created.v1 / .captured.v1 / .released.v1   holds (hold_http.c, the sweep)
 *   billing.balance.low.v1                                  a debit crossed the threshold
 *   billing.payment.succeeded.v1 / .failed.v1               payments (pay_*.c)
 *
 * Consumed: identity.user.registered.v1 (billing_consumer.c).
 */
#ifndef BILLING_EVENTS_H
#define BILLING_EVENTS_H

#include <json-c/json.h>

#include "common/pg.h"

#define EV_PRODUCER "billing"
#define EV_HOLD_CREATED "billing.hold.created.v1"
#define EV_HOLD_CAPTURED "billing.hold.captured.v1"
#define EV_HOLD_RELEASED "billing.hold.released.v1"
#define EV_BALANCE_LOW "billing.balance.low.v1"

/* Wraps data (taken, even on failure) in an envelope and inserts it into <schema>.outbox
 * inside tx. data must carry a "tenant_id" string. Same contract as outbox_add: 0 and cb
 * later, or -1 at once (cb not called; the transaction is the caller's to roll back). */
int billing_event_add(struct pg_tx *tx, const char *schema, const char *type,
		      const char *trace_id, json_object *data, const char *aggregate_id,
		      pg_result_cb cb, void *arg) MUST_CHECK;

/* Called once when every event of a list is inserted (err NULL) or the first failed. */
typedef void (*billing_events_cb)(const char *err, void *arg);
/* Inserts every element {"type", "aggregate_id", "data"} of the array events (borrowed; NULL
 * or empty = nothing) in order inside tx, then calls cb (always from the loop, never before
 * this returns). -1 when nothing could be started (cb not called). */
int billing_events_add_all(struct pg_tx *tx, const char *schema, const char *trace_id,
			   json_object *events, billing_events_cb cb, void *arg) MUST_CHECK;

#endif
