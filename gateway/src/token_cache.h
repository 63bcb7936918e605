/*
 * token_cache.h - verified access tokens, so the ES256 verify (~77 us) is paid once per token
 * rather than once per request.
 *
 * An in-process, bounded, 4-way set-associative hash table bucketed by the token's ES256
 * signature (the 64 bytes R || S decoded from the third segment; R is uniformly distributed,
 * so no hash is computed). A hit also requires the WHOLE token to equal the cached one byte
 * for byte: a signature says nothing about a payload that was not verified with it, so a
 * token with a tampered header or payload behind a cached signature is a miss, goes to the
 * verifier and fails there. Only tokens that verified are ever inserted. Each entry holds a
 * copy of the token, the claims the gateway needs, the signing kid (so entries signed by a key that left the JWKS
 * can be purged) and exp: an entry is dropped once exp has passed (with the same leeway the
 * verifier allows). Eviction within a bucket takes a free slot, else an expired one, else the
 * least recently used. No allocation after creation. Loop-thread only.
 */
#ifndef GATEWAY_TOKEN_CACHE_H
#define GATEWAY_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/crypto.h"

#define TC_KEY_LEN 64 /* an ES256 signature, R || S */
#define TC_KID_MAX 64

/* What the gateway keeps of a verified token's payload. */
struct gw_claims {
	char sub[UUID_STR_LEN]; /* user id */
	char tid[UUID_STR_LEN]; /* tenant id */
	char sid[UUID_STR_LEN]; /* session id */
	bool adm;               /* platform admin */
	bool tadm;              /* tenant admin */
	int64_t exp;            /* Unix seconds */
};

struct token_cache;

enum tc_result {
	TC_MISS = 0,
	TC_HIT,     /* *out filled */
	TC_EXPIRED, /* was cached, has expired now (and was dropped) */
};

/* A cache of at least max_entries entries (rounded up to a power of two). NULL on OOM. */
struct token_cache *token_cache_new(size_t max_entries);
void token_cache_free(struct token_cache *tc);

/* The cache key of a compact token: its decoded signature. 0, or -1 when the last segment is
 * not 64 bytes of base64url (such a token cannot be an ES256 token: never cached). */
int token_cache_key(const char *token, size_t len, unsigned char key[TC_KEY_LEN]);

/* Looks the token (key = token_cache_key of it) up at time now: a hit needs the same key
 * and the same token bytes; an entry is valid while exp > now - leeway_s. */
enum tc_result token_cache_lookup(struct token_cache *tc, const unsigned char key[TC_KEY_LEN],
				  const char *token, size_t len, time_t now, long leeway_s,
				  struct gw_claims *out);
/* Stores (or replaces) the verified token -> claims signed by kid (the token is copied).
 * Tokens whose kid is longer than TC_KID_MAX - 1 are not cached. */
void token_cache_insert(struct token_cache *tc, const unsigned char key[TC_KEY_LEN],
			const char *token, size_t len, const char *kid,
			const struct gw_claims *claims, time_t now, long leeway_s);
/* Drops every entry whose kid keep(arg, kid) rejects (after a key-set swap). Returns how many
 * were dropped. */
size_t token_cache_purge(struct token_cache *tc, bool (*keep)(void *arg, const char *kid),
			 void *arg);
size_t token_cache_count(const struct token_cache *tc);
size_t token_cache_capacity(const struct token_cache *tc);

#endif
