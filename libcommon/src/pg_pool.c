/*
 * pg_pool.c - the PostgreSQL pool: creation and shutdown, pg_query(), the bounded FIFO wait
 * queue with its deadline, deferred failures, and the one place user callbacks run.
 *
 * Owns the pool, its connections (their state machine is pg_conn.c), every queued op and every
 * live transaction handle. Callbacks never run inside an API call: failures found there go
 * through the deferred list and run from the loop.
 */
#include "pg_internal.h"

#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PG_MAX_CONNS 1000

uint64_t pg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void pg_op_free(struct pg_op *op)
{
	if (!op)
		return;
	for (int i = 0; op->params && i < op->n; i++)
		free(op->params[i]);
	free(op->params);
	free(op->sql);
	free(op);
}

struct pg_op *pg_op_new(enum pg_op_kind kind, const char *sql, int n, const char *const *params)
{
	struct pg_op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->kind = kind;
	op->sql = strdup(sql);
	if (!op->sql)
		goto fail;
	if (n > 0) {
		op->params = calloc((size_t)n, sizeof(*op->params));
		if (!op->params)
			goto fail;
		op->n = n;
		for (int i = 0; i < n; i++) {
			if (params[i] && !(op->params[i] = strdup(params[i])))
				goto fail;
		}
	}
	return op;
fail:
	pg_op_free(op);
	return NULL;
}

void pg_pool_fail_later(struct pg_pool *p, struct pg_op *op, const char *err)
{
	op->err = err;
	TAILQ_INSERT_TAIL(&p->failed, op, link);
	event_active(p->defer_ev, EV_TIMEOUT, 0);
}

static void pool_destroy(struct pg_pool *p);

bool pg_pool_deliver(struct pg_pool *p, struct pg_op *op, PGresult *res, const char *err,
		     const char *sqlstate)
{
	struct pg_result r = {.res = err ? NULL : res, .err = err, .sqlstate = sqlstate ? sqlstate : ""};

	p->depth++;
	switch (op->kind) {
	case PG_OP_QUERY:
	case PG_OP_TX_QUERY:
		if (op->kind == PG_OP_TX_QUERY)
			op->tx->busy = false;
		if (op->cb.result)
			op->cb.result(&r, op->arg);
		break;
	case PG_OP_BEGIN:
		if (err) {
			pg_tx_free(op->tx);
			op->cb.tx(NULL, err, op->arg);
		} else {
			op->cb.tx(op->tx, NULL, op->arg);
		}
		break;
	case PG_OP_COMMIT:
	case PG_OP_ROLLBACK:
		pg_tx_free(op->tx); /* "the handle is gone when cb runs" */
		if (op->cb.done)
			op->cb.done(err, op->arg);
		break;
	case PG_OP_SETUP:
		break;
	}
	PQclear(res);
	pg_op_free(op);
	p->depth--;
	if (!p->closing)
		return true;
	if (p->depth == 0)
		pool_destroy(p);
	return false;
}


/* Shutdown only: the caller holds a depth reference, so p outlives every callback here. Runs
 * every deferred failure, including ones the callbacks themselves add (a rollback). */
static void pool_drain_failed_closing(struct pg_pool *p)
{
	struct pg_op *op;

	while ((op = TAILQ_FIRST(&p->failed))) {
		TAILQ_REMOVE(&p->failed, op, link);
		(void)pg_pool_deliver(p, op, NULL, op->err, "");
	}
}

static void pool_on_defer(evutil_socket_t fd, short what, void *arg)
{
	struct pg_pool *p = arg;
	struct pg_op *op;

	(void)fd;
	(void)what;
	while ((op = TAILQ_FIRST(&p->failed))) {
		TAILQ_REMOVE(&p->failed, op, link);
		if (!pg_pool_deliver(p, op, NULL, op->err, ""))
			return;
	}
}

