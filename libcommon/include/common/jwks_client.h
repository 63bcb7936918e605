/*
 * jwks_client.h - identity's public signing keys, kept current, for any daemon that verifies
 * identity's tokens (the gateway's user JWTs, every service's service tokens).
 *
 * Fetches GET /v1/.well-known/jwks.json through an http_client at start (retrying with
 * backoff 200 ms .. 30 s; ready stays false until a set is loaded), refreshes it every
 * refresh_s, and re-fetches when a token names an unknown kid -- at most once per second,
 * however many such tokens arrive. A new set replaces the old one in one pointer swap (the
 * loop is single threaded, so no verification sees a half-built set); on_swap runs after
 * each swap so the owner can purge what it cached under keys that left the set.
 */
#ifndef COMMON_JWKS_CLIENT_H
#define COMMON_JWKS_CLIENT_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/http_client.h"
#include "common/jwt.h"

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

struct jwks_client_opts {
	long refresh_s; /* period of the regular refresh */
	/* After each successful swap (ks is the new, current set); may be NULL. */
	void (*on_swap)(void *arg, const struct jwt_keyset *ks);
	/* After each fetch attempt, with its transport outcome (upstream health); may be NULL. */
	void (*on_fetch)(void *arg, enum http_client_err err);
	void *arg;
};

struct jwks_client;

/* identity is borrowed and must outlive the client (free this first). Does not fetch yet. */
struct jwks_client *jwks_client_new(struct event_base *base, struct http_client *identity,
				    const struct jwks_client_opts *o);
/* Starts the first fetch (and the refresh cycle). */
void jwks_client_start(struct jwks_client *j);
/* The current key set, NULL until the first successful fetch. Borrowed until the next swap. */
const struct jwt_keyset *jwks_client_current(const struct jwks_client *j);
bool jwks_client_ready(void *j); /* http_ready_fn: a key set is loaded */

/* An unknown kid was seen: parks w until a re-fetch completes and returns 0; returns -1 (w
 * not parked) when a re-fetch started less than a second ago or too many are waiting.
 * w == NULL: only triggers the re-fetch (same rate limit), parks nothing. */
int jwks_client_refresh_for_kid(struct jwks_client *j, struct jwks_waiter *w);

/* Stops timers and releases parked waiters (their fn runs); later fetch answers are ignored. */
void jwks_client_close(struct jwks_client *j);
/* Closes (if not yet) and frees the set and the object. Safe before or after the identity
 * client is freed: a fetch still in flight is detached and its answer ignored. */
void jwks_client_free(struct jwks_client *j);

#endif
