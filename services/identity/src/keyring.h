/*
 * keyring.h - identity's ES256 signing keys: loaded from PostgreSQL, created and rotated
 * there (sealed with the key-encryption key), and the JWKS built from them.
 *
 * On start and every KEYRING_INTERVAL_MS (more often when IDENTITY_KEY_ROTATION_S is short,
 * every KEYRING_RETRY_MS while no key can sign) the keyring
 * reloads every published key from identity.signing_keys (other replicas may have rotated),
 * then, when no key signs far enough ahead (key_policy.h), creates one inside a transaction
 * holding an advisory lock so that replicas never rotate twice. Everything is asynchronous on
 * the loop; the keyring owns its keys, key set, JWKS text and timer.
 */
#ifndef IDENTITY_KEYRING_H
#define IDENTITY_KEYRING_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/jwt.h"
#include "common/pg.h"

#define KEYRING_INTERVAL_MS 60000
#define KEYRING_RETRY_MS 2000

struct keyring;

struct keyring_opts {
	struct event_base *base;
	struct pg_pool *pg;       /* borrowed; must outlive the keyring's queries */
	const unsigned char *kek; /* 32 bytes, copied */
	long rotation_s;
	long access_ttl_s;
};

struct keyring *keyring_new(const struct keyring_opts *o);
/* Loads now, then on the timer. */
void keyring_start(struct keyring *kr);
/* Reload soon (e.g. a token named a kid we do not know); at most every few seconds. */
void keyring_refresh_soon(struct keyring *kr);
/* No more timers or new queries; callbacks still in flight become no-ops. */
void keyring_stop(struct keyring *kr);
/* Call after the pool is freed (its callbacks may still reference the keyring). */
void keyring_free(struct keyring *kr);

/* The key to sign with now, or NULL (not loaded yet, or none usable). Borrowed until the
 * next reload: use it within the current callback. */
const struct jwt_key *keyring_signer(struct keyring *kr, time_t now);
/* Public keys of every published key (own verification), or NULL. Borrowed likewise. */
const struct jwt_keyset *keyring_keyset(const struct keyring *kr);
/* {"keys":[...]} of the published keys, or NULL when none. Borrowed likewise. */
const char *keyring_jwks(const struct keyring *kr, size_t *len);
/* Readiness check (arg is the keyring): some key can sign now. */
bool keyring_ready(void *kr);

#endif
