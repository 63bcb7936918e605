/*
 * test_amqp.c - cmocka tests of the RabbitMQ bridge (amqp.h) against a real broker
 * (FR_TEST_AMQP_PORT; skipped when unset): publish + confirm, topic routing through a
 * consumed queue, 1000 confirmed publishes (with a throughput figure), ack, retry through
 * Q.retry, dead-lettering (after max_attempts and directly), redelivery of unacked messages
 * to a new bridge, a wrong port, reconnects through a TCP proxy the test can cut or freeze
 * (heartbeat timeout), private server-named queues, bad arguments, amqp_free from a callback.
 *
 * Queue names carry the pid and a random suffix; every test deletes what it declared using a
 * plain librabbitmq connection of its own (also used to count and inspect messages).
 * FR_TEST_AMQP_BENCH=N additionally times N confirmed publishes.
 */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/amqp.h"
#include "common/log.h"
#include "common/metrics.h"

#define MAXD 32

struct rt {
	struct event_base *base;
	struct event *tick;
	int port;
	char sfx[48];
};

static struct rt g_rt;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until *counter >= want or ms pass. */
static bool run_until(const int *counter, int want, int ms)
{
	long long end = now_ms() + ms;

	while ((counter == NULL || *counter < want) && now_ms() < end)
		event_base_loop(g_rt.base, EVLOOP_ONCE);
	return counter != NULL && *counter >= want;
}

static void run_for(int ms)
{
	run_until(NULL, 0, ms);
}

static bool wait_ready(struct amqp *a, bool want, int ms)
{
	long long end = now_ms() + ms;

	while (amqp_ready(a) != want && now_ms() < end)
		event_base_loop(g_rt.base, EVLOOP_ONCE);
	return amqp_ready(a) == want;
}

/* ---- confirm and delivery recorders ------------------------------------------------------ */

struct confirms {
	int calls, ok, failed;
};

static void on_confirm(bool ok, void *arg)
{
	struct confirms *c = arg;

	c->calls++;
	if (ok)
		c->ok++;
	else
		c->failed++;
}

enum action { ACT_KEEP, ACT_ACK, ACT_RETRY, ACT_DEAD };

struct got {
	struct amqp *a;
	enum action action;
	int n;
	struct amqp_delivery *d[MAXD]; /* only for ACT_KEEP: still unsettled */
	char queue[MAXD][256], rk[MAXD][256], mid[MAXD][64], body[MAXD][512];
	int attempt[MAXD];
	bool redelivered[MAXD];
	long long at[MAXD];
};

static void on_delivery(struct amqp_delivery *d, void *arg)
{
	struct got *g = arg;
	int i = g->n;

	if (i >= MAXD) {
		amqp_ack(g->a, d);
		return;
	}
	g->n++;
	snprintf(g->queue[i], sizeof(g->queue[i]), "%s", d->queue);
	snprintf(g->rk[i], sizeof(g->rk[i]), "%s", d->routing_key);
	snprintf(g->mid[i], sizeof(g->mid[i]), "%s", d->message_id ? d->message_id : "(null)");
	snprintf(g->body[i], sizeof(g->body[i]), "%.*s", (int)d->len, d->body);
	g->attempt[i] = d->attempt;
	g->redelivered[i] = d->redelivered;
	g->at[i] = now_ms();
	g->d[i] = NULL;
	switch (g->action) {
	case ACT_KEEP: g->d[i] = d; break;
	case ACT_ACK: amqp_ack(g->a, d); break;
	case ACT_RETRY: amqp_retry(g->a, d, "transient"); break;
	case ACT_DEAD: amqp_dead_letter(g->a, d, "poison"); break;
	}
}

/* ---- a plain librabbitmq connection of the test's own ------------------------------------ */

static amqp_connection_state_t tc_open(void)
{
	amqp_connection_state_t c = amqp_new_connection();
	amqp_socket_t *s = amqp_tcp_socket_new(c);
	amqp_rpc_reply_t r;

	assert_non_null(s);
	assert_int_equal(amqp_socket_open(s, "127.0.0.1", g_rt.port), AMQP_STATUS_OK);
	r = amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest");
	assert_int_equal(r.reply_type, AMQP_RESPONSE_NORMAL);
	amqp_channel_open(c, 1);
	assert_int_equal(amqp_get_rpc_reply(c).reply_type, AMQP_RESPONSE_NORMAL);
	return c;
}

static void tc_close(amqp_connection_state_t c)
{
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
}

/* Ready messages in queue (passive declare), -1 when it does not exist. */
static int tc_count(const char *queue)
{
	amqp_connection_state_t c = tc_open();
	amqp_queue_declare_ok_t *ok;
	int n = -1;

	ok = amqp_queue_declare(c, 1, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
	if (ok != NULL) {
		n = (int)ok->message_count;
		tc_close(c);
	} else {
		amqp_destroy_connection(c); /* the channel is closed by the broker */
	}
	return n;
}

/* Waits (running the loop) until queue holds want ready messages. */
static bool wait_count(const char *queue, int want, int ms)
{
	long long end = now_ms() + ms;
	int n;

	while ((n = tc_count(queue)) != want && now_ms() < end)
		run_for(50);
	return n == want;
}

static void tc_delete(const char *queue)
{
	amqp_connection_state_t c = tc_open();
	char name[300];
	const char *suffix[] = {"", ".retry", ".dlq"};

	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%s%s", queue, suffix[i]);
		amqp_queue_delete(c, 1, amqp_cstring_bytes(name), 0, 0);
		assert_int_equal(amqp_get_rpc_reply(c).reply_type, AMQP_RESPONSE_NORMAL);
	}
	tc_close(c);
}

