/*
 * tenant_store.h - identity.tenants in PostgreSQL: lookups by slug and the default tenant.
 *
 * Every function borrows the pool or transaction; params are copied before return; callbacks
 * follow pg.h.
 */
#ifndef IDENTITY_TENANT_STORE_H
#define IDENTITY_TENANT_STORE_H

#include <stdbool.h>

#include "common/http.h"
#include "common/pg.h"
#include "model.h"
#include "sql.h"

/* The Tenant columns of alias t, in the order tenant_from_row() reads them. */
#define TENANT_COLS                                                                                \
	"t.id, t.slug, t.name, t.kind, t.status, t.custom_domain, t.domain_verified,"              \
	" t.contact_email, t.max_users, t.max_storage_gb, t.monthly_render_qty, " SQL_TS(          \
		"t.trial_ends_at") ", " SQL_TS("t.created_at")
#define TENANT_NCOLS 13

/* Fills t from columns col..col+12 of row (strings borrowed from res, or copied into copy's
 * request memory when copy is not NULL). */
void tenant_from_row(const PGresult *res, int row, int col, struct tenant *t,
		     struct http_request *copy);

/* TENANT_COLS of the tenant with this slug (zero or one row). */
int tenant_store_by_slug(struct pg_pool *pg, const char *slug, pg_result_cb cb,
			 void *arg) MUST_CHECK;
/* Creates tenant "default" (Internal, Active) when absent, inside the transaction that also
 * writes identity.tenant.created.v1 when it was created. One row (zero when another replica
 * inserted it concurrently: retry): read with tenant_created_from_row(). */
int tenant_store_ensure_default(struct pg_tx *tx, const char *contact_email, pg_result_cb cb,
				void *arg) MUST_CHECK;
/* Fills id, slug, name, kind, status and created_at (ISO 8601 with milliseconds) of t from
 * tenant_store_ensure_default's row, the other members zeroed; returns true when that
 * statement created the tenant. Strings borrowed from res. */
bool tenant_created_from_row(const PGresult *res, int row, struct tenant *t);

/* ---- the tenant administration API ---- */

/* TENANT_COLS plus the settings of struct tenant_detail, of alias t. */
#define TENANT_DETAIL_COLS                                                                         \
	TENANT_COLS ", t.contact_name, t.contact_phone, t.billing_email,"                          \
		    " array_to_string(t.allowed_origins, ',')"
#define TENANT_DETAIL_NCOLS (TENANT_NCOLS + 4)
void tenant_detail_from_row(const PGresult *res, int row, int col, struct tenant_detail *d,
			    struct http_request *copy);

/* POST /v1/tenants, inside the transaction that also creates its admin and the events: one
 * row, TENANT_DETAIL_COLS then created_at with milliseconds (for the event); SQLSTATE 23505
 * when the slug is taken. */
struct tenant_create_req;
int tenant_store_insert(struct pg_tx *tx, const struct tenant_create_req *r, pg_result_cb cb,
			void *arg) MUST_CHECK;
/* TENANT_DETAIL_COLS of one tenant (zero or one row). */
int tenant_store_get(struct pg_pool *pg, const char *tenant_id, pg_result_cb cb,
		     void *arg) MUST_CHECK;
/* One page of tenants, oldest first: every row starts with the total count, then
 * TENANT_DETAIL_COLS; a page past the end is one row whose tenant columns are all NULL. */
int tenant_store_list(struct pg_pool *pg, long limit, long offset, pg_result_cb cb,
		      void *arg) MUST_CHECK;

/* PATCH: locks the tenant, sets the patch's columns (from validate.c's fixed names) and
 * answers zero rows (no such tenant) or one: TENANT_DETAIL_COLS, then TENANT_UPD_COL_* . */
enum {
	TENANT_UPD_COL_OLD_STATUS = TENANT_DETAIL_NCOLS, /* status before the change */
	TENANT_UPD_COL_CHANGED,                          /* comma-joined changed field names */
	TENANT_UPD_COL_UPDATED_AT,                       /* ISO 8601 with milliseconds */
};
struct tenant_patch;
int tenant_store_update(struct pg_tx *tx, const char *tenant_id, const struct tenant_patch *p,
			pg_result_cb cb, void *arg) MUST_CHECK;

/* What the gateway may have cached for a tenant: rows (kind, value) with kind 'k' = the
 * key_prefix of an unrevoked API key, 's' = the id of an active session (at most limit of
 * each). */
int tenant_store_credentials(struct pg_pool *pg, const char *tenant_id, long limit,
			     pg_result_cb cb, void *arg) MUST_CHECK;

#endif
