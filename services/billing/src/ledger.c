/*
 * ledger.c - wallet and ledger steps inside a transaction (see ledger.h).
 *
 * Owns nothing: parameters are copied by pg_tx_query before it returns.
 */
#include "ledger.h"

#include <stdio.h>

#include "billing_json.h"

#define NUM_BUF 24

int wallet_lock(struct pg_tx *tx, const char *user_id, const char *tenant_id,
		const char *currency, pg_result_cb cb, void *arg)
{
	static const char sql[] = "SELECT user_id, tenant_id, balance_minor, held_minor, currency"
				  " FROM wallet_lock($1, $2, $3)";
	const char *params[3] = {user_id, tenant_id, currency};

	return pg_tx_query(tx, sql, 3, params, cb, arg);
}

void wallet_from_row(const PGresult *res, struct wallet *w)
{
	*w = (struct wallet){0};
	if (res == NULL || PQntuples(res) != 1 || pg_val(res, 0, 0) == NULL)
		return;
	w->found = true;
	w->user_id = pg_val(res, 0, 0);
	w->tenant_id = pg_val(res, 0, 1);
	w->balance_minor = pg_int(res, 0, 2);
	w->held_minor = pg_int(res, 0, 3);
	w->currency = pg_val(res, 0, 4);
}

int ledger_append(struct pg_tx *tx, const struct ledger_append_req *e, pg_result_cb cb, void *arg)
{
	static const char sql[] = "SELECT entry, low FROM ledger_append($1, $2, $3, $4, $5, $6,"
				  " $7, $8, $9, $10)";
	char amount[NUM_BUF], seconds[NUM_BUF], held[NUM_BUF], low[NUM_BUF];
	const char *params[10] = {e->user_id,         e->kind,           amount,
				  seconds,            e->reference_type, e->reference_id,
				  e->idempotency_key, e->description,    held,
				  low};

	snprintf(amount, sizeof(amount), "%lld", e->amount_minor);
	snprintf(seconds, sizeof(seconds), "%lld", e->seconds);
	snprintf(held, sizeof(held), "%lld", e->held_delta);
	snprintf(low, sizeof(low), "%lld", e->low_threshold);
	return pg_tx_query(tx, sql, 10, params, cb, arg);
}

void ledger_append_from_row(const PGresult *res, json_object **entry, json_object **low_events)
{
	json_object *low = billing_json_col(res, 1);

	*entry = billing_json_col(res, 0);
	*low_events = NULL;
	if (low != NULL) {
		*low_events = json_object_new_array();
		json_object_array_add(*low_events, low);
	}
}

int user_plan_activate(struct pg_tx *tx, const char *user_id, const char *tenant_id,
		       const char *plan_id, long long extra_seconds, int extra_periods,
		       bool auto_renew, pg_result_cb cb, void *arg)
{
	static const char sql[] = "SELECT user_plan_activate($1, $2, $3, $4, $5, $6::boolean)";
	char secs[NUM_BUF], periods[NUM_BUF];
	const char *params[6] = {user_id, tenant_id, plan_id, secs, periods,
				 auto_renew ? "true" : "false"};

	snprintf(secs, sizeof(secs), "%lld", extra_seconds);
	snprintf(periods, sizeof(periods), "%d", extra_periods);
	return pg_tx_query(tx, sql, 6, params, cb, arg);
}
