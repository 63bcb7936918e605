/*
 * apikey.h - the gateway's API-key cache: "what does identity say about this key?", answered
 * without a database round trip per request, and the batched usage counters.
 *
 * Layers, cheapest first (common/apikey_cache.h has the Redis format):
 *   tombstones  prefixes revoked and tenants suspended, learnt from identity's events
 *               (session_events.c) or from this replica's own lookups: refused at once
 *   L1          in-process, keyed by prefix, GATEWAY_APIKEY_L1_TTL_MS
 *   Redis       GET fr:apikey:<prefix>; skipped while Redis is down
 *   identity    POST /v1/api-keys/validate {key_prefix, key_hash} with a service token
 *               (aud "identity"), then cached: valid EX 300 NX, unknown "none:<verifier>"
 *               EX 30 NX, revoked EX 300
 * Concurrent misses for the same presented key share one lookup. Identity unreachable and
 * nothing cached -> APIKEY_LOOKUP_UNAVAILABLE (503 auth_unavailable: fail closed).
 *
 * Usage: apikey_cache_used() counts in memory (apikey_usage.h); every
 * GATEWAY_APIKEY_USAGE_FLUSH_MS the counts go to identity in POST /internal/v1/api-keys/usage
 * (204) reports of at most APIKEY_USAGE_BATCH keys, one after the other while keys remain; a
 * failed report's counts go back into the counters and wait for the next tick.
 */
#ifndef GATEWAY_APIKEY_H
#define GATEWAY_APIKEY_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "apikey_entry.h"

struct redis;
struct metrics;
struct http_client;
struct svc_tokens;

enum apikey_lookup_result {
	APIKEY_LOOKUP_FOUND = 0,   /* *out says what is known (state, fields) */
	APIKEY_LOOKUP_UNAVAILABLE, /* nothing cached and identity unreachable */
	APIKEY_LOOKUP_PENDING,     /* only from apikey_cache_lookup: the waiter will be called */
};

typedef void (*apikey_done_fn)(void *arg, enum apikey_lookup_result r,
			       const struct apikey_entry *e);

/* A request waiting for a lookup (memory owned by the caller, e.g. request memory). */
struct apikey_waiter {
	struct apikey_waiter *next;
	apikey_done_fn fn;
	void *arg;
};

struct apikey_cache_opts {
	long l1_ttl_ms; /* 0 = no L1 */
	size_t l1_size;
	long usage_flush_ms;
};

struct apikey_cache;

/* Everything is borrowed for the object's lifetime; redis may be NULL. Starts the usage
 * flush timer. NULL on OOM. */
struct apikey_cache *apikey_cache_new(struct event_base *base, struct redis *redis,
				      struct svc_tokens *svc, struct http_client *identity,
				      struct metrics *m, const struct apikey_cache_opts *o);

/* The in-process answer alone (L1 entry or revocation tombstone): true with *out filled, false
 * when only Redis or identity can answer. Never waits, never calls out. */
bool apikey_cache_peek(struct apikey_cache *c, const char *prefix, const char key_hash[65],
		       struct apikey_entry *out);

/* Looks up the key whose prefix and hex SHA-256 are given (apikey_cache_peek first). FOUND / UNAVAILABLE with *out
 * filled when answered at once, PENDING when w->fn runs later (never from inside this call).
 * *out may describe a valid key whose verifier differs from the presented one: the caller
 * compares (constant time). request_id goes on the identity call. */
enum apikey_lookup_result apikey_cache_lookup(struct apikey_cache *c, const char *prefix,
					      const char key_hash[65], const char *request_id,
					      struct apikey_waiter *w, struct apikey_entry *out);

/* identity.api_key.revoked.v1: refuse the prefix from now on (bounded tombstone set), drop it
 * from L1 and mark it revoked in Redis. */
void apikey_cache_revoked(struct apikey_cache *c, const char *prefix);
/* identity.tenant.suspended.v1: refuse the tenant's keys until apikey_cache_tenant_active. */
void apikey_cache_tenant_suspended(struct apikey_cache *c, const char *tenant_id);
/* identity.tenant.updated.v1 with an active status: the tenant's keys may work again. */
void apikey_cache_tenant_active(struct apikey_cache *c, const char *tenant_id);

/* One accepted request of api_key_id (counted in memory). */
void apikey_cache_used(struct apikey_cache *c, const char *api_key_id);
/* Sends the counts now (unless a flush is in flight); for shutdown. */
void apikey_cache_flush(struct apikey_cache *c);
/* True while a usage report is in flight. */
bool apikey_cache_flushing(const struct apikey_cache *c);

/* Stops the timer and fails every waiting request with UNAVAILABLE; lookups and the flush
 * still in flight are freed when their callbacks arrive (or by apikey_cache_free). */
void apikey_cache_close(struct apikey_cache *c);
/* Call after Redis, the identity client and the service tokens are freed. */
void apikey_cache_free(struct apikey_cache *c);

size_t apikey_cache_l1_count(const struct apikey_cache *c);

#endif
