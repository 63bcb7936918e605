/*
 * app.c - helpers shared by billing's handler files (see app.h).
 *
 * Owns nothing: every function borrows the app and the request.
 */
#include "app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/json.h"
#include "common/outbox.h"
#include "common/svc_auth.h"

#define FAULT_EXIT_STATUS 86
#define PAGE_SIZE_DEFAULT 20
#define PAGE_SIZE_MAX 100

int app_user_or_reply(struct billing_app *app, struct http_request *req, struct iauth *out)
{
	enum iauth_result r = iauth_check(req, app->cfg->common.internal_secret, out);

	if (r == IAUTH_BAD) {
		log_warn(&(struct log_ctx){.request_id = http_request_id(req)},
			 "internal signature rejected", LS("peer", http_request_peer(req)));
		http_reply_error(req, 401, "token_invalid",
				 "The internal signature is invalid or stale.", NULL);
		return -1;
	}
	if (r == IAUTH_NONE || out->user_id[0] == '\0' || out->tenant_id[0] == '\0') {
		http_reply_error(req, 401, "token_missing",
				 "This route needs a signed-in user (through the gateway).", NULL);
		return -1;
	}
	http_request_set_log_ids(req, out->tenant_id, out->user_id);
	return 0;
}

int app_admin_or_reply(struct billing_app *app, struct http_request *req, struct iauth *out)
{
	if (app_user_or_reply(app, req, out) < 0)
		return -1;
	if (out->is_admin)
		return 0;
	http_reply_error(req, 403, "forbidden", "This route is for platform admins.", NULL);
	return -1;
}

bool app_is_admin_of(const struct iauth *ia, const char *tenant_id)
{
	return ia->is_admin || (ia->is_tenant_admin && strcmp(ia->tenant_id, tenant_id) == 0);
}

int app_service_or_reply(struct billing_app *app, struct http_request *req,
			 struct svc_caller *out)
{
	return svc_auth_or_reply(app->svc, req, out);
}

struct log_ctx app_log_ctx(struct http_request *req, const char *tenant_id, const char *user_id)
{
	return (struct log_ctx){
		.request_id = http_request_id(req), .tenant_id = tenant_id, .user_id = user_id};
}

void app_reply_db_error(struct http_request *req, const char *what, const struct pg_result *r)
{
	pg_reply_error(req, what, r);
}

void app_reply_db_err_text(struct http_request *req, const char *what, const char *err)
{
	struct pg_result r = {.res = NULL, .err = err, .sqlstate = ""};

	app_reply_db_error(req, what, &r);
}

void app_reply_internal(struct http_request *req, const char *what)
{
	http_reply_internal(req, what);
}

void app_reply_unavailable(struct http_request *req, const char *what)
{
	http_reply_unavailable(req, what);
}

void app_reply_pg_json(struct http_request *req, int status, const char *json_text)
{
	json_object *o = json_text != NULL ? json_tokener_parse(json_text) : NULL;

	if (o == NULL) {
		app_reply_internal(req, "render json");
		return;
	}
	http_reply_json(req, status, o);
}

struct row_reply {
	struct http_request *req;
	int status;
	const char *code, *message; /* static strings */
};

struct row_reply *row_reply_new(struct http_request *req, int status, const char *not_found_code,
				const char *not_found_message)
{
	struct row_reply *rr = http_request_alloc(req, sizeof(*rr));

	*rr = (struct row_reply){req, status, not_found_code, not_found_message};
	return rr;
}

struct http_request *row_reply_req(const struct row_reply *rr)
{
	return rr->req;
}

void row_reply_cb(const struct pg_result *r, void *arg)
{
	struct row_reply *rr = arg;

	if (r->err != NULL) {
		app_reply_db_error(rr->req, http_request_route(rr->req), r);
		return;
	}
	if (PQntuples(r->res) != 1 || pg_val(r->res, 0, 0) == NULL) {
		http_reply_error(rr->req, 404, rr->code, rr->message, NULL);
		return;
	}
	app_reply_pg_json(rr->req, rr->status, pg_val(r->res, 0, 0));
}

void app_reply_invalid(struct http_request *req, const char *field, const char *issue)
{
	struct jv v;

	jv_init(&v);
	jv_fail(&v, field, issue);
	http_reply_validation(req, &v);
}

/* A decimal query parameter in [min, max], def when absent; -1 when malformed. */
static int query_long(struct http_request *req, const char *name, long min, long max, long def,
		      long *out)
{
	const char *s = http_request_query_param(req, name);
	char *end;
	long v;

	*out = def;
	if (s == NULL)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int app_paging_or_reply(struct http_request *req, long *page, long *page_size)
{
	struct jv v;

	jv_init(&v);
	if (query_long(req, "page", 1, 1000000, 1, page) < 0)
		jv_fail(&v, "page", "must be an integer >= 1");
	if (query_long(req, "page_size", 1, PAGE_SIZE_MAX, PAGE_SIZE_DEFAULT, page_size) < 0)
		jv_fail(&v, "page_size", "must be an integer between 1 and 100");
	if (!jv_failed(&v))
		return 0;
	http_reply_validation(req, &v);
	return -1;
}

json_object *app_paging_meta(long page, long page_size, long long total)
{
	json_object *m = json_object_new_object();

	json_set_int(m, "page", page);
	json_set_int(m, "page_size", page_size);
	json_set_int(m, "total", total);
	json_set_bool(m, "has_more", (long long)page * page_size < total);
	return m;
}

const char *app_uuid_param_or_reply(struct http_request *req, const char *name,
				    const char *not_found_code)
{
	const char *v = http_request_param(req, name);

	if (v != NULL && uuid_valid(v))
		return v;
	http_reply_error(req, 404, not_found_code, "No such resource.", NULL);
	return NULL;
}

void app_outbox_kick(struct billing_app *app)
{
	if (app->outbox != NULL)
		outbox_kick(app->outbox);
}

void app_fault_after_commit(const struct billing_app *app, const char *op)
{
	const char *hook = app->cfg->fault_exit_after_commit;

	if (hook == NULL || hook[0] == '\0' || strcmp(hook, op) != 0)
		return;
	log_warn(NULL, "fault hook: exiting after commit", LS("operation", op));
	_exit(FAULT_EXIT_STATUS);
}

bool app_stopping(const struct billing_app *app)
{
	return atomic_load(&app->stopping);
}

char *app_strdup(struct http_request *req, const char *s)
{
	return s != NULL ? http_request_strdup(req, s) : NULL;
}
