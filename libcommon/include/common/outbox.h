/*
 * outbox.h - the transactional outbox and its relay.
 *
 * A service writes its events into <schema>.outbox in the same transaction as the state
 * change (outbox_add). The relay publishes unsent rows in id order through amqp.h with
 * publisher confirms and marks them sent only after the broker confirmed; while the broker is
 * down it retries with backoff and rows simply wait. One relay at a time per schema works the
 * table (pg_try_advisory_xact_lock), so ordering per aggregate holds across replicas.
 *
 * Table (each service's migration creates it, see migrations/README.md):
 *   outbox(id bigserial primary key, event_id uuid unique not null, event_type text not null,
 *          aggregate_id text, payload text not null, created_at timestamptz default now(),
 *          sent_at timestamptz, attempts int default 0)
 * plus a partial index on id where sent_at is null. Sent rows older than 7 days are deleted
 * by the relay now and then.
 *
 * Ordering: rows go out in id order; when a publish fails, nothing after the first failed row
 * is marked sent, so the next round starts again at that row (at-least-once: a row confirmed
 * after an earlier failure is published again later).
 */
#ifndef COMMON_OUTBOX_H
#define COMMON_OUTBOX_H

#include <event2/event.h>
#include <json-c/json.h>
#include <stdbool.h>

#include "common/pg.h"

#define MUST_CHECK __attribute__((warn_unused_result))

struct outbox;
struct amqp;
struct metrics;

struct outbox_opts {
	const char *schema;   /* the service schema holding the outbox table */
	int batch;            /* rows per publish round */
	int poll_ms;          /* idle polling interval (outbox_kick wakes it sooner) */
	int max_backoff_ms;   /* while the broker is down */
	struct metrics *metrics; /* outbox_depth, outbox_oldest_age_seconds, publish counters */
};
/* batch 100, poll_ms 1000, max_backoff_ms 30000, no metrics. */
void outbox_opts_default(struct outbox_opts *o, const char *schema);

/* True when schema is a plain lower-case identifier, [a-z_][a-z0-9_]{0,62}: the only schema
 * names outbox and consumer accept (they are quoted into SQL, never anything else). */
bool outbox_schema_valid(const char *schema);

/* Inserts envelope (borrowed; built with event_envelope_new) into the outbox inside tx.
 * aggregate_id may be NULL. Same contract as pg_tx_query; also -1 (cb not called) for an
 * invalid schema or an envelope without a valid event_id / event_type. */
int outbox_add(struct pg_tx *tx, const char *schema, json_object *envelope, const char *aggregate_id,
	       pg_result_cb cb, void *arg) MUST_CHECK;

/* Starts the relay (first round at once); pg and amqp are borrowed, o's strings copied.
 * NULL on bad options. Metrics: outbox_depth and outbox_oldest_age_seconds (gauges refreshed
 * every 5 s), outbox_published_total, outbox_publish_failures_total, outbox_backoff_seconds. */
struct outbox *outbox_new(struct event_base *base, struct pg_pool *pg, struct amqp *amqp,
			  const struct outbox_opts *o);
/* Call after committing a transaction that added events: publish now rather than at the next
 * poll. While the relay backs off from a failure, a kick restarts it only when amqp_ready(). */
void outbox_kick(struct outbox *ob);
/* Stops the relay; a round in flight is rolled back (nothing it published is marked sent).
 * Callbacks still due from pg and amqp finish in the background and the last one frees the
 * memory, so free the outbox before the amqp bridge and the pool (their shutdown runs them). */
void outbox_free(struct outbox *ob);

#endif
