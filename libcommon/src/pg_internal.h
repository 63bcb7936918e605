/*
 * pg_internal.h - the pool's private structures, shared by pg_pool.c (pool, queue, delivery),
 * pg_conn.c (one connection's state machine on the loop) and pg_tx.c (transactions).
 *
 * Ownership in one place:
 *   pool   owns its conns, the wait queue, the deferred-failure list and every live pg_tx;
 *   conn   owns its PGconn, its events, the op in flight (op) and its first result (res);
 *   op     owns its SQL and parameter copies; an op lives in exactly one of: the wait queue,
 *          the deferred-failure list, a conn (in flight), a tx (end_op), or a local variable
 *          on its way to delivery.
 * User callbacks run only through pg_pool_deliver(), which counts the nesting depth so that
 * pg_pool_free() called from a callback never frees memory a caller is still standing on.
 */
#ifndef COMMON_PG_INTERNAL_H
#define COMMON_PG_INTERNAL_H

#include "common/pg.h"

#include <stdint.h>
#include <sys/queue.h>

#define PG_BACKOFF_FIRST_MS 100
#define PG_BACKOFF_MAX_MS 5000
#define PG_MAX_PARAMS 65535 /* the protocol's limit */

enum pg_op_kind {
	PG_OP_SETUP,    /* internal: session settings on a new connection */
	PG_OP_QUERY,    /* pg_query: autocommit statement */
	PG_OP_BEGIN,    /* pg_tx_begin: BEGIN, then the tx is handed out */
	PG_OP_TX_QUERY, /* pg_tx_query */
	PG_OP_COMMIT,   /* pg_tx_commit */
	PG_OP_ROLLBACK, /* pg_tx_rollback */
};

struct pg_op {
	TAILQ_ENTRY(pg_op) link;
	enum pg_op_kind kind;
	char *sql;
	int n;
	char **params;           /* n copies, NULL elements for SQL NULL */
	union {
		pg_result_cb result; /* QUERY, TX_QUERY */
		pg_tx_cb tx;         /* BEGIN */
		pg_done_cb done;     /* COMMIT, ROLLBACK (may be NULL) */
	} cb;
	void *arg;
	struct pg_tx *tx;        /* BEGIN, TX_QUERY, COMMIT, ROLLBACK */
	const char *err;         /* static message when failed through the deferred list */
	uint64_t deadline_ms;    /* wait-queue deadline (monotonic ms), 0 for none */
};
TAILQ_HEAD(pg_op_q, pg_op);

enum pg_conn_state {
	PG_CONN_WAIT,    /* no connection; the backoff timer will start one */
	PG_CONN_CONNECT, /* PQconnectPoll in progress, connect timer armed */
	PG_CONN_SETUP,   /* connected; the session setup statement is in flight */
	PG_CONN_IDLE,    /* ready and free */
	PG_CONN_BUSY,    /* a statement (op) is in flight, deadline timer armed */
	PG_CONN_TX,      /* held by a transaction between statements */
	PG_CONN_CLOSED,  /* pool shutting down; nothing attached */
};

struct pg_conn {
	struct pg_pool *pool;
	int idx;
	enum pg_conn_state state;
	PGconn *pg;
	struct event *io_ev;  /* socket event, rebuilt when the fd or interest changes */
	int io_fd;
	short io_what;
	struct event *timer;  /* backoff, connect timeout or statement deadline (by state) */
	int backoff_ms;       /* delay before the next reconnect */
	bool tried;           /* the first connection attempt has finished */
	bool was_up;          /* has been ready at least once (for reconnect logs) */
	bool flushing;        /* PQflush still has output queued */
	bool discard;         /* the session is unusable after this statement (COPY etc.) */
	struct pg_op *op;     /* in flight */
	PGresult *res;        /* the statement's result being collected */
	struct pg_tx *tx;     /* the transaction holding this connection */
};

