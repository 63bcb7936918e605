/*
 * consumer.c - idempotent event consumers on top of amqp_consume(): envelope check, inbox
 * de-duplication and the handler's statements in one transaction, ack only after COMMIT.
 *
 * Per delivery (one struct consumer_msg):
 *   event_parse fails          -> dead-letter "malformed envelope: <why>"   (poison)
 *   no pg:  handler -> consumer_done -> ack / retry / dead-letter
 *   pg:     BEGIN -> INSERT inbox ON CONFLICT DO NOTHING RETURNING event_id
 *           no row   -> ROLLBACK, ack                                     (duplicate)
 *           a row    -> handler -> consumer_done(OK) -> COMMIT -> ack      (ok)
 *                       RETRY or failed BEGIN/INSERT/COMMIT -> ROLLBACK, retry path
 *                       POISON -> ROLLBACK, dead-letter with the handler's reason
 *
 * Owns the consumer and its in-flight messages. consumer_free() abandons messages in flight
 * (rolled back, left unsettled for the broker to redeliver); the consumer's memory goes with
 * the last of them.
 */
#include "common/consumer.h"

#include "common/log.h"
#include "common/metrics.h"
#include "common/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONSUMER_FAULT_ENV "FR_FAULT_EXIT_AFTER_COMMIT"
#define CONSUMER_REASON_MAX 256

struct consumer {
	struct amqp *amqp;
	char *queue;
	char *qlabel;          /* queue="<escaped name>" for metrics */
	struct pg_pool *pg;
	char *sql_inbox;
	struct metrics *metrics;
	consumer_handler handler;
	void *arg;
	bool fault_exit;       /* FR_FAULT_EXIT_AFTER_COMMIT names this queue */
	bool closing;
	int inflight;          /* messages not yet finished */
};

struct consumer_msg {
	struct consumer *c;
	struct amqp_delivery *d;
	struct event_msg ev;
	struct pg_tx *tx;
	struct timespec t0;
};

enum msg_outcome { MSG_OK, MSG_DUPLICATE, MSG_RETRY, MSG_POISON };

static const char *const msg_outcome_names[] = {"ok", "duplicate", "retry", "poison"};

static void consumer_destroy(struct consumer *c)
{
	free(c->queue);
	free(c->qlabel);
	free(c->sql_inbox);
	free(c);
}

static void msg_free(struct consumer_msg *m)
{
	struct consumer *c = m->c;

	event_msg_free(&m->ev);
	free(m);
	if (--c->inflight == 0 && c->closing)
		consumer_destroy(c);
}

/* The consumer is shutting down: roll back, leave the delivery to the broker, free. */
static void msg_abandon(struct consumer_msg *m)
{
	if (m->tx)
		pg_tx_rollback(m->tx, NULL, NULL);
	m->tx = NULL;
	msg_free(m);
}

static double msg_elapsed(const struct consumer_msg *m)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - m->t0.tv_sec) + (double)(now.tv_nsec - m->t0.tv_nsec) / 1e9;
}

static void msg_count(struct consumer *c, enum msg_outcome out, double seconds)
{
	char labels[600];

	snprintf(labels, sizeof(labels), "%s,outcome=\"%s\"", c->qlabel, msg_outcome_names[out]);
	metrics_inc(c->metrics, "consumer_messages_total", labels, 1);
	metrics_observe(c->metrics, "consumer_handle_seconds", c->qlabel, seconds);
}

/* Settles the delivery (the transaction is already gone), counts it, frees m. */
static void msg_settle(struct consumer_msg *m, enum msg_outcome out, const char *reason)
{
	struct consumer *c = m->c;

	msg_count(c, out, msg_elapsed(m));
	switch (out) {
	case MSG_OK:
	case MSG_DUPLICATE:
		amqp_ack(c->amqp, m->d);
		break;
	case MSG_RETRY:
		log_warn(NULL, "event retry", LS("queue", c->queue), LS("event_id", m->ev.event_id),
			 LS("reason", reason));
		amqp_retry(c->amqp, m->d, reason);
		break;
	case MSG_POISON:
		log_warn(NULL, "event dead-lettered", LS("queue", c->queue),
			 LS("event_id", m->ev.event_id), LS("reason", reason));
		amqp_dead_letter(c->amqp, m->d, reason);
		break;
	}
	m->d = NULL;
	msg_free(m);
}

