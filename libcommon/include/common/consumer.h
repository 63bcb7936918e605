/*
 * consumer.h - idempotent event consumers: at-least-once delivery, exactly-once effect.
 *
 * For every delivery: parse the envelope (poison -> dead-letter queue with the reason); then,
 * for consumers with a database, open a transaction, INSERT the event_id into <schema>.inbox
 * (a duplicate means it was already applied: commit nothing, ack), run the handler's
 * statements inside that transaction, COMMIT, and only then ack. A handler error rolls back
 * and goes to the retry path (dead-lettered after max_attempts); a handler that declares the
 * event poison dead-letters it at once. Consumers without a database (e.g. the gateway's
 * cache invalidation) must have idempotent effects; they ack when the handler is done.
 *
 * Table (each consuming service's migration creates it, see migrations/README.md):
 *   inbox(event_id uuid primary key, event_type text not null, received_at timestamptz default now())
 *
 * Retry reasons: "database unavailable: ...", "inbox insert failed: ...", "commit failed: ...",
 * or the handler's own; a malformed body is dead-lettered with "malformed envelope: <why>".
 *
 * Fault injection (end-to-end tests only): when the environment variable
 * FR_FAULT_EXIT_AFTER_COMMIT equals a consumer's queue name at consumer_new(), that consumer
 * (with a database) calls _exit(3) after the COMMIT of a message and before its ack, so the
 * broker redelivers a message whose effect is already committed. Read once; never triggers
 * unless the variable is set to exactly that queue name.
 */
#ifndef COMMON_CONSUMER_H
#define COMMON_CONSUMER_H

#include "common/amqp.h"
#include "common/event.h"
#include "common/pg.h"

#include <stdbool.h>

#define MUST_CHECK __attribute__((warn_unused_result))

enum consumer_outcome {
	CONSUMER_OK = 0,     /* applied: commit + ack */
	CONSUMER_RETRY,      /* transient failure: rollback, retry later */
	CONSUMER_POISON,     /* can never succeed: rollback, dead-letter with reason */
};

struct consumer;
struct consumer_msg; /* one delivery being handled */

/* Called by the handler exactly once to finish a message. reason may be NULL for OK. */
void consumer_done(struct consumer_msg *m, enum consumer_outcome out, const char *reason);
/* The transaction of this message (NULL for consumers without a database). */
struct pg_tx *consumer_tx(struct consumer_msg *m);

/* ev is borrowed until consumer_done. */
typedef void (*consumer_handler)(struct consumer_msg *m, const struct event_msg *ev, void *arg);

struct consumer_opts {
	const struct amqp_queue_spec *queue;
	struct pg_pool *pg;        /* NULL: no inbox, no transaction */
	const char *schema;        /* the schema holding inbox, when pg != NULL */
	struct metrics *metrics;   /* consumer_messages_total{queue,outcome="ok|duplicate|retry|
				      poison"}, consumer_handle_seconds{queue} and
				      consumer_lag_seconds{queue} histograms; may be NULL */
};

/* Declares and consumes o->queue through amqp_consume (o is copied; schema must satisfy
 * outbox_schema_valid when pg is set). h runs on the loop thread for every well-formed
 * event, inside the message's transaction when pg is set. NULL on bad options. */
struct consumer *consumer_new(struct amqp *a, const struct consumer_opts *o, consumer_handler h, void *arg);
/* Stops handling: messages in flight are abandoned (their transactions rolled back, their
 * deliveries left unsettled for the broker to redeliver); a handler still working may call
 * consumer_done later, which then only releases the message. amqp.h cannot cancel a
 * consumption, so call amqp_free() right after consumer_free() without running the loop in
 * between (no delivery may reach a freed consumer). */
void consumer_free(struct consumer *c);

#endif
