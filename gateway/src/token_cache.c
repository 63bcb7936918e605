/*
 * token_cache.c - the verified-token cache (see token_cache.h).
 *
 * Owns its slot array and each slot's copy of its token. Keys are ES256 signatures whose
 * first half (R, an x coordinate mod n) is uniformly distributed, so the bucket index is
 * simply its first 8 bytes masked. A forged token may aim a lookup at any bucket, but a hit
 * needs the whole token to match, and only tokens that verified are ever inserted.
 */
#include "token_cache.h"

#include <stdlib.h>
#include <string.h>

#define TC_WAYS 4

struct tc_entry {
	unsigned char key[TC_KEY_LEN];
	char *tok;      /* the whole verified token (owned; kept for reuse when the slot dies) */
	size_t tok_len;
	size_t tok_cap;
	bool live;
	uint64_t used; /* tick of the last hit or insert, for LRU within the bucket */
	char kid[TC_KID_MAX];
	struct gw_claims claims;
};

struct token_cache {
	struct tc_entry *slots; /* nbuckets * TC_WAYS */
	size_t nbuckets;        /* power of two */
	size_t count;
	uint64_t tick;
};

struct token_cache *token_cache_new(size_t max_entries)
{
	struct token_cache *tc = calloc(1, sizeof(*tc));
	size_t nb = 1;

	if (tc == NULL)
		return NULL;
	while (nb * TC_WAYS < max_entries)
		nb <<= 1;
	tc->nbuckets = nb;
	tc->slots = calloc(nb * TC_WAYS, sizeof(*tc->slots));
	if (tc->slots == NULL) {
		free(tc);
		return NULL;
	}
	return tc;
}

void token_cache_free(struct token_cache *tc)
{
	if (tc == NULL)
		return;
	for (size_t i = 0; i < tc->nbuckets * TC_WAYS; i++)
		free(tc->slots[i].tok);
	free(tc->slots);
	free(tc);
}

#define TC_SIG_B64_LEN 86 /* base64url of 64 bytes, no padding */

int token_cache_key(const char *token, size_t len, unsigned char key[TC_KEY_LEN])
{
	const char *sig;

	if (len <= TC_SIG_B64_LEN)
		return -1;
	sig = token + len - TC_SIG_B64_LEN;
	if (sig[-1] != '.')
		return -1;
	return b64url_decode(sig, TC_SIG_B64_LEN, key, TC_KEY_LEN) == TC_KEY_LEN ? 0 : -1;
}

static struct tc_entry *tc_bucket(struct token_cache *tc, const unsigned char key[TC_KEY_LEN])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return &tc->slots[(h & (tc->nbuckets - 1)) * TC_WAYS];
}

static bool tc_expired(const struct tc_entry *e, time_t now, long leeway_s)
{
	return e->claims.exp <= (int64_t)now - leeway_s;
}

static void tc_drop(struct token_cache *tc, struct tc_entry *e)
{
	e->live = false;
	tc->count--;
}

enum tc_result token_cache_lookup(struct token_cache *tc, const unsigned char key[TC_KEY_LEN],
				  const char *token, size_t len, time_t now, long leeway_s,
				  struct gw_claims *out)
{
	struct tc_entry *b = tc_bucket(tc, key);

	for (int i = 0; i < TC_WAYS; i++) {
		struct tc_entry *e = &b[i];

		if (!e->live || memcmp(e->key, key, TC_KEY_LEN) != 0)
			continue;
		if (e->tok_len != len || memcmp(e->tok, token, len) != 0)
			return TC_MISS; /* same signature, other bytes: verify it (it will fail) */
		if (tc_expired(e, now, leeway_s)) {
			tc_drop(tc, e);
			return TC_EXPIRED;
		}
		e->used = ++tc->tick;
		*out = e->claims;
		return TC_HIT;
	}
	return TC_MISS;
}

/* The slot for a new key: the same key, else a free slot, else an expired one, else the least
 * recently used. */
static struct tc_entry *tc_victim(struct tc_entry *b, const unsigned char key[TC_KEY_LEN],
				  time_t now, long leeway_s)
{
	struct tc_entry *free_slot = NULL, *expired = NULL, *lru = &b[0];

	for (int i = 0; i < TC_WAYS; i++) {
		struct tc_entry *e = &b[i];

		if (!e->live) {
			if (free_slot == NULL)
				free_slot = e;
			continue;
		}
		if (memcmp(e->key, key, TC_KEY_LEN) == 0)
			return e;
		if (expired == NULL && tc_expired(e, now, leeway_s))
			expired = e;
		if (!lru->live || e->used < lru->used)
			lru = e;
	}
	return free_slot != NULL ? free_slot : expired != NULL ? expired : lru;
}

void token_cache_insert(struct token_cache *tc, const unsigned char key[TC_KEY_LEN],
			const char *token, size_t len, const char *kid,
			const struct gw_claims *claims, time_t now, long leeway_s)
{
	struct tc_entry *e;
	size_t kl = kid != NULL ? strlen(kid) : 0;

	if (kl == 0 || kl >= TC_KID_MAX || claims->exp <= (int64_t)now - leeway_s || len == 0)
		return;
	e = tc_victim(tc_bucket(tc, key), key, now, leeway_s);
	if (e->tok_cap < len) {
		char *t = realloc(e->tok, len);

		if (t == NULL)
			return; /* not cached: the next request verifies again */
		e->tok = t;
		e->tok_cap = len;
	}
	if (!e->live)
		tc->count++;
	memcpy(e->tok, token, len);
	e->tok_len = len;
	memcpy(e->key, key, TC_KEY_LEN);
	memcpy(e->kid, kid, kl + 1);
	e->claims = *claims;
	e->used = ++tc->tick;
	e->live = true;
}

size_t token_cache_purge(struct token_cache *tc, bool (*keep)(void *arg, const char *kid),
			 void *arg)
{
	size_t dropped = 0;

	for (size_t i = 0; i < tc->nbuckets * TC_WAYS; i++) {
		struct tc_entry *e = &tc->slots[i];

		if (e->live && !keep(arg, e->kid)) {
			tc_drop(tc, e);
			dropped++;
		}
	}
	return dropped;
}

size_t token_cache_count(const struct token_cache *tc)
{
	return tc->count;
}

size_t token_cache_capacity(const struct token_cache *tc)
{
	return tc->nbuckets * TC_WAYS;
}
