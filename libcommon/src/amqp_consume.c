/*
 * amqp_consume.c - the loop side of consuming: amqp_consume() (validates and copies the queue
 * spec, starts or wakes the consumer thread), lending deliveries to callbacks, and settling
 * them (amqp_ack / amqp_retry / amqp_dead_letter), which hands each delivery back to the
 * consumer thread as a command.
 *
 * Owns the queue specs (struct amqp_queue, freed by amqp_free) and, while a callback holds
 * them, the deliveries on the outstanding list (freed by amqp_free if never settled; the
 * broker then redelivers them). Loop thread only.
 */
#include "amqp_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"

#define AMQP_DLV_OF(pd) ((struct amqp_dlv *)((char *)(pd)-offsetof(struct amqp_dlv, d)))

void amqp_queue_free(struct amqp_queue *q)
{
	if (q == NULL)
		return;
	for (int i = 0; i < q->nkeys; i++)
		free(q->keys[i]);
	free(q->keys);
	free(q->name);
	free(q->retry_name);
	free(q->dlq_name);
	free(q);
}

static char *amqp_suffixed(const char *name, const char *suffix)
{
	size_t n = strlen(name) + strlen(suffix) + 1;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s%s", name, suffix);
	return s;
}

static int amqp_queue_copy_keys(struct amqp_queue *q, const char *const *keys)
{
	int n = 0;

	while (keys != NULL && keys[n] != NULL) {
		if (strlen(keys[n]) > AMQP_NAME_MAX || n >= 1024)
			return -1;
		n++;
	}
	if (n == 0)
		return 0;
	if ((q->keys = calloc((size_t)n, sizeof(*q->keys))) == NULL)
		return -1;
	for (q->nkeys = 0; q->nkeys < n; q->nkeys++)
		if ((q->keys[q->nkeys] = strdup(keys[q->nkeys])) == NULL)
			return -1;
	return 0;
}

/* A copy of spec, or NULL when it is invalid (or out of memory). */
static struct amqp_queue *amqp_queue_new(const struct amqp_queue_spec *spec, amqp_delivery_cb cb,
					 void *arg)
{
	const char *name = spec->name != NULL ? spec->name : "";
	char esc[2 * AMQP_NAME_MAX + 2];
	struct amqp_queue *q;

	if (cb == NULL || (name[0] == '\0' && !spec->exclusive_auto_delete))
		return NULL;
	if (strlen(name) > AMQP_NAME_MAX - (spec->exclusive_auto_delete ? 0 : 6))
		return NULL;
	if (!spec->exclusive_auto_delete && (spec->max_attempts < 1 || spec->retry_delay_ms < 0))
		return NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->exclusive = spec->exclusive_auto_delete;
	q->max_attempts = spec->max_attempts;
	q->retry_delay_ms = spec->retry_delay_ms;
	q->cb = cb;
	q->arg = arg;
	if ((q->name = strdup(name)) == NULL || amqp_queue_copy_keys(q, spec->binding_keys) < 0)
		goto fail;
	if (!q->exclusive && ((q->retry_name = amqp_suffixed(name, ".retry")) == NULL ||
			      (q->dlq_name = amqp_suffixed(name, ".dlq")) == NULL))
		goto fail;
	metrics_escape(name[0] != '\0' ? name : "server-named", esc, sizeof(esc));
	snprintf(q->label, sizeof(q->label), "queue=\"%s\"", esc);
	return q;
fail:
	amqp_queue_free(q);
	return NULL;
}

/* Appends q unless a queue of that name is consumed already. */
static int amqp_queue_add(struct amqp *a, struct amqp_queue *q)
{
	int rc = 0;

	amqp_lock(a);
	for (struct amqp_queue *o = a->queues; o != NULL && q->name[0] != '\0'; o = o->next)
		if (strcmp(o->name, q->name) == 0)
			rc = -1;
	if (rc == 0) {
		q->index = a->nqueues;
		if (a->queues_tail != NULL)
			a->queues_tail->next = q;
		else
			a->queues = q;
		a->queues_tail = q;
		a->nqueues++;
	}
	amqp_unlock(a);
	return rc;
}

