/*
 * test_session_check.c - session validity through its real layers: a fake identity (a
 * libcommon HTTP server answering GET /internal/v1/sessions/{id}, checking the iauth
 * signature), the real HTTP client, and Redis when FR_TEST_REDIS_PORT is set.
 * Covers: coalesced misses, L1 hits, 404 -> revoked, errors -> unavailable (fail closed),
 * close with lookups in flight, and the Redis read / write-back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/http.h"
#include "common/http_client.h"
#include "common/iauth.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redis.h"
#include "session_check.h"
#include "upstreams.h"

#define SECRET "test-internal-secret"
#define U "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
#define T "0b1c2d3e-4f50-4162-8374-95a6b7c8d9e0"

enum fake_mode { FAKE_ACTIVE, FAKE_404, FAKE_500, FAKE_GARBAGE, FAKE_SILENT };

struct fx {
	struct event_base *base;
	struct http_server *srv;
	struct metrics *m;
	struct upstream up;
	struct session_check *sc;
	struct redis *redis;
	enum fake_mode mode;
	int calls;
	int bad_sig;
	struct http_request *held; /* FAKE_SILENT: answered at teardown */
};

struct result {
	int done;
	enum session_verdict v;
	struct gw_session s;
};

static void fake_sessions(struct http_request *req, void *app)
{
	struct fx *f = app;
	const char *sid = http_request_param(req, "session_id");
	struct iauth who;
	char body[512];

	f->calls++;
	if (iauth_check(req, SECRET, &who) != IAUTH_OK || strcmp(who.caller, "gateway") != 0 ||
	    who.user_id[0] != '\0')
		f->bad_sig++;
	switch (f->mode) {
	case FAKE_ACTIVE:
		snprintf(body, sizeof(body),
			 "{\"session_id\":\"%s\",\"user_id\":\"" U "\",\"tenant_id\":\"" T
			 "\",\"active\":true,\"reason\":null,\"is_admin\":true,\"is_tenant_admin\":false}",
			 sid);
		http_reply_raw(req, 200, "application/json", body, strlen(body));
		return;
	case FAKE_404:
		http_reply_error(req, 404, "session_not_found", "No such session.", NULL);
		return;
	case FAKE_500:
		http_reply_error(req, 500, "internal_error", "Boom.", NULL);
		return;
	case FAKE_GARBAGE:
		http_reply_raw(req, 200, "application/json", "{\"active\":", 10);
		return;
	case FAKE_SILENT:
		f->held = req;
		return;
	}
}

static const struct http_route fake_routes[] = {
	{HTTP_GET, "/internal/v1/sessions/{session_id}", fake_sessions, 0, NULL},
};

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Runs the loop until *done reaches want or 3 s pass. */
static void pump_until(struct fx *f, const int *done, int want)
{
	struct event *tick = evtimer_new(f->base, tick_cb, NULL);
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timeval tv = {0, 5000};

		if (done != NULL && *done >= want)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > 3000)
			break;
		evtimer_add(tick, &tv);
		event_base_loop(f->base, EVLOOP_ONCE);
	}
	event_free(tick);
}

static void on_done(void *arg, enum session_verdict v, const struct gw_session *s)
{
	struct result *r = arg;

	r->done++;
	r->v = v;
	r->s = *s;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct http_server_opts so;
	struct http_client_opts co;
	struct session_check_opts o = {SECRET, 1000, 64, 4};

	log_init("test", LOG_LEVEL_ERROR);
	f->base = event_base_new();
	f->m = metrics_new();
	http_server_opts_default(&so, "fake-identity");
	so.access_log = false;
	f->srv = http_server_new(f->base, &so, fake_routes, 1, f);
	assert_int_equal(http_server_listen(f->srv), 0);
	http_client_opts_default(&co);
	co.host = "127.0.0.1";
	co.port = http_server_port(f->srv);
	co.request_timeout_ms = 1000;
	f->up.name = "identity";
	f->up.client = http_client_new(f->base, &co);
	assert_non_null(f->up.client);
	f->sc = session_check_new(NULL, &f->up, f->m, &o);
	assert_non_null(f->sc);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	session_check_close(f->sc);
	if (f->redis != NULL)
		redis_free(f->redis);
	http_client_free(f->up.client);
	session_check_free(f->sc);
	if (f->held != NULL)
		http_reply_empty(f->held, 204);
	http_server_free(f->srv);
	metrics_free(f->m);
	event_base_free(f->base);
	free(f);
	return 0;
}

