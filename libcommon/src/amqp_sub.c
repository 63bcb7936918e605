/*
 * amqp_sub.c - the consumer thread: its own connection; channel AMQP_CH consumes every queue
 * (basic.qos prefetch, manual ack, consumer tag "fr-<index>"), channel AMQP_CH_REPUB is in
 * confirm mode for republishing to Q.retry / Q.dlq.
 *
 * Each round it declares and consumes queues added since the connect, runs the settle
 * commands the loop sent back (ack; retry / dead-letter = confirmed republish, then the ack
 * of the original once the broker confirmed the copy), reads every available frame (a
 * basic.deliver is followed by its header and body frames, copied into one struct amqp_dlv),
 * hands the new deliveries to the loop in one batch, then poll()s the wake eventfd and the
 * socket. Every connection has a generation number; a settle command for a delivery of an
 * older connection is dropped (the broker redelivers that message anyway).
 *
 * Owns its connection, the deliveries read but not yet handed over, and the deliveries whose
 * republish awaits its confirm.
 */
#include "amqp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

struct sub_state {
	struct amqp *a;
	struct amqp_link l;
	uint64_t gen;              /* bumped on every successful connect */
	int consumed;              /* queues of a->queues consumed on this connection */
	struct amqp_dlvlist out;   /* read, not yet handed to the loop */
	struct amqp_dlvlist repub; /* republished, awaiting the confirm (tags ascending) */
	uint64_t next_repub_tag;
};

/* What is known of a delivery before its body arrives. */
struct sub_meta {
	uint64_t tag;
	bool redelivered;
	int attempt;
	char ctag[AMQP_NAME_MAX + 1];
	char rk[AMQP_NAME_MAX + 1];
	char orig_rk[AMQP_NAME_MAX + 1];
	char mid[AMQP_NAME_MAX + 1];
	bool has_mid;
};

static void sub_copy(char *dst, amqp_bytes_t b)
{
	size_t n = b.len > AMQP_NAME_MAX ? AMQP_NAME_MAX : b.len;

	if (n > 0)
		memcpy(dst, b.bytes, n);
	dst[n] = '\0';
}

static void sub_set_up(struct sub_state *s, bool up)
{
	amqp_lock(s->a);
	s->a->sub_up = up;
	if (up)
		s->a->sub_connects++;
	amqp_unlock(s->a);
	amqp_notify_loop(s->a);
}

static void sub_flush(struct sub_state *s)
{
	struct amqp_dlvlist *o;

	if (s->out.head == NULL)
		return;
	amqp_lock(s->a);
	o = &s->a->sub_out;
	if (o->tail != NULL)
		o->tail->next = s->out.head;
	else
		o->head = s->out.head;
	o->tail = s->out.tail;
	amqp_unlock(s->a);
	s->out.head = s->out.tail = NULL;
	amqp_notify_loop(s->a);
}

static void sub_free_list(struct amqp_dlvlist *l)
{
	struct amqp_dlv *d, *next;

	for (d = l->head; d != NULL; d = next) {
		next = d->next;
		amqp_dlv_free(d);
	}
	l->head = l->tail = NULL;
}

static struct amqp_dlv *sub_take_commands(struct sub_state *s)
{
	struct amqp_dlv *d;

	amqp_lock(s->a);
	d = s->a->sub_in.head;
	s->a->sub_in.head = s->a->sub_in.tail = NULL;
	amqp_unlock(s->a);
	return d;
}

/* Declares and consumes the queues added since the last call on this connection. */
static int sub_consume_new(struct sub_state *s)
{
	char ctag[32];
	struct amqp_queue *q;
	int n, i = 0;

	amqp_lock(s->a);
	n = s->a->nqueues;
	q = s->a->queues;
	amqp_unlock(s->a);
	for (; i < n; i++, q = q->next) {
		if (i < s->consumed)
			continue;
		if (amqp_link_declare_queue(&s->l, q, q->cur_name) < 0)
			return -1;
		snprintf(ctag, sizeof(ctag), "fr-%d", q->index);
		amqp_basic_consume(s->l.conn, AMQP_CH, amqp_cstring_bytes(q->cur_name),
				   amqp_cstring_bytes(ctag), 0, 0, 0, amqp_empty_table);
		if (amqp_link_check(&s->l, amqp_get_rpc_reply(s->l.conn), "basic.consume") < 0)
			return -1;
		s->consumed = i + 1;
	}
	return 0;
}

