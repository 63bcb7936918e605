/*
 * test_ratelimit.c - cmocka tests of the rate limiter: the in-memory fallback algorithm
 * (ratelimit_local.c: sliding window, all-or-nothing, tightest limit, nonces, bounds), the
 * RateLimit-* header formatting, and the Redis script against a real Redis
 * (FR_TEST_REDIS_PORT; skipped when unset): two connections sharing one limit, nonce replay,
 * Redis unreachable and Redis too slow (both decided locally, degraded).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redis.h"
#include "ratelimit.h"
#include "ratelimit_local.h"

#define S_US 1000000LL
#define T0 (1000 * S_US) /* an arbitrary monotonic start */

/* ---- the local algorithm ------------------------------------------------------------------- */

static int decide1(struct rl_local *l, const char *key, long rpm, int64_t now,
		   struct rl_decision *d)
{
	struct rl_window_req w = {key, rpm};

	return rl_local_decide(l, &w, 1, NULL, 0, now, d);
}

static void test_ratelimit_local_window(void **state)
{
	struct rl_local *l = rl_local_new(16, 1024, 16);
	struct rl_decision d;
	int allowed = 0, i;

	(void)state;
	/* 60 per minute, one request every 100 ms: the first 60 pass */
	for (i = 0; i < 120; i++) {
		assert_int_equal(decide1(l, "fr:rl:ip:a", 60, T0 + i * S_US / 10, &d), 0);
		allowed += d.allowed;
		assert_false(d.degraded);
		assert_int_equal(d.limit, 60);
		if (i < 60) {
			assert_true(d.allowed);
			assert_int_equal(d.remaining, 59 - i);
			assert_int_equal(d.reset_s, 60 - i / 10); /* the first request leaves at T0+60s */
		}
	}
	assert_int_equal(allowed, 60);
	/* refused at T0 + 11.9 s: the oldest (T0) leaves the window at T0 + 60 s */
	assert_false(d.allowed);
	assert_int_equal(d.remaining, 0);
	assert_int_equal(d.retry_after_s, 49); /* ceil(48.1) */
	assert_int_equal(d.reset_s, d.retry_after_s);
	/* exactly 60 s after the first request it has left the window (scores <= now-60s go) */
	assert_int_equal(decide1(l, "fr:rl:ip:a", 60, T0 + 60 * S_US, &d), 0);
	assert_true(d.allowed);
	assert_int_equal(d.remaining, 0);
	assert_int_equal(decide1(l, "fr:rl:ip:a", 60, T0 + 60 * S_US + 1, &d), 0);
	assert_false(d.allowed);
	assert_int_equal(d.retry_after_s, 1); /* T0 + 0.1 s leaves at T0 + 60.1 s */
	/* another key has its own window */
	assert_int_equal(decide1(l, "fr:rl:ip:b", 60, T0 + 61 * S_US, &d), 0);
	assert_true(d.allowed);
	assert_int_equal(d.remaining, 59);
	rl_local_free(l);
}

static void test_ratelimit_local_all_or_nothing(void **state)
{
	struct rl_local *l = rl_local_new(16, 1024, 16);
	struct rl_window_req w[2] = {{"fr:rl:user:u1", 5}, {"fr:rl:tenant:t1", 3}};
	struct rl_window_req u[1] = {{"fr:rl:user:u1", 5}};
	struct rl_decision d;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		/* the tenant is the tighter limit: its numbers are reported */
		assert_int_equal(rl_local_decide(l, w, 2, NULL, 0, T0 + i, &d), 1);
		assert_true(d.allowed);
		assert_int_equal(d.limit, 3);
		assert_int_equal(d.remaining, 2 - i);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(rl_local_decide(l, w, 2, NULL, 0, T0 + 10 + i, &d), 1);
		assert_false(d.allowed);
		assert_int_equal(d.limit, 3);
	}
	/* the refused requests were not counted against the user */
	assert_int_equal(rl_local_decide(l, u, 1, NULL, 0, T0 + 20, &d), 0);
	assert_true(d.allowed);
	assert_int_equal(d.limit, 5);
	assert_int_equal(d.remaining, 1); /* 3 with the tenant + this one */
	rl_local_free(l);
}