static void test_session_check_coalesces_and_caches(void **state)
{
	struct fx *f = *state;
	const char *sid = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
	struct session_waiter w[3];
	struct result r = {0};
	struct gw_session out;

	for (int i = 0; i < 3; i++) {
		w[i] = (struct session_waiter){NULL, on_done, &r};
		assert_int_equal(session_check_start(f->sc, sid, "rid-1", "127.0.0.1", &w[i], &out),
				 SESSION_PENDING);
	}
	assert_int_equal(r.done, 0); /* never answered from inside start */
	pump_until(f, &r.done, 3);
	assert_int_equal(r.done, 3);
	assert_int_equal(f->calls, 1); /* one identity call for three requests */
	assert_int_equal(f->bad_sig, 0);
	assert_int_equal(r.v, SESSION_ACTIVE);
	assert_string_equal(r.s.user_id, U);
	assert_string_equal(r.s.tenant_id, T);
	assert_true(r.s.adm);
	assert_false(r.s.tadm);
	/* now an L1 hit: synchronous, no call */
	assert_int_equal(session_check_start(f->sc, sid, "rid-2", "127.0.0.1", &w[0], &out),
			 SESSION_ACTIVE);
	assert_string_equal(out.user_id, U);
	assert_int_equal(f->calls, 1);
	assert_int_equal(session_check_l1_count(f->sc), 1);
}

static void test_session_check_404_is_revoked(void **state)
{
	struct fx *f = *state;
	const char *sid = "11111111-2222-4333-8444-555555555555";
	struct session_waiter w = {NULL, on_done, NULL};
	struct result r = {0};
	struct gw_session out;

	f->mode = FAKE_404;
	w.arg = &r;
	assert_int_equal(session_check_start(f->sc, sid, "rid", "127.0.0.1", &w, &out),
			 SESSION_PENDING);
	pump_until(f, &r.done, 1);
	assert_int_equal(r.v, SESSION_REVOKED);
	assert_false(r.s.active);
	assert_string_equal(r.s.reason, "not_found");
	/* the revoked verdict is cached too */
	assert_int_equal(session_check_start(f->sc, sid, "rid", "127.0.0.1", &w, &out),
			 SESSION_REVOKED);
	assert_int_equal(f->calls, 1);
}

static void test_session_check_fails_closed(void **state)
{
	struct fx *f = *state;
	const enum fake_mode modes[] = {FAKE_500, FAKE_GARBAGE};
	struct result r = {0};
	struct session_waiter w = {NULL, on_done, &r};
	struct gw_session out;
	char sid[UUID_STR_LEN];

	for (size_t i = 0; i < 2; i++) {
		f->mode = modes[i];
		snprintf(sid, sizeof(sid), "22222222-2222-4333-8444-%012zu", i);
		r.done = 0;
		assert_int_equal(session_check_start(f->sc, sid, "rid", "127.0.0.1", &w, &out),
				 SESSION_PENDING);
		pump_until(f, &r.done, 1);
		assert_int_equal(r.done, 1);
		assert_int_equal(r.v, SESSION_UNAVAILABLE);
		/* nothing cached: the next request asks again */
		assert_int_equal(session_check_start(f->sc, sid, "rid", "127.0.0.1", &w, &out),
				 SESSION_PENDING);
		pump_until(f, &r.done, 2);
	}
	assert_int_equal(f->calls, 4);
	/* a malformed session id never reaches identity */
	assert_int_equal(session_check_start(f->sc, "nope", "rid", "127.0.0.1", &w, &out),
			 SESSION_UNAVAILABLE);
	assert_int_equal(f->calls, 4);
}

static void test_session_check_identity_down(void **state)
{
	struct fx *f = *state;
	struct http_client_opts co;
	struct result r = {0};
	struct session_waiter w = {NULL, on_done, &r};
	struct gw_session out;

	/* point the upstream at a closed port */
	http_client_free(f->up.client);
	http_client_opts_default(&co);
	co.host = "127.0.0.1";
	co.port = 1;
	f->up.client = http_client_new(f->base, &co);
	assert_int_equal(session_check_start(f->sc, "33333333-2222-4333-8444-555555555555", "rid",
					     "127.0.0.1", &w, &out),
			 SESSION_PENDING);
	pump_until(f, &r.done, 1);
	assert_int_equal(r.v, SESSION_UNAVAILABLE);
	assert_false(f->up.reached);
}

static void test_session_check_close_fails_waiters(void **state)
{
	struct fx *f = *state;
	struct result r = {0};
	struct session_waiter w[2] = {{NULL, on_done, &r}, {NULL, on_done, &r}};
	struct gw_session out;
	const char *sid = "44444444-2222-4333-8444-555555555555";

	f->mode = FAKE_SILENT;
	assert_int_equal(session_check_start(f->sc, sid, "rid", "127.0.0.1", &w[0], &out),
			 SESSION_PENDING);
	assert_int_equal(session_check_start(f->sc, sid, "rid", "127.0.0.1", &w[1], &out),
			 SESSION_PENDING);
	pump_until(f, &f->calls, 1); /* the call reached identity, which holds it */
	session_check_close(f->sc);
	assert_int_equal(r.done, 2);
	assert_int_equal(r.v, SESSION_UNAVAILABLE);
	/* new lookups after close are refused at once */
	assert_int_equal(session_check_start(f->sc, "55555555-2222-4333-8444-555555555555", "rid",
					     "127.0.0.1", &w[0], &out),
			 SESSION_UNAVAILABLE);
	/* teardown frees the client (its callback releases the orphaned lookup) */
}

/* ---- Redis layer (FR_TEST_REDIS_PORT) ------------------------------------------------------ */