static int sub_connect(struct sub_state *s)
{
	amqp_connection_state_t c;

	if (amqp_link_backoff_left(&s->l) > 0)
		return -1;
	if (amqp_link_open(&s->l) < 0)
		goto fail;
	c = s->l.conn;
	amqp_basic_qos(c, AMQP_CH, 0, (uint16_t)s->a->prefetch, 0);
	if (amqp_link_check(&s->l, amqp_get_rpc_reply(c), "basic.qos") < 0)
		goto fail;
	amqp_channel_open(c, AMQP_CH_REPUB);
	if (amqp_link_check(&s->l, amqp_get_rpc_reply(c), "channel.open") < 0)
		goto fail;
	amqp_confirm_select(c, AMQP_CH_REPUB);
	if (amqp_link_check(&s->l, amqp_get_rpc_reply(c), "confirm.select") < 0)
		goto fail;
	s->consumed = 0;
	if (sub_consume_new(s) < 0)
		goto fail;
	s->next_repub_tag = 1;
	s->gen++;
	sub_set_up(s, true);
	return 0;
fail:
	amqp_link_close(&s->l, false);
	amqp_link_backoff_arm(&s->l);
	return -1;
}

/* ---- settling ------------------------------------------------------------------------------ */

static void sub_hdr_str(amqp_table_entry_t *e, const char *key, const char *val)
{
	e->key = amqp_cstring_bytes(key);
	e->value.kind = AMQP_FIELD_KIND_UTF8;
	e->value.value.bytes = amqp_cstring_bytes(val);
}

static void sub_hdr_int(amqp_table_entry_t *e, const char *key, int val)
{
	e->key = amqp_cstring_bytes(key);
	e->value.kind = AMQP_FIELD_KIND_I32;
	e->value.value.i32 = val;
}

/* Publishes d's copy to Q.retry (attempt + 1) or Q.dlq (with the reason) on AMQP_CH_REPUB. */
static int sub_republish(struct sub_state *s, struct amqp_dlv *d)
{
	amqp_table_entry_t h[3];
	amqp_table_t t = {0, h};
	const char *target;

	if (d->settle == AMQP_SETTLE_RETRY) {
		target = d->q->retry_name;
		sub_hdr_int(&h[t.num_entries++], "x-attempt", d->d.attempt + 1);
	} else {
		target = d->q->dlq_name;
		sub_hdr_str(&h[t.num_entries++], "x-dead-reason",
			    d->reason != NULL ? d->reason : "");
		sub_hdr_int(&h[t.num_entries++], "x-attempt", d->d.attempt);
	}
	sub_hdr_str(&h[t.num_entries++], "x-original-routing-key", d->d.routing_key);
	return amqp_link_publish(&s->l, AMQP_CH_REPUB, "", target, d->d.message_id, &t, d->d.body,
				 d->d.len);
}

/* Runs one settle command; d is consumed. */
static int sub_settle(struct sub_state *s, struct amqp_dlv *d)
{
	int rc;

	if (d->gen != s->gen || s->l.conn == NULL) {
		log_debug(NULL, "amqp settle of a delivery from a closed connection ignored",
			  LS("queue", d->d.queue));
		amqp_dlv_free(d);
		return 0;
	}
	if (d->settle == AMQP_SETTLE_ACK) {
		rc = amqp_basic_ack(s->l.conn, AMQP_CH, d->tag, 0);
		amqp_dlv_free(d);
		return rc == AMQP_STATUS_OK ? 0 : -1;
	}
	d->repub_tag = s->next_repub_tag++;
	amqp_dlvlist_push(&s->repub, d);
	return sub_republish(s, d);
}

static int sub_run_commands(struct sub_state *s)
{
	struct amqp_dlv *d = sub_take_commands(s), *next;
	int rc = 0;

	for (; d != NULL; d = next) {
		next = d->next;
		if (rc == 0)
			rc = sub_settle(s, d);
		else
			amqp_dlv_free(d);
	}
	return rc;
}

/* The broker confirmed (or refused) republished copies: ack (or requeue) the originals. */
static int sub_repub_confirm(struct sub_state *s, uint64_t tag, bool multiple, bool ok)
{
	struct amqp_dlv *d = s->repub.head, *prev = NULL, *next;
	int rc = AMQP_STATUS_OK;

	for (; d != NULL && d->repub_tag <= tag; d = next) {
		next = d->next;
		if (!multiple && d->repub_tag != tag) {
			prev = d;
			continue;
		}
		if (prev != NULL)
			prev->next = next;
		else
			s->repub.head = next;
		if (s->repub.tail == d)
			s->repub.tail = prev;
		if (rc == AMQP_STATUS_OK)
			rc = ok ? amqp_basic_ack(s->l.conn, AMQP_CH, d->tag, 0)
				: amqp_basic_nack(s->l.conn, AMQP_CH, d->tag, 0, 1);
		if (!ok)
			log_warn(NULL, "amqp republish nacked; original requeued",
				 LS("queue", d->d.queue));
		amqp_dlv_free(d);
		if (!multiple)
			break;
	}
	return rc == AMQP_STATUS_OK ? 0 : -1;
}

