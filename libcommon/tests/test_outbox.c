/*
 * test_outbox.c - the transactional outbox and its relay against a real PostgreSQL
 * (FR_TEST_PG_URL) and RabbitMQ (FR_TEST_AMQP_PORT, guest/guest); those tests skip when either
 * is unset. Every run works in its own schema and its own routing keys, and reads what the
 * relay published through a plain librabbitmq connection on a private queue; all of it is
 * removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/amqp.h"
#include "common/crypto.h"
#include "common/event.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "event_test_util.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 32
#define MAX_GOT 128

static const char *g_url;
static int g_amqp_port;
static char g_schema[64];
static char g_domain[64];   /* first word of every routing key of this run */
static char g_queue[96];    /* the test's private queue */
static amqp_connection_state_t g_rmq;

struct got {
	char *rk;
	char *mid;
	char *body;
};
static struct got g_got[MAX_GOT];
static int g_ngot;

/* ---- helpers: time, blocking SQL (set-up and checks only), plain AMQP ------------------- */

static long long pq_num(const char *sql)
{
	return etu_pq_num(g_url, sql);
}

static int rmq_open(void)
{
	return etu_rmq_open(g_amqp_port, &g_rmq);
}

static void rmq_close(void)
{
	etu_rmq_close(&g_rmq);
}

static char *bytes_dup(amqp_bytes_t b)
{
	char *s = malloc(b.len + 1);

	assert_non_null(s);
	memcpy(s, b.bytes, b.len);
	s[b.len] = '\0';
	return s;
}

