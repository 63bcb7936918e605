/*
 * redis.c - one asynchronous Redis connection on the event loop (hiredis + libevent adapter).
 *
 * Owns the redisAsyncContext, its connect / retry / deferred-drop timers, and a small wrapper
 * per command (struct redis_cmd) carrying the caller's callback and its deadline timer.
 *
 * Rules that keep it memory-safe:
 *  - hiredis frees the context itself after a failed connect or a lost connection; we only
 *    forget our pointer (r->ac = NULL) in those callbacks.
 *  - we call redisAsyncFree() only from our own timers or from redis_free() outside hiredis
 *    callbacks; a decision taken inside a hiredis callback is deferred with a zero timer.
 *  - a command wrapper is freed only when hiredis hands it back (reply, or NULL when the
 *    context goes away); a timed-out wrapper is marked done so the caller is told once.
 */
#include "common/redis.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 5000

enum redis_state {
	REDIS_ST_IDLE,       /* no context; the retry timer is armed */
	REDIS_ST_CONNECTING, /* TCP connect in progress; the connect timer is armed */
	REDIS_ST_HANDSHAKE,  /* connected, AUTH / SELECT in flight; connect timer still armed */
	REDIS_ST_READY,      /* commands accepted */
	REDIS_ST_CLOSED,     /* redis_free() called; nothing is accepted any more */
};

struct redis {
	struct event_base *base;
	char *host;
	char *password;
	int port;
	int db;
	int connect_timeout_ms;
	int command_timeout_ms;

	enum redis_state state;
	redisAsyncContext *ac;
	unsigned gen;          /* bumped for every new context */
	int handshake_left;    /* AUTH / SELECT replies still expected */
	int backoff_ms;
	struct event *connect_timer;
	struct event *retry_timer;
	struct event *drop_timer; /* zero timer: drop context `drop_gen` outside hiredis */
	unsigned drop_gen;
	int in_callback;       /* depth of caller callbacks run from inside hiredis */
	bool free_requested;   /* redis_free() called from such a callback */
	struct event *free_timer;
};

struct redis_cmd {
	struct redis *r;
	redis_cb cb;
	void *arg;
	struct event *timer;
	bool done; /* the caller has been told (timeout); drop whatever hiredis brings */
};

static void redis_connect_start(struct redis *r);
static void redis_destroy(struct redis *r);

static void redis_set_state(struct redis *r, enum redis_state to)
{
	static const unsigned legal[] = {
		[REDIS_ST_IDLE] = 1u << REDIS_ST_CONNECTING | 1u << REDIS_ST_CLOSED,
		[REDIS_ST_CONNECTING] = 1u << REDIS_ST_HANDSHAKE | 1u << REDIS_ST_READY |
					1u << REDIS_ST_IDLE | 1u << REDIS_ST_CLOSED,
		[REDIS_ST_HANDSHAKE] = 1u << REDIS_ST_READY | 1u << REDIS_ST_IDLE | 1u << REDIS_ST_CLOSED,
		[REDIS_ST_READY] = 1u << REDIS_ST_IDLE | 1u << REDIS_ST_CLOSED,
		[REDIS_ST_CLOSED] = 0,
	};

	if (!(legal[r->state] & (1u << to))) {
		log_error(NULL, "redis: illegal state change", LI("from", r->state), LI("to", to));
		abort(); /* a broken invariant, never bad input */
	}
	r->state = to;
}

void redis_opts_default(struct redis_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = 6379;
	o->connect_timeout_ms = 2000;
	o->command_timeout_ms = 1000;
}

static struct timeval redis_tv(int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	return tv;
}

/* Arms the retry timer with the current backoff, then doubles it. */
static void redis_retry_later(struct redis *r)
{
	struct timeval tv = redis_tv(r->backoff_ms);

	redis_set_state(r, REDIS_ST_IDLE);
	evtimer_del(r->connect_timer);
	if (evtimer_add(r->retry_timer, &tv) != 0)
		log_error(NULL, "redis: cannot arm retry timer");
	r->backoff_ms = r->backoff_ms * 2 > REDIS_BACKOFF_MAX_MS ? REDIS_BACKOFF_MAX_MS
								 : r->backoff_ms * 2;
}