static void test_ratelimit_local_refusal_reports_longest_wait(void **state)
{
	struct rl_local *l = rl_local_new(16, 1024, 16);
	struct rl_window_req a = {"fr:rl:user:x", 1}, b = {"fr:rl:tenant:y", 1};
	struct rl_window_req both[2] = {{"fr:rl:user:x", 1}, {"fr:rl:tenant:y", 1}};
	struct rl_decision d;

	(void)state;
	assert_int_equal(rl_local_decide(l, &a, 1, NULL, 0, T0, &d), 0);
	assert_int_equal(rl_local_decide(l, &b, 1, NULL, 0, T0 + 30 * S_US, &d), 0);
	/* both full: the tenant's slot frees last (T0 + 90 s) */
	assert_int_equal(rl_local_decide(l, both, 2, NULL, 0, T0 + 40 * S_US, &d), 1);
	assert_false(d.allowed);
	assert_int_equal(d.retry_after_s, 50);
	rl_local_free(l);
}

static void test_ratelimit_local_nonces(void **state)
{
	struct rl_local *l = rl_local_new(16, 1024, 4);
	struct rl_window_req w = {"fr:rl:apikey:k", 10};
	struct rl_decision d;
	char key[32];
	int i;

	(void)state;
	assert_int_equal(rl_local_decide(l, &w, 1, "fr:nonce:p:n1", 600, T0, &d), 0);
	assert_true(d.allowed);
	assert_int_equal(d.remaining, 9);
	/* replayed: nothing counted */
	assert_int_equal(rl_local_decide(l, &w, 1, "fr:nonce:p:n1", 600, T0 + S_US, &d), -1);
	assert_true(d.replayed);
	assert_false(d.allowed);
	assert_int_equal(rl_local_decide(l, &w, 1, "fr:nonce:p:n2", 600, T0 + S_US, &d), 0);
	assert_int_equal(d.remaining, 8);
	/* after its TTL a nonce is forgotten */
	assert_int_equal(rl_local_decide(l, NULL, 0, "fr:nonce:p:n1", 600, T0 + 601 * S_US, &d), -1);
	assert_false(d.replayed);
	assert_true(d.allowed);
	/* bounded: the oldest are evicted */
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "fr:nonce:p:m%d", i);
		assert_int_equal(rl_local_decide(l, NULL, 0, key, 600, T0 + 602 * S_US, &d), -1);
		assert_false(d.replayed);
		assert_true(rl_local_nonces(l) <= 4);
	}
	assert_int_equal(rl_local_decide(l, NULL, 0, "fr:nonce:p:m9", 600, T0 + 603 * S_US, &d), -1);
	assert_true(d.replayed);
	rl_local_free(l);
}

static void test_ratelimit_local_bounded(void **state)
{
	struct rl_local *l = rl_local_new(4, 64, 4);
	struct rl_decision d;
	char key[32];
	int i, j;

	(void)state;
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "fr:rl:ip:10.0.0.%d", i);
		for (j = 0; j < 20; j++)
			assert_int_equal(decide1(l, key, 1000, T0 + i * 100 + j, &d), 0);
		assert_true(rl_local_entries(l) <= 4);
		assert_true(rl_local_slots(l) <= 64);
	}
	/* a window larger than the whole budget keeps counting within it */
	for (j = 0; j < 200; j++)
		assert_int_equal(decide1(l, "fr:rl:tenant:big", 100000, T0 + S_US + j, &d), 0);
	assert_true(d.allowed);
	assert_true(rl_local_slots(l) <= 64);
	/* the least recently used entry went first: the big one is still there */
	assert_int_equal(rl_local_entries(l), 1);
	rl_local_free(l);
}

static void test_ratelimit_ceil(void **state)
{
	(void)state;
	assert_int_equal(rl_ceil_s(0), 0);
	assert_int_equal(rl_ceil_s(-5), 0);
	assert_int_equal(rl_ceil_s(1), 1);
	assert_int_equal(rl_ceil_s(S_US), 1);
	assert_int_equal(rl_ceil_s(S_US + 1), 2);
}

/* ---- headers ------------------------------------------------------------------------------- */

