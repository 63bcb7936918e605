/*
 * ratelimit_local.h - the rate limiter's in-memory fallback: the same sliding window of 60 s
 * as the Redis script (ratelimit.c), kept per replica while Redis is unreachable, and an
 * in-memory nonce set.
 *
 * Windows: one entry per key ("fr:rl:<kind>:<id>") holding the timestamps of the requests it
 * counted in the last 60 s (at most its limit). The table is bounded by entries and by
 * timestamps in all entries; beyond either bound the least recently used entries are evicted
 * (an evicted client starts from an empty window). Nonces: bounded set, each kept for its TTL;
 * beyond the bound the oldest are evicted. Pure code, no I/O; loop-thread only; time is passed
 * in (microseconds of a monotonic clock).
 */
#ifndef GATEWAY_RATELIMIT_LOCAL_H
#define GATEWAY_RATELIMIT_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "ratelimit.h"

#define RL_WINDOW_US ((int64_t)RL_WINDOW_S * 1000000)

struct rl_local;

/* One limit of a decision: its window key and requests per minute (> 0). */
struct rl_window_req {
	const char *key;
	long per_minute;
};

/* NULL on OOM. Every bound must be > 0. */
struct rl_local *rl_local_new(size_t max_entries, size_t max_slots, size_t max_nonces);
void rl_local_free(struct rl_local *l);

/* One decision, exactly as the Redis script makes it (see ratelimit.h): nonce (when non-NULL)
 * first, then all-or-nothing counting. Fills *out (degraded is left false) and returns the
 * index of the limit the numbers are of (the refusing limit with the longest wait, else the
 * one with the least remaining), or -1 when replayed or n == 0. */
int rl_local_decide(struct rl_local *l, const struct rl_window_req *w, size_t n,
		    const char *nonce_key, long nonce_ttl_s, int64_t now_us, struct rl_decision *out);

size_t rl_local_entries(const struct rl_local *l);
size_t rl_local_slots(const struct rl_local *l);
size_t rl_local_nonces(const struct rl_local *l);

/* Whole seconds for a wait of us microseconds, rounded up (shared with the script). */
long rl_ceil_s(int64_t us);

#endif