/* Frees the current context. Never called from inside a hiredis callback. */
static void redis_drop(struct redis *r)
{
	redisAsyncContext *ac = r->ac;

	r->ac = NULL; /* so the callbacks redisAsyncFree() runs see a stale context */
	if (ac != NULL)
		redisAsyncFree(ac);
}

static void redis_on_ready(struct redis *r)
{
	redis_set_state(r, REDIS_ST_READY);
	evtimer_del(r->connect_timer);
	r->backoff_ms = REDIS_BACKOFF_MIN_MS;
	log_info(NULL, "redis connected", LS("host", r->host), LI("port", r->port));
}

/* Inside hiredis: ask for the context to be dropped from a zero timer. */
static void redis_drop_deferred(struct redis *r)
{
	struct timeval zero = {0, 0};

	r->drop_gen = r->gen;
	if (evtimer_add(r->drop_timer, &zero) != 0)
		log_error(NULL, "redis: cannot arm drop timer");
}

static void redis_on_drop_timer(evutil_socket_t fd, short what, void *arg)
{
	struct redis *r = arg;

	if (r->ac == NULL || r->gen != r->drop_gen || r->state == REDIS_ST_CLOSED)
		return; /* already gone by itself */
	redis_drop(r);
	redis_retry_later(r);
}

static void redis_on_handshake(redisAsyncContext *ac, void *reply_, void *arg)
{
	struct redis *r = arg;
	redisReply *reply = reply_;

	if (ac != r->ac || r->state != REDIS_ST_HANDSHAKE)
		return; /* stale context, or it is going away (on_disconnect follows) */
	if (reply == NULL)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		/* the error text never contains the password */
		log_error(NULL, "redis handshake failed", LS("error", reply->str));
		redis_drop_deferred(r);
		return;
	}
	if (--r->handshake_left == 0)
		redis_on_ready(r);
}

static void redis_on_connect(const redisAsyncContext *ac, int status)
{
	struct redis *r = ac->data;
	redisAsyncContext *c = r->ac;

	if (ac != c)
		return;
	if (r->state == REDIS_ST_CLOSED) {
		if (status != REDIS_OK)
			r->ac = NULL; /* hiredis frees it */
		return;
	}
	if (status != REDIS_OK) {
		/* hiredis frees the context when this returns */
		log_warn(NULL, "redis connect failed", LS("host", r->host), LI("port", r->port),
			 LS("error", ac->errstr), LI("retry_ms", r->backoff_ms));
		r->ac = NULL;
		redis_retry_later(r);
		return;
	}
	if ((r->password == NULL || r->password[0] == '\0') && r->db == 0) {
		redis_on_ready(r);
		return;
	}
	redis_set_state(r, REDIS_ST_HANDSHAKE);
	r->handshake_left = 0;
	if (r->password != NULL && r->password[0] != '\0') {
		if (redisAsyncCommand(c, redis_on_handshake, r, "AUTH %s", r->password) != REDIS_OK)
			goto fail;
		r->handshake_left++;
	}
	if (r->db != 0) {
		if (redisAsyncCommand(c, redis_on_handshake, r, "SELECT %d", r->db) != REDIS_OK)
			goto fail;
		r->handshake_left++;
	}
	return;
fail:
	redis_drop_deferred(r);
}

static void redis_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis *r = ac->data;

	if (ac != r->ac)
		return; /* we freed it ourselves */
	/* hiredis frees the context when this returns */
	r->ac = NULL;
	if (r->state == REDIS_ST_CLOSED)
		return; /* redis_free() is pending */
	log_warn(NULL, "redis disconnected", LS("host", r->host), LI("port", r->port),
		 LS("error", status == REDIS_OK ? NULL : ac->errstr), LI("retry_ms", r->backoff_ms));
	redis_retry_later(r);
}

