/*
 * plan_store.c - SQL for plans and user plans (see plan_store.h).
 *
 * Owns nothing. The PlanCreate / PlanUpdate bodies arrive as one jsonb parameter already
 * validated by plan_http.c; absent (or, for required columns, null) members keep the
 * column's default or current value.
 */
#include "plan_store.h"

int plan_store_list(struct pg_pool *pg, pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"SELECT json_build_object('data', coalesce(json_agg(plan_json(p)"
		" ORDER BY p.sort_order, p.price_minor, p.code), '[]'))"
		" FROM plans p WHERE p.is_active";

	return pg_query(pg, sql, 0, NULL, cb, arg);
}

int plan_store_get(struct pg_pool *pg, const char *plan_id, pg_result_cb cb, void *arg)
{
	static const char sql[] = "SELECT plan_json(p) FROM plans p WHERE p.id = $1";
	const char *params[1] = {plan_id};

	return pg_query(pg, sql, 1, params, cb, arg);
}

/* x is the body; every nullable column is set only when its member is present. */
#define PLAN_NULLABLE(col, type)                                                                   \
	"CASE WHEN x ? '" col "' THEN (x->>'" col "')::" type " ELSE " col " END"

int plan_store_create(struct pg_pool *pg, const char *body_json, const char *currency,
		      pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"WITH b AS (SELECT $1::jsonb AS x)"
		" INSERT INTO plans AS p (code, name, description, price_minor, before_price_minor,"
		" currency, billing_period, seconds_charge, second_price_minor,"
		" monthly_renders_quota, storage_gb, parallel_renders, max_resolution,"
		" render_speed_factor, icon, is_featured, is_active, sort_order, features)"
		" SELECT x->>'code', x->>'name', coalesce(x->>'description', ''),"
		" (x->>'price_minor')::bigint, (x->>'before_price_minor')::bigint, $2,"
		" x->>'billing_period', (x->>'seconds_charge')::bigint,"
		" (x->>'second_price_minor')::bigint, (x->>'monthly_renders_quota')::integer,"
		" coalesce((x->>'storage_gb')::integer, 1),"
		" coalesce((x->>'parallel_renders')::integer, 1),"
		" coalesce(x->>'max_resolution', '1080p'),"
		" coalesce((x->>'render_speed_factor')::numeric, 1), coalesce(x->>'icon', ''),"
		" coalesce((x->>'is_featured')::boolean, false),"
		" coalesce((x->>'is_active')::boolean, true),"
		" coalesce((x->>'sort_order')::integer, 0), coalesce(x->'features', '{}')"
		" FROM b RETURNING plan_json(p)";
	const char *params[2] = {body_json, currency};

	return pg_query(pg, sql, 2, params, cb, arg);
}

int plan_store_update(struct pg_pool *pg, const char *plan_id, const char *body_json,
		      pg_result_cb cb, void *arg)
{
	static const char sql[] =
		"WITH b AS (SELECT $2::jsonb AS x)"
		" UPDATE plans AS p SET name = coalesce(x->>'name', name),"
		" description = coalesce(x->>'description', description),"
		" price_minor = coalesce((x->>'price_minor')::bigint, price_minor),"
		" before_price_minor = " PLAN_NULLABLE("before_price_minor", "bigint") ","
		" billing_period = coalesce(x->>'billing_period', billing_period),"
		" seconds_charge = coalesce((x->>'seconds_charge')::bigint, seconds_charge),"
		" second_price_minor = coalesce((x->>'second_price_minor')::bigint,"
		" second_price_minor),"
		" monthly_renders_quota = " PLAN_NULLABLE("monthly_renders_quota", "integer") ","
		" storage_gb = coalesce((x->>'storage_gb')::integer, storage_gb),"
		" parallel_renders = coalesce((x->>'parallel_renders')::integer, parallel_renders),"
		" max_resolution = coalesce(x->>'max_resolution', max_resolution),"
		" render_speed_factor = coalesce((x->>'render_speed_factor')::numeric,"
		" render_speed_factor),"
		" icon = coalesce(x->>'icon', icon),"
		" is_featured = coalesce((x->>'is_featured')::boolean, is_featured),"
		" is_active = coalesce((x->>'is_active')::boolean, is_active),"
		" sort_order = coalesce((x->>'sort_order')::integer, sort_order),"
		" features = coalesce(x->'features', features), updated_at = now()"
		" FROM b WHERE p.id = $1 RETURNING plan_json(p)";
	const char *params[2] = {plan_id, body_json};

	return pg_query(pg, sql, 2, params, cb, arg);
}

int user_plan_store_current(struct pg_pool *pg, const char *user_id, pg_result_cb cb, void *arg)
{
	static const char sql[] = "SELECT user_plan_json(up) FROM user_plans up"
				  " WHERE up.user_id = $1 AND up.status = 'Active'"
				  " AND up.expires_at > now()";
	const char *params[1] = {user_id};

	return pg_query(pg, sql, 1, params, cb, arg);
}

int user_plan_store_set_renew(struct pg_pool *pg, const char *user_id, bool auto_renew,
			      bool cancel, pg_result_cb cb, void *arg)
{
	/* one statement: the CTE takes the wallet lock before the plan row is updated */
	static const char sql[] =
		"WITH w AS (SELECT user_id FROM wallets WHERE user_id = $1 FOR UPDATE)"
		" UPDATE user_plans up SET auto_renew = $2::boolean,"
		" cancelled_at = CASE WHEN $3::boolean THEN coalesce(cancelled_at, now())"
		" WHEN $2::boolean THEN NULL ELSE cancelled_at END, updated_at = now()"
		" FROM w WHERE up.user_id = w.user_id AND up.status = 'Active'"
		" AND up.expires_at > now() RETURNING user_plan_json(up)";
	const char *params[3] = {user_id, auto_renew ? "true" : "false", cancel ? "true" : "false"};

	return pg_query(pg, sql, 3, params, cb, arg);
}
