/*
 * key_store.h - identity.signing_keys in PostgreSQL: load the published keys, and the steps
 * of a rotation transaction (lock, count, insert, prune). One function per statement.
 *
 * Every function borrows the pool or transaction; params are copied before return; the
 * callback follows pg.h's contract (never called from inside, not called on -1).
 */
#ifndef IDENTITY_KEY_STORE_H
#define IDENTITY_KEY_STORE_H

#include "common/pg.h"

/* Rows: kid, sealed private key (hex), public_jwk (text), created_at, sign_until,
 * publish_until (Unix seconds) of every key still published, oldest first. */
enum {
	KEY_COL_KID,
	KEY_COL_SEALED_HEX,
	KEY_COL_JWK,
	KEY_COL_CREATED,
	KEY_COL_SIGN_UNTIL,
	KEY_COL_PUBLISH_UNTIL
};
int key_store_load(struct pg_pool *pg, pg_result_cb cb, void *arg) MUST_CHECK;

/* Serialises rotations across replicas until the transaction ends. */
int key_store_lock(struct pg_tx *tx, pg_result_cb cb, void *arg) MUST_CHECK;
/* One row, one column: keys that still sign lead_s seconds from now. */
int key_store_count_signing(struct pg_tx *tx, long lead_s, pg_result_cb cb, void *arg) MUST_CHECK;
/* A new key signing from now for rotation_s, published access_ttl_s + 60 s longer. */
int key_store_insert(struct pg_tx *tx, const char *kid, const char *sealed_hex,
		     const char *public_jwk, long rotation_s, long access_ttl_s, pg_result_cb cb,
		     void *arg) MUST_CHECK;
/* Deletes keys unpublished for more than a day. */
int key_store_prune(struct pg_tx *tx, pg_result_cb cb, void *arg) MUST_CHECK;

#endif