static void redis_on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct redis *r = arg;

	if (r->state != REDIS_ST_CONNECTING && r->state != REDIS_ST_HANDSHAKE)
		return;
	log_warn(NULL, "redis connect timeout", LS("host", r->host), LI("port", r->port),
		 LI("retry_ms", r->backoff_ms));
	redis_drop(r);
	redis_retry_later(r);
}

static void redis_on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct redis *r = arg;

	if (r->state == REDIS_ST_IDLE)
		redis_connect_start(r);
}

/* Opens a new context (outside any hiredis callback). */
static void redis_connect_start(struct redis *r)
{
	struct timeval tv = redis_tv(r->connect_timeout_ms > 0 ? r->connect_timeout_ms : 2000);
	redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);

	redis_set_state(r, REDIS_ST_CONNECTING);
	r->gen++;
	if (ac == NULL || ac->err) {
		log_warn(NULL, "redis connect failed", LS("host", r->host), LI("port", r->port),
			 LS("error", ac != NULL ? ac->errstr : "out of memory"),
			 LI("retry_ms", r->backoff_ms));
		if (ac != NULL)
			redisAsyncFree(ac);
		redis_retry_later(r);
		return;
	}
	ac->data = r;
	if (redisLibeventAttach(ac, r->base) != REDIS_OK ||
	    redisAsyncSetConnectCallback(ac, redis_on_connect) != REDIS_OK ||
	    redisAsyncSetDisconnectCallback(ac, redis_on_disconnect) != REDIS_OK) {
		redisAsyncFree(ac);
		redis_retry_later(r);
		return;
	}
	r->ac = ac;
	if (evtimer_add(r->connect_timer, &tv) != 0)
		log_error(NULL, "redis: cannot arm connect timer");
}

/* ---- commands ---------------------------------------------------------------------------- */

static void redis_cmd_free(struct redis_cmd *w)
{
	if (w->timer != NULL)
		event_free(w->timer);
	free(w);
}

static void redis_on_free_timer(evutil_socket_t fd, short what, void *arg)
{
	redis_destroy(arg);
}

/* hiredis hands every wrapper back exactly once: with the reply, or NULL when the context
 * goes away (lost connection, redisAsyncFree). */
static void redis_on_reply(redisAsyncContext *ac, void *reply_, void *arg)
{
	struct redis_cmd *w = arg;
	struct redis *r = w->r;
	redisReply *reply = reply_;
	redis_cb cb = w->cb;
	void *cb_arg = w->arg;
	bool done = w->done;
	const char *err = NULL;

	redis_cmd_free(w);
	if (done || cb == NULL)
		return;
	if (r->state == REDIS_ST_CLOSED) {
		reply = NULL;
		err = "shutdown";
	} else if (reply == NULL) {
		err = "disconnected";
	}
	r->in_callback++;
	cb(reply, err, cb_arg);
	r->in_callback--;
	if (r->in_callback == 0 && r->free_requested) {
		struct timeval zero = {0, 0};

		r->free_requested = false; /* redis_destroy() runs from the free timer */
		if (evtimer_add(r->free_timer, &zero) != 0)
			log_error(NULL, "redis: cannot arm free timer");
	}
}

static void redis_on_cmd_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct redis_cmd *w = arg;
	redis_cb cb = w->cb;

	/* the wrapper stays with hiredis until the late reply (or NULL) comes back */
	w->done = true;
	w->cb = NULL;
	if (cb != NULL)
		cb(NULL, "timeout", w->arg); /* w may be freed from here on (redis_free) */
}

static struct redis_cmd *redis_cmd_new(struct redis *r, redis_cb cb, void *arg)
{
	struct redis_cmd *w;

	if (r == NULL || r->state != REDIS_ST_READY || r->ac == NULL ||
	    (r->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING)) != 0)
		return NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->r = r;
	w->cb = cb;
	w->arg = arg;
	if (r->command_timeout_ms > 0 &&
	    (w->timer = evtimer_new(r->base, redis_on_cmd_timeout, w)) == NULL) {
		free(w);
		return NULL;
	}
	return w;
}

