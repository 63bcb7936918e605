/*
 * test_consumer.c - idempotent consumers against a real PostgreSQL (FR_TEST_PG_URL) and
 * RabbitMQ (FR_TEST_AMQP_PORT, guest/guest); the tests skip when either is unset.
 *
 * Each test consumes its own queue (and binding) through the bridge and publishes with a
 * plain librabbitmq connection, so it can send the very same message several times or bytes
 * that are not an envelope at all; it reads the dead-letter queue the same way. Every run
 * works in its own schema; schema and queues are removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/amqp.h"
#include "common/consumer.h"
#include "common/event.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pg.h"
#include "event_test_util.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *g_url;
static int g_amqp_port;
static char g_schema[64];
static char g_domain[64];
static amqp_connection_state_t g_rmq;
static char g_queues[16][128]; /* every queue a test declared: removed again at teardown */
static int g_nqueues;

/* ---- helpers: time, blocking SQL, plain AMQP (set-up and checks only) --------------------- */

static long long pq_num(const char *sql)
{
	return etu_pq_num(g_url, sql);
}

static long long count_where(const char *table, const char *event_id)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.%s WHERE event_id = '%s'", g_schema, table,
		 event_id);
	return pq_num(sql);
}

static int rmq_open(void)
{
	return etu_rmq_open(g_amqp_port, &g_rmq);
}

static void rmq_close(void)
{
	etu_rmq_close(&g_rmq);
}

static void rmq_publish(const char *rk, const char *body, size_t len)
{
	amqp_basic_properties_t p = {0};

	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
	p.delivery_mode = 2;
	p.content_type = amqp_cstring_bytes("application/json");
	assert_int_equal(amqp_basic_publish(g_rmq, 1, amqp_cstring_bytes(AMQP_EXCHANGE),
					    amqp_cstring_bytes(rk), 0, 0, &p,
					    (amqp_bytes_t){.len = len, .bytes = (void *)body}),
			 AMQP_STATUS_OK);
}

/* Takes one message from queue; its x-dead-reason header (malloc'd, "" when absent) in
 * *reason and its body in *body. 0, or -1 when the queue is empty. */
static int rmq_get(const char *queue, char **reason, char **body)
{
	amqp_rpc_reply_t r = amqp_basic_get(g_rmq, 1, amqp_cstring_bytes(queue), 1);
	amqp_message_t msg;
	amqp_table_t *h;

	assert_int_equal(etu_rmq_ok(r), 0);
	if (r.reply.id != AMQP_BASIC_GET_OK_METHOD)
		return -1;
	assert_int_equal(etu_rmq_ok(amqp_read_message(g_rmq, 1, &msg, 0)), 0);
	*reason = strdup("");
	h = (msg.properties._flags & AMQP_BASIC_HEADERS_FLAG) ? &msg.properties.headers : NULL;
	for (int i = 0; h && i < h->num_entries; i++) {
		amqp_table_entry_t *e = &h->entries[i];

		if (e->key.len == 13 && memcmp(e->key.bytes, "x-dead-reason", 13) == 0 &&
		    (e->value.kind == AMQP_FIELD_KIND_UTF8 || e->value.kind == AMQP_FIELD_KIND_BYTES)) {
			free(*reason);
			*reason = strndup(e->value.value.bytes.bytes, e->value.value.bytes.len);
		}
	}
	*body = strndup(msg.body.bytes, msg.body.len);
	amqp_destroy_message(&msg);
	amqp_maybe_release_buffers(g_rmq);
	return 0;
}