struct tmsg {
	char body[512], reason[256], orig_rk[256], mid[64];
	long long attempt;
};

static void tc_header(const amqp_table_t *h, struct tmsg *m)
{
	for (int i = 0; i < h->num_entries; i++) {
		const amqp_table_entry_t *e = &h->entries[i];
		char key[64];

		snprintf(key, sizeof(key), "%.*s", (int)e->key.len, (const char *)e->key.bytes);
		if (strcmp(key, "x-dead-reason") == 0)
			snprintf(m->reason, sizeof(m->reason), "%.*s",
				 (int)e->value.value.bytes.len,
				 (const char *)e->value.value.bytes.bytes);
		else if (strcmp(key, "x-original-routing-key") == 0)
			snprintf(m->orig_rk, sizeof(m->orig_rk), "%.*s",
				 (int)e->value.value.bytes.len,
				 (const char *)e->value.value.bytes.bytes);
		else if (strcmp(key, "x-attempt") == 0 && e->value.kind == AMQP_FIELD_KIND_I32)
			m->attempt = e->value.value.i32;
	}
}

/* Takes one message off queue (basic.get, auto-ack): 1 got, 0 empty. */
static int tc_get(const char *queue, struct tmsg *m)
{
	amqp_connection_state_t c = tc_open();
	amqp_rpc_reply_t r;
	amqp_message_t msg;
	int got = 0;

	memset(m, 0, sizeof(*m));
	r = amqp_basic_get(c, 1, amqp_cstring_bytes(queue), 1);
	assert_int_equal(r.reply_type, AMQP_RESPONSE_NORMAL);
	if (r.reply.id == AMQP_BASIC_GET_OK_METHOD) {
		r = amqp_read_message(c, 1, &msg, 0);
		assert_int_equal(r.reply_type, AMQP_RESPONSE_NORMAL);
		snprintf(m->body, sizeof(m->body), "%.*s", (int)msg.body.len,
			 (const char *)msg.body.bytes);
		if (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
			snprintf(m->mid, sizeof(m->mid), "%.*s", (int)msg.properties.message_id.len,
				 (const char *)msg.properties.message_id.bytes);
		if (msg.properties._flags & AMQP_BASIC_HEADERS_FLAG)
			tc_header(&msg.properties.headers, m);
		amqp_destroy_message(&msg);
		got = 1;
	}
	tc_close(c);
	return got;
}

/* ---- bridge helpers ------------------------------------------------------------------------ */

static struct amqp *bridge(int port, int heartbeat_s, struct metrics *m)
{
	struct amqp_opts o;
	struct amqp *a;

	amqp_opts_default(&o);
	o.port = port;
	o.service = "test-amqp";
	o.heartbeat_s = heartbeat_s;
	o.connect_timeout_ms = 1000;
	o.metrics = m;
	a = amqp_new(g_rt.base, &o);
	assert_non_null(a);
	return a;
}

/* Queues declared by the running test; its teardown deletes them (with .retry and .dlq),
 * whether the test passed or not. */
static char g_queues[8][128];
static int g_nqueues;

static void qname(char *out, size_t cap, const char *what)
{
	snprintf(out, cap, "test-amqp.%s.%s", g_rt.sfx, what);
	if (g_nqueues < 8)
		snprintf(g_queues[g_nqueues++], sizeof(g_queues[0]), "%s", out);
}

static void rkey(char *out, size_t cap, const char *what)
{
	snprintf(out, cap, "t%s.%s", g_rt.sfx, what);
}

static struct amqp_queue_spec spec_of(const char *name, const char *const *keys, int max_attempts,
				      int delay_ms)
{
	struct amqp_queue_spec s = {.name = name,
				    .binding_keys = keys,
				    .max_attempts = max_attempts,
				    .retry_delay_ms = delay_ms};
	return s;
}

static bool metric_has(struct metrics *m, const char *line)
{
	size_t len;
	char *txt = metrics_render(m, &len);
	bool found = txt != NULL && strstr(txt, line) != NULL;

	if (!found)
		fprintf(stderr, "metric line not found: %s\n%s", line, txt ? txt : "");
	free(txt);
	return found;
}

static void publish_ok(struct amqp *a, const char *rk, const char *mid, const char *body)
{
	struct confirms c = {0};

	assert_int_equal(amqp_publish(a, rk, mid, body, strlen(body), on_confirm, &c), 0);
	assert_true(run_until(&c.calls, 1, 5000));
	assert_int_equal(c.ok, 1);
}

/* ---- a TCP proxy to the broker that the test can cut or freeze ---------------------------- */

#define PROXY_MAX 16

struct proxy {
	int lfd, port;
	int ctl[2]; /* 'c' cut every connection, 'f' freeze them, 'q' quit */
	pthread_t thr;
	int a[PROXY_MAX], b[PROXY_MAX];
	bool frozen[PROXY_MAX];
	int n;
};

static void proxy_drop(struct proxy *p, int i)
{
	close(p->a[i]);
	close(p->b[i]);
	p->n--;
	p->a[i] = p->a[p->n];
	p->b[i] = p->b[p->n];
	p->frozen[i] = p->frozen[p->n];
}

static void proxy_accept(struct proxy *p)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int c = accept(p->lfd, NULL, NULL), u;

	if (c < 0)
		return;
	sa.sin_port = htons((uint16_t)g_rt.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	u = socket(AF_INET, SOCK_STREAM, 0);
	if (p->n >= PROXY_MAX || u < 0 || connect(u, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(c);
		if (u >= 0)
			close(u);
		return;
	}
	p->a[p->n] = c;
	p->b[p->n] = u;
	p->frozen[p->n] = false;
	p->n++;
}

/* Copies what is readable on from to to; false on EOF or error. */
static bool proxy_copy(int from, int to)
{
	char buf[16384];
	ssize_t r = read(from, buf, sizeof(buf)), off = 0, w;

	if (r <= 0)
		return false;
	while (off < r) {
		if ((w = write(to, buf + off, (size_t)(r - off))) <= 0)
			return false;
		off += w;
	}
	return true;
}

static bool proxy_control(struct proxy *p)
{
	char cmd;

	if (read(p->ctl[0], &cmd, 1) != 1 || cmd == 'q')
		return false;
	if (cmd == 'c')
		while (p->n > 0)
			proxy_drop(p, 0);
	if (cmd == 'f')
		for (int i = 0; i < p->n; i++)
			p->frozen[i] = true;
	return true;
}

static void *proxy_thread(void *arg)
{
	struct proxy *p = arg;
	struct pollfd pf[2 + 2 * PROXY_MAX];
	int map[2 + 2 * PROXY_MAX];

	for (;;) {
		nfds_t n = 2;

		pf[0] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
		pf[1] = (struct pollfd){.fd = p->ctl[0], .events = POLLIN};
		for (int i = 0; i < p->n; i++) {
			if (p->frozen[i])
				continue;
			map[n] = i;
			pf[n++] = (struct pollfd){.fd = p->a[i], .events = POLLIN};
			map[n] = i;
			pf[n++] = (struct pollfd){.fd = p->b[i], .events = POLLIN};
		}
		if (poll(pf, n, 1000) < 0)
			continue;
		if ((pf[1].revents & POLLIN) && !proxy_control(p))
			break;
		if (pf[1].revents & POLLIN)
			continue; /* the pair table may have changed */
		for (nfds_t k = n; k-- > 2;) {
			int i = map[k];
			bool from_a = pf[k].fd == p->a[i];

			if (pf[k].revents == 0 || pf[k].fd != (from_a ? p->a[i] : p->b[i]))
				continue;
			if (!proxy_copy(pf[k].fd, from_a ? p->b[i] : p->a[i])) {
				proxy_drop(p, i);
				break; /* indices moved: poll again */
			}
		}
		if (pf[0].revents & POLLIN)
			proxy_accept(p);
	}
	while (p->n > 0)
		proxy_drop(p, 0);
	return NULL;
}

static void proxy_start(struct proxy *p)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);

	memset(p, 0, sizeof(*p));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(p->lfd >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(p->lfd, 16), 0);
	assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&sa, &sl), 0);
	p->port = ntohs(sa.sin_port);
	assert_int_equal(pipe(p->ctl), 0);
	assert_int_equal(pthread_create(&p->thr, NULL, proxy_thread, p), 0);
}