/* After hiredis accepted the command: starts its deadline. */
static int redis_cmd_started(struct redis *r, struct redis_cmd *w)
{
	struct timeval tv = redis_tv(r->command_timeout_ms);

	if (w->timer != NULL && evtimer_add(w->timer, &tv) != 0)
		log_error(NULL, "redis: cannot arm command timer");
	return 0;
}

int redis_command(struct redis *r, redis_cb cb, void *arg, const char *fmt, ...)
{
	struct redis_cmd *w = redis_cmd_new(r, cb, arg);
	va_list ap;
	int rc;

	if (w == NULL)
		return -1;
	va_start(ap, fmt);
	rc = redisvAsyncCommand(r->ac, redis_on_reply, w, fmt, ap);
	va_end(ap);
	if (rc != REDIS_OK) {
		redis_cmd_free(w);
		return -1;
	}
	return redis_cmd_started(r, w);
}

int redis_command_argv(struct redis *r, redis_cb cb, void *arg, int argc, const char **argv,
		       const size_t *argvlen)
{
	struct redis_cmd *w;

	if (argc < 1 || argv == NULL || (w = redis_cmd_new(r, cb, arg)) == NULL)
		return -1;
	if (redisAsyncCommandArgv(r->ac, redis_on_reply, w, argc, argv, argvlen) != REDIS_OK) {
		redis_cmd_free(w);
		return -1;
	}
	return redis_cmd_started(r, w);
}

/* ---- lifetime ---------------------------------------------------------------------------- */

struct redis *redis_new(struct event_base *base, const struct redis_opts *o)
{
	struct redis *r;

	if (base == NULL || o == NULL || o->host == NULL || o->port <= 0 || o->port > 65535)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->base = base;
	r->port = o->port;
	r->db = o->db;
	r->connect_timeout_ms = o->connect_timeout_ms;
	r->command_timeout_ms = o->command_timeout_ms;
	r->backoff_ms = REDIS_BACKOFF_MIN_MS;
	r->state = REDIS_ST_IDLE;
	r->host = strdup(o->host);
	r->password = o->password != NULL ? strdup(o->password) : NULL;
	r->connect_timer = evtimer_new(base, redis_on_connect_timeout, r);
	r->retry_timer = evtimer_new(base, redis_on_retry, r);
	r->drop_timer = evtimer_new(base, redis_on_drop_timer, r);
	r->free_timer = evtimer_new(base, redis_on_free_timer, r);
	if (r->host == NULL || (o->password != NULL && r->password == NULL) ||
	    r->connect_timer == NULL || r->retry_timer == NULL || r->drop_timer == NULL ||
	    r->free_timer == NULL) {
		redis_destroy(r);
		return NULL;
	}
	redis_connect_start(r);
	return r;
}

bool redis_ready(const struct redis *r)
{
	return r != NULL && r->state == REDIS_ST_READY;
}

/* Frees everything; pending callers get (NULL, "shutdown") from redisAsyncFree(). */
static void redis_destroy(struct redis *r)
{
	if (r->state != REDIS_ST_CLOSED)
		redis_set_state(r, REDIS_ST_CLOSED);
	redis_drop(r);
	if (r->connect_timer != NULL)
		event_free(r->connect_timer);
	if (r->retry_timer != NULL)
		event_free(r->retry_timer);
	if (r->drop_timer != NULL)
		event_free(r->drop_timer);
	if (r->free_timer != NULL)
		event_free(r->free_timer);
	free(r->host);
	if (r->password != NULL) {
		explicit_bzero(r->password, strlen(r->password));
		free(r->password);
	}
	free(r);
}

void redis_free(struct redis *r)
{
	if (r == NULL)
		return;
	if (r->in_callback > 0) {
		/* called from a reply callback, i.e. inside hiredis: finish from a timer */
		if (r->state != REDIS_ST_CLOSED)
			redis_set_state(r, REDIS_ST_CLOSED);
		r->free_requested = true;
		evtimer_del(r->connect_timer);
		evtimer_del(r->retry_timer);
		evtimer_del(r->drop_timer);
		return;
	}
	redis_destroy(r);
}