/* Rolls back (when a transaction is open) and settles with a reason "<what>: <err>". */
static void msg_fail(struct consumer_msg *m, enum msg_outcome out, const char *what, const char *err)
{
	char reason[CONSUMER_REASON_MAX];

	if (m->tx)
		pg_tx_rollback(m->tx, NULL, NULL);
	m->tx = NULL;
	if (err)
		snprintf(reason, sizeof(reason), "%s: %s", what, err);
	else
		snprintf(reason, sizeof(reason), "%s", what);
	msg_settle(m, out, reason);
}

struct pg_tx *consumer_tx(struct consumer_msg *m)
{
	return m ? m->tx : NULL;
}

static void msg_on_commit(const char *err, void *arg)
{
	struct consumer_msg *m = arg;

	if (m->c->closing) {
		msg_free(m); /* committed or not, unacked: a redelivery finds the inbox row */
		return;
	}
	if (err) {
		msg_fail(m, MSG_RETRY, "commit failed", err);
		return;
	}
	if (m->c->fault_exit) {
		log_warn(NULL, "fault injection: exit after commit", LS("queue", m->c->queue),
			 LS("event_id", m->ev.event_id));
		_exit(3);
	}
	msg_settle(m, MSG_OK, NULL);
}

void consumer_done(struct consumer_msg *m, enum consumer_outcome out, const char *reason)
{
	struct pg_tx *tx;

	if (!m)
		return;
	if (m->c->closing) {
		msg_abandon(m);
		return;
	}
	switch (out) {
	case CONSUMER_OK:
		if (!m->tx) {
			msg_settle(m, MSG_OK, NULL);
			return;
		}
		tx = m->tx;
		m->tx = NULL;
		pg_tx_commit(tx, msg_on_commit, m);
		return;
	case CONSUMER_RETRY:
		msg_fail(m, MSG_RETRY, reason ? reason : "handler asked for a retry", NULL);
		return;
	case CONSUMER_POISON:
		msg_fail(m, MSG_POISON, reason ? reason : "handler declared the event poison", NULL);
		return;
	}
	msg_fail(m, MSG_RETRY, "unknown handler outcome", NULL);
}

static void msg_on_inbox(const struct pg_result *r, void *arg)
{
	struct consumer_msg *m = arg;
	struct consumer *c = m->c;

	if (c->closing) {
		msg_abandon(m);
		return;
	}
	if (r->err) {
		msg_fail(m, MSG_RETRY, "inbox insert failed", r->err);
		return;
	}
	if (PQntuples(r->res) == 0) {
		pg_tx_rollback(m->tx, NULL, NULL); /* already applied */
		m->tx = NULL;
		msg_settle(m, MSG_DUPLICATE, NULL);
		return;
	}
	c->handler(m, &m->ev, c->arg); /* m may be gone when it returns */
}

static void msg_on_begin(struct pg_tx *tx, const char *err, void *arg)
{
	struct consumer_msg *m = arg;
	const char *params[2] = {m->ev.event_id, m->ev.event_type};

	m->tx = tx;
	if (m->c->closing) {
		msg_abandon(m);
		return;
	}
	if (!tx) {
		msg_fail(m, MSG_RETRY, "database unavailable", err);
		return;
	}
	if (pg_tx_query(tx, m->c->sql_inbox, 2, params, msg_on_inbox, m) != 0)
		msg_fail(m, MSG_RETRY, "inbox insert refused", NULL);
}

