/*
 * ratelimit.h - distributed rate limiting for the gateway: windows of 60 s per API key, user,
 * tenant and client IP, decided atomically by ONE Redis script per request (shared by every
 * gateway replica), with a documented per-replica fallback while Redis is down.
 *
 * Algorithm (the script and the fallback alike): a sliding window of RL_BUCKETS counters of
 * RL_BUCKET_S seconds each. A request is counted in the bucket of its arrival time and stays
 * counted until its whole bucket is more than 60 s old, i.e. for 60 to 65 s; the count of a
 * limit is the sum of its live buckets, so it never admits more than the limit in any 60 s
 * (it may refuse while up to a bucket's worth of requests are 60-65 s old).
 *
 * Redis keys: fr:rlb:<kind>:<id>, a 56-byte string: the newest bucket's index (Unix seconds /
 * RL_BUCKET_S, int32) then the RL_BUCKETS counts, newest first (uint32), little-endian; PX 66 s.
 * Bucket indexes come from Redis server time (TIME), so replica clocks do not matter. Nonce
 * keys as given by the caller (SET NX EX). The script is the only writer.
 *
 * Fallback (Redis unreachable, or no reply within GATEWAY_RL_REDIS_TIMEOUT_MS): the same
 * algorithm in memory per replica (bounded table, least recently used entries evicted) and an
 * in-memory nonce set (bounded, TTL as given); the decision says `degraded` and
 * gateway_ratelimit_degraded_total counts it. With N replicas a client may get up to N times
 * its limit while Redis is down. Authentication never depends on this module.
 */
#ifndef GATEWAY_RATELIMIT_H
#define GATEWAY_RATELIMIT_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

struct redis;
struct metrics;
struct http_request;

/* RL_IP: a client address on unauthenticated routes; RL_APIKEY_IP: a client address on the
 * API-key routes, checked before the key lookup (its own windows, its own limit). */
enum rl_kind { RL_APIKEY, RL_USER, RL_TENANT, RL_IP, RL_APIKEY_IP };
struct rl_limit {
	enum rl_kind kind;
	const char *id;
	long per_minute; /* <= 0: this limit is skipped */
};
struct rl_decision {
	bool allowed;  /* every limit had room (the request was counted against all) */
	bool replayed; /* the nonce was already used (nothing counted) */
	bool degraded; /* decided locally: Redis unreachable (documented fallback) */
	long limit, remaining, reset_s, retry_after_s; /* of the tightest limit */
};
typedef void (*rl_cb)(void *arg, const struct rl_decision *d);
struct ratelimit;

#define RL_WINDOW_S 60
#define RL_BUCKET_S 5                              /* the window's resolution */
#define RL_BUCKETS (RL_WINDOW_S / RL_BUCKET_S + 1) /* live buckets: 60 to 65 s */
#define RL_MAX_LIMITS 8 /* limits per decision; more are ignored */
#define RL_ID_MAX 128   /* longer ids are truncated */
#define RL_KEY_MAX 160  /* fr:rlb:<kind>:<id> and nonce keys */

struct ratelimit_opts {
	bool enabled;           /* GATEWAY_RL_ENABLED: false = limits ignored, nonces still checked */
	long redis_timeout_ms;  /* GATEWAY_RL_REDIS_TIMEOUT_MS: no reply by then -> local */
	size_t local_entries;   /* fallback table: windows kept (least recently used evicted) */
	size_t local_nonces;    /* fallback nonce set (oldest evicted) */
};
void ratelimit_opts_default(struct ratelimit_opts *o);

/* redis and m are borrowed for the object's lifetime; redis may be NULL (always local).
 * ratelimit_new uses ratelimit_opts_default. NULL on OOM. */
struct ratelimit *ratelimit_new(struct event_base *base, struct redis *redis, struct metrics *m);
struct ratelimit *ratelimit_new_opts(struct event_base *base, struct redis *redis,
				     struct metrics *m, const struct ratelimit_opts *o);
/* Decisions still waiting for Redis are answered locally (degraded) before it returns.
 * Call before redis_free (late Redis replies are then dropped by the redis object). */
void ratelimit_free(struct ratelimit *rl);
/* One atomic decision in ONE Redis script: when nonce_key != NULL it is SET NX EX nonce_ttl_s
 * first (replayed -> nothing counted); then every limit is checked as a sliding window of 60 s
 * (see above) and the request is counted against all of them only when all have room. cb runs
 * exactly once, maybe before this returns. limits[] and nonce_key are copied. No limit left to check
 * (none given, all per_minute <= 0, or limits disabled) and no nonce: allowed with limit 0
 * (ratelimit_headers then adds nothing). request_id is for logs only. */
void ratelimit_check(struct ratelimit *rl, const struct rl_limit *limits, size_t n,
		     const char *nonce_key, long nonce_ttl_s, const char *request_id, rl_cb cb, void *arg);
/* Adds RateLimit-Limit / RateLimit-Remaining / RateLimit-Reset (and Retry-After when refused). */
void ratelimit_headers(struct http_request *req, const struct rl_decision *d);
/* 429 rate_limited in the envelope, with the headers. */
void ratelimit_reply_429(struct http_request *req, const struct rl_decision *d);

/* The headers ratelimit_headers adds, as name/value strings (pure; for tests and for replies
 * built elsewhere). Returns how many (3, or 4 with Retry-After). */
struct rl_header {
	const char *name;
	char value[24];
};
size_t ratelimit_format_headers(const struct rl_decision *d, struct rl_header out[4]);
/* "apikey", "user", "tenant", "ip", "apikey_ip". */
const char *rl_kind_name(enum rl_kind k);

#endif