struct redis_get {
	int done;
	char value[256];
	long long ttl;
};

static void on_get(redisReply *reply, const char *err, void *arg)
{
	struct redis_get *g = arg;

	(void)err;
	if (reply != NULL && reply->type == REDIS_REPLY_STRING)
		snprintf(g->value, sizeof(g->value), "%s", reply->str);
	g->done++;
}

static void on_ttl(redisReply *reply, const char *err, void *arg)
{
	struct redis_get *g = arg;

	(void)err;
	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
		g->ttl = reply->integer;
	g->done++;
}

static bool redis_connect(struct fx *f)
{
	const char *port = getenv("FR_TEST_REDIS_PORT");
	struct redis_opts ro;
	struct session_check_opts o = {SECRET, 1000, 64, 4};
	int ready = 0;

	if (port == NULL || port[0] == '\0')
		return false;
	redis_opts_default(&ro);
	ro.host = "127.0.0.1";
	ro.port = atoi(port);
	f->redis = redis_new(f->base, &ro);
	assert_non_null(f->redis);
	for (int i = 0; i < 200 && !redis_ready(f->redis); i++)
		pump_until(f, &ready, 1); /* ready stays 0: one 3 s budget is plenty */
	assert_true(redis_ready(f->redis));
	session_check_free(f->sc);
	f->sc = session_check_new(f->redis, &f->up, f->m, &o);
	return true;
}

static void test_session_check_redis_layer(void **state)
{
	struct fx *f = *state;
	char sid[UUID_STR_LEN], sid2[UUID_STR_LEN];
	struct result r = {0};
	struct session_waiter w = {NULL, on_done, &r};
	struct redis_get g = {0};
	struct gw_session out;
	unsigned char rnd[6];

	if (!redis_connect(f))
		skip();
	assert_int_equal(crypto_random(rnd, sizeof(rnd)), 0);
	snprintf(sid, sizeof(sid), "66666666-2222-4333-8444-%02x%02x%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	memcpy(sid2, sid, sizeof(sid));
	sid2[0] = '7';
	/* a value in Redis answers without identity */
	assert_int_equal(redis_command(f->redis, on_get, &g, "SET fr:sess:%s %s EX 10", sid,
				       "revoked|user_banned"),
			 0);
	pump_until(f, &g.done, 1);
	assert_int_equal(session_check_start(f->sc, sid, "rid", "127.0.0.1", &w, &out),
			 SESSION_PENDING);
	pump_until(f, &r.done, 1);
	assert_int_equal(r.v, SESSION_REVOKED);
	assert_string_equal(r.s.reason, "user_banned");
	assert_int_equal(f->calls, 0);
	/* a miss goes to identity and writes the verdict back with the configured TTL */
	r.done = 0;
	assert_int_equal(session_check_start(f->sc, sid2, "rid", "127.0.0.1", &w, &out),
			 SESSION_PENDING);
	pump_until(f, &r.done, 1);
	assert_int_equal(r.v, SESSION_ACTIVE);
	assert_int_equal(f->calls, 1);
	g.done = 0;
	assert_int_equal(redis_command(f->redis, on_get, &g, "GET fr:sess:%s", sid2), 0);
	assert_int_equal(redis_command(f->redis, on_ttl, &g, "TTL fr:sess:%s", sid2), 0);
	pump_until(f, &g.done, 2);
	assert_string_equal(g.value, "active|" U "|" T "|admin");
	assert_true(g.ttl > 0 && g.ttl <= 4);
	/* The race of session_cache.h: a lookup misses Redis and asks identity; meanwhile a
	 * revocation marker is written; identity's (stale) "active" answer must not replace it. */
	char sid3[UUID_STR_LEN];

	memcpy(sid3, sid, sizeof(sid));
	sid3[0] = '8';
	r.done = 0;
	assert_int_equal(session_check_start(f->sc, sid3, "rid", "127.0.0.1", &w, &out),
			 SESSION_PENDING); /* its GET is on the wire first */
	g.done = 0;
	assert_int_equal(redis_command(f->redis, on_get, &g, "SET fr:sess:%s %s EX 10", sid3,
				       "revoked|revoked"),
			 0);
	pump_until(f, &r.done, 1);
	assert_int_equal(r.v, SESSION_ACTIVE); /* this request got identity's answer ... */
	pump_until(f, &g.done, 1);
	g.done = 0;
	assert_int_equal(redis_command(f->redis, on_get, &g, "GET fr:sess:%s", sid3), 0);
	pump_until(f, &g.done, 1);
	assert_string_equal(g.value, "revoked|revoked"); /* ... but the marker stands */
	g.done = 0;
	assert_int_equal(redis_command(f->redis, on_get, &g, "DEL fr:sess:%s fr:sess:%s fr:sess:%s",
				       sid, sid2, sid3),
			 0);
	pump_until(f, &g.done, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_session_check_coalesces_and_caches, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_session_check_404_is_revoked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_check_fails_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_check_identity_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_check_close_fails_waiters, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_session_check_redis_layer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
