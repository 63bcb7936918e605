/*
 * keyring.c - signing keys loaded from and rotated in PostgreSQL (see keyring.h).
 *
 * Owns: the loaded keys (private halves decrypted in memory), their public key set, the JWKS
 * text, the reload timer, and the transaction of a rotation in progress. The time rules are
 * in key_policy.c; the SQL in key_store.c.
 */
#include "keyring.h"

#include <assert.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "key_policy.h"
#include "key_store.h"

#define KR_REFRESH_MIN_S 5 /* keyring_refresh_soon() reloads at most this often */

/* One reload-and-maybe-rotate cycle. */
enum kr_state {
	KR_IDLE,    /* waiting for the timer */
	KR_LOADING, /* SELECT of the published keys in flight */
	KR_BEGIN,   /* rotation: BEGIN in flight */
	KR_LOCK,    /* rotation: advisory lock in flight */
	KR_COUNT,   /* rotation: "is a key already signing far enough ahead?" in flight */
	KR_INSERT,  /* rotation: INSERT of the new key in flight */
	KR_PRUNE,   /* rotation: DELETE of long-unpublished keys in flight */
	KR_COMMIT,  /* rotation: COMMIT in flight */
};

struct kr_entry {
	char kid[32];
	struct jwt_key *key; /* NULL when this process cannot open it (other KEK) */
};

struct keyring {
	struct event_base *base;
	struct pg_pool *pg;
	unsigned char kek[32];
	long rotation_s;
	long access_ttl_s;
	struct event *timer;
	enum kr_state state;
	bool stopping;
	bool rotated; /* this cycle rotated already: the reload must not rotate again */
	time_t last_load;
	struct kr_entry *keys; /* nkeys entries, parallel to info */
	struct key_info *info;
	size_t nkeys;
	struct jwt_keyset *keyset;
	char *jwks;
	size_t jwks_len;
	struct pg_tx *tx;
};

/* The legal transitions of the cycle (any state may fall back to IDLE on an error). */
static void kr_set_state(struct keyring *kr, enum kr_state next)
{
	static const enum kr_state from[] = {
		[KR_LOADING] = KR_IDLE, [KR_BEGIN] = KR_LOADING, [KR_LOCK] = KR_BEGIN,
		[KR_COUNT] = KR_LOCK,   [KR_INSERT] = KR_COUNT,  [KR_PRUNE] = KR_INSERT,
	};

	if (next == KR_LOADING)
		assert(kr->state == KR_IDLE || kr->state == KR_COMMIT);
	else if (next == KR_COMMIT)
		assert(kr->state == KR_COUNT || kr->state == KR_PRUNE);
	else if (next != KR_IDLE)
		assert(kr->state == from[next]);
	kr->state = next;
}

static void kr_schedule(struct keyring *kr, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (!kr->stopping)
		evtimer_add(kr->timer, &tv);
}

/* The cycle ends: back to waiting, sooner when no key can sign. */
static void kr_idle(struct keyring *kr)
{
	/* reload at least twice per lead time, so a short rotation period never leaves a gap */
	long every = key_policy_lead_s(kr->rotation_s) * 1000 / 2;

	if (every > KEYRING_INTERVAL_MS)
		every = KEYRING_INTERVAL_MS;
	if (every < 1000)
		every = 1000;
	kr_set_state(kr, KR_IDLE);
	kr_schedule(kr, keyring_ready(kr) ? (int)every : KEYRING_RETRY_MS);
}

static void kr_fail(struct keyring *kr, const char *what, const char *err)
{
	log_warn(NULL, "signing keys", LS("step", what), LS("error", err != NULL ? err : "?"));
	if (kr->tx != NULL) {
		pg_tx_rollback(kr->tx, NULL, NULL);
		kr->tx = NULL;
	}
	kr_set_state(kr, KR_IDLE);
	kr_schedule(kr, KEYRING_RETRY_MS);
}

static void kr_free_keys(struct kr_entry *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		jwt_key_free(keys[i].key);
	free(keys);
}

