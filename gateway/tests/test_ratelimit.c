/*
 * test_ratelimit.c - cmocka tests of the rate limiter: the in-memory fallback algorithm
 * (ratelimit_local.c: bucketed sliding window and its documented error, all-or-nothing,
 * tightest limit, nonces, bounds), the RateLimit-* header formatting, and the Redis script
 * against a real Redis (FR_TEST_REDIS_PORT; skipped when unset): two connections sharing one
 * limit, nonce replay, the stored window layout and bucket boundary, Redis unreachable and
 * Redis too slow (both decided locally, degraded).
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
	struct rl_local *l = rl_local_new(16, 16);
	struct rl_decision d;
	int allowed = 0, i;

	(void)state;
	/* 60 per minute, one request every 100 ms from T0 (a bucket start): the first 60 pass */
	for (i = 0; i < 120; i++) {
		assert_int_equal(decide1(l, "fr:rlb:ip:a", 60, T0 + i * S_US / 10, &d), 0);
		allowed += d.allowed;
		assert_false(d.degraded);
		assert_int_equal(d.limit, 60);
		if (i < 60) {
			assert_true(d.allowed);
			assert_int_equal(d.remaining, 59 - i);
			/* the bucket [T0, T0 + 5 s) stops counting at T0 + 65 s */
			assert_int_equal(d.reset_s, 65 - i / 10);
		}
	}
	assert_int_equal(allowed, 60);
	/* refused at T0 + 11.9 s until the first bucket (50 requests) leaves at T0 + 65 s */
	assert_false(d.allowed);
	assert_int_equal(d.remaining, 0);
	assert_int_equal(d.retry_after_s, 54); /* ceil(53.1) */
	assert_int_equal(d.reset_s, d.retry_after_s);
	assert_int_equal(decide1(l, "fr:rlb:ip:a", 60, T0 + 65 * S_US - 1, &d), 0);
	assert_false(d.allowed);
	assert_int_equal(d.retry_after_s, 1);
	/* at T0 + 65 s the first bucket is gone; [T0 + 5 s, T0 + 10 s) holds 10 */
	assert_int_equal(decide1(l, "fr:rlb:ip:a", 60, T0 + 65 * S_US, &d), 0);
	assert_true(d.allowed);
	assert_int_equal(d.remaining, 49);
	assert_int_equal(d.reset_s, 5);
	/* another key has its own window */
	assert_int_equal(decide1(l, "fr:rlb:ip:b", 60, T0 + 66 * S_US, &d), 0);
	assert_true(d.allowed);
	assert_int_equal(d.remaining, 59);
	rl_local_free(l);
}

/* The documented error: a request counts for 60 to 65 s (until its whole 5 s bucket is more
 * than 60 s old), never less. */
static void test_ratelimit_local_bucket_boundary(void **state)
{
	struct rl_local *l = rl_local_new(16, 16);
	struct rl_decision d;

	(void)state;
	/* the last microsecond of bucket [T0, T0 + 5 s): counted for 60 s + 1 us */
	assert_int_equal(decide1(l, "fr:rlb:user:late", 1, T0 + 5 * S_US - 1, &d), 0);
	assert_true(d.allowed);
	assert_int_equal(d.reset_s, 61); /* ceil(60.000001) */
	assert_int_equal(decide1(l, "fr:rlb:user:late", 1, T0 + 65 * S_US - 1, &d), 0);
	assert_false(d.allowed);
	assert_int_equal(d.retry_after_s, 1);
	assert_int_equal(decide1(l, "fr:rlb:user:late", 1, T0 + 65 * S_US, &d), 0);
	assert_true(d.allowed);
	/* the first microsecond of a bucket: counted for the full 65 s */
	assert_int_equal(decide1(l, "fr:rlb:user:early", 1, T0, &d), 0);
	assert_int_equal(d.reset_s, 65);
	assert_int_equal(decide1(l, "fr:rlb:user:early", 1, T0 + 64 * S_US, &d), 0);
	assert_false(d.allowed);
	assert_int_equal(d.retry_after_s, 1);
	assert_int_equal(decide1(l, "fr:rlb:user:early", 1, T0 + 65 * S_US, &d), 0);
	assert_true(d.allowed);
	/* a long silence forgets everything */
	assert_int_equal(decide1(l, "fr:rlb:user:early", 1, T0 + 3600 * S_US, &d), 0);
	assert_true(d.allowed);
	rl_local_free(l);
}

