/*
 * test_redis.c - cmocka tests of redis.c against a real Redis (FR_TEST_REDIS_PORT; skipped
 * when unset): round trips, pipelining, error replies, a dead port, command timeouts with the
 * late reply dropped, AUTH/SELECT handshake, reconnect after the server drops us, and
 * redis_free() with commands still pending. Keys are prefixed with the test's pid.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/redis.h"

struct rt {
	struct event_base *base;
	struct event *tick;
	struct redis *r;
	int port;
	char prefix[64];
};

struct result {
	int calls;
	int type;          /* reply type, or -1 for NULL */
	char err[32];
	char str[64];
	long long integer;
	int order_errors;  /* pipelined replies out of order */
	int next_expected;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop until *flag becomes true or ms pass; returns the flag. */
static bool run_until(struct rt *t, const int *counter, int want, int ms)
{
	long long end = now_ms() + ms;

	while ((counter == NULL || *counter < want) && now_ms() < end)
		event_base_loop(t->base, EVLOOP_ONCE);
	return counter != NULL && *counter >= want;
}

static void run_for(struct rt *t, int ms)
{
	run_until(t, NULL, 0, ms);
}

static bool wait_ready(struct rt *t, struct redis *r, int ms)
{
	long long end = now_ms() + ms;

	while (!redis_ready(r) && now_ms() < end)
		event_base_loop(t->base, EVLOOP_ONCE);
	return redis_ready(r);
}

static struct redis *connect_opts(struct rt *t, int port, const char *password, int db,
				  int cmd_timeout_ms)
{
	struct redis_opts o;

	redis_opts_default(&o);
	o.port = port;
	o.password = password;
	o.db = db;
	o.connect_timeout_ms = 500;
	o.command_timeout_ms = cmd_timeout_ms;
	return redis_new(t->base, &o);
}

static int setup(void **state)
{
	const char *p = getenv("FR_TEST_REDIS_PORT");
	struct rt *t = calloc(1, sizeof(*t));
	struct timeval tv = {0, 20000};

	assert_non_null(t);
	if (p != NULL && *p != '\0')
		t->port = atoi(p);
	t->base = event_base_new();
	assert_non_null(t->base);
	t->tick = event_new(t->base, -1, EV_PERSIST, on_tick, NULL);
	assert_int_equal(event_add(t->tick, &tv), 0);
	snprintf(t->prefix, sizeof(t->prefix), "fr:test_redis:%d", (int)getpid());
	log_init("test_redis", LOG_LEVEL_ERROR);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct rt *t = *state;

	redis_free(t->r);
	event_free(t->tick);
	event_base_free(t->base);
	free(t);
	return 0;
}

/* Skips when no Redis is configured; otherwise connects t->r. */
static struct rt *need_redis(void **state, int cmd_timeout_ms)
{
	struct rt *t = *state;

	if (t->port == 0)
		skip();
	t->r = connect_opts(t, t->port, NULL, 0, cmd_timeout_ms);
	assert_non_null(t->r);
	assert_true(wait_ready(t, t->r, 3000));
	return t;
}

static void record(redisReply *reply, const char *err, void *arg)
{
	struct result *res = arg;

	res->calls++;
	res->type = reply != NULL ? reply->type : -1;
	snprintf(res->err, sizeof(res->err), "%s", err != NULL ? err : "");
	res->str[0] = '\0';
	if (reply != NULL && (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS ||
			      reply->type == REDIS_REPLY_ERROR))
		snprintf(res->str, sizeof(res->str), "%s", reply->str);
	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
		res->integer = reply->integer;
}