/* Moves whatever waits in the private queue into g_got. */
static void rmq_drain(void)
{
	for (;;) {
		amqp_rpc_reply_t r = amqp_basic_get(g_rmq, 1, amqp_cstring_bytes(g_queue), 1);
		amqp_basic_get_ok_t *ok;
		amqp_message_t msg;

		assert_int_equal(etu_rmq_ok(r), 0);
		if (r.reply.id != AMQP_BASIC_GET_OK_METHOD)
			return;
		ok = r.reply.decoded;
		assert_true(g_ngot < MAX_GOT);
		g_got[g_ngot].rk = bytes_dup(ok->routing_key);
		assert_int_equal(etu_rmq_ok(amqp_read_message(g_rmq, 1, &msg, 0)), 0);
		g_got[g_ngot].mid = (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
					    ? bytes_dup(msg.properties.message_id) : NULL;
		g_got[g_ngot].body = bytes_dup(msg.body);
		g_ngot++;
		amqp_destroy_message(&msg);
		amqp_maybe_release_buffers(g_rmq);
	}
}

static void got_clear(void)
{
	for (int i = 0; i < g_ngot; i++) {
		free(g_got[i].rk);
		free(g_got[i].mid);
		free(g_got[i].body);
	}
	memset(g_got, 0, sizeof(g_got));
	g_ngot = 0;
}

/* A TCP port on 127.0.0.1 where nothing listens (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* ---- fixture: loop, pool, bridge, relay ------------------------------------------------- */

struct fx {
	struct event_base *base;
	struct pg_pool *pg;
	struct amqp *amqp;
	struct outbox *ob;
	struct outbox *ob2;
	struct metrics *m;
};

static struct amqp *fx_amqp(struct fx *f, int port)
{
	struct amqp_opts ao;

	amqp_opts_default(&ao);
	ao.port = port;
	ao.service = "test_outbox";
	ao.connect_timeout_ms = 1000;
	return amqp_new(f->base, &ao);
}

static struct outbox *fx_outbox(struct fx *f, int batch, int max_backoff_ms)
{
	struct outbox_opts o;

	outbox_opts_default(&o, g_schema);
	o.batch = batch;
	o.poll_ms = 200;
	o.max_backoff_ms = max_backoff_ms;
	o.metrics = f->m;
	return outbox_new(f->base, f->pg, f->amqp, &o);
}

static void fx_up(struct fx *f, int amqp_port)
{
	struct pg_pool_opts po;

	memset(f, 0, sizeof(*f));
	f->base = event_base_new();
	f->m = metrics_new();
	pg_pool_opts_default(&po);
	po.conninfo = g_url;
	po.size = 3;
	f->pg = pg_pool_new(f->base, &po);
	f->amqp = fx_amqp(f, amqp_port);
	assert_non_null(f->base);
	assert_non_null(f->pg);
	assert_non_null(f->amqp);
}

/* The documented order: relays, then the bridge, then the pool. */
static void fx_down(struct fx *f)
{
	outbox_free(f->ob);
	outbox_free(f->ob2);
	amqp_free(f->amqp);
	pg_pool_free(f->pg);
	metrics_free(f->m);
	event_base_free(f->base);
	memset(f, 0, sizeof(*f));
}

typedef etu_cond_fn cond_fn;

static bool run_until(struct fx *f, cond_fn cond, void *arg, int ms)
{
	return etu_run_until(f->base, cond, arg, ms);
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static bool amqp_up(void *arg)
{
	return amqp_ready(((struct fx *)arg)->amqp);
}

/* ---- adding events through outbox_add in one transaction --------------------------------- */

struct adder {
	struct fx *f;
	int n, i;
	bool commit;
	json_object *env[MAX_EVENTS];
	char ids[MAX_EVENTS][UUID_STR_LEN];
	struct pg_tx *tx;
	bool done;
	bool failed;
};

static void add_next(struct adder *a);

static void add_on_end(const char *err, void *arg)
{
	struct adder *a = arg;

	a->failed = a->failed || (a->commit && err);
	a->done = true;
}

static void add_on_row(const struct pg_result *r, void *arg)
{
	struct adder *a = arg;

	if (r->err) {
		fprintf(stderr, "outbox_add: %s\n", r->err);
		a->failed = true;
		pg_tx_rollback(a->tx, add_on_end, a);
		return;
	}
	a->i++;
	add_next(a);
}

static void add_next(struct adder *a)
{
	if (a->i < a->n) {
		assert_int_equal(outbox_add(a->tx, g_schema, a->env[a->i], "agg-1", add_on_row, a), 0);
		return;
	}
	if (a->commit)
		pg_tx_commit(a->tx, add_on_end, a);
	else
		pg_tx_rollback(a->tx, add_on_end, a);
}

static void add_on_begin(struct pg_tx *tx, const char *err, void *arg)
{
	struct adder *a = arg;

	if (!tx) {
		fprintf(stderr, "begin: %s\n", err);
		a->failed = a->done = true;
		return;
	}
	a->tx = tx;
	add_next(a);
}

static bool adder_done(void *arg)
{
	return ((struct adder *)arg)->done;
}

/* Adds n events (data {"seq": i}) in one transaction, committed or rolled back. */
static void add_events(struct fx *f, struct adder *a, int n, bool commit)
{
	char type[128];

	memset(a, 0, sizeof(*a));
	a->f = f;
	a->n = n;
	a->commit = commit;
	snprintf(type, sizeof(type), "%s.thing.created.v1", g_domain);
	for (int i = 0; i < n; i++) {
		json_object *data = json_object_new_object();

		json_set_int(data, "seq", i);
		a->env[i] = event_envelope_new(type, "test", NULL, NULL, data, a->ids[i]);
		assert_non_null(a->env[i]);
	}
	assert_int_equal(pg_tx_begin(f->pg, add_on_begin, a), 0);
	assert_true(run_until(f, adder_done, a, 10000));
	assert_false(a->failed);
	for (int i = 0; i < n; i++)
		json_object_put(a->env[i]);
}

static long long unsent_of(const struct adder *a)
{
	char sql[4096];
	size_t n;

	n = (size_t)snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.outbox WHERE sent_at IS NULL "
				  "AND event_id IN (", g_schema);
	for (int i = 0; i < a->n; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s'%s'", i ? "," : "", a->ids[i]);
	snprintf(sql + n, sizeof(sql) - n, ")");
	return pq_num(sql);
}

struct want {
	struct adder *a;
	int count;
};

/* All of a's rows are marked sent and count messages arrived. */
static bool all_sent(void *arg)
{
	struct want *w = arg;

	rmq_drain();
	return g_ngot >= w->count && unsent_of(w->a) == 0;
}

static bool got_at_least(void *arg)
{
	rmq_drain();
	return g_ngot >= *(int *)arg;
}

/* The messages in g_got from index from on are exactly a's events, in order. */
static void assert_got_in_order(const struct adder *a, int from)
{
	char type[128];

	snprintf(type, sizeof(type), "%s.thing.created.v1", g_domain);
	assert_int_equal(g_ngot - from, a->n);
	for (int i = 0; i < a->n; i++) {
		const struct got *g = &g_got[from + i];
		struct event_msg ev;
		json_object *seq = NULL;

		assert_string_equal(g->rk, type);
		assert_non_null(g->mid);
		assert_string_equal(g->mid, a->ids[i]);
		assert_int_equal(event_parse(g->body, strlen(g->body), &ev, NULL), 0);
		assert_string_equal(ev.event_id, a->ids[i]);
		assert_true(json_object_object_get_ex(ev.data, "seq", &seq));
		assert_int_equal(json_object_get_int(seq), i);
		event_msg_free(&ev);
	}
}

/* The value of an unlabelled series in the exposition text, or -1. */
static double metric_value(struct metrics *m, const char *name)
{
	char *text = metrics_render(m, NULL), key[128], *p;
	double v = -1;

	snprintf(key, sizeof(key), "\n%s ", name);
	p = text ? strstr(text, key) : NULL;
	if (p)
		v = strtod(p + strlen(key), NULL);
	free(text);
	return v;
}

/* ---- tests -------------------------------------------------------------------------------- */

#define NEED_SERVERS()                                                                            \
	do {                                                                                      \
		if (!g_url || !g_amqp_port)                                                       \
			skip();                                                                   \
	} while (0)

static void test_outbox_schema_valid(void **state)
{
	(void)state;
	assert_true(outbox_schema_valid("identity"));
	assert_true(outbox_schema_valid("_x9_"));
	assert_true(outbox_schema_valid("a"));
	assert_false(outbox_schema_valid(NULL));
	assert_false(outbox_schema_valid(""));
	assert_false(outbox_schema_valid("9abc"));
	assert_false(outbox_schema_valid("Identity"));
	assert_false(outbox_schema_valid("a-b"));
	assert_false(outbox_schema_valid("a\".outbox; DROP TABLE x; --"));
	assert_false(outbox_schema_valid("a b"));
	assert_true(outbox_schema_valid("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc"));
	assert_false(outbox_schema_valid("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd"));
}

static void test_outbox_add_rejects_bad_input(void **state)
{
	json_object *env = event_envelope_new("a.b.c.v1", "test", NULL, NULL, NULL, NULL);
	json_object *bad = json_object_new_object();

	(void)state;
	/* every refusal happens before the transaction is touched */
	assert_int_equal(outbox_add(NULL, "svc", env, NULL, NULL, NULL), -1);
	assert_int_equal(outbox_add((struct pg_tx *)env, "bad schema", env, NULL, NULL, NULL), -1);
	assert_int_equal(outbox_add((struct pg_tx *)env, "svc", NULL, NULL, NULL, NULL), -1);
	json_set_str(bad, "event_id", "nope");
	json_set_str(bad, "event_type", "a.b.c.v1");
	assert_int_equal(outbox_add((struct pg_tx *)env, "svc", bad, NULL, NULL, NULL), -1);
	json_set_str(bad, "event_id", "5d1f7c2e-8b3a-4f61-a0c9-2e7d4b9f1a36");
	json_set_str(bad, "event_type", "not a type");
	assert_int_equal(outbox_add((struct pg_tx *)env, "svc", bad, NULL, NULL, NULL), -1);
	json_object_put(bad);
	json_object_put(env);
}

static void test_outbox_publishes_committed_rows_in_order(void **state)
{
	struct fx f;
	struct adder a;
	struct want w = {&a, 7};

	(void)state;
	NEED_SERVERS();
	got_clear();
	fx_up(&f, g_amqp_port);
	f.ob = fx_outbox(&f, 3, 2000); /* 7 rows: three rounds, two of them full */
	assert_non_null(f.ob);
	assert_true(run_until(&f, amqp_up, &f, 10000));
	add_events(&f, &a, 7, true);
	outbox_kick(f.ob);
	assert_true(run_until(&f, all_sent, &w, 15000));
	run_until(&f, never, NULL, 300); /* nothing more (no duplicates) arrives */
	rmq_drain();
	assert_got_in_order(&a, 0);
	assert_true(metric_value(f.m, "outbox_published_total") >= 7);
	assert_true(metric_value(f.m, "outbox_publish_failures_total") <= 0);
	fx_down(&f);
	got_clear();
}

static void test_outbox_rolled_back_tx_publishes_nothing(void **state)
{
	struct fx f;
	struct adder rolled, kept;
	struct want w = {&kept, 1};
	char sql[256];

	(void)state;
	NEED_SERVERS();
	got_clear();
	fx_up(&f, g_amqp_port);
	f.ob = fx_outbox(&f, 10, 2000);
	assert_non_null(f.ob);
	assert_true(run_until(&f, amqp_up, &f, 10000));
	add_events(&f, &rolled, 2, false);
	outbox_kick(f.ob);
	add_events(&f, &kept, 1, true);
	outbox_kick(f.ob);
	assert_true(run_until(&f, all_sent, &w, 15000));
	run_until(&f, never, NULL, 500);
	rmq_drain();
	assert_int_equal(g_ngot, 1); /* only the committed event */
	assert_string_equal(g_got[0].mid, kept.ids[0]);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.outbox WHERE event_id IN ('%s','%s')",
		 g_schema, rolled.ids[0], rolled.ids[1]);
	assert_int_equal(pq_num(sql), 0);
	fx_down(&f);
	got_clear();
}

struct depth_want {
	struct fx *f;
	double depth;
};

static bool depth_is(void *arg)
{
	struct depth_want *d = arg;

	return metric_value(d->f->m, "outbox_depth") == d->depth;
}

#define OLD_ID "00000000-0000-4000-8000-000000000001"
#define NEW_ID "00000000-0000-4000-8000-000000000002"

static bool old_row_gone(void *arg)
{
	char sql[256];

	(void)arg;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.outbox WHERE event_id = '%s'", g_schema,
		 OLD_ID);
	return pq_num(sql) == 0;
}