/* Ready messages in queue (passive declare), -1 when it does not exist. */
static int rmq_ready_count(const char *queue)
{
	amqp_queue_declare_ok_t *ok;

	ok = amqp_queue_declare(g_rmq, 1, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
	return ok ? (int)ok->message_count : -1;
}

static void rmq_delete_queues(const char *q)
{
	char name[160];

	amqp_queue_delete(g_rmq, 1, amqp_cstring_bytes(q), 0, 0);
	snprintf(name, sizeof(name), "%s.retry", q);
	amqp_queue_delete(g_rmq, 1, amqp_cstring_bytes(name), 0, 0);
	snprintf(name, sizeof(name), "%s.dlq", q);
	amqp_queue_delete(g_rmq, 1, amqp_cstring_bytes(name), 0, 0);
}

/* ---- fixture ------------------------------------------------------------------------------ */

struct hctx {
	int calls;
	bool write;                /* INSERT into applied inside the message's transaction */
	enum consumer_outcome out; /* what the handler answers */
	const char *reason;
};

struct fx {
	struct event_base *base;
	struct pg_pool *pg;
	struct amqp *amqp;
	struct consumer *c;
	struct metrics *m;
	char queue[128];
	char rk[160];
	char binding[160];
	const char *keys[2];
	struct amqp_queue_spec spec;
	struct hctx h;
};

static struct hctx *g_h; /* the running test's handler context (the write callback's arg is m) */

static void h_on_write_done(const struct pg_result *r, void *arg)
{
	struct consumer_msg *m = arg;

	if (r->err) {
		consumer_done(m, CONSUMER_RETRY, "write failed");
		return;
	}
	consumer_done(m, g_h->out, g_h->reason);
}

static void handler(struct consumer_msg *m, const struct event_msg *ev, void *arg)
{
	struct hctx *h = arg;
	char sql[256];
	const char *params[1] = {ev->event_id};

	h->calls++;
	if (!h->write || !consumer_tx(m)) {
		consumer_done(m, h->out, h->reason);
		return;
	}
	snprintf(sql, sizeof(sql), "INSERT INTO %s.applied(event_id) VALUES ($1)", g_schema);
	if (pg_tx_query(consumer_tx(m), sql, 1, params, h_on_write_done, m) != 0)
		consumer_done(m, CONSUMER_RETRY, "write refused");
}

static void fx_up(struct fx *f, const char *name, bool with_pg, int max_attempts)
{
	struct pg_pool_opts po;
	struct amqp_opts ao;
	struct consumer_opts co = {0};

	memset(f, 0, sizeof(*f));
	snprintf(f->queue, sizeof(f->queue), "%s.%s", g_domain, name);
	snprintf(f->rk, sizeof(f->rk), "%s.%s.happened.v1", g_domain, name);
	snprintf(f->binding, sizeof(f->binding), "%s.%s.*.v1", g_domain, name);
	f->keys[0] = f->binding;
	if (g_nqueues < 16 && (g_nqueues == 0 || strcmp(g_queues[g_nqueues - 1], f->queue) != 0))
		snprintf(g_queues[g_nqueues++], sizeof(g_queues[0]), "%s", f->queue);
	f->spec.name = f->queue;
	f->spec.binding_keys = f->keys;
	f->spec.max_attempts = max_attempts;
	f->spec.retry_delay_ms = 100;
	f->h.out = CONSUMER_OK;
	g_h = &f->h;
	f->base = event_base_new();
	f->m = metrics_new();
	if (with_pg) {
		pg_pool_opts_default(&po);
		po.conninfo = g_url;
		po.size = 3;
		f->pg = pg_pool_new(f->base, &po);
		assert_non_null(f->pg);
	}
	amqp_opts_default(&ao);
	ao.port = g_amqp_port;
	ao.service = "test_consumer";
	f->amqp = amqp_new(f->base, &ao);
	assert_non_null(f->amqp);
	co.queue = &f->spec;
	co.pg = f->pg;
	co.schema = g_schema;
	co.metrics = f->m;
	f->c = consumer_new(f->amqp, &co, handler, &f->h);
	assert_non_null(f->c);
}

/* The documented order: consumer, then (at once) the bridge, then the pool. */
static void fx_down(struct fx *f, bool delete_queues)
{
	consumer_free(f->c);
	amqp_free(f->amqp);
	pg_pool_free(f->pg);
	metrics_free(f->m);
	event_base_free(f->base);
	if (delete_queues)
		rmq_delete_queues(f->queue);
	g_h = NULL;
}

typedef etu_cond_fn cond_fn;

static bool run_until(struct fx *f, cond_fn cond, void *arg, int ms)
{
	return etu_run_until(f->base, cond, arg, ms);
}

static bool amqp_up(void *arg)
{
	return amqp_ready(((struct fx *)arg)->amqp);
}

/* consumer_messages_total for this fixture's queue and outcome (0 when absent). */
static double outcome_count(struct fx *f, const char *outcome)
{
	char *text = metrics_render(f->m, NULL), key[320], *p;
	double v = 0;

	snprintf(key, sizeof(key), "consumer_messages_total{queue=\"%s\",outcome=\"%s\"} ", f->queue,
		 outcome);
	p = text ? strstr(text, key) : NULL;
	if (p)
		v = strtod(p + strlen(key), NULL);
	free(text);
	return v;
}

struct total_want {
	struct fx *f;
	double total; /* sum over all outcomes */
};

static bool total_reached(void *arg)
{
	struct total_want *w = arg;
	double t = outcome_count(w->f, "ok") + outcome_count(w->f, "duplicate") +
		   outcome_count(w->f, "retry") + outcome_count(w->f, "poison");

	return t >= w->total;
}

/* A fresh valid envelope for f's routing key; *body malloc'd, id filled. */
static char *make_event(struct fx *f, char id[37])
{
	json_object *data = json_object_new_object(), *env;
	char *body;

	json_set_str(data, "what", "test");
	env = event_envelope_new(f->rk, "test", NULL, "trace-1", data, id);
	assert_non_null(env);
	body = strdup(json_compact(env, NULL));
	json_object_put(env);
	return body;
}

static void settle_a_moment(struct fx *f)
{
	run_until(f, NULL, NULL, 300);
}

#define NEED_SERVERS()                                                                            \
	do {                                                                                      \
		if (!g_url || !g_amqp_port)                                                       \
			skip();                                                                   \
	} while (0)

/* ---- tests -------------------------------------------------------------------------------- */

static void test_consumer_applies_once_despite_redelivery(void **state)
{
	struct fx f;
	struct total_want w = {&f, 3};
	char id[37], *body;

	(void)state;
	NEED_SERVERS();
	setenv("FR_FAULT_EXIT_AFTER_COMMIT", "some.other.queue", 1); /* must not trigger here */
	fx_up(&f, "once", true, 5);
	unsetenv("FR_FAULT_EXIT_AFTER_COMMIT");
	f.h.write = true;
	assert_true(run_until(&f, amqp_up, &f, 10000));
	body = make_event(&f, id);
	for (int i = 0; i < 3; i++)
		rmq_publish(f.rk, body, strlen(body));
	assert_true(run_until(&f, total_reached, &w, 10000));
	settle_a_moment(&f);
	assert_int_equal(f.h.calls, 1);
	assert_int_equal(count_where("applied", id), 1);
	assert_int_equal(count_where("inbox", id), 1);
	assert_true(outcome_count(&f, "ok") == 1);
	assert_true(outcome_count(&f, "duplicate") == 2);
	fx_down(&f, false);
	assert_int_equal(rmq_ready_count(f.queue), 0); /* all three were acked */
	rmq_delete_queues(f.queue);
	free(body);
}

static void test_consumer_retry_reaches_dlq_and_rolls_back(void **state)
{
	struct fx f;
	struct total_want w = {&f, 3};
	char id[37], *body, *reason = NULL, *got = NULL;
	char dlq[160];

	(void)state;
	NEED_SERVERS();
	fx_up(&f, "retry", true, 3);
	f.h.write = true; /* written, then the handler fails: the write must roll back */
	f.h.out = CONSUMER_RETRY;
	f.h.reason = "flaky downstream";
	assert_true(run_until(&f, amqp_up, &f, 10000));
	body = make_event(&f, id);
	rmq_publish(f.rk, body, strlen(body));
	assert_true(run_until(&f, total_reached, &w, 15000));
	settle_a_moment(&f);
	assert_int_equal(f.h.calls, 3); /* max_attempts deliveries */
	assert_true(outcome_count(&f, "retry") == 3);
	assert_int_equal(count_where("applied", id), 0);
	assert_int_equal(count_where("inbox", id), 0);
	snprintf(dlq, sizeof(dlq), "%s.dlq", f.queue);
	assert_int_equal(rmq_get(dlq, &reason, &got), 0);
	assert_string_equal(got, body);
	assert_non_null(strstr(reason, "flaky downstream"));
	assert_non_null(strstr(reason, "max attempts"));
	free(reason);
	free(got);
	assert_int_equal(rmq_get(dlq, &reason, &got), -1);
	fx_down(&f, true);
	free(body);
}

static void test_consumer_poison_dead_letters_at_once(void **state)
{
	struct fx f;
	struct total_want w = {&f, 1};
	char id[37], *body, *reason = NULL, *got = NULL;
	char dlq[160];

	(void)state;
	NEED_SERVERS();
	fx_up(&f, "poison", true, 5);
	f.h.write = true;
	f.h.out = CONSUMER_POISON;
	f.h.reason = "unknown plan";
	assert_true(run_until(&f, amqp_up, &f, 10000));
	body = make_event(&f, id);
	rmq_publish(f.rk, body, strlen(body));
	assert_true(run_until(&f, total_reached, &w, 10000));
	settle_a_moment(&f);
	assert_int_equal(f.h.calls, 1);
	assert_true(outcome_count(&f, "poison") == 1);
	assert_int_equal(count_where("applied", id), 0);
	snprintf(dlq, sizeof(dlq), "%s.dlq", f.queue);
	assert_int_equal(rmq_get(dlq, &reason, &got), 0);
	assert_string_equal(reason, "unknown plan");
	free(reason);
	free(got);
	fx_down(&f, true);
	free(body);
}

static void test_consumer_malformed_body_dead_lettered(void **state)
{
	static const char *const bad[] = {
		"not json at all",
		"{\"event_id\":\"nope\",\"event_type\":\"a.b.c.v1\",\"occurred_at\":\"t\",\"producer\":\"p\",\"data\":{}}",
		("{\"event_id\":\"5d1f7c2e-8b3a-4f61-a0c9-2e7d4b9f1a36\",\"event_type\":\"a.b.c.v1\","
		 "\"occurred_at\":\"t\",\"producer\":\"p\",\"data\":[]}"),
	};
	struct fx f;
	struct total_want w = {&f, 3};
	char *reason = NULL, *got = NULL, dlq[160];
	int found = 0;

	(void)state;
	NEED_SERVERS();
	fx_up(&f, "malformed", true, 5);
	assert_true(run_until(&f, amqp_up, &f, 10000));
	for (size_t i = 0; i < 3; i++)
		rmq_publish(f.rk, bad[i], strlen(bad[i]));
	assert_true(run_until(&f, total_reached, &w, 10000));
	settle_a_moment(&f);
	assert_int_equal(f.h.calls, 0);
	assert_true(outcome_count(&f, "poison") == 3);
	snprintf(dlq, sizeof(dlq), "%s.dlq", f.queue);
	while (rmq_get(dlq, &reason, &got) == 0) {
		assert_int_equal(strncmp(reason, "malformed envelope: ", 20), 0);
		assert_true(strlen(reason) > 20);
		found++;
		free(reason);
		free(got);
	}
	assert_int_equal(found, 3);
	fx_down(&f, true);
}

static void test_consumer_without_database_acks_after_handler(void **state)
{
	struct fx f;
	struct total_want w = {&f, 2};
	char id[37], *body;

	(void)state;
	NEED_SERVERS();
	fx_up(&f, "nodb", false, 5);
	assert_true(run_until(&f, amqp_up, &f, 10000));
	body = make_event(&f, id);
	rmq_publish(f.rk, body, strlen(body));
	rmq_publish(f.rk, body, strlen(body));
	assert_true(run_until(&f, total_reached, &w, 10000));
	settle_a_moment(&f);
	assert_int_equal(f.h.calls, 2); /* no inbox: the handler itself must be idempotent */
	assert_true(outcome_count(&f, "ok") == 2);
	fx_down(&f, false);
	assert_int_equal(rmq_ready_count(f.queue), 0);
	rmq_delete_queues(f.queue);
	free(body);
}

static void test_consumer_rejects_bad_options(void **state)
{
	struct amqp_queue_spec spec = {.name = "q", .max_attempts = 1};
	struct consumer_opts o = {.queue = &spec, .pg = (struct pg_pool *)&spec, .schema = "Bad-Schema"};

	(void)state;
	/* refused before the bridge is touched */
	assert_null(consumer_new((struct amqp *)&spec, &o, handler, NULL));
	o.schema = NULL;
	assert_null(consumer_new((struct amqp *)&spec, &o, handler, NULL));
	o.schema = "ok";
	assert_null(consumer_new((struct amqp *)&spec, &o, NULL, NULL));
	assert_null(consumer_new(NULL, &o, handler, NULL));
	spec.name = "";
	assert_null(consumer_new((struct amqp *)&spec, &o, handler, NULL));
	consumer_free(NULL);
	consumer_done(NULL, CONSUMER_OK, NULL);
	assert_null(consumer_tx(NULL));
}

/* The child consumes with FR_FAULT_EXIT_AFTER_COMMIT set to its queue: it commits the effect
 * and dies before the ack. The broker redelivers; a normal consumer then sees a duplicate. */
static void test_consumer_fault_exit_after_commit_then_duplicate(void **state)
{
	struct fx f;
	struct total_want w = {&f, 1};
	char id[37], *body, queue[128];
	int status = 0;
	pid_t pid;

	(void)state;
	NEED_SERVERS();
	/* declare the queue once so the message waits for the child */
	fx_up(&f, "fault", true, 5);
	assert_true(run_until(&f, amqp_up, &f, 10000));
	snprintf(queue, sizeof(queue), "%s", f.queue);
	body = make_event(&f, id);
	fx_down(&f, false);
	rmq_publish(f.rk, body, strlen(body));

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("FR_FAULT_EXIT_AFTER_COMMIT", queue, 1);
		fx_up(&f, "fault", true, 5);
		f.h.write = true;
		run_until(&f, NULL, NULL, 10000);
		_exit(0); /* not reached when the hook fires */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	assert_int_equal(count_where("applied", id), 1); /* committed before the exit */

	fx_up(&f, "fault", true, 5);
	f.h.write = true;
	assert_true(run_until(&f, total_reached, &w, 10000));
	assert_true(outcome_count(&f, "duplicate") == 1);
	assert_int_equal(f.h.calls, 0);
	assert_int_equal(count_where("applied", id), 1);
	fx_down(&f, true);
	free(body);
}

/* ---- set-up ------------------------------------------------------------------------------- */

static int group_setup(void **state)
{
	char sql[1024];
	const char *port = getenv("FR_TEST_AMQP_PORT");

	(void)state;
	log_init("test_consumer", LOG_LEVEL_ERROR);
	g_url = getenv("FR_TEST_PG_URL");
	g_amqp_port = port ? atoi(port) : 0;
	if (!g_url || !*g_url || g_amqp_port <= 0) {
		g_url = NULL;
		g_amqp_port = 0;
		return 0;
	}
	snprintf(g_schema, sizeof(g_schema), "fr_test_co_%ld_%ld", (long)getpid(), (long)time(NULL));
	snprintf(g_domain, sizeof(g_domain), "frtestc%ld_%ld", (long)getpid(), (long)time(NULL));
	snprintf(sql, sizeof(sql),
		 "CREATE SCHEMA %s;"
		 "CREATE TABLE %s.inbox (event_id uuid PRIMARY KEY, event_type text NOT NULL,"
		 " received_at timestamptz NOT NULL DEFAULT now());"
		 "CREATE TABLE %s.applied (id bigserial PRIMARY KEY, event_id uuid NOT NULL);",
		 g_schema, g_schema, g_schema);
	if (pq_num(sql) != 0 || rmq_open() != 0)
		return -1;
	amqp_exchange_declare(g_rmq, 1, amqp_cstring_bytes(AMQP_EXCHANGE), amqp_cstring_bytes("topic"),
			      0, 1, 0, 0, amqp_empty_table);
	return etu_rmq_ok(amqp_get_rpc_reply(g_rmq));
}

static int group_teardown(void **state)
{
	char sql[256];

	(void)state;
	if (!g_url)
		return 0;
	for (int i = 0; i < g_nqueues && g_rmq; i++)
		rmq_delete_queues(g_queues[i]); /* also after a failed test */
	rmq_close();
	snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", g_schema);
	return pq_num(sql) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_consumer_rejects_bad_options),
		cmocka_unit_test(test_consumer_applies_once_despite_redelivery),
		cmocka_unit_test(test_consumer_retry_reaches_dlq_and_rolls_back),
		cmocka_unit_test(test_consumer_poison_dead_letters_at_once),
		cmocka_unit_test(test_consumer_malformed_body_dead_lettered),
		cmocka_unit_test(test_consumer_without_database_acks_after_handler),
		cmocka_unit_test(test_consumer_fault_exit_after_commit_then_duplicate),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
