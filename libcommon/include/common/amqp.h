/*
 * amqp.h - RabbitMQ for the event loop: librabbitmq (blocking) runs on its own threads and
 * hands results back to the loop.
 *
 * One struct amqp per daemon. It owns a publisher thread (one connection, one channel in
 * confirm mode) and, when queues are consumed, a consumer thread (its own connection). Both
 * reconnect with backoff and re-declare the topology on every connect:
 *   exchange  flatrender.events   topic, durable
 *   for every consumed queue Q (declared with amqp_consume):
 *     Q          quorum queue, bound to the exchange with Q's binding keys
 *     Q.retry    classic durable queue, x-message-ttl = retry delay, dead-letters to the
 *                default exchange with routing key Q (so a retried message returns to Q only)
 *     Q.dlq      quorum queue for messages that failed max_attempts times or were poison
 * Messages are persistent (delivery_mode 2), content_type application/json, message_id =
 * event_id. Header "x-attempt" counts deliveries through the retry path; dead-lettered
 * messages carry "x-dead-reason", "x-attempt" and "x-original-routing-key".
 *
 * All callbacks run on the loop thread. Nothing here blocks the loop.
 */
#ifndef COMMON_AMQP_H
#define COMMON_AMQP_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MUST_CHECK __attribute__((warn_unused_result))
#define AMQP_EXCHANGE "flatrender.events"

struct amqp;
struct metrics;

struct amqp_opts {
	const char *host;
	int port;
	const char *user;
	const char *password;     /* secret */
	const char *vhost;
	const char *service;      /* connection name, logs, metrics */
	int heartbeat_s;
	int prefetch;             /* unacked deliveries per consumer */
	int connect_timeout_ms;
	int max_pending_publish;  /* publishes handed over but not yet confirmed; more -> -1 */
	struct metrics *metrics;  /* may be NULL; borrowed */
};
void amqp_opts_default(struct amqp_opts *o);

/* Creates the bridge and starts the publisher thread (connecting in the background). */
struct amqp *amqp_new(struct event_base *base, const struct amqp_opts *o);
/* True while the publisher connection is up (and the consumer's, when consuming). */
bool amqp_ready(const struct amqp *a);
/* Stops the threads (in-flight publishes fail with ok=false, unacked deliveries are left to
 * the broker to redeliver), joins them, frees. Loop thread only. */
void amqp_free(struct amqp *a);

/* Publishes body to AMQP_EXCHANGE with routing_key; cb(ok) once the broker confirmed (ok) or
 * the publish failed / the connection dropped before the confirm (not ok). Copies its
 * arguments. Returns -1 at once (cb not called) when not connected or too many pending. */
typedef void (*amqp_confirm_cb)(bool ok, void *arg);
int amqp_publish(struct amqp *a, const char *routing_key, const char *message_id, const void *body,
		 size_t len, amqp_confirm_cb cb, void *arg) MUST_CHECK;

/* One delivery, handed to the loop. Borrowed by the callback until it settles it with exactly
 * one of amqp_ack / amqp_retry / amqp_dead_letter (possibly later, from another callback). */
struct amqp_delivery {
	const char *queue;
	const char *routing_key;
	const char *message_id;  /* may be NULL */
	const char *body;
	size_t len;
	int attempt;             /* 1 on the first delivery, +1 per retry */
	bool redelivered;        /* the broker's redelivered flag */
};
typedef void (*amqp_delivery_cb)(struct amqp_delivery *d, void *arg);

struct amqp_queue_spec {
	const char *name;                 /* e.g. "gateway.session-revoked" */
	const char *const *binding_keys;  /* NULL-terminated, e.g. {"identity.session.revoked.v1", NULL} */
	int max_attempts;                 /* deliveries before dead-lettering (>= 1) */
	int retry_delay_ms;               /* TTL of Q.retry */
	bool exclusive_auto_delete;       /* a private, non-durable queue (e.g. per-replica cache
					     invalidation); no retry/dlq queues then */
};
/* Declares q (copied) and consumes it; call before or after the bridge connected. */
int amqp_consume(struct amqp *a, const struct amqp_queue_spec *q, amqp_delivery_cb cb, void *arg) MUST_CHECK;

/* Settling a delivery (loop thread). ack: done. retry: republish to Q.retry with attempt+1
 * (confirmed) then ack — or dead-letter when attempt >= max_attempts. dead_letter: republish
 * to Q.dlq with the reason (confirmed) then ack. The delivery is invalid after the call. */
void amqp_ack(struct amqp *a, struct amqp_delivery *d);
void amqp_retry(struct amqp *a, struct amqp_delivery *d, const char *reason);
void amqp_dead_letter(struct amqp *a, struct amqp_delivery *d, const char *reason);

#endif