struct pg_tx {
	struct pg_pool *pool;
	struct pg_conn *conn;  /* NULL once the connection was lost */
	bool busy;             /* a pg_tx_query statement is in flight */
	bool ending;           /* pg_tx_commit/rollback was called */
	struct pg_op *spare;   /* preallocated end op, so ending a tx cannot fail */
	struct pg_op *end_op;  /* COMMIT/ROLLBACK asked for while busy */
	LIST_ENTRY(pg_tx) link;
};

struct pg_pool {
	struct event_base *base;
	struct pg_pool_opts opts;  /* string members point at the copies below */
	char *conninfo;
	char *search_path;
	char *app_name;
	struct pg_conn *conns;
	int nconns;
	struct pg_op_q queue;      /* waiting for a free connection */
	int queued;
	struct pg_op_q failed;     /* to be failed from defer_ev, never inside an API call */
	struct event *defer_ev;
	struct event *queue_timer; /* fires at the queue head's deadline */
	LIST_HEAD(, pg_tx) txs;    /* every live transaction handle */
	int depth;                 /* user callbacks currently running */
	bool closing;
	bool starting;             /* some first connection attempt has not finished yet */
};

/* pg_pool.c */
uint64_t pg_now_ms(void);
/* New op with copies of sql and params; NULL on allocation failure. */
struct pg_op *pg_op_new(enum pg_op_kind kind, const char *sql, int n, const char *const *params);
void pg_op_free(struct pg_op *op);
/* Queues op to be failed with err from the loop (a later iteration). Takes op. */
void pg_pool_fail_later(struct pg_pool *p, struct pg_op *op, const char *err);
/* Runs op's callback and frees op (and the tx when the op ends it); takes op and res.
 * Returns false when the caller must stop touching the pool (closing or freed). */
bool pg_pool_deliver(struct pg_pool *p, struct pg_op *op, PGresult *res, const char *err,
		     const char *sqlstate);
/* Hands queued requests to idle connections. Never runs user callbacks. */
void pg_pool_dispatch(struct pg_pool *p);
/* True when some connection is established (or the first attempts are still running). */
bool pg_pool_accepting(const struct pg_pool *p);
/* Called by a conn whenever it comes up or goes down. */
void pg_pool_conn_changed(struct pg_pool *p);
/* Takes op: runs it now on an idle connection, queues it, or fails it later.
 * Returns -1 (op freed, no callback) when the queue is full. */
int pg_pool_submit(struct pg_pool *p, struct pg_op *op);
/* A statement finished on c: c->op and c->res already detached into op and res (takes
 * both). broken: the session is unusable; why: the error when res is NULL. */
void pg_pool_op_done(struct pg_conn *c, struct pg_op *op, PGresult *res, bool broken,
		     const char *why);

/* pg_conn.c */
int pg_conn_init(struct pg_conn *c, struct pg_pool *p, int idx);
int pg_conn_connect(struct pg_conn *c);
/* Sends op on an IDLE or TX connection; on failure op is failed later and c dropped. */
void pg_conn_start(struct pg_conn *c, struct pg_op *op);
void pg_conn_set_idle(struct pg_conn *c);
void pg_conn_set_tx(struct pg_conn *c, struct pg_tx *tx);
/* After a statement outside a transaction: back to IDLE, or dropped when broken or when the
 * session is not idle (a stray BEGIN). */
void pg_conn_release(struct pg_conn *c, bool broken);
/* Closes the session and schedules a reconnect; an op in flight fails later with err, a
 * transaction holding c loses it. Never runs user callbacks. */
void pg_conn_drop(struct pg_conn *c, const char *err);
/* Shutdown: like drop but without reconnecting; an op in flight fails with "shutdown". */
void pg_conn_close(struct pg_conn *c);
bool pg_conn_is_up(const struct pg_conn *c);

/* pg_tx.c */
void pg_tx_free(struct pg_tx *tx);
/* Bookkeeping for a finished BEGIN / tx statement / COMMIT / ROLLBACK on c (before delivery). */
void pg_tx_op_done(struct pg_conn *c, struct pg_op *op, bool ok, bool broken);
/* tx lost its connection: a pending end op fails later. */
void pg_tx_lost(struct pg_tx *tx);

#endif