static void proxy_cmd(struct proxy *p, char c)
{
	assert_int_equal(write(p->ctl[1], &c, 1), 1);
}

static void proxy_stop(struct proxy *p)
{
	proxy_cmd(p, 'q');
	pthread_join(p->thr, NULL);
	close(p->lfd);
	close(p->ctl[0]);
	close(p->ctl[1]);
}

/* ---- tests -------------------------------------------------------------------------------- */

#define NEED_BROKER()                                                                              \
	do {                                                                                       \
		if (g_rt.port == 0)                                                                \
			skip();                                                                    \
	} while (0)

static void test_amqp_publish_confirm(void **state)
{
	struct metrics *m = metrics_new();
	struct confirms c = {0};
	struct amqp *a;
	char rk[128];

	NEED_BROKER();
	a = bridge(g_rt.port, 30, m);
	assert_true(wait_ready(a, true, 5000));
	rkey(rk, sizeof(rk), "nobody.listens.v1");
	assert_int_equal(amqp_publish(a, rk, "id-1", "{}", 2, on_confirm, &c), 0);
	assert_true(run_until(&c.calls, 1, 5000));
	assert_int_equal(c.ok, 1);
	assert_true(metric_has(m, "amqp_publish_total{result=\"confirmed\"} 1\n"));
	assert_true(metric_has(m, "amqp_connected{role=\"publisher\"} 1\n"));
	amqp_free(a);
	metrics_free(m);
}

static void test_amqp_consume_topic_routing(void **state)
{
	struct metrics *m = metrics_new();
	struct got g = {.action = ACT_ACK};
	char q[128], k[128], yes[128], no1[128], no2[128];
	const char *keys[] = {k, NULL};
	struct amqp_queue_spec s;
	struct amqp *a;

	NEED_BROKER();
	qname(q, sizeof(q), "topic");
	rkey(k, sizeof(k), "user.*.v1");
	rkey(yes, sizeof(yes), "user.created.v1");
	rkey(no1, sizeof(no1), "order.created.v1");
	rkey(no2, sizeof(no2), "user.a.b.v1");
	a = g.a = bridge(g_rt.port, 30, m);
	s = spec_of(q, keys, 3, 1000);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g), 0);
	assert_true(wait_ready(a, true, 5000));
	publish_ok(a, no1, "m-no1", "{\"n\":1}");
	publish_ok(a, yes, "m-yes", "{\"n\":2}");
	publish_ok(a, no2, "m-no2", "{\"n\":3}");
	assert_true(run_until(&g.n, 1, 5000));
	run_for(300); /* nothing else may arrive */
	assert_int_equal(g.n, 1);
	assert_string_equal(g.queue[0], q);
	assert_string_equal(g.rk[0], yes);
	assert_string_equal(g.mid[0], "m-yes");
	assert_string_equal(g.body[0], "{\"n\":2}");
	assert_int_equal(g.attempt[0], 1);
	assert_false(g.redelivered[0]);
	assert_true(metric_has(m, "amqp_connected{role=\"consumer\"} 1\n"));
	amqp_free(a);
	metrics_free(m);
	assert_int_equal(tc_count(q), 0);
}

