/*
 * app.h - struct billing_app: everything billing's handlers reach through their `app`
 * argument, and the small helpers every handler file shares: who is calling (the gateway's
 * signed headers for user and admin routes, a service token for internal ones), error
 * replies, paging, waking the outbox and the crash test hook.
 *
 * main.c builds the app, owns every member and frees them at exit; handlers borrow it.
 */
#ifndef BILLING_APP_H
#define BILLING_APP_H

#include <event2/event.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common/http.h"
#include "common/iauth.h"
#include "common/log.h"
#include "common/pg.h"
#include "config.h"

struct svc_verifier;
struct svc_caller;

struct billing_app {
	const struct billing_config *cfg;
	struct event_base *base;
	struct metrics *metrics;
	struct pg_pool *pg;
	const char *schema;            /* "billing": holds the outbox (billing_event_add) */
	struct amqp *amqp;             /* publisher + consumer; NULL once freed at shutdown */
	struct outbox *outbox;         /* the relay; NULL once freed at shutdown */
	struct consumer *consumer;     /* identity.user.registered.v1 */
	struct http_client *identity;  /* FR_IDENTITY_URL: JWKS for service tokens */
	struct svc_verifier *svc;      /* service tokens on /internal routes */
	struct sweep *sweep;           /* expires forgotten holds */
	struct sweep *pay_sweep;       /* expires abandoned Pending payments */
	struct pay_state *pay;         /* payment providers (pay_app.c) */
	struct http_server *http;
	struct http_route *routes;     /* billing_routes + billing_pay_routes (routes_build) */
	size_t nroutes;
	atomic_bool stopping;
};

/* ---- callers ------------------------------------------------------------------------------ */

/* A user route's caller, from the gateway's signed headers (iauth.h). Replies 401
 * token_missing (no signature, or no user), 401 token_invalid (bad or stale signature) and
 * returns -1; 0 with *out filled otherwise. */
int app_user_or_reply(struct billing_app *app, struct http_request *req, struct iauth *out);
/* app_user_or_reply, then 403 forbidden unless the caller is a platform admin. */
int app_admin_or_reply(struct billing_app *app, struct http_request *req, struct iauth *out);
/* Platform admin, or tenant admin of tenant_id. */
bool app_is_admin_of(const struct iauth *ia, const char *tenant_id);
/* An /internal route's caller: a service token with aud "billing" (svc_auth.h). Replies
 * 401/503 itself and returns -1. */
int app_service_or_reply(struct billing_app *app, struct http_request *req,
			 struct svc_caller *out);

/* The log context of a request (ids borrowed). */
struct log_ctx app_log_ctx(struct http_request *req, const char *tenant_id, const char *user_id);

/* ---- replies -------------------------------------------------------------------------------- */

/* 500 internal_error (or 503 service_unavailable when the database is unreachable, slow or
 * shutting down), logging what failed. r may be NULL (the query was not even queued). */
void app_reply_db_error(struct http_request *req, const char *what, const struct pg_result *r);
/* The same for an error text (a failed begin or commit). */
void app_reply_db_err_text(struct http_request *req, const char *what, const char *err);
void app_reply_internal(struct http_request *req, const char *what);
void app_reply_unavailable(struct http_request *req, const char *what);
/* Replies status with a JSON document rendered by PostgreSQL (json_build_object ...): the
 * text is trusted but parsed again so the reply is one compact object. 500 when it is not
 * JSON. */
void app_reply_pg_json(struct http_request *req, int status, const char *json_text);
/* The end of a one-statement route whose single column is the JSON answer: a database error
 * replies 500/503, no row (or SQL NULL) replies 404 not_found_code, else status with that
 * JSON. row_reply_new() allocates the context in the request's memory; pass row_reply_cb
 * and it as the query's callback. */
struct row_reply;
struct row_reply *row_reply_new(struct http_request *req, int status, const char *not_found_code,
				const char *not_found_message);
void row_reply_cb(const struct pg_result *r, void *arg);
struct http_request *row_reply_req(const struct row_reply *rr);
/* 422 validation_failed naming one field. */
void app_reply_invalid(struct http_request *req, const char *field, const char *issue);

/* ?page (>= 1, default 1) and ?page_size (1..100, default 20); 422 and -1 when malformed. */
int app_paging_or_reply(struct http_request *req, long *page, long *page_size);
/* {page, page_size, total, has_more}: a new object. */
json_object *app_paging_meta(long page, long page_size, long long total);

/* A path parameter that must be a UUID; 404 <what>_not_found when it is not (a malformed id
 * names nothing). Returns NULL after replying. */
const char *app_uuid_param_or_reply(struct http_request *req, const char *name,
				    const char *not_found_code);

/* ---- effects -------------------------------------------------------------------------------- */

/* Call after committing a transaction that added events: the relay publishes them now
 * instead of at its next poll. A no-op once the relay is freed. */
void app_outbox_kick(struct billing_app *app);

/* The crash test hook: when BILLING_FAULT_EXIT_AFTER_COMMIT equals op (e.g. "hold.reserve"),
 * exits the process with status 86 at once (call it right after op's COMMIT, before the
 * reply). Only configurable in FR_ENV=local (config.c). */
void app_fault_after_commit(const struct billing_app *app, const char *op);

/* True once the daemon is past its loop. */
bool app_stopping(const struct billing_app *app);

/* http_request_strdup that passes NULL through. */
char *app_strdup(struct http_request *req, const char *s);

#endif
