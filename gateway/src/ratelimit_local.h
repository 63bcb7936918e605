/*
 * ratelimit_local.h - the rate limiter's in-memory fallback: the same bucketed sliding window
 * as the Redis script (ratelimit.c; see ratelimit.h), kept per replica while Redis is
 * unreachable, and an in-memory nonce set.
 *
 * Windows: one entry per key ("fr:rlb:<kind>:<id>") holding its RL_BUCKETS counts (buckets of
 * RL_BUCKET_S seconds of the monotonic clock). The table is bounded by entries; beyond the
 * bound the least recently used entries are evicted (an evicted client starts from an empty
 * window). Nonces: bounded set, each kept for its TTL; beyond the bound the oldest are
 * evicted. Pure code, no I/O; loop-thread only; time is passed in (microseconds of a
 * monotonic clock).
 */
#ifndef GATEWAY_RATELIMIT_LOCAL_H
#define GATEWAY_RATELIMIT_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "ratelimit.h"

#define RL_BUCKET_US ((int64_t)RL_BUCKET_S * 1000000)

struct rl_local;

/* One limit of a decision: its window key and requests per minute (> 0). */
struct rl_window_req {
	const char *key;
	long per_minute;
};

/* NULL on OOM. Both bounds must be > 0. */
struct rl_local *rl_local_new(size_t max_entries, size_t max_nonces);
void rl_local_free(struct rl_local *l);

/* One decision, exactly as the Redis script makes it (see ratelimit.h): nonce (when non-NULL)
 * first, then all-or-nothing counting. Fills *out (degraded is left false) and returns the
 * index of the limit the numbers are of (the refusing limit with the longest wait, else the
 * one with the least remaining), or -1 when replayed or n == 0. */
int rl_local_decide(struct rl_local *l, const struct rl_window_req *w, size_t n,
		    const char *nonce_key, long nonce_ttl_s, int64_t now_us, struct rl_decision *out);

size_t rl_local_entries(const struct rl_local *l);
size_t rl_local_nonces(const struct rl_local *l);

/* Whole seconds for a wait of us microseconds, rounded up (as the script rounds). */
long rl_ceil_s(int64_t us);

#endif