static void test_redis_set_get_roundtrip(void **state)
{
	struct rt *t = need_redis(state, 2000);
	struct result set = {0}, get = {0}, del = {0};
	const char *argv[3];
	size_t argvlen[3];
	char key[128];

	snprintf(key, sizeof(key), "%s:k1", t->prefix);
	argv[0] = "SET";
	argv[1] = key;
	argv[2] = "v\0al"; /* binary-safe */
	argvlen[0] = 3;
	argvlen[1] = strlen(key);
	argvlen[2] = 4;
	assert_int_equal(redis_command_argv(t->r, record, &set, 3, argv, argvlen), 0);
	assert_int_equal(set.calls, 0); /* never called from inside redis_command */
	assert_int_equal(redis_command(t->r, record, &get, "STRLEN %s", key), 0);
	assert_int_equal(redis_command(t->r, record, &del, "DEL %s", key), 0);
	assert_true(run_until(t, &del.calls, 1, 3000));
	assert_int_equal(set.type, REDIS_REPLY_STATUS);
	assert_string_equal(set.str, "OK");
	assert_int_equal(get.type, REDIS_REPLY_INTEGER);
	assert_int_equal(get.integer, 4);
	assert_int_equal(del.integer, 1);
	assert_int_equal(set.calls + get.calls + del.calls, 3);
}

static void record_incr(redisReply *reply, const char *err, void *arg)
{
	struct result *res = arg;

	res->calls++;
	if (reply == NULL || reply->type != REDIS_REPLY_INTEGER ||
	    reply->integer != ++res->next_expected)
		res->order_errors++;
}

static void test_redis_pipelined_many(void **state)
{
	struct rt *t = need_redis(state, 5000);
	struct result incr = {0}, del = {0};
	char key[128];

	snprintf(key, sizeof(key), "%s:counter", t->prefix);
	assert_int_equal(redis_command(t->r, record, &del, "DEL %s", key), 0);
	assert_true(run_until(t, &del.calls, 1, 3000));
	for (int i = 0; i < 2000; i++)
		assert_int_equal(redis_command(t->r, record_incr, &incr, "INCR %s", key), 0);
	assert_true(run_until(t, &incr.calls, 2000, 10000));
	assert_int_equal(incr.order_errors, 0);
	assert_int_equal(incr.next_expected, 2000);
	assert_int_equal(redis_command(t->r, record, &del, "DEL %s", key), 0);
	assert_true(run_until(t, &del.calls, 2, 3000));
}

static void test_redis_error_reply(void **state)
{
	struct rt *t = need_redis(state, 2000);
	struct result res = {0};

	assert_int_equal(redis_command(t->r, record, &res, "NOSUCHCOMMAND %d", 1), 0);
	assert_true(run_until(t, &res.calls, 1, 3000));
	assert_int_equal(res.type, REDIS_REPLY_ERROR);
	assert_string_equal(res.err, "");
	assert_non_null(strstr(res.str, "ERR"));
	assert_true(redis_ready(t->r));
}

/* A bound but not listening TCP port: connecting to it is refused. */
static int dead_port(int *fd)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*fd >= 0);
	assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static void test_redis_not_listening(void **state)
{
	struct rt *t = *state;
	struct result res = {0};
	int fd;

	t->r = connect_opts(t, dead_port(&fd), NULL, 0, 200);
	assert_non_null(t->r);
	assert_false(redis_ready(t->r));
	assert_int_equal(redis_command(t->r, record, &res, "PING"), -1);
	run_for(t, 700); /* several reconnect attempts with backoff */
	assert_false(redis_ready(t->r));
	assert_int_equal(redis_command(t->r, record, &res, "PING"), -1);
	assert_int_equal(res.calls, 0);
	close(fd);
}

static void test_redis_command_timeout(void **state)
{
	struct rt *t = need_redis(state, 200);
	struct result blpop = {0}, ping = {0};
	long long start = now_ms();

	assert_int_equal(redis_command(t->r, record, &blpop, "BLPOP %s:empty 1", t->prefix), 0);
	assert_true(run_until(t, &blpop.calls, 1, 3000));
	assert_int_equal(blpop.type, -1);
	assert_string_equal(blpop.err, "timeout");
	assert_true(now_ms() - start < 900);
	/* the late reply (nil after 1 s) must be dropped, not delivered */
	run_for(t, 1300);
	assert_int_equal(blpop.calls, 1);
	assert_true(redis_ready(t->r));
	assert_int_equal(redis_command(t->r, record, &ping, "PING"), 0);
	assert_true(run_until(t, &ping.calls, 1, 3000));
	assert_string_equal(ping.str, "PONG");
}