/* Seconds since the envelope's occurred_at ("YYYY-MM-DDTHH:MM:SS[.fff]Z"); < 0 if unreadable. */
static double msg_lag(const char *occurred_at)
{
	struct tm tm;
	struct timespec now;
	const char *rest;
	char *end;
	double frac = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	rest = strptime(occurred_at, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -1;
	end = (char *)rest;
	if (*rest == '.')
		frac = strtod(rest, &end);
	if (strcmp(end, "Z") != 0 || (t = timegm(&tm)) == (time_t)-1)
		return -1;
	clock_gettime(CLOCK_REALTIME, &now);
	return (double)(now.tv_sec - t) + (double)now.tv_nsec / 1e9 - frac;
}

static void consumer_on_delivery(struct amqp_delivery *d, void *arg)
{
	struct consumer *c = arg;
	struct consumer_msg *m;
	const char *why = NULL;
	char reason[CONSUMER_REASON_MAX];
	double lag;

	if (c->closing)
		return; /* left unacked: the broker redelivers it */
	m = calloc(1, sizeof(*m));
	if (!m) {
		amqp_retry(c->amqp, d, "consumer out of memory");
		return;
	}
	m->c = c;
	m->d = d;
	clock_gettime(CLOCK_MONOTONIC, &m->t0);
	c->inflight++;
	if (event_parse(d->body, d->len, &m->ev, &why) != 0) {
		snprintf(reason, sizeof(reason), "malformed envelope: %s", why ? why : "unknown");
		msg_settle(m, MSG_POISON, reason);
		return;
	}
	lag = msg_lag(m->ev.occurred_at);
	if (lag >= 0)
		metrics_observe(c->metrics, "consumer_lag_seconds", c->qlabel, lag);
	if (!c->pg) {
		c->handler(m, &m->ev, c->arg);
		return;
	}
	if (pg_tx_begin(c->pg, msg_on_begin, m) != 0)
		msg_fail(m, MSG_RETRY, "database busy", NULL);
}

static void consumer_declare_metrics(struct metrics *mx)
{
	metrics_declare(mx, "consumer_messages_total", METRIC_COUNTER,
			"Deliveries handled, by queue and outcome (ok, duplicate, retry, poison).");
	metrics_declare(mx, "consumer_handle_seconds", METRIC_HISTOGRAM,
			"Time from delivery to settling it.");
	metrics_declare(mx, "consumer_lag_seconds", METRIC_HISTOGRAM,
			"Time from an event's occurred_at to its delivery.");
}

static int consumer_init(struct consumer *c, const struct consumer_opts *o)
{
	char esc[256];
	const char *fault = getenv(CONSUMER_FAULT_ENV);

	c->queue = strdup(o->queue->name);
	metrics_escape(o->queue->name, esc, sizeof(esc));
	if (asprintf(&c->qlabel, "queue=\"%s\"", esc) < 0)
		c->qlabel = NULL;
	if (o->pg && asprintf(&c->sql_inbox,
			      "INSERT INTO \"%s\".inbox(event_id, event_type) VALUES ($1,$2) "
			      "ON CONFLICT DO NOTHING RETURNING event_id", o->schema) < 0)
		c->sql_inbox = NULL;
	if (!c->queue || !c->qlabel || (o->pg && !c->sql_inbox))
		return -1;
	c->fault_exit = o->pg && fault && strcmp(fault, c->queue) == 0;
	if (c->fault_exit)
		log_warn(NULL, "fault injection armed: exit after commit", LS("queue", c->queue));
	return 0;
}

struct consumer *consumer_new(struct amqp *a, const struct consumer_opts *o, consumer_handler h, void *arg)
{
	struct consumer *c;

	if (!a || !o || !h || !o->queue || !o->queue->name || !*o->queue->name ||
	    (o->pg && !outbox_schema_valid(o->schema)))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->amqp = a;
	c->pg = o->pg;
	c->metrics = o->metrics;
	c->handler = h;
	c->arg = arg;
	if (consumer_init(c, o) != 0 || amqp_consume(a, o->queue, consumer_on_delivery, c) != 0) {
		consumer_destroy(c);
		return NULL;
	}
	consumer_declare_metrics(c->metrics);
	return c;
}

void consumer_free(struct consumer *c)
{
	if (!c || c->closing)
		return;
	c->closing = true;
	if (c->inflight == 0)
		consumer_destroy(c);
}