static void test_ratelimit_headers_format(void **state)
{
	struct rl_decision ok = {.allowed = true, .limit = 600, .remaining = 17, .reset_s = 42};
	struct rl_decision no = {.allowed = false, .limit = 60, .remaining = 0, .reset_s = 7,
				 .retry_after_s = 7};
	struct rl_decision none = {.allowed = true};
	struct rl_decision replay = {.replayed = true};
	struct rl_header h[4];

	(void)state;
	assert_int_equal(ratelimit_format_headers(&ok, h), 3);
	assert_string_equal(h[0].name, "RateLimit-Limit");
	assert_string_equal(h[0].value, "600");
	assert_string_equal(h[1].name, "RateLimit-Remaining");
	assert_string_equal(h[1].value, "17");
	assert_string_equal(h[2].name, "RateLimit-Reset");
	assert_string_equal(h[2].value, "42");
	assert_int_equal(ratelimit_format_headers(&no, h), 4);
	assert_string_equal(h[1].value, "0");
	assert_string_equal(h[3].name, "Retry-After");
	assert_string_equal(h[3].value, "7");
	no.retry_after_s = 0; /* never "Retry-After: 0" */
	assert_int_equal(ratelimit_format_headers(&no, h), 4);
	assert_string_equal(h[3].value, "1");
	assert_int_equal(ratelimit_format_headers(&none, h), 0);
	assert_int_equal(ratelimit_format_headers(&replay, h), 0);
	assert_string_equal(rl_kind_name(RL_APIKEY), "apikey");
	assert_string_equal(rl_kind_name(RL_IP), "ip");
}

/* ---- against Redis ------------------------------------------------------------------------- */

struct fx {
	struct event_base *base;
	struct event *tick;
	struct metrics *m;
	struct redis *r[2];
	struct ratelimit *rl[2];
	char id[40]; /* unique per run: keys fr:rl:*:<id>... */
};

struct got {
	int calls, allowed, replayed, degraded;
	struct rl_decision last;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
}