static void test_redis_free_with_pending(void **state)
{
	struct rt *t = need_redis(state, 300);
	struct result blpop = {0}, gets[3] = {{0}};

	assert_int_equal(redis_command(t->r, record, &blpop, "BLPOP %s:empty 3", t->prefix), 0);
	assert_true(run_until(t, &blpop.calls, 1, 3000)); /* timed out, still pending in hiredis */
	for (int i = 0; i < 3; i++)
		assert_int_equal(redis_command(t->r, record, &gets[i], "GET %s:x", t->prefix), 0);
	redis_free(t->r);
	t->r = NULL;
	assert_int_equal(blpop.calls, 1);
	assert_string_equal(blpop.err, "timeout");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(gets[i].calls, 1);
		assert_int_equal(gets[i].type, -1);
		assert_string_equal(gets[i].err, "shutdown");
	}
	run_for(t, 100);
	for (int i = 0; i < 3; i++)
		assert_int_equal(gets[i].calls, 1);
}

struct free_in_cb {
	struct redis *r;
	struct result res;
};

static void free_from_callback(redisReply *reply, const char *err, void *arg)
{
	struct free_in_cb *f = arg;

	record(reply, err, &f->res);
	if (f->r != NULL) {
		redis_free(f->r); /* from inside hiredis: must be deferred safely */
		f->r = NULL;
	}
}

static void test_redis_free_inside_callback(void **state)
{
	struct rt *t = need_redis(state, 2000);
	struct free_in_cb f = {0};
	struct result after = {0};

	f.r = t->r;
	t->r = NULL;
	assert_int_equal(redis_command(f.r, free_from_callback, &f, "PING"), 0);
	assert_int_equal(redis_command(f.r, record, &after, "PING"), 0);
	assert_true(run_until(t, &after.calls, 1, 3000));
	assert_int_equal(f.res.calls, 1);
	assert_string_equal(f.res.str, "PONG");
	assert_int_equal(after.calls, 1);
	assert_string_equal(after.err, "shutdown");
	run_for(t, 100); /* the deferred free runs here */
	assert_null(f.r);
}

static void test_redis_select_db(void **state)
{
	struct rt *t = *state;
	struct redis *r0, *r5;
	struct result set = {0}, get0 = {0}, get5 = {0}, del = {0};
	char key[128];

	if (t->port == 0)
		skip();
	snprintf(key, sizeof(key), "%s:db", t->prefix);
	r5 = connect_opts(t, t->port, NULL, 5, 2000);
	r0 = connect_opts(t, t->port, NULL, 0, 2000);
	assert_true(wait_ready(t, r5, 3000));
	assert_true(wait_ready(t, r0, 3000));
	assert_int_equal(redis_command(r5, record, &set, "SET %s five", key), 0);
	assert_true(run_until(t, &set.calls, 1, 3000));
	assert_int_equal(redis_command(r0, record, &get0, "GET %s", key), 0);
	assert_int_equal(redis_command(r5, record, &get5, "GET %s", key), 0);
	assert_int_equal(redis_command(r5, record, &del, "DEL %s", key), 0);
	assert_true(run_until(t, &del.calls, 1, 3000));
	assert_true(run_until(t, &get0.calls, 1, 3000));
	assert_int_equal(get0.type, REDIS_REPLY_NIL);
	assert_string_equal(get5.str, "five");
	redis_free(r0);
	redis_free(r5);
}

