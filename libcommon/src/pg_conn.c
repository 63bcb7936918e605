/*
 * pg_conn.c - one pooled PostgreSQL connection on the event loop: non-blocking connect
 * (PQconnectStartParams + PQconnectPoll on socket events), session setup, sending one
 * statement (PQsendQueryParams + PQflush), collecting its result (PQconsumeInput, PQisBusy,
 * PQgetResult until NULL), statement deadlines with a cancel, and reconnect with backoff.
 *
 * Owns the connection's PGconn, its socket event and its timer. Never runs a user callback:
 * a finished statement goes to pg_pool_op_done(), a failed one to pg_pool_fail_later().
 * The only thread here is the detached one that sends a cancel request (PQcancel blocks).
 */
#include "pg_internal.h"

#include "common/log.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void conn_on_io(evutil_socket_t fd, short what, void *arg);
static void conn_on_timer(evutil_socket_t fd, short what, void *arg);

static bool conn_transition_ok(enum pg_conn_state from, enum pg_conn_state to)
{
	if (to == PG_CONN_CLOSED)
		return true;
	switch (from) {
	case PG_CONN_WAIT:
		return to == PG_CONN_CONNECT;
	case PG_CONN_CONNECT:
		return to == PG_CONN_SETUP || to == PG_CONN_IDLE || to == PG_CONN_WAIT;
	case PG_CONN_SETUP:
		return to == PG_CONN_IDLE || to == PG_CONN_WAIT;
	case PG_CONN_IDLE:
		return to == PG_CONN_BUSY || to == PG_CONN_WAIT;
	case PG_CONN_BUSY:
		return to == PG_CONN_IDLE || to == PG_CONN_TX || to == PG_CONN_WAIT;
	case PG_CONN_TX:
		return to == PG_CONN_BUSY || to == PG_CONN_WAIT;
	case PG_CONN_CLOSED:
		return false;
	}
	return false;
}

static void conn_set_state(struct pg_conn *c, enum pg_conn_state to)
{
	if (!conn_transition_ok(c->state, to)) {
		log_error(NULL, "pg illegal connection state change", LI("from", c->state),
			  LI("to", to));
		abort();
	}
	c->state = to;
}

bool pg_conn_is_up(const struct pg_conn *c)
{
	return c->state == PG_CONN_IDLE || c->state == PG_CONN_BUSY || c->state == PG_CONN_TX;
}

/* First line of libpq's error message, for logs (libpq never puts a password in it). */
static void conn_error_line(const struct pg_conn *c, char *buf, size_t len)
{
	const char *m = c->pg ? PQerrorMessage(c->pg) : "";
	size_t n = strcspn(m, "\r\n");

	if (n >= len)
		n = len - 1;
	memcpy(buf, m, n);
	buf[n] = '\0';
}

/* Watches the connection's socket for what (0: nothing). The event is rebuilt when the socket
 * or the interest changes, and always when force is set: during connect libpq may close its
 * socket and open another one that gets the same number. */
static int conn_watch(struct pg_conn *c, short what, bool force)
{
	int fd = c->pg ? PQsocket(c->pg) : -1;

	if (c->io_ev && (force || fd != c->io_fd || what != c->io_what)) {
		event_free(c->io_ev);
		c->io_ev = NULL;
	}
	if (what == 0)
		return 0;
	if (fd < 0)
		return -1;
	if (c->io_ev)
		return 0;
	c->io_ev = event_new(c->pool->base, fd, what | EV_PERSIST, conn_on_io, c);
	if (!c->io_ev)
		return -1;
	c->io_fd = fd;
	c->io_what = what;
	return event_add(c->io_ev, NULL);
}

static void conn_arm_timer(struct pg_conn *c, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	if (evtimer_add(c->timer, &tv))
		log_error(NULL, "pg timer add failed", LI("conn", c->idx));
}

