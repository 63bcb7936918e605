/*
 * pg.h - asynchronous PostgreSQL connection pool on libpq's non-blocking API and libevent.
 *
 * Connections are opened with PQconnectStart/PQconnectPoll, queries sent with PQsendQueryParams
 * (text parameters, results in text format) and read with PQconsumeInput/PQisBusy driven by
 * the socket's events: nothing here blocks the loop. A broken connection is replaced with
 * backoff; a query on it fails with an error, never hangs. Each query has a deadline (the
 * pool's query_timeout_ms): when it passes, the query is cancelled and fails.
 *
 * Two ways to run SQL:
 *   pg_query()  one statement on any free connection (autocommit);
 *   pg_tx_*()   a transaction: pg_tx_begin() hands you a connection with BEGIN done; run
 *               pg_tx_query() steps on it; finish with pg_tx_commit() or pg_tx_rollback(),
 *               which return the connection to the pool.
 * Requests that find no free connection wait in a bounded FIFO queue (at most max_queue, for at
 * most query_timeout_ms, then they fail with "queue timeout"). While no connection is up (after
 * the first connection attempts finished) requests fail at once with "no database connection".
 * Every new session gets search_path (when set) before it is used, and application_name
 * defaults to the program's name (fallback_application_name; the conninfo may override it).
 *
 * Callbacks run from the loop, never inside the call that submitted the request. A callback
 * may submit more work, end its transaction, or even call pg_pool_free().
 * libpq limitation: PQconnectStart resolves a host name with a blocking getaddrinfo; give an
 * IP address (or a local socket) where that matters.
 */
#ifndef COMMON_PG_H
#define COMMON_PG_H

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define MUST_CHECK __attribute__((warn_unused_result))

struct pg_pool;
struct pg_tx;

struct pg_pool_opts {
	const char *conninfo;     /* libpq connection string or URI */
	int size;                 /* connections */
	int max_queue;            /* waiting requests beyond the pool */
	int connect_timeout_ms;   /* per connection attempt; <= 0: none */
	int query_timeout_ms;     /* per statement, and per wait in the queue; <= 0: none */
	const char *search_path;  /* set on every new connection (the service's schema), or NULL */
};
/* size 4, max_queue 256, connect 5000 ms, query 10000 ms, conninfo "" (libpq defaults). */
void pg_pool_opts_default(struct pg_pool_opts *o);

/* Starts connecting in the background; copies o's strings. NULL on bad arguments. */
struct pg_pool *pg_pool_new(struct event_base *base, const struct pg_pool_opts *o);
/* True when at least one connection is established (for /readyz). */
bool pg_pool_ready(const struct pg_pool *p);
/* Closes connections; pending requests fail with "shutdown" (their callbacks run before it
 * returns). Transaction handles still held are freed too: do not use them afterwards. */
void pg_pool_free(struct pg_pool *p);

/* The result of one statement. res is borrowed for the callback (NULL when err is set);
 * err is NULL on success, else a message. sqlstate is "" or the five-character SQLSTATE
 * (e.g. "23505" unique_violation) when the server reported an error. */
struct pg_result {
	PGresult *res;
	const char *err;
	const char *sqlstate;
};
typedef void (*pg_result_cb)(const struct pg_result *r, void *arg);

/* params: n text values (NULL element = SQL NULL), copied before return.
 * Returns 0, or -1 when the request could not be queued (queue full, shutting down): the
 * callback is then not called. The callback is never called from inside pg_query; cb may be
 * NULL (fire and forget). When a statement times out its connection is dropped and replaced
 * (a cancel is sent as well), and the callback gets err "query timeout". */
int pg_query(struct pg_pool *p, const char *sql, int n, const char *const *params,
	     pg_result_cb cb, void *arg) MUST_CHECK;

/* Transactions. begin_cb receives the transaction handle, or NULL and an error message.
 * If the transaction's connection is lost (server gone, statement timeout), the statement in
 * flight and any later pg_tx_query fail with "connection lost" (or "query timeout"), commit
 * fails with "connection lost", and rollback reports success (the server rolled it back). */
typedef void (*pg_tx_cb)(struct pg_tx *tx, const char *err, void *arg);
int pg_tx_begin(struct pg_pool *p, pg_tx_cb cb, void *arg) MUST_CHECK;
/* One statement inside the transaction. Same contract as pg_query; also -1 while another
 * statement of this transaction is still running or after commit/rollback was called. After a
 * failed statement the transaction is aborted: only pg_tx_rollback is useful (a commit then
 * fails with "transaction rolled back"). */
int pg_tx_query(struct pg_tx *tx, const char *sql, int n, const char *const *params,
		pg_result_cb cb, void *arg) MUST_CHECK;
/* COMMIT; cb gets err == NULL when committed. The handle is gone when cb runs. Called while a
 * pg_tx_query statement runs, it waits for that statement. cb may be NULL. */
typedef void (*pg_done_cb)(const char *err, void *arg);
void pg_tx_commit(struct pg_tx *tx, pg_done_cb cb, void *arg);
/* ROLLBACK (cb may be NULL); the handle is gone after this call. */
void pg_tx_rollback(struct pg_tx *tx, pg_done_cb cb, void *arg);

/* Helpers for reading text results. */
const char *pg_val(const PGresult *res, int row, int col); /* NULL for SQL NULL */
bool pg_bool(const PGresult *res, int row, int col);       /* 't' */
long long pg_int(const PGresult *res, int row, int col);

/* A PQsetNoticeProcessor callback: logs the server's notice (first line) at debug level
 * with arg (a static const char *, e.g. "pg notice") as the message. */
void pg_log_notice(void *arg, const char *message);

/* A PostgreSQL text-array literal ("{a,b}") from n strings, quoted; caller frees. */
char *pg_array_literal(const char *const *items, size_t n);

struct http_request; /* common/http.h */
/* A failed query's reply: logs what (the step), the error and the SQLSTATE (never parameters)
 * with the request id, then replies 503 service_unavailable when the failure is transient (no
 * SQLSTATE: not queued, connection lost, deadline; class 08 connection, 53 resources, 57
 * cancelled / shutting down; 40001 serialization, 40P01 deadlock), else 500 internal_error.
 * r may be NULL (not queued). */
void pg_reply_error(struct http_request *req, const char *what, const struct pg_result *r);

#endif