int amqp_consume(struct amqp *a, const struct amqp_queue_spec *spec, amqp_delivery_cb cb, void *arg)
{
	struct amqp_queue *q;

	if (a == NULL || a->closing || spec == NULL || (q = amqp_queue_new(spec, cb, arg)) == NULL)
		return -1;
	if (amqp_queue_add(a, q) < 0) {
		log_warn(NULL, "amqp queue consumed twice", LS("queue", q->name));
		amqp_queue_free(q);
		return -1;
	}
	/* From here on q belongs to the list (freed by amqp_free), even if the thread fails. */
	if (a->m != NULL) {
		metrics_inc(a->m, "amqp_deliveries_total", q->label, 0);
		if (!q->exclusive) {
			metrics_inc(a->m, "amqp_retries_total", q->label, 0);
			metrics_inc(a->m, "amqp_dead_letters_total", q->label, 0);
		}
	}
	if (a->sub_started) {
		amqp_wake(a->sub_efd);
		return 0;
	}
	if (a->m != NULL) {
		metrics_set(a->m, "amqp_connected", "role=\"consumer\"", 0);
		metrics_inc(a->m, "amqp_reconnects_total", "role=\"consumer\"", 0);
	}
	if (amqp_start_thread(&a->sub_thr, amqp_sub_thread, a) < 0) {
		log_error(NULL, "amqp consumer thread failed to start");
		return -1;
	}
	a->sub_started = true;
	return 0;
}

/* ---- lending and settling ------------------------------------------------------------------ */

void amqp_deliver(struct amqp *a, struct amqp_dlv *d)
{
	d->oprev = NULL;
	d->onext = a->outstanding;
	if (a->outstanding != NULL)
		a->outstanding->oprev = d;
	a->outstanding = d;
	if (a->m != NULL)
		metrics_inc(a->m, "amqp_deliveries_total", d->q->label, 1);
	d->q->cb(&d->d, d->q->arg);
}

static void amqp_outstanding_remove(struct amqp *a, struct amqp_dlv *d)
{
	if (d->oprev != NULL)
		d->oprev->onext = d->onext;
	else
		a->outstanding = d->onext;
	if (d->onext != NULL)
		d->onext->oprev = d->oprev;
	d->onext = d->oprev = NULL;
}

void amqp_outstanding_free(struct amqp *a)
{
	struct amqp_dlv *d, *next;

	for (d = a->outstanding; d != NULL; d = next) {
		next = d->onext;
		amqp_dlv_free(d);
	}
	a->outstanding = NULL;
}

static void amqp_settle(struct amqp *a, struct amqp_dlv *d, enum amqp_settle how,
			const char *reason)
{
	bool wake;

	amqp_outstanding_remove(a, d);
	if (a->closing || !a->sub_started) {
		amqp_dlv_free(d); /* the broker redelivers it */
		return;
	}
	d->settle = how;
	if (reason != NULL && how != AMQP_SETTLE_ACK)
		d->reason = strndup(reason, AMQP_REASON_MAX); /* NULL on ENOMEM: sent empty */
	amqp_lock(a);
	wake = a->sub_in.head == NULL;
	amqp_dlvlist_push(&a->sub_in, d);
	amqp_unlock(a);
	if (wake)
		amqp_wake(a->sub_efd);
}

void amqp_ack(struct amqp *a, struct amqp_delivery *pd)
{
	if (a == NULL || pd == NULL)
		return;
	amqp_settle(a, AMQP_DLV_OF(pd), AMQP_SETTLE_ACK, NULL);
}

void amqp_dead_letter(struct amqp *a, struct amqp_delivery *pd, const char *reason)
{
	struct amqp_dlv *d;

	if (a == NULL || pd == NULL)
		return;
	d = AMQP_DLV_OF(pd);
	if (d->q->exclusive) {
		log_warn(NULL, "amqp dead-letter on a private queue: dropped",
			 LS("queue", d->d.queue), LS("routing_key", d->d.routing_key),
			 LS("reason", reason));
		amqp_settle(a, d, AMQP_SETTLE_ACK, NULL);
		return;
	}
	if (a->m != NULL)
		metrics_inc(a->m, "amqp_dead_letters_total", d->q->label, 1);
	amqp_settle(a, d, AMQP_SETTLE_DEAD, reason != NULL ? reason : "dead-lettered");
}

void amqp_retry(struct amqp *a, struct amqp_delivery *pd, const char *reason)
{
	char why[AMQP_REASON_MAX];
	struct amqp_dlv *d;

	if (a == NULL || pd == NULL)
		return;
	d = AMQP_DLV_OF(pd);
	if (d->q->exclusive) {
		log_warn(NULL, "amqp retry on a private queue: dropped", LS("queue", d->d.queue),
			 LS("routing_key", d->d.routing_key), LS("reason", reason));
		amqp_settle(a, d, AMQP_SETTLE_ACK, NULL);
		return;
	}
	if (d->d.attempt >= d->q->max_attempts) {
		snprintf(why, sizeof(why), "max attempts (%d) reached: %s", d->q->max_attempts,
			 reason != NULL ? reason : "retry");
		amqp_dead_letter(a, pd, why);
		return;
	}
	if (a->m != NULL)
		metrics_inc(a->m, "amqp_retries_total", d->q->label, 1);
	amqp_settle(a, d, AMQP_SETTLE_RETRY, reason);
}
