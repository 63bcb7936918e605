/*
 * amqp_internal.h - private structures of the RabbitMQ bridge, shared by amqp.c (the loop
 * side and the public API), amqp_pub.c (publisher thread), amqp_sub.c (consumer thread) and
 * amqp_link.c (connection, topology and waiting helpers used by both threads).
 *
 * Threading: everything under "guarded by mu" is shared between the loop and the two
 * threads; "loop only" fields are touched by the loop thread alone; each thread keeps its
 * librabbitmq connection in its own state struct. Objects move between threads through the
 * lists below (ownership travels with the object, never shared).
 */
#ifndef COMMON_AMQP_INTERNAL_H
#define COMMON_AMQP_INTERNAL_H

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/amqp.h"

#define AMQP_CH 1         /* the working channel of both connections */
#define AMQP_CH_REPUB 2   /* consumer connection: confirmed republish to Q.retry / Q.dlq */
#define AMQP_NAME_MAX 255 /* AMQP short string */
#define AMQP_BACKOFF_MIN_MS 100
#define AMQP_BACKOFF_MAX_MS 5000
#define AMQP_DRAIN_MS 1000   /* how long a stopping thread waits for outstanding confirms */
#define AMQP_REASON_MAX 1024 /* x-dead-reason is cut to this many bytes */

enum amqp_pub_result { AMQP_PUB_CONFIRMED, AMQP_PUB_NACKED, AMQP_PUB_FAILED };

/* One publish: built by the loop, sent by the publisher thread, handed back to the loop with
 * its result. One allocation: body (NUL-terminated), then routing key and message id. */
struct amqp_pubreq {
	struct amqp_pubreq *next;
	amqp_confirm_cb cb;
	void *arg;
	uint64_t tag; /* delivery tag on the publisher channel, once sent */
	enum amqp_pub_result result;
	const char *routing_key; /* into buf */
	const char *message_id;  /* into buf, or NULL */
	size_t len;
	char buf[];
};

struct amqp_publist {
	struct amqp_pubreq *head, *tail;
};

/* A consumed queue: created by amqp_consume (loop), immutable afterwards except cur_name,
 * which only the consumer thread touches. Freed by amqp_free. */
struct amqp_queue {
	struct amqp_queue *next;
	int index;        /* position in the list; consumer tag "fr-<index>" */
	char *name;       /* "" for a server-named exclusive queue */
	char *retry_name; /* "<name>.retry", NULL for exclusive queues */
	char *dlq_name;   /* "<name>.dlq", NULL for exclusive queues */
	char **keys;      /* binding keys */
	int nkeys;
	int max_attempts;
	int retry_delay_ms;
	bool exclusive;
	amqp_delivery_cb cb;
	void *arg;
	char label[2 * AMQP_NAME_MAX + 16]; /* metrics labels: queue="<escaped>" */
	char cur_name[AMQP_NAME_MAX + 1];   /* consumer thread only: name on this connection */
};

enum amqp_settle { AMQP_SETTLE_NONE, AMQP_SETTLE_ACK, AMQP_SETTLE_RETRY, AMQP_SETTLE_DEAD };

/* One delivery: built by the consumer thread, lent to the loop's callback, then handed back
 * to the thread as a settle command. One allocation: body (NUL-terminated), queue name,
 * routing key, message id. */
struct amqp_dlv {
	struct amqp_delivery d;         /* the public part; pointers into buf */
	struct amqp_dlv *next;          /* list link (thread lists, loop batch) */
	struct amqp_dlv *onext, *oprev; /* loop only: the outstanding (unsettled) list */
	struct amqp_queue *q;
	uint64_t gen;       /* consumer connection generation it arrived on */
	uint64_t tag;       /* delivery tag on that connection */
	uint64_t repub_tag; /* consumer thread: tag of the confirmed republish */
	enum amqp_settle settle;
	char *reason; /* malloc'd, for RETRY / DEAD; may be NULL */
	char buf[];
};

struct amqp_dlvlist {
	struct amqp_dlv *head, *tail;
};

struct amqp {
	struct event_base *base;
	char *host, *user, *password, *vhost, *service;
	int port;
	int heartbeat_s;
	int prefetch;
	int connect_timeout_ms;
	int max_pending;
	struct metrics *m;

	pthread_mutex_t mu;
	/* guarded by mu */
	bool stopping;
	struct amqp_publist pub_in;  /* loop -> publisher */
	struct amqp_publist pub_out; /* publisher -> loop (results) */
	struct amqp_dlvlist sub_in;  /* loop -> consumer (settle commands) */
	struct amqp_dlvlist sub_out; /* consumer -> loop (deliveries) */
	struct amqp_queue *queues, *queues_tail;
	int nqueues;
	bool pub_up, sub_up;
	unsigned pub_connects, sub_connects; /* successful connects so far */
	int pub_fd, sub_fd; /* current sockets, for a forced shutdown in amqp_free */