/* ---- deliveries ---------------------------------------------------------------------------- */

static bool sub_int_value(const amqp_field_value_t *v, long long *out)
{
	switch (v->kind) {
	case AMQP_FIELD_KIND_I8: *out = v->value.i8; return true;
	case AMQP_FIELD_KIND_U8: *out = v->value.u8; return true;
	case AMQP_FIELD_KIND_I16: *out = v->value.i16; return true;
	case AMQP_FIELD_KIND_U16: *out = v->value.u16; return true;
	case AMQP_FIELD_KIND_I32: *out = v->value.i32; return true;
	case AMQP_FIELD_KIND_U32: *out = v->value.u32; return true;
	case AMQP_FIELD_KIND_I64: *out = v->value.i64; return true;
	case AMQP_FIELD_KIND_U64:
		*out = v->value.u64 > (uint64_t)INT32_MAX ? INT32_MAX : (long long)v->value.u64;
		return true;
	default: return false;
	}
}

static void sub_props(const amqp_basic_properties_t *p, struct sub_meta *m)
{
	long long v;

	m->attempt = 1;
	if (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
		sub_copy(m->mid, p->message_id);
		m->has_mid = true;
	}
	if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
		return;
	for (int i = 0; i < p->headers.num_entries; i++) {
		const amqp_table_entry_t *e = &p->headers.entries[i];
		char key[AMQP_NAME_MAX + 1];

		sub_copy(key, e->key);
		if (strcmp(key, "x-attempt") == 0 && sub_int_value(&e->value, &v))
			m->attempt = v >= 1 && v <= INT32_MAX ? (int)v : 1;
		else if (strcmp(key, "x-original-routing-key") == 0 &&
			 (e->value.kind == AMQP_FIELD_KIND_UTF8 ||
			  e->value.kind == AMQP_FIELD_KIND_BYTES))
			sub_copy(m->orig_rk, e->value.value.bytes);
	}
}

static struct amqp_queue *sub_queue_by_ctag(struct sub_state *s, const char *ctag)
{
	struct amqp_queue *q;
	int idx, n;

	if (sscanf(ctag, "fr-%d", &idx) != 1)
		return NULL;
	amqp_lock(s->a);
	q = s->a->queues;
	amqp_unlock(s->a);
	for (n = 0; q != NULL && n < s->consumed; n++, q = q->next)
		if (q->index == idx)
			return q;
	return NULL;
}

/* One allocation: body + NUL, queue name, routing key, message id. */
static struct amqp_dlv *sub_dlv_new(struct sub_state *s, struct amqp_queue *q,
				    const struct sub_meta *m, size_t len)
{
	const char *rk = m->orig_rk[0] != '\0' ? m->orig_rk : m->rk;
	size_t ql = strlen(q->cur_name), rkl = strlen(rk), midl = strlen(m->mid);
	struct amqp_dlv *d;
	char *p;

	if (len > SIZE_MAX / 2 || (d = malloc(sizeof(*d) + len + ql + rkl + midl + 4)) == NULL)
		return NULL;
	memset(d, 0, sizeof(*d));
	d->q = q;
	d->gen = s->gen;
	d->tag = m->tag;
	p = d->buf;
	p[len] = '\0';
	d->d.body = p;
	d->d.len = len;
	p += len + 1;
	memcpy(p, q->cur_name, ql + 1);
	d->d.queue = p;
	p += ql + 1;
	memcpy(p, rk, rkl + 1);
	d->d.routing_key = p;
	p += rkl + 1;
	memcpy(p, m->mid, midl + 1);
	d->d.message_id = m->has_mid ? p : NULL;
	d->d.attempt = m->attempt;
	d->d.redelivered = m->redelivered;
	return d;
}

/* A basic.deliver arrived on AMQP_CH: read its header and body, queue it for the loop. */
static int sub_delivery(struct sub_state *s, const amqp_basic_deliver_t *m)
{
	struct sub_meta meta;
	struct amqp_queue *q;
	struct amqp_dlv *d = NULL;
	amqp_message_t msg;
	amqp_rpc_reply_t r;

	memset(&meta, 0, sizeof(meta));
	meta.tag = m->delivery_tag;
	meta.redelivered = m->redelivered;
	sub_copy(meta.ctag, m->consumer_tag);
	sub_copy(meta.rk, m->routing_key);
	/* The header and body frames follow the deliver at once; frames of the other channel
	 * read meanwhile are queued by librabbitmq and come out of the next amqp_link_read. */
	r = amqp_read_message(s->l.conn, AMQP_CH, &msg, 0);
	if (amqp_link_check(&s->l, r, "read delivery") < 0)
		return -1;
	sub_props(&msg.properties, &meta);
	if ((q = sub_queue_by_ctag(s, meta.ctag)) != NULL)
		d = sub_dlv_new(s, q, &meta, msg.body.len);
	if (d != NULL && msg.body.len > 0)
		memcpy(d->buf, msg.body.bytes, msg.body.len);
	amqp_destroy_message(&msg);
	if (d == NULL) {
		log_warn(NULL, "amqp delivery dropped", LS("consumer_tag", meta.ctag));
		return -1; /* reconnect: the broker redelivers it */
	}
	amqp_dlvlist_push(&s->out, d);
	return 0;
}