static void on_decision(void *arg, const struct rl_decision *d)
{
	struct got *g = arg;

	g->calls++;
	g->allowed += d->allowed;
	g->replayed += d->replayed;
	g->degraded += d->degraded;
	g->last = *d;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_until(struct fx *f, const int *counter, int want, int ms)
{
	long long end = mono_ms() + ms;

	while ((counter == NULL || *counter < want) && mono_ms() < end)
		event_base_loop(f->base, EVLOOP_ONCE);
}

static struct redis *fx_redis(struct fx *f, int port, int cmd_timeout_ms, int wait_ms)
{
	struct redis_opts o;
	struct redis *r;
	long long end = mono_ms() + wait_ms;

	redis_opts_default(&o);
	o.host = "127.0.0.1";
	o.port = port;
	o.connect_timeout_ms = 500;
	o.command_timeout_ms = cmd_timeout_ms;
	r = redis_new(f->base, &o);
	assert_non_null(r);
	while (!redis_ready(r) && mono_ms() < end)
		event_base_loop(f->base, EVLOOP_ONCE);
	return r;
}

static void fx_init(struct fx *f)
{
	struct timeval tv = {0, 10000};

	memset(f, 0, sizeof(*f));
	f->base = event_base_new();
	f->m = metrics_new();
	f->tick = event_new(f->base, -1, EV_PERSIST, on_tick, NULL);
	evtimer_add(f->tick, &tv);
	uuid_v4(f->id);
}

static void fx_done(struct fx *f)
{
	for (int i = 0; i < 2; i++)
		ratelimit_free(f->rl[i]);
	for (int i = 0; i < 2; i++)
		if (f->r[i] != NULL)
			redis_free(f->r[i]);
	run_until(f, NULL, 0, 50);
	event_free(f->tick);
	metrics_free(f->m);
	event_base_free(f->base);
}

static int redis_port(void)
{
	const char *p = getenv("FR_TEST_REDIS_PORT");

	return p != NULL && *p != '\0' ? atoi(p) : 0;
}

static bool metrics_has(struct metrics *m, const char *needle)
{
	size_t len;
	char *text = metrics_render(m, &len);
	bool found = text != NULL && strstr(text, needle) != NULL;

	free(text);
	return found;
}

/* 120 decisions alternating over two connections (two "replicas") at 60 rpm: exactly 60. */
static void test_ratelimit_redis_shared_limit(void **state)
{
	struct fx f;
	struct got g = {0};
	struct rl_limit lim;
	int port = redis_port();

	(void)state;
	if (port == 0)
		skip();
	fx_init(&f);
	for (int i = 0; i < 2; i++) {
		f.r[i] = fx_redis(&f, port, 1000, 2000);
		assert_true(redis_ready(f.r[i]));
		f.rl[i] = ratelimit_new(f.base, f.r[i], f.m);
		assert_non_null(f.rl[i]);
	}
	lim = (struct rl_limit){RL_APIKEY, f.id, 60};
	for (int i = 0; i < 120; i++) {
		ratelimit_check(f.rl[i % 2], &lim, 1, NULL, 0, "req", on_decision, &g);
		if (i % 10 == 9) /* some in flight together, some after SCRIPT LOAD answered */
			run_until(&f, &g.calls, i + 1, 2000);
	}
	run_until(&f, &g.calls, 120, 5000);
	assert_int_equal(g.calls, 120);
	assert_int_equal(g.degraded, 0);
	assert_int_equal(g.allowed, 60);
	assert_false(g.last.allowed);
	assert_int_equal(g.last.limit, 60);
	assert_int_equal(g.last.remaining, 0);
	assert_true(g.last.retry_after_s >= 55 && g.last.retry_after_s <= 60);
	assert_true(metrics_has(f.m, "gateway_ratelimit_decisions_total{kind=\"apikey\","
					  "result=\"limited\"} 60"));
	fx_done(&f);
}

/* Numbers of an allowed decision, all-or-nothing, and nonce replay through the script. */
static void test_ratelimit_redis_numbers_and_nonce(void **state)
{
	struct fx f;
	struct got g = {0};
	struct rl_limit lim[2];
	char user[64], tenant[64], nonce[96];
	int port = redis_port();

	(void)state;
	if (port == 0)
		skip();
	fx_init(&f);
	f.r[0] = fx_redis(&f, port, 1000, 2000);
	f.rl[0] = ratelimit_new(f.base, f.r[0], f.m);
	snprintf(user, sizeof(user), "u-%s", f.id);
	snprintf(tenant, sizeof(tenant), "t-%s", f.id);
	snprintf(nonce, sizeof(nonce), "fr:nonce:test:%s", f.id);
	lim[0] = (struct rl_limit){RL_USER, user, 5};
	lim[1] = (struct rl_limit){RL_TENANT, tenant, 3};
	ratelimit_check(f.rl[0], lim, 2, nonce, 600, "r1", on_decision, &g);
	run_until(&f, &g.calls, 1, 2000);
	assert_int_equal(g.calls, 1);
	assert_true(g.last.allowed);
	assert_false(g.last.degraded);
	assert_int_equal(g.last.limit, 3); /* the tenant is tighter */
	assert_int_equal(g.last.remaining, 2);
	assert_true(g.last.reset_s >= 59 && g.last.reset_s <= 60);
	/* the same nonce again: replayed, nothing counted */
	ratelimit_check(f.rl[0], lim, 2, nonce, 600, "r2", on_decision, &g);
	run_until(&f, &g.calls, 2, 2000);
	assert_true(g.last.replayed);
	assert_false(g.last.allowed);
	for (int i = 0; i < 4; i++)
		ratelimit_check(f.rl[0], lim, 2, NULL, 0, "r3", on_decision, &g);
	run_until(&f, &g.calls, 6, 2000);
	assert_int_equal(g.allowed, 3);
	assert_false(g.last.allowed);
	/* the user was counted only for the 3 allowed ones */
	ratelimit_check(f.rl[0], lim, 1, NULL, 0, "r4", on_decision, &g);
	run_until(&f, &g.calls, 7, 2000);
	assert_true(g.last.allowed);
	assert_int_equal(g.last.limit, 5);
	assert_int_equal(g.last.remaining, 1);
	fx_done(&f);
}

/* Redis unreachable: decided locally, flagged degraded and counted. */
static void test_ratelimit_redis_unreachable_is_local(void **state)
{
	struct fx f;
	struct got g = {0};
	struct rl_limit lim;

	(void)state;
	fx_init(&f);
	f.r[0] = fx_redis(&f, 1, 1000, 0); /* nothing listens on port 1 */
	f.rl[0] = ratelimit_new(f.base, f.r[0], f.m);
	lim = (struct rl_limit){RL_IP, "192.0.2.1", 2};
	for (int i = 0; i < 3; i++)
		ratelimit_check(f.rl[0], &lim, 1, "fr:nonce:x:y", 600, "r", on_decision, &g);
	assert_int_equal(g.calls, 3); /* answered at once */
	assert_int_equal(g.degraded, 3);
	assert_int_equal(g.allowed, 1);
	assert_int_equal(g.replayed, 2); /* the in-memory nonce set */
	ratelimit_check(f.rl[0], &lim, 1, NULL, 0, "r", on_decision, &g);
	ratelimit_check(f.rl[0], &lim, 1, NULL, 0, "r", on_decision, &g);
	assert_int_equal(g.allowed, 2);
	assert_false(g.last.allowed);
	assert_true(g.last.degraded);
	assert_true(metrics_has(f.m, "gateway_ratelimit_degraded_total{reason=\"unreachable\"} 5"));
	fx_done(&f);
}

/* A listener that accepts and never answers: the deadline decides locally, and the late
 * (timed out) Redis callback frees the decision. */
static void test_ratelimit_redis_slow_is_local(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	struct ratelimit_opts o;
	struct fx f;
	struct got g = {0};
	struct rl_limit lim = {RL_USER, "slow", 10};
	int s = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 4), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
	fx_init(&f);
	f.r[0] = fx_redis(&f, ntohs(a.sin_port), 300, 2000);
	assert_true(redis_ready(f.r[0]));
	ratelimit_opts_default(&o);
	o.redis_timeout_ms = 30;
	f.rl[0] = ratelimit_new_opts(f.base, f.r[0], f.m, &o);
	ratelimit_check(f.rl[0], &lim, 1, NULL, 0, "r", on_decision, &g);
	ratelimit_check(f.rl[0], &lim, 1, NULL, 0, "r", on_decision, &g);
	assert_int_equal(g.calls, 0);
	run_until(&f, &g.calls, 2, 2000);
	assert_int_equal(g.calls, 2);
	assert_int_equal(g.degraded, 2);
	assert_int_equal(g.allowed, 2);
	assert_int_equal(g.last.remaining, 8);
	assert_true(metrics_has(f.m, "gateway_ratelimit_degraded_total{reason=\"timeout\"} 2"));
	/* one more still waiting when the limiter is freed: answered locally then */
	ratelimit_check(f.rl[0], &lim, 1, NULL, 0, "r", on_decision, &g);
	ratelimit_free(f.rl[0]);
	f.rl[0] = NULL;
	assert_int_equal(g.calls, 3);
	run_until(&f, NULL, 0, 500); /* the redis command timeouts fire: late callbacks free */
	fx_done(&f);
	close(s);
}