static void test_amqp_publish_many_confirmed(void **state)
{
	enum { N = 1000 };
	char body[301], q[128], k[128];
	const char *keys[] = {k, NULL};
	struct confirms c = {0};
	struct amqp_queue_spec s;
	long long t0;
	struct got g = {.action = ACT_ACK};
	struct amqp *a;

	NEED_BROKER();
	memset(body, 'x', 300);
	body[300] = '\0';
	qname(q, sizeof(q), "many");
	rkey(k, sizeof(k), "many.v1");
	a = g.a = bridge(g_rt.port, 30, NULL);
	s = spec_of(q, keys, 3, 1000);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g), 0);
	assert_true(wait_ready(a, true, 5000));
	g.action = ACT_KEEP; /* count only; the queue is deleted below */
	t0 = now_ms();
	for (int i = 0; i < N; i++)
		assert_int_equal(amqp_publish(a, k, NULL, body, 300, on_confirm, &c), 0);
	assert_true(run_until(&c.calls, N, 20000));
	printf("    amqp: %d persistent 300-byte publishes confirmed in %lld ms (%.0f msg/s)\n", N,
	       now_ms() - t0, N * 1000.0 / (double)(now_ms() - t0 + 1));
	assert_int_equal(c.ok, N);
	assert_int_equal(c.failed, 0);
	amqp_free(a);
}

/* A queue that refuses a second message makes the broker nack the publish. */
static void test_amqp_publish_nacked(void **state)
{
	struct metrics *m = metrics_new();
	amqp_table_entry_t args[2];
	amqp_table_t t = {2, args};
	struct confirms c1 = {0}, c2 = {0};
	amqp_connection_state_t tc;
	char q[128], k[128];
	struct amqp *a;

	NEED_BROKER();
	qname(q, sizeof(q), "full");
	rkey(k, sizeof(k), "full.v1");
	args[0].key = amqp_cstring_bytes("x-max-length");
	args[0].value.kind = AMQP_FIELD_KIND_I32;
	args[0].value.value.i32 = 1;
	args[1].key = amqp_cstring_bytes("x-overflow");
	args[1].value.kind = AMQP_FIELD_KIND_UTF8;
	args[1].value.value.bytes = amqp_cstring_bytes("reject-publish");
	a = bridge(g_rt.port, 30, m);
	assert_true(wait_ready(a, true, 5000)); /* the exchange exists from here on */
	tc = tc_open();
	amqp_queue_declare(tc, 1, amqp_cstring_bytes(q), 0, 0, 0, 0, t);
	assert_int_equal(amqp_get_rpc_reply(tc).reply_type, AMQP_RESPONSE_NORMAL);
	amqp_queue_bind(tc, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(AMQP_EXCHANGE),
			amqp_cstring_bytes(k), amqp_empty_table);
	assert_int_equal(amqp_get_rpc_reply(tc).reply_type, AMQP_RESPONSE_NORMAL);
	tc_close(tc);
	assert_int_equal(amqp_publish(a, k, NULL, "1", 1, on_confirm, &c1), 0);
	assert_true(run_until(&c1.calls, 1, 5000));
	assert_int_equal(amqp_publish(a, k, NULL, "2", 1, on_confirm, &c2), 0);
	assert_true(run_until(&c2.calls, 1, 5000));
	assert_int_equal(c1.ok, 1);
	assert_int_equal(c2.failed, 1);
	assert_true(metric_has(m, "amqp_publish_total{result=\"nacked\"} 1\n"));
	assert_true(amqp_ready(a)); /* a nack is not a connection failure */
	publish_ok(a, "unrouted.key", NULL, "{}");
	amqp_free(a);
	metrics_free(m);
}

/* A queue consumed after both connections are up is declared and consumed at once. */
static void test_amqp_consume_added_later(void **state)
{
	struct got g1 = {.action = ACT_ACK}, g2 = {.action = ACT_ACK};
	char q1[128], q2[128], k1[128], k2[128];
	const char *keys1[] = {k1, NULL}, *keys2[] = {k2, NULL};
	struct amqp_queue_spec s1, s2;
	struct amqp *a;

	NEED_BROKER();
	qname(q1, sizeof(q1), "first");
	qname(q2, sizeof(q2), "second");
	rkey(k1, sizeof(k1), "first.v1");
	rkey(k2, sizeof(k2), "second.v1");
	a = g1.a = g2.a = bridge(g_rt.port, 30, NULL);
	s1 = spec_of(q1, keys1, 3, 1000);
	s2 = spec_of(q2, keys2, 3, 1000);
	assert_int_equal(amqp_consume(a, &s1, on_delivery, &g1), 0);
	assert_true(wait_ready(a, true, 5000));
	assert_int_equal(amqp_consume(a, &s2, on_delivery, &g2), 0);
	assert_int_equal(amqp_consume(a, &s2, on_delivery, &g2), -1); /* twice */
	/* Wait until the consumer declared it (the publisher may be first: either is fine). */
	for (long long end = now_ms() + 5000; tc_count(q2) < 0 && now_ms() < end;)
		run_for(20);
	publish_ok(a, k2, "m-2", "{}");
	publish_ok(a, k1, "m-1", "{}");
	assert_true(run_until(&g2.n, 1, 5000));
	assert_true(run_until(&g1.n, 1, 5000));
	assert_string_equal(g2.queue[0], q2);
	assert_string_equal(g2.mid[0], "m-2");
	assert_string_equal(g1.mid[0], "m-1");
	amqp_free(a);
	assert_int_equal(tc_count(q1), 0);
	assert_int_equal(tc_count(q2), 0);
}

