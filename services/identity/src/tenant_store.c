/*
 * tenant_store.c - SQL for identity.tenants (see tenant_store.h).
 *
 * Owns nothing; every function borrows the pool or transaction from the caller.
 */
#include "tenant_store.h"

#include <string.h>

void tenant_from_row(const PGresult *res, int row, int col, struct tenant *t,
		     struct http_request *copy)
{
	t->id = sql_col(res, row, col + 0, copy);
	t->slug = sql_col(res, row, col + 1, copy);
	t->name = sql_col(res, row, col + 2, copy);
	t->kind = sql_col(res, row, col + 3, copy);
	t->status = sql_col(res, row, col + 4, copy);
	t->custom_domain = sql_col(res, row, col + 5, copy);
	t->domain_verified = pg_bool(res, row, col + 6);
	t->contact_email = sql_col(res, row, col + 7, copy);
	t->max_users = sql_opt_int(res, row, col + 8);
	t->max_storage_gb = sql_opt_int(res, row, col + 9);
	t->monthly_render_qty = sql_opt_int(res, row, col + 10);
	t->trial_ends_at = sql_col(res, row, col + 11, copy);
	t->created_at = sql_col(res, row, col + 12, copy);
}

int tenant_store_by_slug(struct pg_pool *pg, const char *slug, pg_result_cb cb, void *arg)
{
	static const char sql[] = "SELECT " TENANT_COLS " FROM tenants t WHERE t.slug = $1";
	const char *params[1] = {slug};

	return pg_query(pg, sql, 1, params, cb, arg);
}

/* The columns tenant_created_from_row() reads, of alias t (the inserted or the existing row). */
#define TENANT_CREATED_COLS "t.id, t.slug, t.name, t.kind, t.status, " SQL_TS_MS("t.created_at")

int tenant_store_ensure_default(struct pg_tx *tx, const char *contact_email, pg_result_cb cb,
				void *arg)
{
	/* The SELECT does not see the INSERT's row (one snapshot): exactly one row either way,
	 * unless a concurrent insert committed after the snapshot (zero rows). */
	static const char sql[] =
		"WITH ins AS (INSERT INTO tenants (slug, name, kind, status, contact_email)"
		" VALUES ('default', 'Default', 'Internal', 'Active', $1)"
		" ON CONFLICT (slug) DO NOTHING RETURNING *)"
		" SELECT true, " TENANT_CREATED_COLS " FROM ins t"
		" UNION ALL SELECT false, " TENANT_CREATED_COLS " FROM tenants t"
		" WHERE t.slug = 'default'";
	const char *params[1] = {contact_email};

	return pg_tx_query(tx, sql, 1, params, cb, arg);
}

bool tenant_created_from_row(const PGresult *res, int row, struct tenant *t)
{
	memset(t, 0, sizeof(*t));
	t->id = pg_val(res, row, 1);
	t->slug = pg_val(res, row, 2);
	t->name = pg_val(res, row, 3);
	t->kind = pg_val(res, row, 4);
	t->status = pg_val(res, row, 5);
	t->created_at = pg_val(res, row, 6);
	return pg_bool(res, row, 0);
}
