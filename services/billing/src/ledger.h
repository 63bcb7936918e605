/*
 * ledger.h - the wallet and ledger steps every money transaction is built from, for use
 * inside a pg_tx (each is ONE statement calling a function of migrations/billing/0001_init.sql,
 * where the rules live next to the tables):
 *
 *   wallet_lock        SELECT ... FOR UPDATE on the user's wallet, creating it first when a
 *                      tenant is given. Lock the wallet BEFORE touching the user's holds, plan
 *                      or balance: it serialises all money work of one user.
 *   ledger_append      one immutable ledger row + the balance moved by the same amount (and
 *                      the held amount by held_delta); refused when the balance would go
 *                      negative or below what stays held; tells whether the debit crossed the
 *                      low-balance threshold (then add that event: billing_events_add_all).
 *   user_plan_activate the same plan still running is extended, any other replaced.
 *
 * Owns nothing; the callbacks get the statement's result (pg_result_cb) and read it with the
 * *_from_row helpers.
 */
#ifndef BILLING_LEDGER_H
#define BILLING_LEDGER_H

#include <json-c/json.h>
#include <stdbool.h>

#include "common/pg.h"

/* Ledger kinds (ledger_entries.kind). */
#define LEDGER_GRANT "grant"
#define LEDGER_CLAWBACK "clawback"
#define LEDGER_TOP_UP "top_up"
#define LEDGER_PURCHASE "purchase"
#define LEDGER_HOLD_CAPTURE "hold_capture"
#define LEDGER_REFUND "refund"
#define LEDGER_ADJUSTMENT "adjustment"

struct wallet {
	bool found;
	const char *user_id, *tenant_id, *currency; /* borrowed from the result */
	long long balance_minor, held_minor;
};

/* One row: user_id, tenant_id, balance_minor, held_minor, currency (all NULL when the user
 * has no wallet and tenant_id was NULL). tenant_id NULL = lock only, never create. */
int wallet_lock(struct pg_tx *tx, const char *user_id, const char *tenant_id,
		const char *currency, pg_result_cb cb, void *arg) MUST_CHECK;
void wallet_from_row(const PGresult *res, struct wallet *w);

struct ledger_append_req {
	const char *user_id;
	const char *kind;            /* LEDGER_* */
	long long amount_minor;      /* + credit, - debit */
	long long seconds;           /* plan render-seconds change, 0 if none */
	const char *reference_type;  /* may be NULL */
	const char *reference_id;    /* may be NULL */
	const char *idempotency_key; /* unique per user when not NULL (e.g. "payment:<id>") */
	const char *description;     /* may be NULL */
	long long held_delta;        /* change of wallets.held_minor, usually 0 */
	long long low_threshold;     /* BILLING_LOW_BALANCE_MINOR */
};
/* One row (entry json, low json): entry is the LedgerEntry, or NULL when refused (no wallet,
 * or the balance would drop below 0 / below what stays held); low is the
 * billing.balance.low.v1 event ({"type","aggregate_id","data"}) when this debit crossed the
 * threshold, else NULL. A repeated idempotency_key fails with SQLSTATE 23505. */
int ledger_append(struct pg_tx *tx, const struct ledger_append_req *e, pg_result_cb cb,
		  void *arg) MUST_CHECK;
/* From ledger_append's row: *entry (new object or NULL when refused) and *low_events (a new
 * one-element array, or NULL). Callers put both. */
void ledger_append_from_row(const PGresult *res, json_object **entry, json_object **low_events);

/* One row: the UserPlan JSON, or NULL for an unknown plan. The wallet must be locked.
 * extra_seconds (RenderCredits) and extra_periods (FreeMonths) may be 0. */
int user_plan_activate(struct pg_tx *tx, const char *user_id, const char *tenant_id,
		       const char *plan_id, long long extra_seconds, int extra_periods,
		       bool auto_renew, pg_result_cb cb, void *arg) MUST_CHECK;

#endif