/* Limits disabled: nothing counted, but nonces are still checked. */
static void test_ratelimit_disabled_keeps_nonces(void **state)
{
	struct ratelimit_opts o;
	struct fx f;
	struct got g = {0};
	struct rl_limit lim = {RL_USER, "u", 1};

	(void)state;
	fx_init(&f);
	ratelimit_opts_default(&o);
	o.enabled = false;
	f.rl[0] = ratelimit_new_opts(f.base, NULL, f.m, &o);
	for (int i = 0; i < 3; i++)
		ratelimit_check(f.rl[0], &lim, 1, NULL, 0, "r", on_decision, &g);
	assert_int_equal(g.allowed, 3);
	assert_int_equal(g.last.limit, 0);
	ratelimit_check(f.rl[0], &lim, 1, "fr:nonce:a:b", 600, "r", on_decision, &g);
	ratelimit_check(f.rl[0], &lim, 1, "fr:nonce:a:b", 600, "r", on_decision, &g);
	assert_true(g.last.replayed);
	fx_done(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ratelimit_local_window),
		cmocka_unit_test(test_ratelimit_local_all_or_nothing),
		cmocka_unit_test(test_ratelimit_local_refusal_reports_longest_wait),
		cmocka_unit_test(test_ratelimit_local_nonces),
		cmocka_unit_test(test_ratelimit_local_bounded),
		cmocka_unit_test(test_ratelimit_ceil),
		cmocka_unit_test(test_ratelimit_headers_format),
		cmocka_unit_test(test_ratelimit_redis_shared_limit),
		cmocka_unit_test(test_ratelimit_redis_numbers_and_nonce),
		cmocka_unit_test(test_ratelimit_redis_unreachable_is_local),
		cmocka_unit_test(test_ratelimit_redis_slow_is_local),
		cmocka_unit_test(test_ratelimit_disabled_keeps_nonces),
	};

	log_init("test", LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