static void test_redis_bad_password_never_ready_not_logged(void **state)
{
	struct rt *t = *state;
	char path[] = "/tmp/test_redis_XXXXXX", buf[8192];
	int fd, saved;
	ssize_t n;

	if (t->port == 0)
		skip();
	fd = mkstemp(path);
	saved = dup(STDERR_FILENO);
	assert_true(fd >= 0 && saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	log_init("test_redis", LOG_LEVEL_DEBUG);
	t->r = connect_opts(t, t->port, "s3cr3t-pw", 0, 200);
	assert_non_null(t->r);
	run_for(t, 600);
	assert_false(redis_ready(t->r));
	redis_free(t->r);
	t->r = NULL;
	log_init("test_redis", LOG_LEVEL_ERROR);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	close(fd);
	unlink(path);
	assert_non_null(strstr(buf, "redis handshake failed"));
	assert_null(strstr(buf, "s3cr3t"));
}

struct capture {
	char path[32];
	int fd, saved;
};

/* Sends stderr (at warn level) to a temporary file until capture_end(). */
static void capture_start(struct capture *c)
{
	snprintf(c->path, sizeof(c->path), "/tmp/test_redis_XXXXXX");
	c->fd = mkstemp(c->path);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->fd >= 0 && c->saved >= 0);
	assert_true(dup2(c->fd, STDERR_FILENO) >= 0);
	log_init("test_redis", LOG_LEVEL_WARN);
}

/* Restores stderr; returns the captured text (malloc'd). */
static char *capture_end(struct capture *c)
{
	off_t size;
	char *buf;

	log_init("test_redis", LOG_LEVEL_ERROR);
	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	size = lseek(c->fd, 0, SEEK_END);
	buf = calloc(1, (size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(c->fd, buf, (size_t)size, 0), size);
	close(c->fd);
	unlink(c->path);
	return buf;
}

/* A listener that never accepts, its backlog already full: connects hang. */
static void test_redis_connect_timeout(void **state)
{
	struct rt *t = *state;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fill[4];
	struct capture cap;
	char *log;

	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(fill[i] >= 0);
		(void)connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	/* with a password the handshake can never finish even if the TCP connect does */
	t->r = connect_opts(t, ntohs(a.sin_port), "pw", 0, 200);
	assert_non_null(t->r);
	capture_start(&cap);
	run_for(t, 1200);
	log = capture_end(&cap);
	assert_false(redis_ready(t->r));
	assert_non_null(strstr(log, "redis connect timeout"));
	assert_null(strstr(log, "\"pw\""));
	free(log);
	redis_free(t->r);
	t->r = NULL;
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
}

static void test_redis_reconnects_after_drop(void **state)
{
	struct rt *t = need_redis(state, 2000);
	struct result id = {0}, kill = {0}, ping = {0};
	struct capture cap;
	char *log;

	assert_int_equal(redis_command(t->r, record, &id, "CLIENT ID"), 0);
	assert_true(run_until(t, &id.calls, 1, 3000));
	capture_start(&cap);
	assert_int_equal(redis_command(t->r, record, &kill, "CLIENT KILL ID %lld SKIPME no", id.integer), 0);
	run_until(t, &kill.calls, 1, 3000);
	run_for(t, 50);
	log = capture_end(&cap);
	assert_int_equal(kill.calls, 1);
	/* either the reply squeezed through or the drop was reported */
	assert_true(kill.type == -1 || kill.type == REDIS_REPLY_INTEGER);
	assert_non_null(strstr(log, "redis disconnected"));
	free(log);
	assert_true(wait_ready(t, t->r, 3000));
	assert_int_equal(redis_command(t->r, record, &ping, "PING"), 0);
	assert_true(run_until(t, &ping.calls, 1, 3000));
	assert_string_equal(ping.str, "PONG");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_redis_set_get_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_pipelined_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_error_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_not_listening, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_command_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_free_with_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_free_inside_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_select_db, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_bad_password_never_ready_not_logged, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_redis_connect_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_reconnects_after_drop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