/* Bursty pseudo-random traffic against a brute-force log of the accepted requests: never more
 * than the limit in any 60 s, and a refusal only while the limit was reached within 65 s. */
static void test_ratelimit_local_error_bound(void **state)
{
	enum { REQS = 20000, LIMIT = 50 };
	struct rl_local *l = rl_local_new(16, 16);
	static int64_t acc[REQS];
	struct rl_decision d;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	int64_t now = T0 + 3 * S_US / 7;
	size_t na = 0, lo60 = 0, lo65 = 0;
	int refused = 0;

	(void)state;
	for (int i = 0; i < REQS; i++) {
		x ^= x << 13; /* xorshift64 */
		x ^= x >> 7;
		x ^= x << 17;
		/* mostly short gaps, sometimes a pause of up to 40 s */
		now += (x % 16 == 0) ? (int64_t)(x >> 20) % (40 * S_US)
				     : (int64_t)(x >> 20) % (S_US / 4);
		while (lo60 < na && acc[lo60] <= now - 60 * S_US)
			lo60++;
		while (lo65 < na && acc[lo65] <= now - 65 * S_US)
			lo65++;
		assert_int_equal(decide1(l, "fr:rlb:apikey:bound", LIMIT, now, &d), 0);
		if (d.allowed) {
			/* with this one, in (now - 60 s, now] */
			assert_true(na - lo60 + 1 <= LIMIT);
			acc[na++] = now;
		} else {
			assert_true(na - lo65 >= LIMIT); /* the limit was reached within 65 s */
			refused++;
		}
	}
	assert_true(refused > REQS / 4 && na > REQS / 10); /* both paths were exercised */
	rl_local_free(l);
}

static void test_ratelimit_local_all_or_nothing(void **state)
{
	struct rl_local *l = rl_local_new(16, 16);
	struct rl_window_req w[2] = {{"fr:rlb:user:u1", 5}, {"fr:rlb:tenant:t1", 3}};
	struct rl_window_req u[1] = {{"fr:rlb:user:u1", 5}};
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
	struct rl_local *l = rl_local_new(16, 16);
	struct rl_window_req a = {"fr:rlb:user:x", 1}, b = {"fr:rlb:tenant:y", 1};
	struct rl_window_req both[2] = {{"fr:rlb:user:x", 1}, {"fr:rlb:tenant:y", 1}};
	struct rl_decision d;

	(void)state;
	assert_int_equal(rl_local_decide(l, &a, 1, NULL, 0, T0, &d), 0);
	assert_int_equal(rl_local_decide(l, &b, 1, NULL, 0, T0 + 30 * S_US, &d), 0);
	/* both full: the tenant's bucket [T0 + 30 s, T0 + 35 s) frees last (T0 + 95 s) */
	assert_int_equal(rl_local_decide(l, both, 2, NULL, 0, T0 + 40 * S_US, &d), 1);
	assert_false(d.allowed);
	assert_int_equal(d.retry_after_s, 55);
	rl_local_free(l);
}