int pg_conn_init(struct pg_conn *c, struct pg_pool *p, int idx)
{
	c->pool = p;
	c->idx = idx;
	c->state = PG_CONN_WAIT;
	c->io_fd = -1;
	c->backoff_ms = PG_BACKOFF_FIRST_MS; /* 0 once up: a lost session is retried at once */
	c->timer = evtimer_new(p->base, conn_on_timer, c);
	return c->timer ? 0 : -1;
}

/* Detaches everything from the session and closes it. An op in flight fails later with err,
 * a transaction holding the connection loses it. */
static void conn_close_session(struct pg_conn *c, const char *err)
{
	struct pg_op *op = c->op;
	struct pg_tx *tx = c->tx;

	conn_watch(c, 0, true);
	if (c->timer)
		evtimer_del(c->timer);
	if (c->res)
		PQclear(c->res);
	c->res = NULL;
	c->op = NULL;
	c->tx = NULL;
	if (op && op->kind == PG_OP_SETUP)
		pg_op_free(op);
	else if (op)
		pg_pool_fail_later(c->pool, op, err);
	if (tx)
		pg_tx_lost(tx);
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
	c->flushing = false;
	c->discard = false;
}

void pg_conn_drop(struct pg_conn *c, const char *err)
{
	char detail[256];
	bool was_up = pg_conn_is_up(c);
	int delay = c->backoff_ms;

	if (c->state == PG_CONN_WAIT || c->state == PG_CONN_CLOSED)
		return;
	conn_error_line(c, detail, sizeof(detail));
	log_warn(NULL, was_up ? "pg connection lost" : "pg connect failed", LI("conn", c->idx),
		 LS("reason", err), LS("error", detail), LI("retry_ms", delay));
	conn_close_session(c, err);
	conn_set_state(c, PG_CONN_WAIT);
	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : PG_BACKOFF_FIRST_MS;
	if (c->backoff_ms > PG_BACKOFF_MAX_MS)
		c->backoff_ms = PG_BACKOFF_MAX_MS;
	c->tried = true;
	conn_arm_timer(c, delay);
	pg_pool_conn_changed(c->pool);
}

void pg_conn_close(struct pg_conn *c)
{
	conn_close_session(c, "shutdown");
	if (c->timer)
		event_free(c->timer);
	c->timer = NULL;
	c->state = PG_CONN_CLOSED;
}

static void conn_ready(struct pg_conn *c)
{
	conn_set_state(c, PG_CONN_IDLE);
	if (conn_watch(c, EV_READ, false)) {
		pg_conn_drop(c, "event setup failed");
		return;
	}
	if (c->was_up)
		log_info(NULL, "pg connection restored", LI("conn", c->idx));
	else
		log_debug(NULL, "pg connection up", LI("conn", c->idx));
	c->was_up = true;
	c->tried = true;
	c->backoff_ms = 0;
	pg_pool_conn_changed(c->pool);
	pg_pool_dispatch(c->pool);
}

/* Pushes queued output; watches for write-readiness while some remains. */
static int conn_flush(struct pg_conn *c)
{
	int r = PQflush(c->pg);

	if (r < 0)
		return -1;
	c->flushing = r == 1;
	return conn_watch(c, c->flushing ? EV_READ | EV_WRITE : EV_READ, false);
}

static int conn_send(struct pg_conn *c, struct pg_op *op)
{
	int ms = c->pool->opts.query_timeout_ms;

	c->op = op;
	c->discard = false;
	if (!PQsendQueryParams(c->pg, op->sql, op->n, NULL, (const char *const *)op->params, NULL,
			       NULL, 0))
		return -1;
	if (ms > 0)
		conn_arm_timer(c, ms);
	return conn_flush(c);
}

static void conn_setup(struct pg_conn *c)
{
	const char *sp = c->pool->search_path;
	struct pg_op *op;

	if (!sp) {
		conn_ready(c);
		return;
	}
	conn_set_state(c, PG_CONN_SETUP);
	op = pg_op_new(PG_OP_SETUP, "SELECT pg_catalog.set_config('search_path', $1, false)", 1,
		       &sp);
	if (!op) {
		pg_conn_drop(c, "out of memory");
		return;
	}
	if (conn_send(c, op))
		pg_conn_drop(c, "session setup failed");
}