static void pool_fail_queue(struct pg_pool *p, const char *err)
{
	struct pg_op *op;

	while ((op = TAILQ_FIRST(&p->queue))) {
		TAILQ_REMOVE(&p->queue, op, link);
		p->queued--;
		pg_pool_fail_later(p, op, err);
	}
}

static void pool_arm_queue_timer(struct pg_pool *p)
{
	struct pg_op *head = TAILQ_FIRST(&p->queue);
	struct timeval tv;
	uint64_t now, ms;

	if (!head || !head->deadline_ms || evtimer_pending(p->queue_timer, NULL))
		return;
	now = pg_now_ms();
	ms = head->deadline_ms > now ? head->deadline_ms - now : 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if (evtimer_add(p->queue_timer, &tv))
		log_error(NULL, "pg queue timer add failed");
}

/* Requests that waited longer than a statement may run fail with "queue timeout". */
static void pool_on_queue_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pg_pool *p = arg;
	uint64_t now = pg_now_ms();
	struct pg_op *op;

	(void)fd;
	(void)what;
	while ((op = TAILQ_FIRST(&p->queue)) && op->deadline_ms && op->deadline_ms <= now) {
		TAILQ_REMOVE(&p->queue, op, link);
		p->queued--;
		if (!pg_pool_deliver(p, op, NULL, "queue timeout", ""))
			return;
	}
	pool_arm_queue_timer(p);
}

bool pg_pool_ready(const struct pg_pool *p)
{
	if (!p || p->closing)
		return false;
	for (int i = 0; i < p->nconns; i++) {
		if (pg_conn_is_up(&p->conns[i]))
			return true;
	}
	return false;
}

bool pg_pool_accepting(const struct pg_pool *p)
{
	return !p->closing && (p->starting || pg_pool_ready(p));
}

void pg_pool_conn_changed(struct pg_pool *p)
{
	bool starting = false;

	for (int i = 0; i < p->nconns; i++) {
		if (!p->conns[i].tried)
			starting = true;
	}
	p->starting = starting;
	if (!pg_pool_accepting(p))
		pool_fail_queue(p, "no database connection");
}

static struct pg_conn *pool_idle_conn(struct pg_pool *p)
{
	for (int i = 0; i < p->nconns; i++) {
		if (p->conns[i].state == PG_CONN_IDLE)
			return &p->conns[i];
	}
	return NULL;
}

void pg_pool_dispatch(struct pg_pool *p)
{
	struct pg_conn *c;
	struct pg_op *op;

	while ((op = TAILQ_FIRST(&p->queue)) && (c = pool_idle_conn(p))) {
		TAILQ_REMOVE(&p->queue, op, link);
		p->queued--;
		pg_conn_start(c, op);
	}
}

int pg_pool_submit(struct pg_pool *p, struct pg_op *op)
{
	int ms = p->opts.query_timeout_ms;
	struct pg_conn *c;

	if (!pg_pool_accepting(p)) {
		pg_pool_fail_later(p, op, "no database connection");
		return 0;
	}
	if (TAILQ_EMPTY(&p->queue) && (c = pool_idle_conn(p))) {
		pg_conn_start(c, op);
		return 0;
	}
	if (p->queued >= p->opts.max_queue) {
		pg_op_free(op);
		return -1;
	}
	op->deadline_ms = ms > 0 ? pg_now_ms() + (uint64_t)ms : 0;
	TAILQ_INSERT_TAIL(&p->queue, op, link);
	p->queued++;
	pool_arm_queue_timer(p);
	return 0;
}

int pg_query(struct pg_pool *p, const char *sql, int n, const char *const *params,
	     pg_result_cb cb, void *arg)
{
	struct pg_op *op;

	if (!p || !sql || n < 0 || n > PG_MAX_PARAMS || (n > 0 && !params) || p->closing)
		return -1;
	op = pg_op_new(PG_OP_QUERY, sql, n, params);
	if (!op)
		return -1;
	op->cb.result = cb;
	op->arg = arg;
	return pg_pool_submit(p, op);
}