static void test_outbox_broker_down_rows_wait_then_go(void **state)
{
	char sql[512];
	struct fx f;
	struct adder a;
	struct want w = {&a, 3};
	struct depth_want dw = {&f, 3};
	int zero = 1;

	(void)state;
	NEED_SERVERS();
	got_clear();
	/* retention: a row sent 8 days ago goes at the first stats tick, one sent yesterday stays */
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s.outbox(event_id, event_type, payload, sent_at) VALUES "
		 "('%s', 'a.b.c.v1', '{}', now() - interval '8 days'), "
		 "('%s', 'a.b.c.v1', '{}', now() - interval '1 day')", g_schema, OLD_ID, NEW_ID);
	assert_int_equal(pq_num(sql), 0);
	fx_up(&f, closed_port());
	f.ob = fx_outbox(&f, 10, 800);
	assert_non_null(f.ob);
	add_events(&f, &a, 3, true);
	outbox_kick(f.ob);
	/* the stats timer (5 s) reports the waiting rows while the relay backs off */
	assert_true(run_until(&f, depth_is, &dw, 8000));
	assert_false(amqp_ready(f.amqp));
	assert_true(metric_value(f.m, "outbox_oldest_age_seconds") > 0);
	/* 100, 200, 400 ms, then capped at max_backoff_ms */
	assert_true(metric_value(f.m, "outbox_backoff_seconds") == 0.8);
	outbox_kick(f.ob); /* broker still down: the kick does not reset the backoff */
	assert_true(metric_value(f.m, "outbox_backoff_seconds") == 0.8);
	assert_int_equal(unsent_of(&a), 3);
	assert_false(got_at_least(&zero));
	assert_true(run_until(&f, old_row_gone, NULL, 3000));
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.outbox WHERE event_id = '%s'", g_schema,
		 NEW_ID);
	assert_int_equal(pq_num(sql), 1);

	/* the broker comes back (a bridge to the real port): the same rows go out, in order */
	outbox_free(f.ob);
	amqp_free(f.amqp);
	f.amqp = fx_amqp(&f, g_amqp_port);
	assert_non_null(f.amqp);
	f.ob = fx_outbox(&f, 10, 800);
	assert_non_null(f.ob);
	assert_true(run_until(&f, all_sent, &w, 15000));
	run_until(&f, never, NULL, 300);
	rmq_drain();
	assert_got_in_order(&a, 0);
	assert_true(metric_value(f.m, "outbox_backoff_seconds") == 0);
	fx_down(&f);
	got_clear();
}

