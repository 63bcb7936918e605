/*
 * test_pg.c - the asynchronous PostgreSQL pool against a real server (FR_TEST_PG_URL, tests
 * skip when unset): queries, queueing, errors, transactions, timeouts, lost connections and
 * shutdown. Every run works in its own schema, dropped at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/pg.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *g_url;
static char g_schema[64];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Blocking helper for set-up and checks only (never on a loop under test). */
static int pq_run(const char *sql)
{
	PGconn *c = PQconnectdb(g_url);
	PGresult *r;
	int rc = -1;

	if (PQstatus(c) == CONNECTION_OK) {
		PQsetNoticeProcessor(c, quiet_notice, NULL);
		r = PQexec(c, sql);
		rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
		if (rc)
			fprintf(stderr, "pq_run: %s", PQerrorMessage(c));
		PQclear(r);
	}
	PQfinish(c);
	return rc;
}

static int group_setup(void **state)
{
	char sql[256];

	(void)state;
	g_url = getenv("FR_TEST_PG_URL");
	if (!g_url || !*g_url) {
		g_url = NULL;
		return 0;
	}
	snprintf(g_schema, sizeof(g_schema), "fr_test_pg_%ld_%ld", (long)getpid(), (long)time(NULL));
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", g_schema);
	return pq_run(sql);
}

static int group_teardown(void **state)
{
	char sql[256];

	(void)state;
	if (!g_url)
		return 0;
	snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", g_schema);
	return pq_run(sql);
}

/* ---- a loop with a pool ------------------------------------------------------------------ */

struct t {
	struct event_base *base;
	struct event *tick;
	struct pg_pool *pool;
	char app[96];
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Runs the loop until *counter >= target or ms pass; true when reached. */
static bool t_run_until(struct t *t, const int *counter, int target, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while ((!counter || *counter < target) && now_ms() < end)
		event_base_loop(t->base, EVLOOP_ONCE);
	return !counter || *counter >= target;
}

static void t_sleep(struct t *t, int ms)
{
	(void)t_run_until(t, NULL, 0, ms);
}

static void t_start(struct t *t, const char *conninfo, const char *name, int size, int max_queue,
		    int timeout_ms)
{
	struct pg_pool_opts o;
	struct timeval tv = {0, 10000};

	memset(t, 0, sizeof(*t));
	t->base = event_base_new();
	assert_non_null(t->base);
	t->tick = event_new(t->base, -1, EV_PERSIST, on_tick, NULL);
	assert_int_equal(event_add(t->tick, &tv), 0);
	snprintf(t->app, sizeof(t->app), "fr_test_pg_%ld_%s", (long)getpid(), name);
	pg_pool_opts_default(&o);
	o.conninfo = conninfo;
	o.size = size;
	o.max_queue = max_queue;
	o.query_timeout_ms = timeout_ms;
	o.connect_timeout_ms = 3000;
	o.search_path = g_schema;
	t->pool = pg_pool_new(t->base, &o);
	assert_non_null(t->pool);
}

/* A pool on the test server, connected (all size connections up). */
static void t_open(struct t *t, const char *name, int size, int max_queue, int timeout_ms)
{
	char conninfo[1024];
	uint64_t end;

	if (!g_url)
		skip();
	snprintf(conninfo, sizeof(conninfo), "%s%sapplication_name=fr_test_pg_%ld_%s", g_url,
		 strchr(g_url, '?') ? "&" : "?", (long)getpid(), name);
	t_start(t, conninfo, name, size, max_queue, timeout_ms);
	end = now_ms() + 5000;
	while (!pg_pool_ready(t->pool) && now_ms() < end)
		event_base_loop(t->base, EVLOOP_ONCE);
	assert_true(pg_pool_ready(t->pool));
	t_sleep(t, 100); /* let the other connections finish their set-up too */
}

static void t_close(struct t *t)
{
	pg_pool_free(t->pool);
	event_free(t->tick);
	event_base_free(t->base);
}

/* ---- result capture ---------------------------------------------------------------------- */

struct qres {
	int done;
	bool failed;
	char err[256];
	char sqlstate[8];
	int ntuples;
	char v[4][128];
	bool null[4];
	int id;
	int *order;   /* shared completion log, optional */
	int *norder;
};

static void on_qres(const struct pg_result *r, void *arg)
{
	struct qres *q = arg;

	q->done++;
	q->failed = r->err != NULL;
	snprintf(q->err, sizeof(q->err), "%s", r->err ? r->err : "");
	snprintf(q->sqlstate, sizeof(q->sqlstate), "%s", r->sqlstate);
	if (r->err)
		assert_null(r->res);
	if (r->res) {
		q->ntuples = PQntuples(r->res);
		for (int i = 0; i < 4 && i < PQnfields(r->res) && q->ntuples > 0; i++) {
			const char *v = pg_val(r->res, 0, i);

			q->null[i] = v == NULL;
			snprintf(q->v[i], sizeof(q->v[i]), "%s", v ? v : "");
		}
	}
	if (q->order)
		q->order[(*q->norder)++] = q->id;
}

static void q_run(struct t *t, struct qres *q, const char *sql, int n, const char *const *params)
{
	memset(q, 0, sizeof(*q));
	assert_int_equal(pg_query(t->pool, sql, n, params, on_qres, q), 0);
	assert_int_equal(q->done, 0); /* never called inside pg_query */
	assert_true(t_run_until(t, &q->done, 1, 10000));
}

struct txres {
	int done;
	struct pg_tx *tx;
	char err[256];
	bool failed;
};

static void on_begin(struct pg_tx *tx, const char *err, void *arg)
{
	struct txres *x = arg;

	x->done++;
	x->tx = tx;
	x->failed = err != NULL;
	snprintf(x->err, sizeof(x->err), "%s", err ? err : "");
}

static void on_end(const char *err, void *arg)
{
	struct txres *x = arg;

	x->done++;
	x->failed = err != NULL;
	snprintf(x->err, sizeof(x->err), "%s", err ? err : "");
}

static struct pg_tx *tx_begin(struct t *t)
{
	struct txres x = {0};

