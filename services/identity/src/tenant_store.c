/*
 * tenant_store.c - SQL for identity.tenants (see tenant_store.h).
 *
 * Owns nothing; every function borrows the pool or transaction from the caller.
 */
#include "tenant_store.h"

#include <stdio.h>
#include <string.h>

#include "validate.h"

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

/* ---- the tenant administration API ---------------------------------------------------------- */

void tenant_detail_from_row(const PGresult *res, int row, int col, struct tenant_detail *d,
			    struct http_request *copy)
{
	tenant_from_row(res, row, col, &d->t, copy);
	d->contact_name = sql_col(res, row, col + TENANT_NCOLS, copy);
	d->contact_phone = sql_col(res, row, col + TENANT_NCOLS + 1, copy);
	d->billing_email = sql_col(res, row, col + TENANT_NCOLS + 2, copy);
	d->allowed_origins = sql_col(res, row, col + TENANT_NCOLS + 3, copy);
}

int tenant_store_insert(struct pg_tx *tx, const struct tenant_create_req *r, pg_result_cb cb,
			void *arg)
{
	static const char sql[] =
		"INSERT INTO tenants AS t (slug, name, kind, status, contact_name, contact_email,"
		" contact_phone) VALUES ($1, $2, $3, 'Active', $4, lower($5), $6)"
		" RETURNING " TENANT_DETAIL_COLS ", " SQL_TS_MS("t.created_at");
	const char *params[6] = {r->slug,         r->name,         r->kind,
				 r->contact_name, r->contact_email, r->contact_phone};

	return pg_tx_query(tx, sql, 6, params, cb, arg);
}

int tenant_store_get(struct pg_pool *pg, const char *tenant_id, pg_result_cb cb, void *arg)
{
	static const char sql[] = "SELECT " TENANT_DETAIL_COLS " FROM tenants t WHERE t.id = $1";
	const char *params[1] = {tenant_id};

	return pg_query(pg, sql, 1, params, cb, arg);
}

int tenant_store_list(struct pg_pool *pg, long limit, long offset, pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"SELECT c.total, " TENANT_DETAIL_COLS " FROM (SELECT count(*) AS total FROM tenants) c"
		" LEFT JOIN LATERAL (SELECT * FROM tenants ORDER BY created_at, id"
		" LIMIT $1 OFFSET $2) t ON true ORDER BY t.created_at, t.id";
	char lim[SQL_LONG_BUF], off[SQL_LONG_BUF];
	const char *params[2] = {lim, off};

	snprintf(lim, sizeof(lim), "%ld", limit);
	snprintf(off, sizeof(off), "%ld", offset);
	return pg_query(pg, sql, 2, params, cb, arg);
}

/* The names of the patchable fields whose value differs between t (new) and old. */
#define TENANT_CHANGED_FIELDS                                                                      \
	"array_to_string(array_remove(ARRAY["                                                      \
	"CASE WHEN t.name IS DISTINCT FROM old.name THEN 'name' END,"                              \
	" CASE WHEN t.contact_name IS DISTINCT FROM old.contact_name THEN 'contact_name' END,"     \
	" CASE WHEN t.contact_email IS DISTINCT FROM old.contact_email THEN 'contact_email' END,"  \
	" CASE WHEN t.contact_phone IS DISTINCT FROM old.contact_phone THEN 'contact_phone' END,"  \
	" CASE WHEN t.billing_email IS DISTINCT FROM old.billing_email THEN 'billing_email' END,"  \
	" CASE WHEN t.allowed_origins IS DISTINCT FROM old.allowed_origins"                        \
	" THEN 'allowed_origins' END,"                                                             \
	" CASE WHEN t.status IS DISTINCT FROM old.status THEN 'status' END], NULL), ',')"

int tenant_store_update(struct pg_tx *tx, const char *tenant_id, const struct tenant_patch *p,
			pg_result_cb cb, void *arg)
{
	char sql[4096];
	const char *params[TENANT_PATCH_MAX + 1];
	size_t off;

	if (p->n > TENANT_PATCH_MAX)
		return -1;
	params[0] = tenant_id;
	off = (size_t)snprintf(sql, sizeof(sql),
			       "WITH old AS (SELECT * FROM tenants WHERE id = $1 FOR UPDATE)"
			       " UPDATE tenants t SET updated_at = now()");
	for (size_t i = 0; i < p->n && off < sizeof(sql); i++) {
		/* column names come from validate.c's table, never from the request */
		off += (size_t)snprintf(sql + off, sizeof(sql) - off, ", %s = $%zu",
					p->set[i].column, i + 2);
		params[i + 1] = p->set[i].value;
	}
	if (off < sizeof(sql))
		off += (size_t)snprintf(sql + off, sizeof(sql) - off,
					" FROM old WHERE t.id = old.id RETURNING " TENANT_DETAIL_COLS
					", old.status, " TENANT_CHANGED_FIELDS ", " SQL_TS_MS(
						"t.updated_at"));
	if (off >= sizeof(sql))
		return -1;
	return pg_tx_query(tx, sql, (int)p->n + 1, params, cb, arg);
}

int tenant_store_credentials(struct pg_pool *pg, const char *tenant_id, long limit,
			     pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"(SELECT 'k', key_prefix FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL"
		" ORDER BY created_at DESC LIMIT $2)"
		" UNION ALL (SELECT 's', id::text FROM sessions WHERE tenant_id = $1"
		" AND revoked_at IS NULL AND expires_at > now() ORDER BY last_used_at DESC LIMIT $2)";
	char lim[SQL_LONG_BUF];
	const char *params[2] = {tenant_id, lim};

	snprintf(lim, sizeof(lim), "%ld", limit);
	return pg_query(pg, sql, 2, params, cb, arg);
}
