/*
 * amqp_pub.c - the publisher thread: one connection, channel AMQP_CH in confirm mode.
 *
 * Each round it takes the publish requests the loop queued (pub_in), sends them, reads
 * whatever the broker sent (basic.ack / basic.nack, possibly `multiple`, mapped back to the
 * requests by delivery tag), hands the finished requests to the loop in one batch (pub_out),
 * then poll()s the wake eventfd and the socket (timeout: half the heartbeat, so librabbitmq
 * gets to send and check heartbeats). On every (re)connect it declares the exchange and the
 * topology of every consumed non-private queue; queues added later are declared on the next
 * round. When the connection drops, every request not yet confirmed fails and the thread
 * reconnects with exponential backoff.
 *
 * Owns its connection and the requests between pub_in and pub_out (tosend, unconfirmed).
 */
#include "amqp_internal.h"

#include <string.h>

#include "common/log.h"

#define PUB_SEND_BATCH 256 /* publishes sent before the thread reads confirms again */

struct pub_state {
	struct amqp *a;
	struct amqp_link l;
	struct amqp_publist tosend;      /* taken from pub_in, not sent yet */
	struct amqp_publist unconfirmed; /* sent on this connection, tags ascending */
	struct amqp_publist done;        /* results for the loop, handed over once per round */
	uint64_t next_tag;
	int declared; /* queues of a->queues declared on this connection */
};

static void pub_fail_list(struct pub_state *s, struct amqp_publist *l)
{
	for (struct amqp_pubreq *r = l->head; r != NULL; r = r->next)
		r->result = AMQP_PUB_FAILED;
	amqp_publist_move(&s->done, l);
}

/* Hands the finished requests to the loop. */
static void pub_flush(struct pub_state *s)
{
	if (s->done.head == NULL)
		return;
	amqp_lock(s->a);
	amqp_publist_move(&s->a->pub_out, &s->done);
	amqp_unlock(s->a);
	amqp_notify_loop(s->a);
}

static void pub_set_up(struct pub_state *s, bool up)
{
	amqp_lock(s->a);
	s->a->pub_up = up;
	if (up)
		s->a->pub_connects++;
	amqp_unlock(s->a);
	amqp_notify_loop(s->a);
}

/* Takes what the loop queued (pub_in) onto tosend. */
static void pub_take(struct pub_state *s)
{
	amqp_lock(s->a);
	amqp_publist_move(&s->tosend, &s->a->pub_in);
	amqp_unlock(s->a);
}

/* Declares the topology of the consumed queues not yet declared on this connection. */
static int pub_declare_new(struct pub_state *s)
{
	char name[AMQP_NAME_MAX + 1];
	struct amqp_queue *q;
	int n, i = 0;

	amqp_lock(s->a);
	n = s->a->nqueues;
	q = s->a->queues;
	amqp_unlock(s->a);
	/* Nodes are immutable and only ever appended, so the first n can be walked unlocked. */
	for (; i < n; i++, q = q->next) {
		if (i < s->declared || q->exclusive)
			continue;
		if (amqp_link_declare_queue(&s->l, q, name) < 0)
			return -1;
	}
	s->declared = n;
	return 0;
}

static int pub_connect(struct pub_state *s)
{
	if (amqp_link_backoff_left(&s->l) > 0)
		return -1;
	if (amqp_link_open(&s->l) < 0)
		goto fail;
	amqp_confirm_select(s->l.conn, AMQP_CH);
	if (amqp_link_check(&s->l, amqp_get_rpc_reply(s->l.conn), "confirm.select") < 0)
		goto fail;
	s->declared = 0;
	if (pub_declare_new(s) < 0)
		goto fail;
	s->next_tag = 1;
	pub_set_up(s, true);
	return 0;
fail:
	amqp_link_close(&s->l, false);
	amqp_link_backoff_arm(&s->l);
	return -1;
}

/* Marks every request up to tag (or exactly tag) with res and moves it to done. */
static void pub_confirm(struct pub_state *s, uint64_t tag, bool multiple, enum amqp_pub_result res)
{
	struct amqp_pubreq *r = s->unconfirmed.head, *prev = NULL, *next;

	for (; r != NULL && r->tag <= tag; r = next) {
		next = r->next;
		if (!multiple && r->tag != tag) {
			prev = r;
			continue;
		}
		if (prev != NULL)
			prev->next = next;
		else
			s->unconfirmed.head = next;
		if (s->unconfirmed.tail == r)
			s->unconfirmed.tail = prev;
		r->result = res;
		amqp_publist_push(&s->done, r);
		if (!multiple)
			break;
	}
}

