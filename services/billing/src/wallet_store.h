/*
 * wallet_store.h - read-only SQL for a user's money: the balance summary and the ledger
 * page. Each returns one row whose first column is the JSON the route answers.
 *
 * Owns nothing; every function borrows the pool from the caller.
 */
#ifndef BILLING_WALLET_STORE_H
#define BILLING_WALLET_STORE_H

#include "common/pg.h"

/* One row: the Balance JSON (zeros and currency when the user has no wallet yet). */
int wallet_store_balance(struct pg_pool *pg, const char *user_id, const char *currency,
			 pg_result_cb cb, void *arg) MUST_CHECK;
/* One row (data json, total bigint): the page of the user's ledger, newest first. */
int wallet_store_transactions(struct pg_pool *pg, const char *user_id, long page,
			      long page_size, pg_result_cb cb, void *arg) MUST_CHECK;

/* The op statement (status, body, events) of an admin grant or clawback (credits_adjust in
 * the migration): $1 user, $2 tenant or NULL, $3 kind, $4 signed amount, $5 description,
 * $6 ledger idempotency key or NULL, $7 admin user id, $8 currency, $9 low threshold. */
#define WALLET_SQL_CREDITS_ADJUST                                                                  \
	"SELECT status, body, events FROM credits_adjust($1::uuid, $2::uuid, $3, $4::bigint,"      \
	" $5, $6, $7::uuid, $8, $9::bigint)"

#endif
