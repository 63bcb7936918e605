/*
 * apikey_usage.h - the gateway's API-key usage counters between two reports to identity, and
 * the reports cut from them.
 *
 * A report carries at most APIKEY_USAGE_BATCH keys, so it always fits identity's limits on
 * POST /internal/v1/api-keys/usage (64 KiB, 10 000 entries) however many keys were used and
 * however many reports failed before: a failed report's counts go back into the counters (per
 * key, so they never make a later report longer), and the rest waits for the next report.
 *
 * Pure code, no I/O; loop-thread only.
 */
#ifndef GATEWAY_APIKEY_USAGE_H
#define GATEWAY_APIKEY_USAGE_H

#include <stddef.h>
#include <time.h>

#include "common/crypto.h"

#define APIKEY_USAGE_BATCH 500 /* keys per report: at most 120 bytes of JSON each, < 60 KB */

struct apikey_usage_count {
	char api_key_id[UUID_STR_LEN];
	long count;
	time_t last_used;
};

/* One report: the counts of at most APIKEY_USAGE_BATCH keys. */
struct apikey_usage_batch {
	struct apikey_usage_count v[APIKEY_USAGE_BATCH];
	size_t n;
};

struct apikey_usage;

/* Counts for at most max_keys distinct keys (>= 1); NULL on OOM. */
struct apikey_usage *apikey_usage_new(size_t max_keys);
void apikey_usage_free(struct apikey_usage *u);
/* Adds count uses of api_key_id, the last at last_used (the later time is kept). 0, or -1
 * when it could not be counted (OOM, or an id longer than a UUID). */
int apikey_usage_add(struct apikey_usage *u, const char *api_key_id, long count,
		     time_t last_used);
/* Distinct keys counted and not yet taken. */
size_t apikey_usage_keys(const struct apikey_usage *u);
/* Moves the counts of at most APIKEY_USAGE_BATCH keys into b (b->n of them). */
void apikey_usage_take(struct apikey_usage *u, struct apikey_usage_batch *b);
/* Puts a batch back (its report failed). Returns how many keys could not be (OOM). */
size_t apikey_usage_restore(struct apikey_usage *u, const struct apikey_usage_batch *b);
/* {"usage":[{"api_key_id","count","last_used_at"}...]} of b; caller frees; NULL on OOM. */
char *apikey_usage_body(const struct apikey_usage_batch *b);

#endif
