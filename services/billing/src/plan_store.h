/*
 * plan_store.h - SQL for billing.plans and billing.user_plans: each function runs one
 * statement whose single column is the JSON the route answers (rendered by the migration's
 * plan_json() / user_plan_json()).
 *
 * Owns nothing; every function borrows the pool from the caller.
 */
#ifndef BILLING_PLAN_STORE_H
#define BILLING_PLAN_STORE_H

#include <stdbool.h>

#include "common/pg.h"

/* One row {data:[Plan...]} of the active plans, in catalog order. */
int plan_store_list(struct pg_pool *pg, pg_result_cb cb, void *arg) MUST_CHECK;
/* One row: the Plan, or no row. */
int plan_store_get(struct pg_pool *pg, const char *plan_id, pg_result_cb cb, void *arg) MUST_CHECK;
/* Inserts from a validated PlanCreate body (JSON text); one row: the Plan. 23505 when the
 * code is taken. */
int plan_store_create(struct pg_pool *pg, const char *body_json, const char *currency,
		      pg_result_cb cb, void *arg) MUST_CHECK;
/* Applies a validated PlanUpdate body (JSON text); one row: the Plan, or no row. */
int plan_store_update(struct pg_pool *pg, const char *plan_id, const char *body_json,
		      pg_result_cb cb, void *arg) MUST_CHECK;

/* One row: the user's current UserPlan (Active, not expired), or no row. */
int user_plan_store_current(struct pg_pool *pg, const char *user_id, pg_result_cb cb,
			    void *arg) MUST_CHECK;
/* Sets auto_renew (and cancelled_at when cancel) on the user's current plan, under the
 * wallet lock; one row: the UserPlan, or no row. */
int user_plan_store_set_renew(struct pg_pool *pg, const char *user_id, bool auto_renew,
			      bool cancel, pg_result_cb cb, void *arg) MUST_CHECK;

#endif