static void test_amqp_ack_removes_message(void **state)
{
	struct got g = {.action = ACT_ACK};
	char q[128], k[128];
	const char *keys[] = {k, NULL};
	struct amqp_queue_spec s;
	struct amqp *a;

	NEED_BROKER();
	qname(q, sizeof(q), "ack");
	rkey(k, sizeof(k), "ack.v1");
	a = g.a = bridge(g_rt.port, 30, NULL);
	s = spec_of(q, keys, 3, 1000);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g), 0);
	assert_true(wait_ready(a, true, 5000));
	publish_ok(a, k, "m-ack", "{}");
	assert_true(run_until(&g.n, 1, 5000));
	amqp_free(a); /* unacked messages would now be ready again */
	assert_int_equal(tc_count(q), 0);
}

static void test_amqp_retry_redelivers_with_attempt(void **state)
{
	struct metrics *m = metrics_new();
	struct got g = {.action = ACT_KEEP};
	char q[128], k[128], lbl[256];
	const char *keys[] = {k, NULL};
	struct amqp_queue_spec s;
	long long t_retry;
	struct amqp *a;

	NEED_BROKER();
	qname(q, sizeof(q), "retry");
	rkey(k, sizeof(k), "retry.v1");
	a = g.a = bridge(g_rt.port, 30, m);
	s = spec_of(q, keys, 3, 200);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g), 0);
	assert_true(wait_ready(a, true, 5000));
	publish_ok(a, k, "m-retry", "{\"r\":1}");
	assert_true(run_until(&g.n, 1, 5000));
	assert_int_equal(g.attempt[0], 1);
	t_retry = now_ms();
	amqp_retry(a, g.d[0], "try later");
	g.action = ACT_ACK;
	assert_true(run_until(&g.n, 2, 5000));
	assert_true(g.at[1] - t_retry >= 150); /* it waited in Q.retry */
	assert_string_equal(g.queue[1], q);
	assert_string_equal(g.rk[1], k); /* the original routing key, not Q.retry's */
	assert_string_equal(g.mid[1], "m-retry");
	assert_string_equal(g.body[1], "{\"r\":1}");
	assert_int_equal(g.attempt[1], 2);
	snprintf(lbl, sizeof(lbl), "amqp_retries_total{queue=\"%s\"} 1\n", q);
	assert_true(metric_has(m, lbl));
	amqp_free(a);
	metrics_free(m);
	assert_int_equal(tc_count(q), 0);
	assert_int_equal(tc_count("nonexistent-queue-for-sure"), -1);
	{
		char r[160], d[160];

		snprintf(r, sizeof(r), "%s.retry", q);
		snprintf(d, sizeof(d), "%s.dlq", q);
		assert_int_equal(tc_count(r), 0);
		assert_int_equal(tc_count(d), 0);
	}
}

static void test_amqp_retry_max_attempts_dead_letters(void **state)
{
	struct got g = {.action = ACT_RETRY};
	char q[128], k[128], dlq[160];
	const char *keys[] = {k, NULL};
	struct amqp_queue_spec s;
	struct tmsg msg;
	struct amqp *a;

	NEED_BROKER();
	qname(q, sizeof(q), "maxatt");
	snprintf(dlq, sizeof(dlq), "%s.dlq", q);
	rkey(k, sizeof(k), "maxatt.v1");
	a = g.a = bridge(g_rt.port, 30, NULL);
	s = spec_of(q, keys, 2, 100);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g), 0);
	assert_true(wait_ready(a, true, 5000));
	publish_ok(a, k, "m-max", "{\"m\":1}");
	assert_true(run_until(&g.n, 2, 5000));
	assert_int_equal(g.attempt[0], 1);
	assert_int_equal(g.attempt[1], 2);
	assert_true(wait_count(dlq, 1, 5000));
	run_for(300);
	assert_int_equal(g.n, 2); /* no third delivery */
	assert_int_equal(tc_get(dlq, &msg), 1);
	assert_non_null(strstr(msg.reason, "max attempts"));
	assert_non_null(strstr(msg.reason, "transient"));
	assert_int_equal(msg.attempt, 2);
	assert_string_equal(msg.orig_rk, k);
	assert_string_equal(msg.mid, "m-max");
	assert_string_equal(msg.body, "{\"m\":1}");
	amqp_free(a);
	assert_int_equal(tc_count(q), 0);
}

static void test_amqp_dead_letter_direct(void **state)
{
	struct got g = {.action = ACT_DEAD};
	char q[128], k[128], dlq[160];
	const char *keys[] = {k, NULL};
	struct amqp_queue_spec s;
	struct tmsg msg;
	struct amqp *a;

	NEED_BROKER();
	qname(q, sizeof(q), "dead");
	snprintf(dlq, sizeof(dlq), "%s.dlq", q);
	rkey(k, sizeof(k), "dead.v1");
	a = g.a = bridge(g_rt.port, 30, NULL);
	s = spec_of(q, keys, 5, 1000);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g), 0);
	assert_true(wait_ready(a, true, 5000));
	publish_ok(a, k, "m-dead", "not json");
	assert_true(run_until(&g.n, 1, 5000));
	assert_true(wait_count(dlq, 1, 5000));
	assert_int_equal(tc_get(dlq, &msg), 1);
	assert_string_equal(msg.reason, "poison");
	assert_int_equal(msg.attempt, 1);
	assert_string_equal(msg.orig_rk, k);
	assert_string_equal(msg.body, "not json");
	amqp_free(a);
	assert_int_equal(tc_count(q), 0);
}

