/*
 * apikey_l1.h - a small bounded map from a short string (an API-key prefix or a tenant id)
 * to a fixed-size payload, each entry valid until a deadline: the gateway's in-process key
 * cache (payload: struct apikey_entry) and its tombstone sets (revoked prefixes, suspended
 * tenants; no payload).
 *
 * Chained hash plus an insertion-ordered list: when full, the oldest entry goes. Pure code,
 * no I/O; loop-thread only.
 */
#ifndef GATEWAY_APIKEY_L1_H
#define GATEWAY_APIKEY_L1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APIKEY_L1_KEY_MAX 36 /* longest key (a UUID) */
#define APIKEY_L1_FOREVER UINT64_MAX

struct apikey_l1;

/* max_entries >= 1; payload_size may be 0. NULL on OOM. */
struct apikey_l1 *apikey_l1_new(size_t max_entries, size_t payload_size);
void apikey_l1_free(struct apikey_l1 *m);

/* The payload stored for key (borrowed and writable until the next change of m), or NULL
 * when absent or past its deadline at now_ms (then it is dropped). With payload_size 0 a
 * present key returns a non-NULL pointer that must not be read. */
void *apikey_l1_get(struct apikey_l1 *m, const char *key, uint64_t now_ms);
/* Stores a copy of payload (may be NULL when payload_size is 0) for key until until_ms,
 * replacing an older value. 0, or -1 on OOM or a key longer than APIKEY_L1_KEY_MAX. */
int apikey_l1_put(struct apikey_l1 *m, const char *key, const void *payload, uint64_t until_ms);
void apikey_l1_del(struct apikey_l1 *m, const char *key);
/* Drops every entry whose payload pred() accepts; returns how many. */
size_t apikey_l1_del_if(struct apikey_l1 *m, bool (*pred)(const void *payload, void *arg),
			void *arg);
size_t apikey_l1_count(const struct apikey_l1 *m);

#endif
