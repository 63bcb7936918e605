/*
 * key_store.c - SQL for identity.signing_keys (see key_store.h).
 *
 * Owns nothing; every function borrows a pool or transaction from the caller.
 */
#include "key_store.h"

#include <stdio.h>

int key_store_load(struct pg_pool *pg, pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"SELECT kid, encode(private_key_sealed, 'hex'), public_jwk::text,"
		" extract(epoch FROM created_at)::bigint, extract(epoch FROM sign_until)::bigint,"
		" extract(epoch FROM publish_until)::bigint"
		" FROM signing_keys WHERE publish_until > now() ORDER BY created_at, kid";

	return pg_query(pg, sql, 0, NULL, cb, arg);
}

int key_store_lock(struct pg_tx *tx, pg_result_cb cb, void *arg)
{
	static const char sql[] = "SELECT pg_advisory_xact_lock(hashtext('identity.signing_keys'))";

	return pg_tx_query(tx, sql, 0, NULL, cb, arg);
}

int key_store_count_signing(struct pg_tx *tx, long lead_s, pg_result_cb cb, void *arg)
{
	static const char sql[] = "SELECT count(*) FROM signing_keys"
				  " WHERE sign_until > now() + $1::int * interval '1 second'";
	char lead[24];
	const char *params[1] = {lead};

	snprintf(lead, sizeof(lead), "%ld", lead_s);
	return pg_tx_query(tx, sql, 1, params, cb, arg);
}

int key_store_insert(struct pg_tx *tx, const char *kid, const char *sealed_hex,
		     const char *public_jwk, long rotation_s, long access_ttl_s, pg_result_cb cb,
		     void *arg)
{
	static const char sql[] =
		"INSERT INTO signing_keys (kid, alg, private_key_sealed, public_jwk, created_at,"
		" sign_until, publish_until)"
		" VALUES ($1, 'ES256', decode($2, 'hex'), $3::jsonb, now(),"
		" now() + $4::int * interval '1 second',"
		" now() + ($4::int + $5::int + 60) * interval '1 second')";
	char rot[24], ttl[24];
	const char *params[5] = {kid, sealed_hex, public_jwk, rot, ttl};

	snprintf(rot, sizeof(rot), "%ld", rotation_s);
	snprintf(ttl, sizeof(ttl), "%ld", access_ttl_s);
	return pg_tx_query(tx, sql, 5, params, cb, arg);
}

int key_store_prune(struct pg_tx *tx, pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"DELETE FROM signing_keys WHERE publish_until < now() - interval '1 day'";

	return pg_tx_query(tx, sql, 0, NULL, cb, arg);
}