static void test_amqp_unacked_redelivered_to_next_bridge(void **state)
{
	struct got g1 = {.action = ACT_KEEP}, g2 = {.action = ACT_ACK};
	char q[128], k[128];
	const char *keys[] = {k, NULL};
	struct amqp_queue_spec s;
	struct amqp *a;

	NEED_BROKER();
	qname(q, sizeof(q), "redeliver");
	rkey(k, sizeof(k), "redeliver.v1");
	s = spec_of(q, keys, 3, 1000);
	a = g1.a = bridge(g_rt.port, 30, NULL);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g1), 0);
	assert_true(wait_ready(a, true, 5000));
	publish_ok(a, k, "m-redo", "{\"x\":1}");
	assert_true(run_until(&g1.n, 1, 5000));
	assert_false(g1.redelivered[0]);
	amqp_free(a); /* never settled: the bridge frees it, the broker keeps the message */

	a = g2.a = bridge(g_rt.port, 30, NULL);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g2), 0);
	assert_true(run_until(&g2.n, 1, 5000));
	assert_true(g2.redelivered[0]);
	assert_string_equal(g2.mid[0], "m-redo");
	assert_int_equal(g2.attempt[0], 1);
	amqp_free(a);
	assert_int_equal(tc_count(q), 0);
}

static void test_amqp_wrong_port_not_ready(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	struct confirms c = {0};
	struct amqp *a;
	long long t0;
	int fd, port;

	NEED_BROKER();
	/* A port nobody listens on: bind, read it back, close. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	a = bridge(port, 30, NULL);
	run_for(400);
	assert_false(amqp_ready(a));
	assert_int_equal(amqp_publish(a, "x.y.z.v1", NULL, "{}", 2, on_confirm, &c), -1);
	run_for(50);
	assert_int_equal(c.calls, 0);
	t0 = now_ms();
	amqp_free(a);
	assert_true(now_ms() - t0 < 2000);
}

static void test_amqp_reconnect_after_cut(void **state)
{
	struct metrics *m = metrics_new();
	struct got g = {.action = ACT_KEEP};
	char q[128], k[128];
	const char *keys[] = {k, NULL};
	struct amqp_queue_spec s;
	struct proxy p;
	struct amqp *a;

	NEED_BROKER();
	proxy_start(&p);
	qname(q, sizeof(q), "cut");
	rkey(k, sizeof(k), "cut.v1");
	a = g.a = bridge(p.port, 30, m);
	s = spec_of(q, keys, 3, 1000);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g), 0);
	assert_true(wait_ready(a, true, 5000));
	publish_ok(a, k, "m-1", "{\"c\":1}");
	assert_true(run_until(&g.n, 1, 5000));
	g.action = ACT_ACK; /* the first one stays unsettled; later ones are acked */

	proxy_cmd(&p, 'c');
	assert_true(wait_ready(a, false, 3000));
	assert_true(wait_ready(a, true, 5000));
	/* Settling a delivery of the dead connection is ignored; the broker redelivers it. */
	amqp_ack(a, g.d[0]);
	assert_true(run_until(&g.n, 2, 5000));
	assert_string_equal(g.mid[1], "m-1");
	assert_true(g.redelivered[1]);
	publish_ok(a, k, "m-2", "{\"c\":2}");
	assert_true(run_until(&g.n, 3, 5000));
	assert_string_equal(g.mid[2], "m-2");
	assert_true(metric_has(m, "amqp_reconnects_total{role=\"publisher\"} 1\n"));
	assert_true(metric_has(m, "amqp_reconnects_total{role=\"consumer\"} 1\n"));
	amqp_free(a);
	metrics_free(m);
	proxy_stop(&p);
	assert_int_equal(tc_count(q), 0);
}

static void test_amqp_inflight_fail_on_cut(void **state)
{
	enum { N = 2000 };
	struct confirms c = {0};
	struct proxy p;
	struct amqp *a;
	char k[128];

	NEED_BROKER();
	proxy_start(&p);
	rkey(k, sizeof(k), "inflight.v1");
	a = bridge(p.port, 30, NULL);
	assert_true(wait_ready(a, true, 5000));
	for (int i = 0; i < N; i++)
		assert_int_equal(amqp_publish(a, k, NULL, "{}", 2, on_confirm, &c), 0);
	proxy_cmd(&p, 'c');
	assert_true(run_until(&c.calls, N, 10000));
	assert_int_equal(c.ok + c.failed, N); /* every one answered exactly once */
	printf("    amqp: cut with %d in flight: %d confirmed, %d failed\n", N, c.ok, c.failed);
	assert_true(wait_ready(a, true, 5000));
	publish_ok(a, k, NULL, "{}");
	amqp_free(a);
	proxy_stop(&p);
}