	/* fds and threads (set up by the loop, read by the threads) */
	int loop_efd;         /* threads -> loop */
	int pub_efd, sub_efd; /* loop -> each thread */
	struct event *ev;
	pthread_t pub_thr, sub_thr;
	bool pub_started, sub_started;

	/* loop only */
	struct amqp_publist disp_pubs; /* the batch being dispatched */
	struct amqp_dlvlist disp_dlvs;
	size_t pending;               /* publishes handed over, result not yet delivered */
	struct amqp_dlv *outstanding; /* deliveries lent to callbacks */
	bool seen_pub_up, seen_sub_up;
	unsigned seen_pub_connects, seen_sub_connects;
	int entered;        /* depth of callbacks run from the dispatcher */
	bool closing;       /* amqp_free started */
	bool free_deferred; /* amqp_free called from a callback */
};

/* ---- amqp.c ------------------------------------------------------------------------------ */
void amqp_lock(struct amqp *a);
void amqp_unlock(struct amqp *a);
/* Wakes the loop (call after appending to pub_out / sub_out or changing the state). */
void amqp_notify_loop(struct amqp *a);
void amqp_publist_push(struct amqp_publist *l, struct amqp_pubreq *r);
/* Appends all of src to dst and empties src. */
void amqp_publist_move(struct amqp_publist *dst, struct amqp_publist *src);
void amqp_dlvlist_push(struct amqp_dlvlist *l, struct amqp_dlv *d);
void amqp_dlv_free(struct amqp_dlv *d);
/* Bumps a wake eventfd. */
void amqp_wake(int fd);
/* Starts a thread with every signal blocked (signals belong to the loop thread). */
int amqp_start_thread(pthread_t *t, void *(*fn)(void *), void *arg);

/* ---- amqp_consume.c (loop side of consuming) ---------------------------------------------- */
void amqp_queue_free(struct amqp_queue *q);
/* Lends d to its queue's callback (d joins the outstanding list). */
void amqp_deliver(struct amqp *a, struct amqp_dlv *d);
/* Frees every delivery still lent to a callback (amqp_free). */
void amqp_outstanding_free(struct amqp *a);

/* ---- amqp_link.c: one blocking connection, owned by one thread ---------------------------- */
struct amqp_link {
	struct amqp *a;
	const char *role; /* "publisher" / "consumer" */
	int *shared_fd;   /* &a->pub_fd or &a->sub_fd */
	amqp_connection_state_t conn;
	int fd;
	int hb_ms; /* negotiated heartbeat, 0 = none */
	int64_t next_hb_check_ms;
	int backoff_ms;      /* next backoff; reset on a successful connect */
	int64_t retry_at_ms; /* no connect attempt before this time */
};

int64_t amqp_now_ms(void);
/* Connects, logs in, opens channel AMQP_CH; declares the exchange. 0 or -1 (logged). */
int amqp_link_open(struct amqp_link *l);
/* Closes the connection (politely when graceful) and forgets it. */
void amqp_link_close(struct amqp_link *l, bool graceful);
/* Waits for the wake fd, the connection's socket or timeout_ms (-1: the heartbeat period).
 * Resets the wake fd. Returns -1 on a poll error, else 0. */
int amqp_link_wait(struct amqp_link *l, int wake_fd, int timeout_ms);
/* Reads one frame if one is available (never blocks more than ~1 ms; services heartbeats).
 * 1: frame read, 0: nothing available, -1: the connection failed (logged). */
int amqp_link_read(struct amqp_link *l, amqp_frame_t *f);
/* Handles a frame no caller wanted: answers channel/connection close with -1, else 0. */
int amqp_link_other_frame(struct amqp_link *l, const amqp_frame_t *f);
/* After a failed connect or a lost connection: no new attempt for the current backoff, which
 * then doubles (100 ms .. 5 s). */
void amqp_link_backoff_arm(struct amqp_link *l);
/* Milliseconds until the next connect attempt may start (0: now). */
int amqp_link_backoff_left(const struct amqp_link *l);
bool amqp_stopping(struct amqp *a);
/* 0 when r is a normal reply, else -1 after logging what failed. */
int amqp_link_check(struct amqp_link *l, amqp_rpc_reply_t r, const char *what);
/* Declares q's topology (Q, bindings, Q.retry, Q.dlq; or the exclusive queue) on AMQP_CH and
 * writes the queue's name on this connection into name_out (AMQP_NAME_MAX + 1 bytes; server-
 * named queues get theirs here). Exclusive queues belong to the consumer connection only. */
int amqp_link_declare_queue(struct amqp_link *l, const struct amqp_queue *q, char *name_out);
/* Sends basic.publish with our properties; headers may be NULL. 0 or -1 (logged). */
int amqp_link_publish(struct amqp_link *l, amqp_channel_t ch, const char *exchange,
		      const char *routing_key, const char *message_id, const amqp_table_t *headers,
		      const void *body, size_t len);

/* ---- amqp_pub.c / amqp_sub.c: thread bodies ------------------------------------------------ */
void *amqp_pub_thread(void *arg);
void *amqp_sub_thread(void *arg);

#endif
