/*
 * usage_http.c - GET /v1/tenants/{tenant_id}/usage?from=YYYY-MM-DD&to=YYYY-MM-DD: a tenant's
 * renders, render seconds and amount billed per day (usage_daily, fed by hold captures), for
 * a platform admin or that tenant's admin.
 *
 * Owns nothing beyond request memory.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "common/json.h"
#include "handlers.h"

#define USAGE_MAX_DAYS 366

/* A real calendar date "YYYY-MM-DD" into *t (UTC midnight). */
static bool usage_date(const char *s, time_t *t)
{
	struct tm tm = {0};
	int y, m, d;
	char tail;

	if (s == NULL || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 ||
	    s[4] != '-' || s[7] != '-' || y < 2000 || y > 9999)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	*t = timegm(&tm);
	gmtime_r(t, &tm); /* normalised: 2026-02-30 became March */
	return tm.tm_year == y - 1900 && tm.tm_mon == m - 1 && tm.tm_mday == d;
}

/* from and to (defaults: the last 30 days up to today, UTC); -1 after a 422. */
static int usage_range_or_reply(struct http_request *req, char from[11], char to[11])
{
	const char *f = http_request_query_param(req, "from");
	const char *t = http_request_query_param(req, "to");
	time_t now = time(NULL), tf = now - 29 * 86400, tt = now;
	struct jv v;

	jv_init(&v);
	if (f != NULL && !usage_date(f, &tf))
		jv_fail(&v, "from", "must be a date YYYY-MM-DD");
	if (t != NULL && !usage_date(t, &tt))
		jv_fail(&v, "to", "must be a date YYYY-MM-DD");
	if (!jv_failed(&v) && tt < tf)
		jv_fail(&v, "to", "must not be before from");
	if (!jv_failed(&v) && (tt - tf) / 86400 >= USAGE_MAX_DAYS)
		jv_fail(&v, "to", "the range is at most 366 days");
	if (jv_failed(&v)) {
		http_reply_validation(req, &v);
		return -1;
	}
	struct tm tm;

	strftime(from, 11, "%Y-%m-%d", gmtime_r(&tf, &tm));
	strftime(to, 11, "%Y-%m-%d", gmtime_r(&tt, &tm));
	return 0;
}

void usage_http_get(struct http_request *req, void *arg)
{
	static const char sql[] =
		"SELECT json_build_object('data', coalesce(json_agg(json_build_object("
		"'usage_date', to_char(u.day, 'YYYY-MM-DD'), 'renders', u.renders,"
		" 'render_seconds', u.render_seconds, 'amount_billed_minor', u.amount_billed_minor)"
		" ORDER BY u.day), '[]')) FROM (SELECT day, sum(renders) AS renders,"
		" sum(render_seconds) AS render_seconds, sum(amount_billed_minor) AS"
		" amount_billed_minor FROM usage_daily WHERE tenant_id = $1"
		" AND day BETWEEN $2::date AND $3::date GROUP BY day) u";
	struct billing_app *app = arg;
	struct iauth ia;
	const char *tenant, *params[3];
	char *from = http_request_alloc(req, 11), *to = http_request_alloc(req, 11);

	if (app_user_or_reply(app, req, &ia) < 0 ||
	    (tenant = app_uuid_param_or_reply(req, "tenant_id", "tenant_not_found")) == NULL)
		return;
	if (!app_is_admin_of(&ia, tenant)) {
		http_reply_error(req, 403, "forbidden",
				 "Only a platform admin or this tenant's admin may see its usage.",
				 NULL);
		return;
	}
	if (usage_range_or_reply(req, from, to) < 0)
		return;
	params[0] = tenant;
	params[1] = from;
	params[2] = to;
	if (pg_query(app->pg, sql, 3, params, row_reply_cb, row_reply_new(req, 200, NULL, NULL)) < 0)
		app_reply_db_error(req, "usage", NULL);
}