void pg_pool_op_done(struct pg_conn *c, struct pg_op *op, PGresult *res, bool broken,
		     const char *why)
{
	struct pg_pool *p = c->pool;
	const char *err = NULL;
	const char *sqlstate = "";
	const char *s;

	if (!res) {
		err = why;
	} else if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		   PQresultStatus(res) != PGRES_TUPLES_OK &&
		   PQresultStatus(res) != PGRES_EMPTY_QUERY) {
		s = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		err = s && *s ? s : "query failed";
		s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		sqlstate = s ? s : "";
	} else if (op->kind == PG_OP_COMMIT && strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		err = "transaction rolled back"; /* COMMIT of an aborted transaction */
	}
	if (op->kind == PG_OP_QUERY)
		pg_conn_release(c, broken);
	else
		pg_tx_op_done(c, op, err == NULL, broken);
	if (pg_pool_deliver(p, op, res, err, sqlstate))
		pg_pool_dispatch(p);
}

struct pg_pool *pg_pool_new(struct event_base *base, const struct pg_pool_opts *o)
{
	struct pg_pool *p;

	if (!base || !o || !o->conninfo)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->base = base;
	p->opts = *o;
	TAILQ_INIT(&p->queue);
	TAILQ_INIT(&p->failed);
	LIST_INIT(&p->txs);
	p->nconns = o->size < 1 ? 1 : o->size > PG_MAX_CONNS ? PG_MAX_CONNS : o->size;
	if (p->opts.max_queue < 0)
		p->opts.max_queue = 0;
	p->conninfo = strdup(o->conninfo);
	p->search_path = o->search_path ? strdup(o->search_path) : NULL;
	p->app_name = strdup(program_invocation_short_name);
	p->conns = calloc((size_t)p->nconns, sizeof(*p->conns));
	p->defer_ev = event_new(base, -1, 0, pool_on_defer, p);
	p->queue_timer = evtimer_new(base, pool_on_queue_timer, p);
	if (!p->conninfo || (o->search_path && !p->search_path) || !p->app_name || !p->conns ||
	    !p->defer_ev || !p->queue_timer)
		goto fail;
	p->opts.conninfo = p->conninfo;
	p->opts.search_path = p->search_path;
	for (int i = 0; i < p->nconns; i++) {
		if (pg_conn_init(&p->conns[i], p, i))
			goto fail;
	}
	p->starting = true;
	for (int i = 0; i < p->nconns; i++)
		(void)pg_conn_connect(&p->conns[i]);
	return p;
fail:
	pool_destroy(p);
	return NULL;
}

/* Frees everything; runs the callbacks of whatever is still pending with "shutdown". */
static void pool_destroy(struct pg_pool *p)
{
	struct pg_tx *tx;

	p->closing = true;
	p->depth++;
	for (int i = 0; p->conns && i < p->nconns; i++)
		pg_conn_close(&p->conns[i]);
	pool_fail_queue(p, "shutdown");
	pool_drain_failed_closing(p);
	while ((tx = LIST_FIRST(&p->txs)))
		pg_tx_free(tx);
	if (p->defer_ev)
		event_free(p->defer_ev);
	if (p->queue_timer)
		event_free(p->queue_timer);
	free(p->conns);
	free(p->conninfo);
	free(p->search_path);
	free(p->app_name);
	free(p);
}

void pg_pool_free(struct pg_pool *p)
{
	if (!p || p->closing)
		return;
	p->closing = true;
	p->depth++;
	for (int i = 0; i < p->nconns; i++)
		pg_conn_close(&p->conns[i]);
	pool_fail_queue(p, "shutdown");
	pool_drain_failed_closing(p);
	p->depth--;
	if (p->depth == 0)
		pool_destroy(p);
}

void pg_pool_opts_default(struct pg_pool_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->conninfo = "";
	o->size = 4;
	o->max_queue = 256;
	o->connect_timeout_ms = 5000;
	o->query_timeout_ms = 10000;
	o->search_path = NULL;
}