/* Decrypts one sealed private key; NULL (and a log line) when it cannot be opened. */
static struct jwt_key *kr_open_key(const struct keyring *kr, const char *kid, const char *hex)
{
	size_t hlen = strlen(hex), slen = hlen / 2, plen = 0;
	unsigned char *sealed = malloc(slen > 0 ? slen : 1);
	unsigned char *pem = NULL;
	struct jwt_key *k = NULL;

	if (sealed == NULL || hlen % 2 != 0 || hex_decode(hex, hlen, sealed, slen) < 0)
		goto out;
	pem = crypto_open(kr->kek, sealed, slen, kid, &plen);
	if (pem == NULL)
		goto out;
	k = jwt_key_from_pem(kid, (const char *)pem, plen);
	explicit_bzero(pem, plen);
out:
	if (k == NULL)
		log_error(NULL, "signing key cannot be opened (wrong IDENTITY_KEY_ENCRYPTION_KEY?)",
			  LS("kid", kid));
	free(pem);
	free(sealed);
	return k;
}

/* The key of kid from the previous load, moved out of it (NULL when new). */
static struct jwt_key *kr_take_loaded(struct keyring *kr, const char *kid)
{
	for (size_t i = 0; i < kr->nkeys; i++) {
		if (strcmp(kr->keys[i].kid, kid) == 0) {
			struct jwt_key *k = kr->keys[i].key;
			kr->keys[i].key = NULL;
			return k;
		}
	}
	return NULL;
}

/* Builds the JWKS text and key set from the public_jwk column. */
static int kr_build_jwks(const PGresult *res, char **jwks, size_t *len, struct jwt_keyset **ks)
{
	json_object *doc = json_object_new_object(), *arr = json_object_new_array();
	char err[128];
	const char *txt;
	int rc = -1;

	if (doc == NULL || arr == NULL) {
		json_object_put(arr);
		goto out;
	}
	json_object_object_add(doc, "keys", arr);
	for (int i = 0; i < PQntuples(res); i++) {
		json_object *jwk = json_tokener_parse(pg_val(res, i, KEY_COL_JWK));
		if (jwk != NULL)
			json_object_array_add(arr, jwk);
	}
	if (json_object_array_length(arr) == 0) {
		rc = 0; /* nothing published yet */
		goto out;
	}
	txt = json_compact(doc, len);
	if ((*jwks = strdup(txt)) == NULL)
		goto out;
	*ks = jwt_keyset_from_jwks(*jwks, *len, err, sizeof(err));
	if (*ks == NULL)
		log_error(NULL, "published keys unusable", LS("error", err));
	rc = 0;
out:
	json_object_put(doc);
	return rc;
}

/* Replaces the loaded keys with the rows of key_store_load(). */
static int kr_apply(struct keyring *kr, const PGresult *res)
{
	size_t n = (size_t)PQntuples(res);
	struct kr_entry *keys = calloc(n > 0 ? n : 1, sizeof(*keys));
	struct key_info *info = calloc(n > 0 ? n : 1, sizeof(*info));
	struct jwt_keyset *ks = NULL;
	char *jwks = NULL;
	size_t jwks_len = 0;

	if (keys == NULL || info == NULL || kr_build_jwks(res, &jwks, &jwks_len, &ks) < 0) {
		free(keys);
		free(info);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *kid = pg_val(res, (int)i, KEY_COL_KID);

		snprintf(keys[i].kid, sizeof(keys[i].kid), "%s", kid);
		keys[i].key = kr_take_loaded(kr, kid);
		if (keys[i].key == NULL)
			keys[i].key = kr_open_key(kr, kid, pg_val(res, (int)i, KEY_COL_SEALED_HEX));
		info[i].created_at = (time_t)pg_int(res, (int)i, KEY_COL_CREATED);
		info[i].sign_until = (time_t)pg_int(res, (int)i, KEY_COL_SIGN_UNTIL);
		info[i].publish_until = (time_t)pg_int(res, (int)i, KEY_COL_PUBLISH_UNTIL);
		info[i].can_sign = keys[i].key != NULL;
	}
	kr_free_keys(kr->keys, kr->nkeys);
	free(kr->info);
	jwt_keyset_free(kr->keyset);
	free(kr->jwks);
	kr->keys = keys;
	kr->info = info;
	kr->nkeys = n;
	kr->keyset = ks;
	kr->jwks = jwks;
	kr->jwks_len = jwks_len;
	return 0;
}