static void conn_connect_step(struct pg_conn *c, PostgresPollingStatusType st)
{
	switch (st) {
	case PGRES_POLLING_READING:
		if (conn_watch(c, EV_READ, true))
			pg_conn_drop(c, "connect failed");
		return;
	case PGRES_POLLING_WRITING:
		if (conn_watch(c, EV_WRITE, true))
			pg_conn_drop(c, "connect failed");
		return;
	case PGRES_POLLING_OK:
		evtimer_del(c->timer);
		if (PQsetnonblocking(c->pg, 1)) {
			pg_conn_drop(c, "connect failed");
			return;
		}
		conn_setup(c);
		return;
	default:
		pg_conn_drop(c, "connect failed");
		return;
	}
}

int pg_conn_connect(struct pg_conn *c)
{
	struct pg_pool *p = c->pool;
	const char *kw[] = {"dbname", "fallback_application_name", NULL};
	const char *val[] = {p->conninfo, p->app_name, NULL};

	conn_set_state(c, PG_CONN_CONNECT);
	c->pg = PQconnectStartParams(kw, val, 1);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		pg_conn_drop(c, "connect failed");
		return -1;
	}
	PQsetNoticeProcessor(c->pg, pg_log_notice, (void *)"pg notice");
	if (p->opts.connect_timeout_ms > 0)
		conn_arm_timer(c, p->opts.connect_timeout_ms);
	/* Right after PQconnectStart, behave as if PQconnectPoll said "writing". */
	conn_connect_step(c, PGRES_POLLING_WRITING);
	return 0;
}

void pg_conn_start(struct pg_conn *c, struct pg_op *op)
{
	assert(c->state == PG_CONN_IDLE || c->state == PG_CONN_TX);
	conn_set_state(c, PG_CONN_BUSY);
	if (conn_send(c, op))
		pg_conn_drop(c, "connection lost");
}

void pg_conn_set_idle(struct pg_conn *c)
{
	conn_set_state(c, PG_CONN_IDLE);
	evtimer_del(c->timer);
	if (conn_watch(c, EV_READ, false))
		pg_conn_drop(c, "event setup failed");
}

void pg_conn_set_tx(struct pg_conn *c, struct pg_tx *tx)
{
	conn_set_state(c, PG_CONN_TX);
	evtimer_del(c->timer);
	c->tx = tx;
	tx->conn = c;
	if (conn_watch(c, EV_READ, false))
		pg_conn_drop(c, "event setup failed");
}

void pg_conn_release(struct pg_conn *c, bool broken)
{
	if (broken || PQstatus(c->pg) != CONNECTION_OK) {
		pg_conn_drop(c, "connection lost");
		return;
	}
	if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		pg_conn_drop(c, "session left inside a transaction");
		return;
	}
	pg_conn_set_idle(c);
}

/* The statement in flight has produced all its results (or the connection broke). */
static void conn_finish(struct pg_conn *c, bool broken, const char *why)
{
	struct pg_op *op = c->op;
	PGresult *res = c->res;
	bool ok;

	c->op = NULL;
	c->res = NULL;
	evtimer_del(c->timer);
	broken = broken || c->discard || PQstatus(c->pg) != CONNECTION_OK;
	if (op->kind != PG_OP_SETUP) {
		pg_pool_op_done(c, op, res, broken, why); /* c may be gone after this */
		return;
	}
	ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	pg_op_free(op);
	if (!ok || broken)
		pg_conn_drop(c, "session setup failed");
	else
		conn_ready(c);
}

static bool res_is_error(const PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);

	return st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY;
}