static void test_ratelimit_local_nonces(void **state)
{
	struct rl_local *l = rl_local_new(16, 4);
	struct rl_window_req w = {"fr:rlb:apikey:k", 10};
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
	struct rl_local *l = rl_local_new(4, 4);
	struct rl_decision d;
	char key[32];
	int i, j;

	(void)state;
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "fr:rlb:ip:10.0.0.%d", i);
		for (j = 0; j < 20; j++)
			assert_int_equal(decide1(l, key, 1000, T0 + i * 100 + j, &d), 0);
		assert_true(rl_local_entries(l) <= 4);
	}
	/* the least recently used entry goes first: a busy one stays while others come and go */
	for (i = 0; i < 50; i++) {
		assert_int_equal(decide1(l, "fr:rlb:tenant:busy", 100000, T0 + S_US + i, &d), 0);
		snprintf(key, sizeof(key), "fr:rlb:ip:10.0.1.%d", i);
		assert_int_equal(decide1(l, key, 1000, T0 + S_US + i, &d), 0);
		assert_true(rl_local_entries(l) <= 4);
	}
	assert_int_equal(decide1(l, "fr:rlb:tenant:busy", 100000, T0 + 2 * S_US, &d), 0);
	assert_true(d.allowed);
	assert_int_equal(d.remaining, 100000 - 51);
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
	assert_string_equal(rl_kind_name(RL_APIKEY_IP), "apikey_ip");
}

/* ---- against Redis ------------------------------------------------------------------------- */

struct fx {
	struct event_base *base;
	struct event *tick;
	struct metrics *m;
	struct redis *r[2];
	struct ratelimit *rl[2];
	char id[40]; /* unique per run: keys fr:rlb:*:<id>... */
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
	/* the first bucket (at most 5 s wide) stops counting 60 s after its end */
	assert_true(g.last.retry_after_s >= 59 && g.last.retry_after_s <= 65);
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
	assert_true(g.last.reset_s >= 60 && g.last.reset_s <= 65);
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

/* ---- the stored window (ratelimit.h): int32 newest bucket, 13 x uint32 counts, LE ---- */

struct sync_reply {
	bool done;
	long long sec;  /* TIME */
	char value[64]; /* GET of a window */
	size_t len;
};

static void on_sync(redisReply *r, const char *err, void *arg)
{
	struct sync_reply *s = arg;

	(void)err;
	s->done = true;
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
		s->sec = atoll(r->element[0]->str);
	if (r != NULL && r->type == REDIS_REPLY_STRING && r->len <= sizeof(s->value)) {
		memcpy(s->value, r->str, r->len);
		s->len = r->len;
	}
}

static void sync_wait(struct fx *f, struct sync_reply *s)
{
	long long end = mono_ms() + 2000;

	while (!s->done && mono_ms() < end)
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_true(s->done);
}

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

/* Stores a window whose newest bucket is top, with counts[k] requests in bucket top - k. */
static void put_window(struct fx *f, const char *key, long long top, const uint32_t *counts)
{
	unsigned char v[4 * (RL_BUCKETS + 1)];
	const char *argv[3] = {"SET", key, (const char *)v};
	size_t len[3] = {3, strlen(key), sizeof(v)};
	struct sync_reply s = {0};

	put_u32(v, (uint32_t)top);
	for (int k = 0; k < RL_BUCKETS; k++)
		put_u32(v + 4 * (k + 1), counts[k]);
	assert_int_equal(redis_command_argv(f->r[0], on_sync, &s, 3, argv, len), 0);
	sync_wait(f, &s);
}

static struct rl_decision check1(struct fx *f, enum rl_kind kind, const char *id, long rpm)
{
	struct got g = {0};
	struct rl_limit lim = {kind, id, rpm};

