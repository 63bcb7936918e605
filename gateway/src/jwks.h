/*
 * jwks.h - identity's public signing keys for the gateway: common/jwks_client.h (fetch at
 * start, refresh every GATEWAY_JWKS_REFRESH_S, re-fetch at most once per second on an
 * unknown kid, waiters, /readyz) bound to the gateway's identity upstream and token cache:
 * each fetch outcome feeds the upstream's health, and cached tokens signed by a key that
 * left the set are purged at each swap.
 */
#ifndef GATEWAY_JWKS_H
#define GATEWAY_JWKS_H

#include <event2/event.h>
#include <stdbool.h>

#include "common/jwks_client.h"
#include "common/jwt.h"

struct upstream;
struct token_cache;

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
/* Frees the set and the object (before or after the identity client). */
void jwks_free(struct jwks *j);

#endif
