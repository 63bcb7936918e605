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

#endif