	assert_int_equal(pg_tx_begin(t->pool, on_begin, &x), 0);
	assert_int_equal(x.done, 0);
	assert_true(t_run_until(t, &x.done, 1, 10000));
	assert_false(x.failed);
	assert_non_null(x.tx);
	return x.tx;
}

static void tx_q_run(struct t *t, struct pg_tx *tx, struct qres *q, const char *sql, int n,
		     const char *const *params)
{
	memset(q, 0, sizeof(*q));
	assert_int_equal(pg_tx_query(tx, sql, n, params, on_qres, q), 0);
	assert_int_equal(q->done, 0);
	assert_true(t_run_until(t, &q->done, 1, 10000));
}

static void tx_end_run(struct t *t, struct pg_tx *tx, bool commit, struct txres *x)
{
	memset(x, 0, sizeof(*x));
	if (commit)
		pg_tx_commit(tx, on_end, x);
	else
		pg_tx_rollback(tx, on_end, x);
	assert_int_equal(x->done, 0);
	assert_true(t_run_until(t, &x->done, 1, 10000));
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_pg_query_params_and_nulls(void **state)
{
	struct t t;
	struct qres q;
	const char *params[] = {"41", NULL, "it's \"quoted\""};

	(void)state;
	t_open(&t, "params", 2, 8, 5000);
	q_run(&t, &q, "SELECT $1::int + 1, $2::text IS NULL, $2::text, $3::text", 3, params);
	assert_false(q.failed);
	assert_string_equal(q.sqlstate, "");
	assert_int_equal(q.ntuples, 1);
	assert_string_equal(q.v[0], "42");
	assert_string_equal(q.v[1], "t");
	assert_true(q.null[2]);
	assert_false(q.null[3]);
	assert_string_equal(q.v[3], "it's \"quoted\"");
	q_run(&t, &q, "SELECT current_schema(), current_setting('application_name')", 0, NULL);
	assert_false(q.failed);
	assert_string_equal(q.v[0], g_schema);
	assert_string_equal(q.v[1], t.app);
	t_close(&t);
}

static void test_pg_result_helpers(void **state)
{
	PGresult *res;
	PGconn *c;

	(void)state;
	if (!g_url)
		skip();
	c = PQconnectdb(g_url);
	res = PQexec(c, "SELECT 't'::bool, 'f'::bool, -9000000000::bigint, NULL::int, 'x'");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_true(pg_bool(res, 0, 0));
	assert_false(pg_bool(res, 0, 1));
	assert_true(pg_int(res, 0, 2) == -9000000000LL);
	assert_null(pg_val(res, 0, 3));
	assert_int_equal(pg_int(res, 0, 3), 0);
	assert_int_equal(pg_int(res, 0, 4), 0); /* not a number */
	assert_null(pg_val(res, 1, 0));          /* out of range */
	assert_null(pg_val(res, 0, 9));
	assert_null(pg_val(NULL, 0, 0));
	PQclear(res);
	PQfinish(c);
}

static void test_pg_array_literal(void **state)
{
	const char *items[] = {"a", "b,c", "q\"t", "back\\slash", NULL, ""};
	char *s;

	(void)state;
	s = pg_array_literal(items, 6);
	assert_non_null(s);
	assert_string_equal(s, "{\"a\",\"b,c\",\"q\\\"t\",\"back\\\\slash\",NULL,\"\"}");
	free(s);
	s = pg_array_literal(NULL, 0);
	assert_string_equal(s, "{}");
	free(s);
	assert_null(pg_array_literal(NULL, 3));
}

static void test_pg_array_literal_round_trip(void **state)
{
	const char *items[] = {"a", "b,c", "q\"t", "back\\slash", "{}", " sp "};
	struct t t;
	struct qres q;
	char *lit;
	const char *params[1];

	(void)state;
	t_open(&t, "array", 1, 8, 5000);
	lit = pg_array_literal(items, 6);
	params[0] = lit;
	q_run(&t, &q, "SELECT array_length($1::text[], 1), ($1::text[])[3], ($1::text[])[4], "
		      "($1::text[])[6]", 1, params);
	free(lit);
	assert_false(q.failed);
	assert_string_equal(q.v[0], "6");
	assert_string_equal(q.v[1], "q\"t");
	assert_string_equal(q.v[2], "back\\slash");
	assert_string_equal(q.v[3], " sp ");
	t_close(&t);
}

static void test_pg_many_queries_queue(void **state)
{
	enum { N = 20 };
	struct t t;
	struct qres q[N];
	char ids[N][16];
	int order[N + 1], norder = 0;
	bool seen[N] = {false};

	(void)state;
	t_open(&t, "queue", 2, N - 2, 10000);
	for (int i = 0; i < N; i++) {
		const char *p[1] = {ids[i]};

		memset(&q[i], 0, sizeof(q[i]));
		q[i].id = i;
		q[i].order = order;
		q[i].norder = &norder;
		snprintf(ids[i], sizeof(ids[i]), "%d", i);
		assert_int_equal(pg_query(t.pool, "SELECT $1::int, pg_sleep(0.02)", 1, p, on_qres,
					  &q[i]), 0);
	}
	/* 2 running + 18 waiting: the queue is full now. */
	assert_int_equal(pg_query(t.pool, "SELECT 1", 0, NULL, on_qres, &q[0]), -1);
	assert_int_equal(norder, 0);
	for (uint64_t end = now_ms() + 10000; norder < N && now_ms() < end;)
		event_base_loop(t.base, EVLOOP_ONCE);
	assert_int_equal(norder, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(q[i].done, 1);
		assert_false(q[i].failed);
		assert_int_equal(atoi(q[i].v[0]), i);
		assert_false(seen[order[i]]);
		seen[order[i]] = true;
	}
	t_close(&t);
}

static void test_pg_queue_overflow_returns_error(void **state)
{
	struct t t;
	struct qres q[4];
	int order[4], norder = 0;

	(void)state;
	t_open(&t, "overflow", 1, 2, 10000);
	for (int i = 0; i < 3; i++) {
		memset(&q[i], 0, sizeof(q[i]));
		q[i].id = i;
		q[i].order = order;
		q[i].norder = &norder;
		assert_int_equal(pg_query(t.pool, "SELECT pg_sleep(0.05)", 0, NULL, on_qres, &q[i]),
				 0);
	}
	memset(&q[3], 0, sizeof(q[3]));
	assert_int_equal(pg_query(t.pool, "SELECT 1", 0, NULL, on_qres, &q[3]), -1);
	assert_true(t_run_until(&t, &norder, 3, 5000));
	t_sleep(&t, 50);
	assert_int_equal(q[3].done, 0); /* the refused one never calls back */
	for (int i = 0; i < 3; i++) {
		assert_false(q[i].failed);
		assert_int_equal(order[i], i); /* one connection: strict FIFO */
	}
	/* room again */
	assert_int_equal(pg_query(t.pool, "SELECT 1", 0, NULL, on_qres, &q[3]), 0);
	assert_true(t_run_until(&t, &q[3].done, 1, 5000));
	t_close(&t);
}

static void test_pg_syntax_error_sqlstate(void **state)
{
	struct t t;
	struct qres q;

	(void)state;
	t_open(&t, "syntax", 1, 8, 5000);
	q_run(&t, &q, "SELEC 1", 0, NULL);
	assert_true(q.failed);
	assert_string_equal(q.sqlstate, "42601");
	assert_true(strlen(q.err) > 0);
	q_run(&t, &q, "SELECT 1", 0, NULL); /* the connection is still good */
	assert_false(q.failed);
	assert_string_equal(q.v[0], "1");
	t_close(&t);
}

static void test_pg_unique_violation_sqlstate(void **state)
{
	struct t t;
	struct qres q;
	const char *p[1] = {"7"};

	(void)state;
	t_open(&t, "unique", 1, 8, 5000);
	q_run(&t, &q, "CREATE TABLE uniq (id int PRIMARY KEY)", 0, NULL);
	assert_false(q.failed);
	q_run(&t, &q, "INSERT INTO uniq VALUES ($1)", 1, p);
	assert_false(q.failed);
	q_run(&t, &q, "INSERT INTO uniq VALUES ($1)", 1, p);
	assert_true(q.failed);
	assert_string_equal(q.sqlstate, "23505");
	t_close(&t);
}

static void test_pg_tx_commit_visible(void **state)
{
	struct t t;
	struct qres q;
	struct txres x;
	struct pg_tx *tx;
	const char *p[1] = {"one"};

	(void)state;
	t_open(&t, "commit", 2, 8, 5000);
	q_run(&t, &q, "CREATE TABLE txc (v text)", 0, NULL);
	tx = tx_begin(&t);
	tx_q_run(&t, tx, &q, "INSERT INTO txc VALUES ($1)", 1, p);
	assert_false(q.failed);
	tx_q_run(&t, tx, &q, "SELECT count(*) FROM txc", 0, NULL);
	assert_string_equal(q.v[0], "1");
	q_run(&t, &q, "SELECT count(*) FROM txc", 0, NULL); /* other session: not yet */
	assert_string_equal(q.v[0], "0");
	tx_end_run(&t, tx, true, &x);
	assert_false(x.failed);
	q_run(&t, &q, "SELECT v FROM txc", 0, NULL);
	assert_int_equal(q.ntuples, 1);
	assert_string_equal(q.v[0], "one");
	t_close(&t);
}

static void test_pg_tx_rollback_invisible(void **state)
{
	struct t t;
	struct qres q;
	struct txres x;
	struct pg_tx *tx;

	(void)state;
	t_open(&t, "rollback", 1, 8, 5000);
	q_run(&t, &q, "CREATE TABLE txr (v text)", 0, NULL);
	tx = tx_begin(&t);
	tx_q_run(&t, tx, &q, "INSERT INTO txr VALUES ('x')", 0, NULL);
	assert_false(q.failed);
	tx_end_run(&t, tx, false, &x);
	assert_false(x.failed);
	q_run(&t, &q, "SELECT count(*) FROM txr", 0, NULL); /* same single connection, reused */
	assert_false(q.failed);
	assert_string_equal(q.v[0], "0");
	t_close(&t);
}

static void test_pg_tx_failed_statement_then_rollback(void **state)
{
	struct t t;
	struct qres q;
	struct txres x;
	struct pg_tx *tx;

	(void)state;
	t_open(&t, "txfail", 1, 8, 5000);
	q_run(&t, &q, "CREATE TABLE txf (v int)", 0, NULL);
	tx = tx_begin(&t);
	tx_q_run(&t, tx, &q, "INSERT INTO txf VALUES (1)", 0, NULL);
	assert_false(q.failed);
	tx_q_run(&t, tx, &q, "SELECT 1/0", 0, NULL);
	assert_true(q.failed);
	assert_string_equal(q.sqlstate, "22012");
	tx_q_run(&t, tx, &q, "SELECT 1", 0, NULL);
	assert_true(q.failed);
	assert_string_equal(q.sqlstate, "25P02"); /* in failed transaction */
	tx_end_run(&t, tx, false, &x);
	assert_false(x.failed);
	q_run(&t, &q, "SELECT count(*) FROM txf", 0, NULL);
	assert_string_equal(q.v[0], "0");
	/* COMMIT of an aborted transaction is reported as an error, not a success */
	tx = tx_begin(&t);
	tx_q_run(&t, tx, &q, "SELEC", 0, NULL);
	assert_true(q.failed);
	tx_end_run(&t, tx, true, &x);
	assert_true(x.failed);
	q_run(&t, &q, "SELECT 2", 0, NULL);
	assert_false(q.failed);
	t_close(&t);
}

static void test_pg_tx_queues_when_busy(void **state)
{
	struct t t;
	struct qres q, q2;
	struct txres x;
	struct pg_tx *tx;

	(void)state;
	t_open(&t, "txqueue", 1, 8, 5000);
	tx = tx_begin(&t);
	/* the only connection is in the transaction: a plain query waits for it */
	memset(&q2, 0, sizeof(q2));
	assert_int_equal(pg_query(t.pool, "SELECT 'after'", 0, NULL, on_qres, &q2), 0);
	tx_q_run(&t, tx, &q, "SELECT 'inside'", 0, NULL);
	assert_string_equal(q.v[0], "inside");
	assert_int_equal(q2.done, 0);
	/* commit asked for while a statement runs: it waits for that statement */
	memset(&q, 0, sizeof(q));
	memset(&x, 0, sizeof(x));
	assert_int_equal(pg_tx_query(tx, "SELECT pg_sleep(0.05)", 0, NULL, on_qres, &q), 0);
	assert_int_equal(pg_tx_query(tx, "SELECT 1", 0, NULL, on_qres, &q), -1); /* busy */
	pg_tx_commit(tx, on_end, &x);
	assert_true(t_run_until(&t, &x.done, 1, 5000));
	assert_int_equal(q.done, 1);
	assert_false(q.failed);
	assert_false(x.failed);
	assert_true(t_run_until(&t, &q2.done, 1, 5000));
	assert_string_equal(q2.v[0], "after");
	t_close(&t);
}

static void test_pg_query_timeout(void **state)
{
	struct t t;
	struct qres q;
	char sql[128], check[256];
	uint64_t start;

	(void)state;
	t_open(&t, "timeout", 2, 8, 200);
	snprintf(sql, sizeof(sql), "SELECT pg_sleep(5) /* fr_timeout_%ld */", (long)getpid());
	start = now_ms();
	q_run(&t, &q, sql, 0, NULL);
	assert_true(q.failed);
	assert_string_equal(q.err, "query timeout");
	assert_true(now_ms() - start < 1500);
	q_run(&t, &q, "SELECT 'still works'", 0, NULL);
	assert_false(q.failed);
	assert_string_equal(q.v[0], "still works");
	/* the server stopped the statement (cancel) long before its 5 s */
	snprintf(check, sizeof(check),
		 "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%fr_timeout_%ld%%' "
		 "AND state = 'active' AND pid <> pg_backend_pid()",
		 (long)getpid());
	for (int i = 0; i < 20; i++) {
		q_run(&t, &q, check, 0, NULL);
		if (strcmp(q.v[0], "0") == 0)
			break;
		t_sleep(&t, 100);
	}
	assert_string_equal(q.v[0], "0");
	t_close(&t);
}

static void test_pg_terminated_connection_reconnects(void **state)
{
	struct t t;
	struct qres q, kill;
	char sql[128], killsql[256];
	const char *count = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1";
	const char *app[1];

	(void)state;
	t_open(&t, "terminate", 2, 8, 10000);
	snprintf(sql, sizeof(sql), "SELECT pg_sleep(5) /* fr_term_%ld */", (long)getpid());
	memset(&q, 0, sizeof(q));
	assert_int_equal(pg_query(t.pool, sql, 0, NULL, on_qres, &q), 0);
	t_sleep(&t, 300);
	snprintf(killsql, sizeof(killsql),
		 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
		 "WHERE query LIKE '%%fr_term_%ld%%' AND pid <> pg_backend_pid()",
		 (long)getpid());
	q_run(&t, &kill, killsql, 0, NULL);
	assert_false(kill.failed);
	assert_string_equal(kill.v[0], "1");
	assert_true(t_run_until(&t, &q.done, 1, 3000));
	assert_true(q.failed);
	assert_string_equal(q.sqlstate, "57P01"); /* admin_shutdown, as the server said */
	/* both connections come back */
	app[0] = t.app;
	for (int i = 0; i < 30; i++) {
		q_run(&t, &kill, count, 1, app);
		if (!kill.failed && strcmp(kill.v[0], "2") == 0)
			break;
		t_sleep(&t, 100);
	}
	assert_string_equal(kill.v[0], "2");
	assert_true(pg_pool_ready(t.pool));
	t_close(&t);
}

static void test_pg_tx_statement_timeout_loses_tx(void **state)
{
	struct t t;
	struct qres q;
	struct txres x;
	struct pg_tx *tx;

	(void)state;
	t_open(&t, "txtimeout", 2, 8, 200);
	q_run(&t, &q, "CREATE TABLE txt (v int)", 0, NULL);
	tx = tx_begin(&t);
	tx_q_run(&t, tx, &q, "INSERT INTO txt VALUES (1)", 0, NULL);
	assert_false(q.failed);
	tx_q_run(&t, tx, &q, "SELECT pg_sleep(3)", 0, NULL);
	assert_true(q.failed);
	assert_string_equal(q.err, "query timeout");
	tx_q_run(&t, tx, &q, "SELECT 1", 0, NULL); /* the session is gone */
	assert_true(q.failed);
	assert_string_equal(q.err, "connection lost");
	tx_end_run(&t, tx, true, &x);
	assert_true(x.failed);
	assert_string_equal(x.err, "connection lost");
	/* a lost transaction rolls back fine */
	tx = tx_begin(&t);
	tx_q_run(&t, tx, &q, "SELECT pg_sleep(3)", 0, NULL);
	assert_string_equal(q.err, "query timeout");
	tx_end_run(&t, tx, false, &x);
	assert_false(x.failed);
	q_run(&t, &q, "SELECT count(*) FROM txt", 0, NULL);
	assert_false(q.failed);
	assert_string_equal(q.v[0], "0");
	t_close(&t);
}

static void test_pg_queue_wait_times_out(void **state)
{
	struct t t;
	struct qres q;
	struct txres x;
	struct pg_tx *tx;
	uint64_t start;

	(void)state;
	t_open(&t, "queuewait", 1, 8, 300);
	tx = tx_begin(&t); /* holds the only connection */
	start = now_ms();
	q_run(&t, &q, "SELECT 1", 0, NULL);
	assert_true(q.failed);
	assert_string_equal(q.err, "queue timeout");
	assert_true(now_ms() - start >= 250);
	tx_end_run(&t, tx, false, &x);
	assert_false(x.failed);
	q_run(&t, &q, "SELECT 1", 0, NULL);
	assert_false(q.failed);
	t_close(&t);
}

static void test_pg_idle_connection_killed_is_replaced(void **state)
{
	struct t t;
	struct qres q;
	const char *app[1];

	(void)state;
	t_open(&t, "idlekill", 1, 8, 5000);
	app[0] = t.app;
	/* kill the pool's only (idle) session from outside */
	{
		PGconn *c = PQconnectdb(g_url);
		PGresult *r = PQexecParams(c,
					   "SELECT count(pg_terminate_backend(pid)) FROM "
					   "pg_stat_activity WHERE application_name = $1",
					   1, NULL, app, NULL, NULL, 0);

		assert_string_equal(PQgetvalue(r, 0, 0), "1");
		PQclear(r);
		PQfinish(c);
	}
	t_sleep(&t, 300); /* the pool notices (EOF on the idle socket) and reconnects */
	q_run(&t, &q, "SELECT 'back'", 0, NULL);
	assert_false(q.failed);
	assert_string_equal(q.v[0], "back");
	t_close(&t);
}

static void test_pg_free_with_pending_runs_callbacks(void **state)
{
	struct t t;
	struct qres q[3];
	struct txres x;

	(void)state;
	t_open(&t, "freepending", 1, 8, 5000);
	for (int i = 0; i < 3; i++) {
		memset(&q[i], 0, sizeof(q[i]));
		assert_int_equal(pg_query(t.pool, "SELECT pg_sleep(1)", 0, NULL, on_qres, &q[i]), 0);
	}
	memset(&x, 0, sizeof(x));
	assert_int_equal(pg_tx_begin(t.pool, on_begin, &x), 0);
	pg_pool_free(t.pool);
	t.pool = NULL;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(q[i].done, 1);
		assert_string_equal(q[i].err, "shutdown");
	}
	assert_int_equal(x.done, 1);
	assert_true(x.failed);
	assert_null(x.tx);
	t_close(&t);
}

static void test_pg_free_with_open_tx(void **state)
{
	struct t t;
	struct qres q;
	struct pg_tx *tx;

	(void)state;
	t_open(&t, "freetx", 2, 8, 5000);
	tx = tx_begin(&t);
	tx_q_run(&t, tx, &q, "SELECT 1", 0, NULL);
	assert_false(q.failed);
	/* also one statement in flight inside a second transaction */
	tx = tx_begin(&t);
	memset(&q, 0, sizeof(q));
	assert_int_equal(pg_tx_query(tx, "SELECT pg_sleep(1)", 0, NULL, on_qres, &q), 0);
	t_close(&t); /* LeakSanitizer checks that both handles were freed */
	assert_int_equal(q.done, 1);
	assert_string_equal(q.err, "shutdown");
}

/* A callback that frees the pool from inside (the hiredis-style guard must hold). */
struct free_ctx {
	struct t *t;
	int done;
};

static void on_free_inside(const struct pg_result *r, void *arg)
{
	struct free_ctx *f = arg;

	assert_null(r->err);
	f->done++;
	pg_pool_free(f->t->pool);
	f->t->pool = NULL;
}

static void test_pg_free_inside_callback(void **state)
{
	struct t t;
	struct free_ctx f = {&t, 0};
	struct qres q;

	(void)state;
	t_open(&t, "freeinside", 1, 8, 5000);
	assert_int_equal(pg_query(t.pool, "SELECT 1", 0, NULL, on_free_inside, &f), 0);
	memset(&q, 0, sizeof(q));
	assert_int_equal(pg_query(t.pool, "SELECT 2", 0, NULL, on_qres, &q), 0);
	assert_true(t_run_until(&t, &f.done, 1, 5000));
	assert_int_equal(q.done, 1);
	assert_string_equal(q.err, "shutdown");
	t_close(&t);
}

/* Callbacks may submit more work; the chain runs to the end. */
struct chain {
	struct pg_pool *pool;
	int left;
	int done;
};

static void on_chain(const struct pg_result *r, void *arg)
{
	struct chain *c = arg;

	assert_null(r->err);
	c->done++;
	if (--c->left > 0)
		assert_int_equal(pg_query(c->pool, "SELECT 1", 0, NULL, on_chain, c), 0);
}

static void test_pg_query_from_callback(void **state)
{
	struct t t;
	struct chain c;

	(void)state;
	t_open(&t, "chain", 1, 2, 5000);
	c.pool = t.pool;
	c.left = 10;
	c.done = 0;
	assert_int_equal(pg_query(t.pool, "SELECT 1", 0, NULL, on_chain, &c), 0);
	assert_true(t_run_until(&t, &c.done, 10, 5000));
	t_close(&t);
}

static void test_pg_no_server_fails_fast(void **state)
{
	struct t t;
	struct qres q;
	struct txres x;

	(void)state;
	/* port 1 on loopback: connection refused at once */
	t_start(&t, "host=127.0.0.1 port=1 dbname=none user=none", "noserver", 2, 8, 1000);
	t_sleep(&t, 300);
	assert_false(pg_pool_ready(t.pool));
	memset(&q, 0, sizeof(q));
	assert_int_equal(pg_query(t.pool, "SELECT 1", 0, NULL, on_qres, &q), 0);
	assert_int_equal(q.done, 0);
	memset(&x, 0, sizeof(x));
	assert_int_equal(pg_tx_begin(t.pool, on_begin, &x), 0);
	assert_true(t_run_until(&t, &q.done, 1, 1000));
	assert_true(t_run_until(&t, &x.done, 1, 1000));
	assert_string_equal(q.err, "no database connection");
	assert_true(x.failed);
	assert_null(x.tx);
	t_close(&t);
}

static void test_pg_bad_arguments(void **state)
{
	struct t t;
	struct qres q;
	struct pg_pool_opts o;

	(void)state;
	t_start(&t, "host=127.0.0.1 port=1", "badargs", 1, 8, 1000);
	assert_null(pg_pool_new(NULL, NULL));
	pg_pool_opts_default(&o);
	assert_null(pg_pool_new(t.base, NULL));
	o.conninfo = NULL;
	assert_null(pg_pool_new(t.base, &o));
	assert_int_equal(pg_query(t.pool, NULL, 0, NULL, on_qres, &q), -1);
	assert_int_equal(pg_query(t.pool, "SELECT $1", 1, NULL, on_qres, &q), -1);
	assert_int_equal(pg_query(t.pool, "SELECT 1", -1, NULL, on_qres, &q), -1);
	assert_int_equal(pg_query(NULL, "SELECT 1", 0, NULL, on_qres, &q), -1);
	assert_int_equal(pg_tx_begin(t.pool, NULL, NULL), -1);
	assert_int_equal(pg_tx_query(NULL, "SELECT 1", 0, NULL, on_qres, &q), -1);
	pg_tx_commit(NULL, NULL, NULL);
	pg_tx_rollback(NULL, NULL, NULL);
	pg_pool_free(NULL);
	t_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pg_array_literal),
		cmocka_unit_test(test_pg_bad_arguments),
		cmocka_unit_test(test_pg_no_server_fails_fast),
		cmocka_unit_test(test_pg_query_params_and_nulls),
		cmocka_unit_test(test_pg_result_helpers),
		cmocka_unit_test(test_pg_array_literal_round_trip),
		cmocka_unit_test(test_pg_many_queries_queue),
		cmocka_unit_test(test_pg_queue_overflow_returns_error),
		cmocka_unit_test(test_pg_syntax_error_sqlstate),
		cmocka_unit_test(test_pg_unique_violation_sqlstate),
		cmocka_unit_test(test_pg_tx_commit_visible),
		cmocka_unit_test(test_pg_tx_rollback_invisible),
		cmocka_unit_test(test_pg_tx_failed_statement_then_rollback),
		cmocka_unit_test(test_pg_tx_queues_when_busy),
		cmocka_unit_test(test_pg_query_timeout),
		cmocka_unit_test(test_pg_terminated_connection_reconnects),
		cmocka_unit_test(test_pg_idle_connection_killed_is_replaced),
		cmocka_unit_test(test_pg_tx_statement_timeout_loses_tx),
		cmocka_unit_test(test_pg_queue_wait_times_out),
		cmocka_unit_test(test_pg_free_with_pending_runs_callbacks),
		cmocka_unit_test(test_pg_free_with_open_tx),
		cmocka_unit_test(test_pg_free_inside_callback),
		cmocka_unit_test(test_pg_query_from_callback),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
