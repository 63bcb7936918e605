/*
 * throttle.h - login throttling: failures counted per account and per client address.
 *
 * Counters live in Redis ("fr:login:acct:<sha256(slug \n email)>", "fr:login:ip:<ip>"), each
 * a fixed window of window_s seconds started by its first failure. An attempt is refused
 * (429 with Retry-After = the blocking window's remaining seconds) when the account already
 * has max_account failures or the address max_ip failures in their windows, i.e. the
 * (max+1)-th attempt is the first refused. A success clears the account counter.
 *
 * Fallback: when Redis is down or does not answer in time, the same counting happens in
 * process memory (throttle_mem, bounded; when full, expired windows are dropped first, then
 * the oldest). Counts are then per replica and start from zero; they are not merged back
 * into Redis when it returns.
 */
#ifndef IDENTITY_THROTTLE_H
#define IDENTITY_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct redis;

struct throttle_limits {
	long window_s;
	long max_account;
	long max_ip;
};

/* ---- pure rules --------------------------------------------------------------------------- */

/* Seconds to wait (>= 1) when the counts block an attempt, 0 when it may proceed.
 * A ttl < 1 (unknown) counts as the whole window. */
long throttle_decide(const struct throttle_limits *l, long acct_fails, long acct_ttl, long ip_fails,
		     long ip_ttl);

/* The in-process fallback counters. */
#define THROTTLE_KEY_MAX 96
struct throttle_mem;
struct throttle_mem *throttle_mem_new(size_t max_entries);
void throttle_mem_free(struct throttle_mem *m);
/* Failures of key in its current window (0 when none) and the window's remaining seconds. */
long throttle_mem_get(struct throttle_mem *m, const char *key, time_t now, long *ttl);
/* One more failure of key; starts a window of window_s when none is running. */
void throttle_mem_hit(struct throttle_mem *m, const char *key, long window_s, time_t now);
void throttle_mem_clear(struct throttle_mem *m, const char *key);
size_t throttle_mem_count(const struct throttle_mem *m);

/* The counter keys for an account (tenant slug, lower-cased e-mail) and an address. */
void throttle_account_key(const char *slug, const char *email, char out[THROTTLE_KEY_MAX]);
void throttle_ip_key(const char *ip, char out[THROTTLE_KEY_MAX]);

/* ---- with Redis --------------------------------------------------------------------------- */

struct throttle;
/* redis is borrowed and may be NULL (memory only). */
struct throttle *throttle_new(struct redis *redis, const struct throttle_limits *l);
void throttle_free(struct throttle *t);

typedef void (*throttle_cb)(long retry_after_s, void *arg);

/* Caller-owned storage for one check, alive until the callback (e.g. request memory). */
struct throttle_req {
	struct throttle *t;
	throttle_cb cb;
	void *arg;
	char akey[THROTTLE_KEY_MAX];
	char ikey[THROTTLE_KEY_MAX];
};

/* Calls cb exactly once with the verdict: later (Redis) or before returning (fallback). */
void throttle_check(struct throttle *t, struct throttle_req *q, const char *slug, const char *email,
		    const char *ip, throttle_cb cb, void *arg);
/* Counts a failed login (best effort, no callback). */
void throttle_failed(struct throttle *t, const char *slug, const char *email, const char *ip);
/* A successful login clears the account's failures (best effort). */
void throttle_succeeded(struct throttle *t, const char *slug, const char *email);

#endif
