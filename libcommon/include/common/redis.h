/*
 * redis.h - asynchronous Redis through hiredis's libevent adapter, with reconnect and timeouts.
 *
 * One struct redis keeps one connection (hiredis pipelines commands on it). It connects in
 * the background and reconnects with backoff after a failure; commands issued while it is
 * down fail at once. Each command has a deadline: if no reply arrives in time the callback
 * gets NULL (and the late reply is dropped). Callbacks are never called from inside
 * redis_command() and the object is never freed inside a hiredis callback.
 */
#ifndef COMMON_REDIS_H
#define COMMON_REDIS_H

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#define MUST_CHECK __attribute__((warn_unused_result))

struct redis;

struct redis_opts {
	const char *host;
	int port;
	const char *password;     /* AUTH after connect when non-empty */
	int db;                   /* SELECT when non-zero */
	int connect_timeout_ms;
	int command_timeout_ms;
};
void redis_opts_default(struct redis_opts *o);

/* Copies o; connects in the background. NULL only on bad options or out of memory. */
struct redis *redis_new(struct event_base *base, const struct redis_opts *o);
bool redis_ready(const struct redis *r);
/* Pending callbacks get (NULL, "shutdown") before it returns. May be called from a redis
 * callback: then the object is freed from a zero timer on the loop (keep the loop running). */
void redis_free(struct redis *r);

/* reply is borrowed for the callback; NULL on error, disconnect or timeout (err says which:
 * "timeout", "disconnected" or "shutdown"). Each callback runs exactly once.
 * A Redis error reply arrives as reply->type == REDIS_REPLY_ERROR with err == NULL. */
typedef void (*redis_cb)(redisReply *reply, const char *err, void *arg);

/* printf-style like redisAsyncCommand. Returns 0, or -1 when not connected (cb not called). */
int redis_command(struct redis *r, redis_cb cb, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5))) MUST_CHECK;
/* Binary-safe argv form. */
int redis_command_argv(struct redis *r, redis_cb cb, void *arg, int argc, const char **argv,
		       const size_t *argvlen) MUST_CHECK;

#endif