static int sub_frame(struct sub_state *s, const amqp_frame_t *f)
{
	const amqp_basic_ack_t *ack;
	const amqp_basic_nack_t *nack;

	if (f->frame_type == AMQP_FRAME_METHOD) {
		if (f->channel == AMQP_CH && f->payload.method.id == AMQP_BASIC_DELIVER_METHOD)
			return sub_delivery(s, f->payload.method.decoded);
		if (f->channel == AMQP_CH_REPUB && f->payload.method.id == AMQP_BASIC_ACK_METHOD) {
			ack = f->payload.method.decoded;
			return sub_repub_confirm(s, ack->delivery_tag, ack->multiple, true);
		}
		if (f->channel == AMQP_CH_REPUB && f->payload.method.id == AMQP_BASIC_NACK_METHOD) {
			nack = f->payload.method.decoded;
			return sub_repub_confirm(s, nack->delivery_tag, nack->multiple, false);
		}
	}
	return amqp_link_other_frame(&s->l, f);
}

static int sub_read(struct sub_state *s)
{
	amqp_frame_t f;
	int rc;

	while ((rc = amqp_link_read(&s->l, &f)) > 0)
		if (sub_frame(s, &f) < 0)
			return -1;
	if (rc < 0)
		return -1;
	if (!amqp_frames_enqueued(s->l.conn))
		amqp_maybe_release_buffers(s->l.conn);
	return 0;
}

/* ---- the thread ---------------------------------------------------------------------------- */

static int sub_round(struct sub_state *s)
{
	int nq;

	amqp_lock(s->a);
	nq = s->a->nqueues;
	amqp_unlock(s->a);
	if (nq > s->consumed && sub_consume_new(s) < 0)
		return -1;
	if (sub_run_commands(s) < 0 || sub_read(s) < 0)
		return -1;
	sub_flush(s);
	return amqp_link_wait(&s->l, s->a->sub_efd, -1);
}

/* The connection failed: what it held is the broker's to redeliver. */
static void sub_lost(struct sub_state *s)
{
	log_warn(NULL, "amqp consumer disconnected; unacked deliveries will be redelivered",
		 LS("host", s->a->host), LI("port", s->a->port));
	amqp_link_close(&s->l, false);
	sub_free_list(&s->out); /* read before the loss: the broker redelivers them */
	sub_free_list(&s->repub);
	sub_set_up(s, false);
	amqp_link_backoff_arm(&s->l);
}

static void sub_idle(struct sub_state *s)
{
	(void)sub_run_commands(s); /* no connection: every command is dropped */
	(void)amqp_link_wait(&s->l, s->a->sub_efd, amqp_link_backoff_left(&s->l));
}

/* Stopping: run the settle commands still queued, wait a moment for the republish confirms,
 * close. Deliveries not handed over stay unacked and come back from the broker. */
static void sub_stop(struct sub_state *s)
{
	int64_t end = amqp_now_ms() + AMQP_DRAIN_MS;

	if (s->l.conn != NULL && sub_run_commands(s) < 0)
		amqp_link_close(&s->l, false);
	while (s->l.conn != NULL && s->repub.head != NULL && amqp_now_ms() < end) {
		if (sub_read(s) < 0) {
			amqp_link_close(&s->l, false);
			break;
		}
		if (s->repub.head != NULL)
			(void)amqp_link_wait(&s->l, s->a->sub_efd, (int)(end - amqp_now_ms()));
	}
	amqp_link_close(&s->l, true);
	sub_free_list(&s->out);
	sub_free_list(&s->repub);
	sub_free_list(&(struct amqp_dlvlist){sub_take_commands(s), NULL});
	amqp_lock(s->a);
	s->a->sub_up = false;
	amqp_unlock(s->a);
}

void *amqp_sub_thread(void *arg)
{
	struct sub_state s;

	memset(&s, 0, sizeof(s));
	s.a = arg;
	s.l.a = s.a;
	s.l.role = "consumer";
	s.l.shared_fd = &s.a->sub_fd;
	s.l.fd = -1;
	while (!amqp_stopping(s.a)) {
		if (s.l.conn == NULL && sub_connect(&s) < 0) {
			sub_idle(&s);
			continue;
		}
		if (sub_round(&s) < 0)
			sub_lost(&s);
	}
	sub_stop(&s);
	return NULL;
}
