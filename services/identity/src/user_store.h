/*
 * user_store.h - identity.users in PostgreSQL: the login lookup, registration, the profile
 * read and update, and the start-up admin. One function per statement.
 *
 * Every function borrows the pool or transaction; params are copied before return; callbacks
 * follow pg.h.
 */
#ifndef IDENTITY_USER_STORE_H
#define IDENTITY_USER_STORE_H

#include <stdbool.h>

#include "common/http.h"
#include "common/pg.h"
#include "model.h"
#include "sql.h"
#include "validate.h"

/* The User columns of alias u, in the order user_from_row() reads them. */
#define USER_COLS                                                                                  \
	"u.id, u.tenant_id, u.email, u.email_verified, u.phone_number, u.phone_verified,"          \
	" u.full_name, u.avatar_url, u.is_admin, u.is_tenant_admin, u.register_mode, u.status,"    \
	" u.slogan, u.about_me, u.company_name, u.website_name,"                                   \
	" to_char(u.birth_date, 'YYYY-MM-DD'), u.gender, u.email_tell_me, u.sms_tell_me,"          \
	" u.push_tell_me, u.telegram_tell_me, " SQL_TS("u.last_active_at") ", " SQL_TS(            \
		"u.created_at")
#define USER_NCOLS 24

/* Fills u from columns col..col+23 of row (borrowed from res, or copied into copy). */
void user_from_row(const PGresult *res, int row, int col, struct user *u,
		   struct http_request *copy);

/* Login: one row when the tenant exists: TENANT_COLS, then USER_COLS and password_hash of the
 * user with this e-mail (all NULL when there is none). */
#define LOGIN_COL_USER TENANT_NCOLS
#define LOGIN_COL_HASH (TENANT_NCOLS + USER_NCOLS)
int user_store_login_lookup(struct pg_pool *pg, const char *slug, const char *email,
			    pg_result_cb cb, void *arg) MUST_CHECK;

/* USER_COLS of one user (zero or one row). */
int user_store_get(struct pg_pool *pg, const char *user_id, pg_result_cb cb, void *arg) MUST_CHECK;
/* Sets the patch's columns in one UPDATE; USER_COLS of the updated user (zero or one row). */
int user_store_update(struct pg_pool *pg, const char *user_id, const struct user_patch *p,
		      pg_result_cb cb, void *arg) MUST_CHECK;

/* Start-up admin: does the user exist (one row, one boolean)? */
int user_store_exists(struct pg_pool *pg, const char *tenant_id, const char *email, pg_result_cb cb,
		      void *arg) MUST_CHECK;
/* Inserts the platform admin unless that e-mail exists (never overwrites). */
int user_store_insert_admin(struct pg_pool *pg, const char *tenant_id, const char *email,
			    const char *password_hash, pg_result_cb cb, void *arg) MUST_CHECK;

/* ---- new users: registration, tenant admins (POST /v1/tenants), the reseller API ---- */

struct user_new {
	const char *tenant_id;
	const char *email; /* lower-cased */
	const char *password_hash;
	const char *full_name;      /* may be NULL */
	const char *phone_number;   /* may be NULL */
	const char *affiliate_code; /* may be NULL */
	bool accept_terms;          /* terms_accepted_at = now() */
	bool is_tenant_admin;
	bool email_verified;
};
/* Inserts a user (register_mode Email) inside the transaction that also writes its event:
 * one row, USER_COLS then created_at with milliseconds (USER_COL_CREATED_MS); SQLSTATE 23505
 * when the e-mail is taken in that tenant. */
#define USER_COL_CREATED_MS USER_NCOLS
int user_store_create(struct pg_tx *tx, const struct user_new *n, pg_result_cb cb,
		      void *arg) MUST_CHECK;
/* USER_COLS of one user of this tenant (zero or one row). */
int user_store_get_in_tenant(struct pg_pool *pg, const char *tenant_id, const char *user_id,
			     pg_result_cb cb, void *arg) MUST_CHECK;
/* One page of a tenant's users, oldest first: every row starts with the total count, then
 * USER_COLS; a page past the end is one row whose user columns are all NULL. */
int user_store_list(struct pg_pool *pg, const char *tenant_id, long limit, long offset,
		    pg_result_cb cb, void *arg) MUST_CHECK;

#endif
