/*
 * session_l1.h - session validity as the gateway caches it: the in-process L1 cache, and the
 * two wire forms it is filled from (the Redis value of session_cache.h and identity's
 * SessionStatus JSON).
 *
 * Redis value: "active|<user_id>|<tenant_id>|<roles>" or "revoked|<reason>", roles being
 * "", "admin", "tenant_admin" or "admin,tenant_admin".
 *
 * The L1 cache is bounded and 4-way set-associative, keyed by the session id; every entry
 * (active or revoked) lives GATEWAY_SESSION_L1_TTL_MS from when it was stored. A session never
 * comes back from revocation, so a fresh revoked entry is never replaced by an active one (a
 * lookup that started before a logout cannot resurrect the session). Pure code, no I/O;
 * loop-thread only.
 */
#ifndef GATEWAY_SESSION_L1_H
#define GATEWAY_SESSION_L1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"

#define SESSION_REASON_MAX 32
#define SESSION_VALUE_MAX 128 /* longest Redis value we write */

struct gw_session {
	bool active;
	char user_id[UUID_STR_LEN];
	char tenant_id[UUID_STR_LEN];
	bool adm;                        /* platform admin */
	bool tadm;                       /* tenant admin */
	char reason[SESSION_REASON_MAX]; /* when !active: "revoked", "expired", "user_banned", ... */
};

/* Parses a Redis value; 0, or -1 when it is not one of the two forms (treated as a miss). */
int session_value_parse(const char *v, size_t n, struct gw_session *out);
/* Writes the Redis value of s into out (NUL-terminated); returns its length, -1 if cap is
 * too small. */
int session_value_format(const struct gw_session *s, char *out, size_t cap);
/* Parses identity's SessionStatus JSON for session sid; 0, or -1 when malformed or about
 * another session. */
int session_status_parse(const char *json, size_t n, const char *sid, struct gw_session *out);

struct session_l1;

/* ttl_ms 0 disables the cache (get always misses). NULL on OOM. */
struct session_l1 *session_l1_new(size_t max_entries, long ttl_ms);
void session_l1_free(struct session_l1 *l1);
/* True and *out filled when sid is cached and fresh at now_ms (a monotonic clock). */
bool session_l1_get(struct session_l1 *l1, const char *sid, uint64_t now_ms,
		    struct gw_session *out);
/* Stores s for sid, except that a fresh revoked entry is kept when s is active. */
void session_l1_put(struct session_l1 *l1, const char *sid, const struct gw_session *s,
		    uint64_t now_ms);
/* Records sid as revoked (reason, e.g. "revoked") as of now_ms. */
void session_l1_revoke(struct session_l1 *l1, const char *sid, const char *reason, uint64_t now_ms);
size_t session_l1_count(const struct session_l1 *l1);

#endif