static void test_outbox_two_relays_one_schema_keep_order(void **state)
{
	struct fx f;
	struct adder a;
	struct want w = {&a, 20};

	(void)state;
	NEED_SERVERS();
	got_clear();
	fx_up(&f, g_amqp_port);
	f.ob = fx_outbox(&f, 4, 2000);
	f.ob2 = fx_outbox(&f, 4, 2000); /* a second replica on the same table */
	assert_non_null(f.ob);
	assert_non_null(f.ob2);
	assert_true(run_until(&f, amqp_up, &f, 10000));
	add_events(&f, &a, 20, true);
	outbox_kick(f.ob);
	outbox_kick(f.ob2);
	assert_true(run_until(&f, all_sent, &w, 15000));
	run_until(&f, never, NULL, 500);
	rmq_drain();
	assert_got_in_order(&a, 0); /* exactly 20, in id order, no duplicates */
	fx_down(&f);
	got_clear();
}

/* Freeing the relay while a round waits for confirms or statements leaks nothing and never
 * leaves a row marked sent that the broker did not get. */
static void test_outbox_free_mid_round(void **state)
{
	struct fx f;
	struct adder a;
	struct want w = {&a, 0};
	char sql[512];
	int steps[] = {1, 2, 3, 4, 5, 6, 8, 10};

	(void)state;
	NEED_SERVERS();
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		got_clear();
		fx_up(&f, g_amqp_port);
		assert_true(run_until(&f, amqp_up, &f, 10000));
		add_events(&f, &a, 5, true);
		f.ob = fx_outbox(&f, 10, 2000);
		assert_non_null(f.ob);
		for (int step = 0; step < steps[i]; step++) /* stop somewhere inside the round */
			event_base_loop(f.base, EVLOOP_ONCE);
		fx_down(&f);
		usleep(200000);
		rmq_drain();
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.outbox WHERE sent_at IS NOT NULL "
			 "AND event_id IN ('%s','%s','%s','%s','%s')", g_schema, a.ids[0], a.ids[1],
			 a.ids[2], a.ids[3], a.ids[4]);
		assert_true(pq_num(sql) <= g_ngot);
		/* a fresh relay finishes the job so the next round starts clean */
		fx_up(&f, g_amqp_port);
		f.ob = fx_outbox(&f, 10, 2000);
		assert_non_null(f.ob);
		assert_true(run_until(&f, all_sent, &w, 15000));
		fx_down(&f);
	}
	usleep(200000);
	rmq_drain();
	got_clear();
}

