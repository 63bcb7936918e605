/*
 * session_check.h - "is this token's session still valid?", answered within seconds of a
 * logout, a ban or a tenant suspension.
 *
 * Layers, cheapest first:
 *   L1    in-process cache (session_l1.h), TTL GATEWAY_SESSION_L1_TTL_MS
 *   Redis GET fr:sess:<sid> (session_cache.h); skipped while Redis is down
 *   identity GET /internal/v1/sessions/{sid} signed with iauth (caller "gateway", no user),
 *         then SET fr:sess:<sid> <value> EX GATEWAY_SESSION_REDIS_TTL_S and stored in L1
 * Concurrent misses for the same session share one lookup. Identity unreachable and nothing
 * cached -> SESSION_UNAVAILABLE (the caller answers 503 auth_unavailable: fail closed).
 */
#ifndef GATEWAY_SESSION_CHECK_H
#define GATEWAY_SESSION_CHECK_H

#include <event2/event.h>
#include <stddef.h>

#include "session_l1.h"

struct redis;
struct upstream;
struct metrics;

enum session_verdict {
	SESSION_ACTIVE = 0, /* *s is the active session */
	SESSION_REVOKED,    /* s->reason says why */
	SESSION_UNAVAILABLE,
	SESSION_PENDING,    /* only from session_check_start: the waiter will be called */
};

typedef void (*session_done_fn)(void *arg, enum session_verdict v, const struct gw_session *s);

/* A request waiting for a lookup (memory owned by the caller, e.g. request memory). */
struct session_waiter {
	struct session_waiter *next;
	session_done_fn fn;
	void *arg;
};

struct session_check_opts {
	const char *secret;   /* FR_INTERNAL_SECRET (borrowed) */
	long l1_ttl_ms;
	size_t l1_size;
	long redis_ttl_s;
};

struct session_check;

/* redis may be NULL (Redis layer off). Everything is borrowed for the object's lifetime. */
struct session_check *session_check_new(struct redis *redis, struct upstream *identity,
					struct metrics *m, const struct session_check_opts *o);

/* Checks sid. Returns SESSION_ACTIVE / REVOKED / UNAVAILABLE with *out filled when answered
 * at once (from L1, or because no lookup could be started), or SESSION_PENDING when w->fn
 * will be called later (never from inside this call). request_id and client_ip go on the
 * identity call, for tracing. */
enum session_verdict session_check_start(struct session_check *sc, const char *sid,
					 const char *request_id, const char *client_ip,
					 struct session_waiter *w, struct gw_session *out);

/* Fails every waiting request with SESSION_UNAVAILABLE; lookups still in flight are then only
 * freed when their Redis / identity callbacks arrive (or by session_check_free). */
void session_check_close(struct session_check *sc);
/* Call after Redis and the identity client are freed (no callback can arrive any more). */
void session_check_free(struct session_check *sc);

/* The session is known to be revoked (a logout or session delete this gateway just proxied,
 * or an identity.session.revoked event): answer 401 for it from now on, without waiting for
 * the caches to expire. */
void session_check_revoked(struct session_check *sc, const char *sid);

size_t session_check_l1_count(const struct session_check *sc);

#endif