static void kr_load(struct keyring *kr);

static void kr_on_committed(const char *err, void *arg)
{
	struct keyring *kr = arg;

	kr->tx = NULL; /* the handle is gone either way */
	if (kr->stopping)
		return;
	if (err != NULL) {
		kr_fail(kr, "commit", err);
		return;
	}
	kr->rotated = true;
	kr_load(kr);
}

static void kr_commit(struct keyring *kr)
{
	struct pg_tx *tx = kr->tx;

	kr_set_state(kr, KR_COMMIT);
	pg_tx_commit(tx, kr_on_committed, kr);
}

static void kr_on_pruned(const struct pg_result *r, void *arg)
{
	struct keyring *kr = arg;

	if (kr->stopping)
		return;
	if (r->err != NULL)
		kr_fail(kr, "prune", r->err);
	else
		kr_commit(kr);
}

static void kr_on_inserted(const struct pg_result *r, void *arg)
{
	struct keyring *kr = arg;

	if (kr->stopping)
		return;
	if (r->err != NULL) {
		kr_fail(kr, "insert", r->err);
		return;
	}
	log_info(NULL, "signing key created");
	kr_set_state(kr, KR_PRUNE);
	if (key_store_prune(kr->tx, kr_on_pruned, kr) < 0)
		kr_fail(kr, "prune", "not queued");
}

/* Generates a key and inserts it sealed; 0 when the INSERT is in flight. */
static int kr_insert_new_key(struct keyring *kr)
{
	unsigned char rnd[8];
	char kid[19], rhex[17], *pem = NULL, *hex = NULL;
	unsigned char *sealed = NULL;
	size_t slen = 0;
	struct jwt_key *k = NULL;
	json_object *jwk = NULL;
	int rc = -1;

	if (crypto_random(rnd, sizeof(rnd)) != 0)
		return -1;
	hex_encode(rnd, sizeof(rnd), rhex);
	snprintf(kid, sizeof(kid), "k-%s", rhex);
	if ((k = jwt_key_generate(kid)) == NULL || (pem = jwt_key_to_pem(k)) == NULL ||
	    (jwk = jwt_key_public_jwk(k)) == NULL)
		goto out;
	sealed = crypto_seal(kr->kek, pem, strlen(pem), kid, &slen);
	if (sealed == NULL || (hex = malloc(2 * slen + 1)) == NULL)
		goto out;
	hex_encode(sealed, slen, hex);
	kr_set_state(kr, KR_INSERT);
	rc = key_store_insert(kr->tx, kid, hex, json_compact(jwk, NULL), kr->rotation_s,
			      kr->access_ttl_s, kr_on_inserted, kr);
	if (rc == 0)
		log_info(NULL, "creating signing key", LS("kid", kid));
out:
	if (pem != NULL)
		explicit_bzero(pem, strlen(pem));
	free(pem);
	free(sealed);
	free(hex);
	json_object_put(jwk);
	jwt_key_free(k);
	return rc;
}

static void kr_on_counted(const struct pg_result *r, void *arg)
{
	struct keyring *kr = arg;

	if (kr->stopping)
		return;
	if (r->err != NULL || PQntuples(r->res) != 1) {
		kr_fail(kr, "count", r->err);
		return;
	}
	if (pg_int(r->res, 0, 0) > 0) { /* another replica rotated first */
		kr_commit(kr);
		return;
	}
	if (kr_insert_new_key(kr) < 0)
		kr_fail(kr, "generate", "key generation or sealing failed");
}

static void kr_on_locked(const struct pg_result *r, void *arg)
{
	struct keyring *kr = arg;

	if (kr->stopping)
		return;
	if (r->err != NULL) {
		kr_fail(kr, "lock", r->err);
		return;
	}
	kr_set_state(kr, KR_COUNT);
	if (key_store_count_signing(kr->tx, key_policy_lead_s(kr->rotation_s), kr_on_counted, kr) <
	    0)
		kr_fail(kr, "count", "not queued");
}

