/*
 * user_store.c - SQL for identity.users (see user_store.h).
 *
 * Owns nothing; every function borrows the pool or transaction from the caller. The only SQL
 * assembled at run time is the PATCH's SET list, built from validate.c's fixed column names.
 */
#include "user_store.h"

#include <stdio.h>
#include <string.h>

#include "tenant_store.h"

void user_from_row(const PGresult *res, int row, int col, struct user *u, struct http_request *copy)
{
	u->id = sql_col(res, row, col + 0, copy);
	u->tenant_id = sql_col(res, row, col + 1, copy);
	u->email = sql_col(res, row, col + 2, copy);
	u->email_verified = pg_bool(res, row, col + 3);
	u->phone_number = sql_col(res, row, col + 4, copy);
	u->phone_verified = pg_bool(res, row, col + 5);
	u->full_name = sql_col(res, row, col + 6, copy);
	u->avatar_url = sql_col(res, row, col + 7, copy);
	u->is_admin = pg_bool(res, row, col + 8);
	u->is_tenant_admin = pg_bool(res, row, col + 9);
	u->register_mode = sql_col(res, row, col + 10, copy);
	u->status = sql_col(res, row, col + 11, copy);
	u->slogan = sql_col(res, row, col + 12, copy);
	u->about_me = sql_col(res, row, col + 13, copy);
	u->company_name = sql_col(res, row, col + 14, copy);
	u->website_name = sql_col(res, row, col + 15, copy);
	u->birth_date = sql_col(res, row, col + 16, copy);
	u->gender = sql_col(res, row, col + 17, copy);
	u->email_tell_me = pg_bool(res, row, col + 18);
	u->sms_tell_me = pg_bool(res, row, col + 19);
	u->push_tell_me = pg_bool(res, row, col + 20);
	u->telegram_tell_me = pg_bool(res, row, col + 21);
	u->last_active_date = sql_col(res, row, col + 22, copy);
	u->register_date = sql_col(res, row, col + 23, copy);
}

int user_store_login_lookup(struct pg_pool *pg, const char *slug, const char *email,
			    pg_result_cb cb, void *arg)
{
	static const char sql[] = "SELECT " TENANT_COLS ", " USER_COLS ", u.password_hash"
				  " FROM tenants t LEFT JOIN users u"
				  " ON u.tenant_id = t.id AND u.email_lower = lower($2)"
				  " WHERE t.slug = $1";
	const char *params[2] = {slug, email};

	return pg_query(pg, sql, 2, params, cb, arg);
}

int user_store_get(struct pg_pool *pg, const char *user_id, pg_result_cb cb, void *arg)
{
	static const char sql[] = "SELECT " USER_COLS " FROM users u WHERE u.id = $1";
	const char *params[1] = {user_id};

	return pg_query(pg, sql, 1, params, cb, arg);
}

int user_store_update(struct pg_pool *pg, const char *user_id, const struct user_patch *p,
		      pg_result_cb cb, void *arg)
{
	char sql[2048];
	const char *params[USER_PATCH_MAX + 1];
	size_t off;
	int n;

	if (p->n > USER_PATCH_MAX)
		return -1;
	params[0] = user_id;
	off = (size_t)snprintf(sql, sizeof(sql), "UPDATE users u SET updated_at = now()");
	for (size_t i = 0; i < p->n && off < sizeof(sql); i++) {
		/* column names come from validate.c's table, never from the request */
		off += (size_t)snprintf(sql + off, sizeof(sql) - off, ", %s = $%zu",
					p->set[i].column, i + 2);
		params[i + 1] = p->set[i].value;
	}
	if (off < sizeof(sql))
		off += (size_t)snprintf(sql + off, sizeof(sql) - off,
					" WHERE u.id = $1 RETURNING " USER_COLS);
	if (off >= sizeof(sql))
		return -1;
	n = (int)p->n + 1;
	return pg_query(pg, sql, n, params, cb, arg);
}

int user_store_exists(struct pg_pool *pg, const char *tenant_id, const char *email, pg_result_cb cb,
		      void *arg)
{
	static const char sql[] = "SELECT EXISTS (SELECT 1 FROM users"
				  " WHERE tenant_id = $1 AND email_lower = lower($2))";
	const char *params[2] = {tenant_id, email};

	return pg_query(pg, sql, 2, params, cb, arg);
}

int user_store_insert_admin(struct pg_pool *pg, const char *tenant_id, const char *email,
			    const char *password_hash, pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"INSERT INTO users (tenant_id, email, password_hash, email_verified, is_admin,"
		" is_tenant_admin, register_mode)"
		" VALUES ($1, lower($2), $3, true, true, true, 'Email')"
		" ON CONFLICT (tenant_id, email_lower) DO NOTHING";
	const char *params[3] = {tenant_id, email, password_hash};

	return pg_query(pg, sql, 3, params, cb, arg);
}

/* ---- tenant admins and the reseller API ---------------------------------------------------- */

int user_store_create(struct pg_tx *tx, const struct user_new *n, pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"INSERT INTO users AS u (tenant_id, email, password_hash, full_name, phone_number,"
		" is_tenant_admin, email_verified, affiliate_code, terms_accepted_at,"
		" register_mode)"
		" VALUES ($1, lower($2), $3, $4, $5, $6, $7, $8,"
		" CASE WHEN $9::boolean THEN now() END, 'Email')"
		" RETURNING " USER_COLS ", " SQL_TS_MS("u.created_at");
	const char *params[9] = {n->tenant_id,
				 n->email,
				 n->password_hash,
				 n->full_name,
				 n->phone_number,
				 n->is_tenant_admin ? "true" : "false",
				 n->email_verified ? "true" : "false",
				 n->affiliate_code,
				 n->accept_terms ? "true" : "false"};

	return pg_tx_query(tx, sql, 9, params, cb, arg);
}

int user_store_get_in_tenant(struct pg_pool *pg, const char *tenant_id, const char *user_id,
			     pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"SELECT " USER_COLS " FROM users u WHERE u.id = $1 AND u.tenant_id = $2";
	const char *params[2] = {user_id, tenant_id};

	return pg_query(pg, sql, 2, params, cb, arg);
}

int user_store_list(struct pg_pool *pg, const char *tenant_id, long limit, long offset,
		    pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"SELECT c.total, " USER_COLS
		" FROM (SELECT count(*) AS total FROM users WHERE tenant_id = $1) c"
		" LEFT JOIN LATERAL (SELECT * FROM users WHERE tenant_id = $1"
		" ORDER BY created_at, id LIMIT $2 OFFSET $3) u ON true ORDER BY u.created_at, u.id";
	char lim[SQL_LONG_BUF], off[SQL_LONG_BUF];
	const char *params[3] = {tenant_id, lim, off};

	snprintf(lim, sizeof(lim), "%ld", limit);
	snprintf(off, sizeof(off), "%ld", offset);
	return pg_query(pg, sql, 3, params, cb, arg);
}
