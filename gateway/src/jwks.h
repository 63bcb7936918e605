/*
 * jwks.h - identity's public signing keys, kept current.
 *
 * Fetches GET /v1/.well-known/jwks.json from identity at start-up (retrying with backoff;
 * /readyz stays false until a key set is loaded), refreshes it every GATEWAY_JWKS_REFRESH_S,
 * and re-fetches when a token names an unknown kid -- at most once per second, however many
 * such tokens arrive. A new set replaces the old one in one pointer swap (the loop is single
 * threaded, so no verify ever sees a half-built set); cached tokens signed by a key that left
 * the set are purged at the swap.
 */
#ifndef GATEWAY_JWKS_H
#define GATEWAY_JWKS_H

#include <event2/event.h>
#include <stdbool.h>

#include "common/jwt.h"

struct upstream;
struct token_cache;

#define JWKS_PATH "/v1/.well-known/jwks.json"
#define JWKS_KID_REFETCH_MS 1000
#define JWKS_MAX_WAITERS 4096

/* A request parked until a re-fetch finishes (memory owned by the caller, e.g. request
 * memory). fn is called once, from the loop, whether the fetch succeeded or not. */
struct jwks_waiter {
	struct jwks_waiter *next;
	void (*fn)(void *arg);
	void *arg;
};

struct jwks;

/* tokens (may be NULL) is purged of entries whose kid leaves the set. Does not fetch yet. */
struct jwks *jwks_new(struct event_base *base, struct upstream *identity,
		      struct token_cache *tokens, long refresh_s);
/* Starts the first fetch (and the refresh cycle). */
void jwks_start(struct jwks *j);
/* The current key set, NULL until the first successful fetch. Borrowed until the next swap. */
const struct jwt_keyset *jwks_current(const struct jwks *j);
bool jwks_ready(void *j); /* http_ready_fn: a key set is loaded */

/* An unknown kid was seen: parks w until a re-fetch completes and returns 0; returns -1 (w
 * not parked) when a re-fetch happened less than a second ago or too many are waiting. */
int jwks_refresh_for_kid(struct jwks *j, struct jwks_waiter *w);

/* Stops timers and releases parked waiters (their fn runs); later fetch answers are ignored. */
void jwks_close(struct jwks *j);
/* Frees the set and the object; call after the identity client is freed. */
void jwks_free(struct jwks *j);

#endif