/* ---- set-up ------------------------------------------------------------------------------- */

static int group_setup(void **state)
{
	char sql[1024];
	const char *port = getenv("FR_TEST_AMQP_PORT");
	amqp_bytes_t q;

	(void)state;
	log_init("test_outbox", LOG_LEVEL_ERROR);
	g_url = getenv("FR_TEST_PG_URL");
	g_amqp_port = port ? atoi(port) : 0;
	if (!g_url || !*g_url || g_amqp_port <= 0) {
		g_url = NULL;
		g_amqp_port = 0;
		return 0;
	}
	snprintf(g_schema, sizeof(g_schema), "fr_test_ob_%ld_%ld", (long)getpid(), (long)time(NULL));
	snprintf(g_domain, sizeof(g_domain), "frtest%ld_%ld", (long)getpid(), (long)time(NULL));
	snprintf(g_queue, sizeof(g_queue), "%s.outbox-test", g_domain);
	snprintf(sql, sizeof(sql),
		 "CREATE SCHEMA %s;"
		 "CREATE TABLE %s.outbox (id bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE,"
		 " event_type text NOT NULL, aggregate_id text, payload text NOT NULL,"
		 " created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz,"
		 " attempts integer NOT NULL DEFAULT 0);"
		 "CREATE INDEX outbox_unsent_idx ON %s.outbox (id) WHERE sent_at IS NULL;",
		 g_schema, g_schema, g_schema);
	if (pq_num(sql) != 0 || rmq_open() != 0)
		return -1;
	amqp_exchange_declare(g_rmq, 1, amqp_cstring_bytes(AMQP_EXCHANGE), amqp_cstring_bytes("topic"),
			      0, 1, 0, 0, amqp_empty_table);
	if (etu_rmq_ok(amqp_get_rpc_reply(g_rmq)))
		return -1;
	q = amqp_cstring_bytes(g_queue);
	amqp_queue_declare(g_rmq, 1, q, 0, 0, 1, 0, amqp_empty_table);
	if (etu_rmq_ok(amqp_get_rpc_reply(g_rmq)))
		return -1;
	snprintf(sql, sizeof(sql), "%s.#", g_domain);
	amqp_queue_bind(g_rmq, 1, q, amqp_cstring_bytes(AMQP_EXCHANGE), amqp_cstring_bytes(sql),
			amqp_empty_table);
	return etu_rmq_ok(amqp_get_rpc_reply(g_rmq));
}

static int group_teardown(void **state)
{
	char sql[256];

	(void)state;
	got_clear();
	if (!g_url)
		return 0;
	if (g_rmq) {
		amqp_queue_delete(g_rmq, 1, amqp_cstring_bytes(g_queue), 0, 0);
		rmq_close();
	}
	snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", g_schema);
	return pq_num(sql) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outbox_schema_valid),
		cmocka_unit_test(test_outbox_add_rejects_bad_input),
		cmocka_unit_test(test_outbox_publishes_committed_rows_in_order),
		cmocka_unit_test(test_outbox_rolled_back_tx_publishes_nothing),
		cmocka_unit_test(test_outbox_broker_down_rows_wait_then_go),
		cmocka_unit_test(test_outbox_two_relays_one_schema_keep_order),
		cmocka_unit_test(test_outbox_free_mid_round),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
