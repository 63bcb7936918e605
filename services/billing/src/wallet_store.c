/*
 * wallet_store.c - SQL for the balance and the ledger pages (see wallet_store.h).
 *
 * Owns nothing.
 */
#include "wallet_store.h"

#include <stdio.h>

int wallet_store_balance(struct pg_pool *pg, const char *user_id, const char *currency,
			 pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"SELECT json_build_object('balance_minor', coalesce(w.balance_minor, 0),"
		" 'held_minor', coalesce(w.held_minor, 0),"
		" 'available_minor', coalesce(w.balance_minor - w.held_minor, 0),"
		" 'currency', coalesce(w.currency, $2),"
		" 'plan_seconds_left', coalesce(up.remain_charge_sec - up.held_seconds, 0),"
		" 'plan_seconds_held', coalesce(up.held_seconds, 0))"
		" FROM (SELECT $1::uuid AS user_id) u"
		" LEFT JOIN wallets w ON w.user_id = u.user_id"
		" LEFT JOIN user_plans up ON up.user_id = u.user_id AND up.status = 'Active'"
		" AND up.expires_at > now()";
	const char *params[2] = {user_id, currency};

	return pg_query(pg, sql, 2, params, cb, arg);
}

int wallet_store_transactions(struct pg_pool *pg, const char *user_id, long page,
			      long page_size, pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"SELECT coalesce((SELECT json_agg(ledger_json(l) ORDER BY l.seq DESC) FROM"
		" (SELECT * FROM ledger_entries WHERE user_id = $1 ORDER BY seq DESC"
		" LIMIT $2 OFFSET $3) l), '[]'),"
		" (SELECT count(*) FROM ledger_entries WHERE user_id = $1)";
	char limit[24], offset[24];
	const char *params[3] = {user_id, limit, offset};

	snprintf(limit, sizeof(limit), "%ld", page_size);
	snprintf(offset, sizeof(offset), "%ld", (page - 1) * page_size);
	return pg_query(pg, sql, 3, params, cb, arg);
}