static int pub_frame(struct pub_state *s, const amqp_frame_t *f)
{
	const amqp_basic_ack_t *ack;
	const amqp_basic_nack_t *nack;

	if (f->frame_type == AMQP_FRAME_METHOD && f->channel == AMQP_CH) {
		switch (f->payload.method.id) {
		case AMQP_BASIC_ACK_METHOD:
			ack = f->payload.method.decoded;
			pub_confirm(s, ack->delivery_tag, ack->multiple, AMQP_PUB_CONFIRMED);
			return 0;
		case AMQP_BASIC_NACK_METHOD:
			nack = f->payload.method.decoded;
			pub_confirm(s, nack->delivery_tag, nack->multiple, AMQP_PUB_NACKED);
			return 0;
		default: break;
		}
	}
	return amqp_link_other_frame(&s->l, f);
}

/* Reads every frame available now. */
static int pub_read(struct pub_state *s)
{
	amqp_frame_t f;
	int rc;

	while ((rc = amqp_link_read(&s->l, &f)) > 0)
		if (pub_frame(s, &f) < 0)
			return -1;
	if (rc < 0)
		return -1;
	if (!amqp_frames_enqueued(s->l.conn))
		amqp_maybe_release_buffers(s->l.conn);
	return 0;
}

static int pub_send(struct pub_state *s)
{
	struct amqp_pubreq *r;

	for (int i = 0; i < PUB_SEND_BATCH && (r = s->tosend.head) != NULL; i++) {
		s->tosend.head = r->next;
		if (s->tosend.head == NULL)
			s->tosend.tail = NULL;
		r->tag = s->next_tag++;
		amqp_publist_push(&s->unconfirmed, r);
		if (amqp_link_publish(&s->l, AMQP_CH, AMQP_EXCHANGE, r->routing_key, r->message_id,
				      NULL, r->buf, r->len) < 0)
			return -1;
	}
	return 0;
}

/* One round on a live connection; -1 when the connection failed. */
static int pub_round(struct pub_state *s)
{
	int nq;

	amqp_lock(s->a);
	nq = s->a->nqueues;
	amqp_unlock(s->a);
	if (nq > s->declared && pub_declare_new(s) < 0)
		return -1;
	pub_take(s);
	if (pub_send(s) < 0 || pub_read(s) < 0)
		return -1;
	pub_flush(s);
	return amqp_link_wait(&s->l, s->a->pub_efd, s->tosend.head != NULL ? 0 : -1);
}

static void pub_lost(struct pub_state *s)
{
	log_warn(NULL, "amqp publisher disconnected; failing unconfirmed publishes",
		 LS("host", s->a->host), LI("port", s->a->port));
	amqp_link_close(&s->l, false);
	pub_fail_list(s, &s->unconfirmed);
	pub_fail_list(s, &s->tosend);
	pub_set_up(s, false);
	pub_flush(s);
	amqp_link_backoff_arm(&s->l);
}

/* Disconnected: fail whatever the loop queued meanwhile and wait out the backoff. */
static void pub_idle(struct pub_state *s)
{
	pub_take(s);
	pub_fail_list(s, &s->tosend);
	pub_flush(s);
	(void)amqp_link_wait(&s->l, s->a->pub_efd, amqp_link_backoff_left(&s->l));
}

/* Stopping: send nothing more, give the outstanding confirms a moment, close, fail the rest. */
static void pub_stop(struct pub_state *s)
{
	int64_t end = amqp_now_ms() + AMQP_DRAIN_MS;

	pub_take(s);
	pub_fail_list(s, &s->tosend);
	while (s->l.conn != NULL && s->unconfirmed.head != NULL && amqp_now_ms() < end) {
		if (pub_read(s) < 0) {
			amqp_link_close(&s->l, false);
			break;
		}
		if (s->unconfirmed.head != NULL)
			(void)amqp_link_wait(&s->l, s->a->pub_efd, (int)(end - amqp_now_ms()));
	}
	amqp_link_close(&s->l, true);
	pub_fail_list(s, &s->unconfirmed);
	pub_flush(s);
	amqp_lock(s->a);
	s->a->pub_up = false;
	amqp_unlock(s->a);
}

void *amqp_pub_thread(void *arg)
{
	struct pub_state s;

	memset(&s, 0, sizeof(s));
	s.a = arg;
	s.l.a = s.a;
	s.l.role = "publisher";
	s.l.shared_fd = &s.a->pub_fd;
	s.l.fd = -1;
	while (!amqp_stopping(s.a)) {
		if (s.l.conn == NULL && pub_connect(&s) < 0) {
			pub_idle(&s);
			continue;
		}
		if (pub_round(&s) < 0)
			pub_lost(&s);
	}
	pub_stop(&s);
	return NULL;
}
