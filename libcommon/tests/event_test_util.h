/*
 * event_test_util.h - set-up and check helpers shared by the event backbone tests
 * (test_outbox.c, test_consumer.c): a monotonic clock, blocking SQL for fixtures and checks,
 * a plain librabbitmq connection for publishing and inspecting queues, and a loop pump.
 *
 * Header-only (static inline) because each test file is built on its own. Blocking calls are
 * fine here: they run in the test thread, never inside the code under test's loop callbacks.
 */
#ifndef EVENT_TEST_UTIL_H
#define EVENT_TEST_UTIL_H

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t etu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void etu_quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Runs sql on url; the first column of the first row as a number (0 for commands), -1 on
 * error (printed). */
static inline long long etu_pq_num(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *r = NULL;
	long long v = -1;

	if (PQstatus(c) == CONNECTION_OK) {
		PQsetNoticeProcessor(c, etu_quiet_notice, NULL);
		r = PQexec(c, sql);
		if (PQresultStatus(r) == PGRES_COMMAND_OK)
			v = 0;
		else if (PQresultStatus(r) == PGRES_TUPLES_OK)
			v = PQntuples(r) > 0 ? atoll(PQgetvalue(r, 0, 0)) : 0;
		else
			fprintf(stderr, "pq_num: %s", PQerrorMessage(c));
	}
	PQclear(r);
	PQfinish(c);
	return v;
}

static inline int etu_rmq_ok(amqp_rpc_reply_t r)
{
	return r.reply_type == AMQP_RESPONSE_NORMAL ? 0 : -1;
}

/* A plain connection to the broker on 127.0.0.1:port (guest/guest, vhost "/") with channel 1
 * open in *out; 0, or -1 (*out then still needs etu_rmq_close). */
static inline int etu_rmq_open(int port, amqp_connection_state_t *out)
{
	amqp_socket_t *s;

	*out = amqp_new_connection();
	s = amqp_tcp_socket_new(*out);
	if (!s || amqp_socket_open(s, "127.0.0.1", port) != AMQP_STATUS_OK)
		return -1;
	if (etu_rmq_ok(amqp_login(*out, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest")))
		return -1;
	amqp_channel_open(*out, 1);
	return etu_rmq_ok(amqp_get_rpc_reply(*out));
}

static inline void etu_rmq_close(amqp_connection_state_t *c)
{
	if (!*c)
		return;
	amqp_channel_close(*c, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(*c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(*c);
	*c = NULL;
}

typedef bool (*etu_cond_fn)(void *arg);

/* Runs base until cond(arg) holds (checked every 20 ms) or ms pass; returns cond. */
static inline bool etu_run_until(struct event_base *base, etu_cond_fn cond, void *arg, int ms)
{
	uint64_t end = etu_now_ms() + (uint64_t)ms;
	struct timeval slice = {0, 20000};

	while (!(cond && cond(arg)) && etu_now_ms() < end) {
		event_base_loopexit(base, &slice);
		event_base_dispatch(base);
	}
	return cond && cond(arg);
}

#endif