/* Keeps the first result, or the first error after a success. */
static void conn_keep_result(struct pg_conn *c, PGresult *r)
{
	if (!c->res) {
		c->res = r;
	} else if (!res_is_error(c->res) && res_is_error(r)) {
		PQclear(c->res);
		c->res = r;
	} else {
		PQclear(r);
	}
}

static void conn_on_stmt_io(struct pg_conn *c, short what)
{
	ExecStatusType st;
	PGresult *r;

	if ((what & EV_READ) && !PQconsumeInput(c->pg))
		goto lost;
	if (c->flushing && conn_flush(c))
		goto lost;
	while (!PQisBusy(c->pg)) {
		r = PQgetResult(c->pg);
		if (!r) {
			conn_finish(c, false, "connection lost");
			return;
		}
		st = PQresultStatus(r);
		if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
			PQclear(r);
			c->discard = true; /* the session is stuck in COPY: finish and drop it */
			conn_finish(c, true, "COPY is not supported");
			return;
		}
		conn_keep_result(c, r);
	}
	return;
lost:
	/* A server that ends a session first sends the reason (e.g. 57P01): report that. */
	if (c->res && res_is_error(c->res))
		conn_finish(c, true, "connection lost");
	else
		pg_conn_drop(c, "connection lost");
}

/* An idle session (free or between transaction statements) became readable: usually the
 * server closing it, sometimes a notice or a notification. */
static void conn_on_idle_io(struct pg_conn *c)
{
	PGnotify *n;
	PGresult *r;

	if (!PQconsumeInput(c->pg))
		goto lost;
	while (!PQisBusy(c->pg) && (r = PQgetResult(c->pg)))
		PQclear(r);
	while ((n = PQnotifies(c->pg)))
		PQfreemem(n);
	if (PQstatus(c->pg) != CONNECTION_OK)
		goto lost;
	return;
lost:
	pg_conn_drop(c, "connection lost");
}

static void conn_on_io(evutil_socket_t fd, short what, void *arg)
{
	struct pg_conn *c = arg;

	(void)fd;
	switch (c->state) {
	case PG_CONN_CONNECT:
		conn_connect_step(c, PQconnectPoll(c->pg));
		break;
	case PG_CONN_SETUP:
	case PG_CONN_BUSY:
		conn_on_stmt_io(c, what);
		break;
	case PG_CONN_IDLE:
	case PG_CONN_TX:
		conn_on_idle_io(c);
		break;
	case PG_CONN_WAIT:
	case PG_CONN_CLOSED:
		break;
	}
}

static void *conn_cancel_main(void *arg)
{
	PGcancel *k = arg;
	char buf[256];

	(void)PQcancel(k, buf, sizeof(buf));
	PQfreeCancel(k);
	return NULL;
}

/* Asks the server to stop the running statement. PQcancel blocks, so it runs on a detached
 * thread that owns its own PGcancel copy; the pool drops the connection regardless. */
static void conn_cancel(struct pg_conn *c)
{
	PGcancel *k = PQgetCancel(c->pg);
	pthread_attr_t attr;
	pthread_t t;

	if (!k)
		return;
	if (pthread_attr_init(&attr)) {
		PQfreeCancel(k);
		return;
	}
	if (pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) ||
	    pthread_create(&t, &attr, conn_cancel_main, k))
		PQfreeCancel(k);
	pthread_attr_destroy(&attr);
}

static void conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pg_conn *c = arg;

	(void)fd;
	(void)what;
	switch (c->state) {
	case PG_CONN_WAIT:
		(void)pg_conn_connect(c);
		break;
	case PG_CONN_CONNECT:
		pg_conn_drop(c, "connect timeout");
		break;
	case PG_CONN_SETUP:
		pg_conn_drop(c, "session setup timeout");
		break;
	case PG_CONN_BUSY:
		conn_cancel(c);
		pg_conn_drop(c, "query timeout");
		break;
	case PG_CONN_IDLE:
	case PG_CONN_TX:
	case PG_CONN_CLOSED:
		break;
	}
}