static void kr_on_begun(struct pg_tx *tx, const char *err, void *arg)
{
	struct keyring *kr = arg;

	if (kr->stopping)
		return; /* the pool owns and closes a transaction it hands out while freeing */
	if (tx == NULL) {
		kr_fail(kr, "begin", err);
		return;
	}
	kr->tx = tx;
	kr_set_state(kr, KR_LOCK);
	if (key_store_lock(tx, kr_on_locked, kr) < 0)
		kr_fail(kr, "lock", "not queued");
}

static void kr_on_loaded(const struct pg_result *r, void *arg)
{
	struct keyring *kr = arg;
	time_t now = time(NULL);

	if (kr->stopping)
		return;
	if (r->err != NULL || kr_apply(kr, r->res) < 0) {
		kr_fail(kr, "load", r->err != NULL ? r->err : "out of memory");
		return;
	}
	kr->last_load = now;
	if (kr->rotated ||
	    !key_policy_rotation_due(kr->info, kr->nkeys, now, key_policy_lead_s(kr->rotation_s))) {
		kr_idle(kr);
		return;
	}
	kr_set_state(kr, KR_BEGIN);
	if (pg_tx_begin(kr->pg, kr_on_begun, kr) < 0)
		kr_fail(kr, "begin", "not queued");
}

static void kr_load(struct keyring *kr)
{
	kr_set_state(kr, KR_LOADING);
	if (key_store_load(kr->pg, kr_on_loaded, kr) < 0)
		kr_fail(kr, "load", "not queued");
}

static void kr_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct keyring *kr = arg;

	(void)fd;
	(void)what;
	if (kr->stopping || kr->state != KR_IDLE)
		return;
	kr->rotated = false;
	kr_load(kr);
}

struct keyring *keyring_new(const struct keyring_opts *o)
{
	struct keyring *kr = calloc(1, sizeof(*kr));

	if (kr == NULL)
		return NULL;
	kr->base = o->base;
	kr->pg = o->pg;
	memcpy(kr->kek, o->kek, sizeof(kr->kek));
	kr->rotation_s = o->rotation_s;
	kr->access_ttl_s = o->access_ttl_s;
	kr->timer = evtimer_new(o->base, kr_on_timer, kr);
	if (kr->timer == NULL) {
		keyring_free(kr);
		return NULL;
	}
	return kr;
}

void keyring_start(struct keyring *kr)
{
	kr_schedule(kr, 0);
}

void keyring_refresh_soon(struct keyring *kr)
{
	if (kr->stopping || kr->state != KR_IDLE || time(NULL) - kr->last_load < KR_REFRESH_MIN_S)
		return;
	evtimer_del(kr->timer);
	kr_schedule(kr, 0);
}

void keyring_stop(struct keyring *kr)
{
	if (kr == NULL)
		return;
	kr->stopping = true;
	evtimer_del(kr->timer);
}

void keyring_free(struct keyring *kr)
{
	if (kr == NULL)
		return;
	if (kr->timer != NULL)
		event_free(kr->timer);
	kr_free_keys(kr->keys, kr->nkeys);
	free(kr->info);
	jwt_keyset_free(kr->keyset);
	free(kr->jwks);
	explicit_bzero(kr->kek, sizeof(kr->kek));
	free(kr);
}

const struct jwt_key *keyring_signer(struct keyring *kr, time_t now)
{
	int i = key_policy_signer(kr->info, kr->nkeys, now, key_policy_settle_s(kr->rotation_s));

	return i >= 0 ? kr->keys[i].key : NULL;
}

const struct jwt_keyset *keyring_keyset(const struct keyring *kr)
{
	return kr->keyset;
}

const char *keyring_jwks(const struct keyring *kr, size_t *len)
{
	if (len != NULL)
		*len = kr->jwks_len;
	return kr->jwks;
}

bool keyring_ready(void *arg)
{
	return keyring_signer(arg, time(NULL)) != NULL;
}