	ratelimit_check(f->rl[0], &lim, 1, NULL, 0, "r", on_decision, &g);
	run_until(f, &g.calls, 1, 2000);
	assert_int_equal(g.calls, 1);
	assert_false(g.last.degraded);
	return g.last;
}

/* The script reads and writes the documented layout and applies the local algorithm's
 * boundary: a bucket 12 buckets old still counts, one 13 buckets old does not. */
static void test_ratelimit_redis_window_layout(void **state)
{
	struct fx f;
	struct sync_reply now;
	struct rl_decision d;
	uint32_t counts[RL_BUCKETS] = {0};
	char id[3][64], key[3][96];
	long long b;
	int port = redis_port();

	(void)state;
	if (port == 0)
		skip();
	fx_init(&f);
	f.r[0] = fx_redis(&f, port, 1000, 2000);
	f.rl[0] = ratelimit_new(f.base, f.r[0], f.m);
	for (int i = 0; i < 3; i++) {
		snprintf(id[i], sizeof(id[i]), "%s-%d", f.id, i);
		snprintf(key[i], sizeof(key[i]), "fr:rlb:apikey:%s", id[i]);
	}
	do { /* at least 2 s before the next bucket starts, so b holds for the checks below */
		memset(&now, 0, sizeof(now));
		assert_int_equal(redis_command(f.r[0], on_sync, &now, "TIME"), 0);
		sync_wait(&f, &now);
		if (now.sec % RL_BUCKET_S >= RL_BUCKET_S - 2)
			usleep(500000);
	} while (now.sec % RL_BUCKET_S >= RL_BUCKET_S - 2);
	b = now.sec / RL_BUCKET_S;
	/* a full bucket 12 buckets back still counts: refused until it leaves within 5 s */
	counts[0] = 3;
	put_window(&f, key[0], b - 12, counts);
	d = check1(&f, RL_APIKEY, id[0], 3);
	assert_false(d.allowed);
	assert_true(d.retry_after_s >= 1 && d.retry_after_s <= RL_BUCKET_S);
	/* 13 buckets back it is gone: allowed, and the value is rewritten for bucket b */
	put_window(&f, key[1], b - 13, counts);
	d = check1(&f, RL_APIKEY, id[1], 3);
	assert_true(d.allowed);
	assert_int_equal(d.remaining, 2);
	/* counts shift with the buckets: 1 in b - 2 and 2 in b - 4 (+ this one in b) */
	counts[0] = 1;
	counts[2] = 2;
	put_window(&f, key[2], b - 2, counts);
	d = check1(&f, RL_APIKEY, id[2], 10);
	assert_true(d.allowed);
	assert_int_equal(d.remaining, 6);
	assert_true(d.reset_s > 40 && d.reset_s <= 45); /* bucket b - 4 leaves 45 s after b began */
	memset(&now, 0, sizeof(now));
	assert_int_equal(redis_command(f.r[0], on_sync, &now, "GET %s", key[2]), 0);
	sync_wait(&f, &now);
	assert_int_equal(now.len, 4 * (RL_BUCKETS + 1));
	assert_int_equal(get_u32(now.value), (uint32_t)b);
	for (int k = 0; k < RL_BUCKETS; k++) /* 1 in b, 1 in b - 2, 2 in b - 4 */
		assert_int_equal(get_u32(now.value + 4 * (k + 1)),
				 k == 0 || k == 2 ? 1 : k == 4 ? 2 : 0);
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
		cmocka_unit_test(test_ratelimit_local_bucket_boundary),
		cmocka_unit_test(test_ratelimit_local_error_bound),
		cmocka_unit_test(test_ratelimit_local_all_or_nothing),
		cmocka_unit_test(test_ratelimit_local_refusal_reports_longest_wait),
		cmocka_unit_test(test_ratelimit_local_nonces),
		cmocka_unit_test(test_ratelimit_local_bounded),
		cmocka_unit_test(test_ratelimit_ceil),
		cmocka_unit_test(test_ratelimit_headers_format),
		cmocka_unit_test(test_ratelimit_redis_shared_limit),
		cmocka_unit_test(test_ratelimit_redis_numbers_and_nonce),
		cmocka_unit_test(test_ratelimit_redis_window_layout),
		cmocka_unit_test(test_ratelimit_redis_unreachable_is_local),
		cmocka_unit_test(test_ratelimit_redis_slow_is_local),
		cmocka_unit_test(test_ratelimit_disabled_keeps_nonces),
	};

	log_init("test", LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