static void test_amqp_heartbeat_timeout_reconnects(void **state)
{
	struct proxy p;
	struct amqp *a;
	char k[128];
	long long t0;

	NEED_BROKER();
	proxy_start(&p);
	rkey(k, sizeof(k), "hb.v1");
	a = bridge(p.port, 1, NULL);
	assert_true(wait_ready(a, true, 5000));
	run_for(2500); /* idle across heartbeats: the connection must stay up */
	assert_true(amqp_ready(a));
	publish_ok(a, k, NULL, "{}");
	t0 = now_ms();
	proxy_cmd(&p, 'f'); /* the peer goes silent without closing */
	assert_true(wait_ready(a, false, 6000));
	printf("    amqp: silent peer detected after %lld ms (heartbeat 1 s)\n", now_ms() - t0);
	assert_true(wait_ready(a, true, 6000));
	publish_ok(a, k, NULL, "{}");
	amqp_free(a);
	proxy_stop(&p);
}

static void test_amqp_free_with_silent_broker(void **state)
{
	struct got g = {.action = ACT_ACK};
	struct confirms c = {0};
	struct amqp_queue_spec s;
	char q[128], k[128];
	const char *keys[] = {k, NULL};
	struct proxy p;
	struct amqp *a;
	long long t0;

	NEED_BROKER();
	proxy_start(&p);
	qname(q, sizeof(q), "silent");
	rkey(k, sizeof(k), "silent.v1");
	a = g.a = bridge(p.port, 30, NULL);
	s = spec_of(q, keys, 3, 1000);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g), 0);
	assert_true(wait_ready(a, true, 5000));
	proxy_cmd(&p, 'f'); /* frozen: nothing is answered, nothing is closed */
	run_for(100);
	for (int i = 0; i < 10; i++)
		assert_int_equal(amqp_publish(a, k, NULL, "{}", 2, on_confirm, &c), 0);
	run_for(200);
	t0 = now_ms();
	amqp_free(a); /* confirms never come; the polite close is never answered */
	printf("    amqp: amqp_free with a silent broker took %lld ms\n", now_ms() - t0);
	assert_true(now_ms() - t0 < 6000);
	assert_int_equal(c.calls, 10);
	assert_int_equal(c.failed, 10);
	proxy_stop(&p);
}

static void test_amqp_private_queue(void **state)
{
	struct amqp_queue_spec s = {.name = NULL, .exclusive_auto_delete = true};
	struct got g = {.action = ACT_RETRY}; /* retry on a private queue: acked and dropped */
	const char *keys[2];
	struct amqp *a;
	char k[128];

	NEED_BROKER();
	rkey(k, sizeof(k), "private.v1");
	keys[0] = k;
	keys[1] = NULL;
	s.binding_keys = keys;
	a = g.a = bridge(g_rt.port, 30, NULL);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g), 0);
	assert_true(wait_ready(a, true, 5000));
	publish_ok(a, k, "m-priv", "{}");
	assert_true(run_until(&g.n, 1, 5000));
	assert_true(strncmp(g.queue[0], "amq.gen-", 8) == 0);
	assert_string_equal(g.rk[0], k);
	run_for(300);
	assert_int_equal(g.n, 1);
	amqp_free(a);
	assert_int_equal(tc_count(g.queue[0]), -1); /* gone with its connection */
}

static void test_amqp_bad_arguments(void **state)
{
	struct amqp_queue_spec s = spec_of("x", NULL, 0, 100);
	struct amqp_opts o;
	struct amqp *a;
	char longname[300];
	struct got g = {0};

	amqp_opts_default(&o);
	o.port = 0;
	assert_null(amqp_new(g_rt.base, &o));
	assert_null(amqp_new(NULL, &o));
	NEED_BROKER();
	o.port = g_rt.port;
	a = g.a = amqp_new(g_rt.base, &o);
	assert_non_null(a);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g), -1); /* max_attempts 0 */
	s = spec_of(NULL, NULL, 1, 100);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g), -1); /* no name, not private */
	memset(longname, 'q', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	s = spec_of(longname, NULL, 1, 100);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g), -1);
	s = spec_of("x", NULL, 1, 100);
	assert_int_equal(amqp_consume(a, &s, NULL, &g), -1);
	assert_int_equal(amqp_consume(a, NULL, on_delivery, &g), -1);
	assert_true(wait_ready(a, true, 5000));
	assert_int_equal(amqp_publish(a, NULL, NULL, "", 0, NULL, NULL), -1);
	assert_int_equal(amqp_publish(a, longname, NULL, "", 0, NULL, NULL), -1);
	assert_int_equal(amqp_publish(a, "a.b", NULL, NULL, 5, NULL, NULL), -1);
	amqp_ack(a, NULL);
	amqp_retry(a, NULL, "x");
	amqp_dead_letter(a, NULL, "x");
	amqp_free(a);
	amqp_free(NULL);
	assert_false(amqp_ready(NULL));
}

struct free_in_cb {
	struct amqp *a;
	struct confirms c;
};

static void on_confirm_free(bool ok, void *arg)
{
	struct free_in_cb *f = arg;

	on_confirm(ok, &f->c);
	if (f->a != NULL) {
		struct amqp *a = f->a;

		f->a = NULL;
		amqp_free(a);
	}
}

static void test_amqp_free_from_callback(void **state)
{
	struct free_in_cb f = {0};
	char k[128];

	NEED_BROKER();
	rkey(k, sizeof(k), "freecb.v1");
	f.a = bridge(g_rt.port, 30, NULL);
	assert_true(wait_ready(f.a, true, 5000));
	for (int i = 0; i < 50; i++)
		assert_int_equal(amqp_publish(f.a, k, NULL, "{}", 2, on_confirm_free, &f), 0);
	/* The first callback frees the bridge; the other 49 are answered (ok or not) before
	 * amqp_free returns. */
	assert_true(run_until(&f.c.calls, 50, 5000));
	assert_null(f.a);
	run_for(50);
	assert_int_equal(f.c.calls, 50);
}

static long long cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void test_amqp_bench_confirmed_publish(void **state)
{
	const char *env = getenv("FR_TEST_AMQP_BENCH");
	int n = env != NULL ? atoi(env) : 0;
	char body[301], q[128], k[128];
	const char *keys[] = {k, NULL};
	struct amqp_queue_spec s;
	struct confirms c = {0};
	struct got g = {.action = ACT_KEEP};
	struct amqp *a;
	long long t0, cpu0;
	int sent = 0;

	NEED_BROKER();
	if (n <= 0)
		skip();
	memset(body, 'b', 300);
	body[300] = '\0';
	qname(q, sizeof(q), "bench");
	rkey(k, sizeof(k), "bench.v1");
	a = g.a = bridge(g_rt.port, 30, NULL);
	/* Declared (a durable quorum queue receives every message) but not read. */
	s = spec_of(q, keys, 3, 1000);
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g), 0);
	assert_true(wait_ready(a, true, 5000));
	amqp_free(a);
	a = bridge(g_rt.port, 30, NULL);
	assert_true(wait_ready(a, true, 5000));
	cpu0 = cpu_us();
	t0 = now_ms();
	while (c.calls < n) {
		while (sent < n && amqp_publish(a, k, NULL, body, 300, on_confirm, &c) == 0)
			sent++;
		event_base_loop(g_rt.base, EVLOOP_ONCE);
	}
	printf("    amqp bench: %d confirmed persistent 300-byte publishes (quorum queue bound) "
	       "in %lld ms = %.0f msg/s; failed %d\n",
	       n, now_ms() - t0, n * 1000.0 / (double)(now_ms() - t0 + 1), c.failed);
	printf("    amqp bench: process CPU %.1f us per confirmed publish (loop + publisher "
	       "thread)\n",
	       (double)(cpu_us() - cpu0) / n);
	amqp_free(a);

	/* Now drain the queue: deliveries to the loop, each acked from its callback. */
	memset(&g, 0, sizeof(g));
	g.action = ACT_ACK;
	a = g.a = bridge(g_rt.port, 30, NULL);
	t0 = now_ms();
	assert_int_equal(amqp_consume(a, &s, on_delivery, &g), 0);
	while (g.n < MAXD)
		event_base_loop(g_rt.base, EVLOOP_ONCE);
	t0 = now_ms();
	assert_true(wait_count(q, 0, 60000));
	printf("    amqp bench: drained ~%d deliveries (manual ack, prefetch 64) in %lld ms\n",
	       n - MAXD, now_ms() - t0);
	amqp_free(a);
}

static int group_setup(void **state)
{
	const char *p = getenv("FR_TEST_AMQP_PORT");
	struct timeval tv = {0, 10000};
	struct timespec ts;

	const char *lv = getenv("FR_TEST_LOG");

	log_init("test-amqp",
		 lv != NULL && log_level_parse(lv) >= 0 ? log_level_parse(lv) : LOG_LEVEL_ERROR);
	g_rt.base = event_base_new();
	g_rt.tick = event_new(g_rt.base, -1, EV_PERSIST, on_tick, NULL);
	event_add(g_rt.tick, &tv);
	g_rt.port = p != NULL ? atoi(p) : 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	srand((unsigned)(ts.tv_nsec ^ getpid()));
	snprintf(g_rt.sfx, sizeof(g_rt.sfx), "%d-%04x", (int)getpid(), rand() & 0xffff);
	return 0;
}

static int test_teardown(void **state)
{
	if (g_rt.port != 0)
		for (int i = 0; i < g_nqueues; i++)
			tc_delete(g_queues[i]);
	g_nqueues = 0;
	return 0;
}

static int group_teardown(void **state)
{
	event_free(g_rt.tick);
	event_base_free(g_rt.base);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_amqp_publish_confirm, test_teardown),
		cmocka_unit_test_teardown(test_amqp_consume_topic_routing, test_teardown),
		cmocka_unit_test_teardown(test_amqp_publish_many_confirmed, test_teardown),
		cmocka_unit_test_teardown(test_amqp_publish_nacked, test_teardown),
		cmocka_unit_test_teardown(test_amqp_consume_added_later, test_teardown),
		cmocka_unit_test_teardown(test_amqp_ack_removes_message, test_teardown),
		cmocka_unit_test_teardown(test_amqp_retry_redelivers_with_attempt, test_teardown),
		cmocka_unit_test_teardown(test_amqp_retry_max_attempts_dead_letters, test_teardown),
		cmocka_unit_test_teardown(test_amqp_dead_letter_direct, test_teardown),
		cmocka_unit_test_teardown(test_amqp_unacked_redelivered_to_next_bridge,
					  test_teardown),
		cmocka_unit_test_teardown(test_amqp_wrong_port_not_ready, test_teardown),
		cmocka_unit_test_teardown(test_amqp_reconnect_after_cut, test_teardown),
		cmocka_unit_test_teardown(test_amqp_inflight_fail_on_cut, test_teardown),
		cmocka_unit_test_teardown(test_amqp_heartbeat_timeout_reconnects, test_teardown),
		cmocka_unit_test_teardown(test_amqp_free_with_silent_broker, test_teardown),
		cmocka_unit_test_teardown(test_amqp_private_queue, test_teardown),
		cmocka_unit_test_teardown(test_amqp_bad_arguments, test_teardown),
		cmocka_unit_test_teardown(test_amqp_free_from_callback, test_teardown),
		cmocka_unit_test_teardown(test_amqp_bench_confirmed_publish, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
