/*
 * auth_login_http.c - POST /v1/auth/login.
 *
 * Steps (enum login_step): validate -> throttle check (Redis, before any hashing) -> load
 * tenant + user (PostgreSQL) -> verify the password on the worker pool (against a dummy hash
 * when the tenant or e-mail is unknown, so every failure costs the same) -> refuse banned
 * users and suspended tenants -> create the session, its refresh token and the user's
 * last_active_at in one statement -> sign the access token -> 200 AuthTokens.
 * Owns a per-request context in the request's memory.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "common/crypto.h"
#include "handlers.h"
#include "keyring.h"
#include "session_store.h"
#include "tenant_store.h"
#include "throttle.h"
#include "tokens.h"
#include "user_store.h"
#include "validate.h"

enum login_step {
	LOGIN_THROTTLE, /* waiting for the throttle verdict */
	LOGIN_LOOKUP,   /* tenant + user query in flight */
	LOGIN_VERIFY,   /* password verification on the worker pool */
	LOGIN_SESSION,  /* session insert in flight */
};

struct login_ctx {
	struct identity_app *app;
	struct http_request *req;
	enum login_step step;
	struct login_req r; /* strings copied into request memory */
	char *password;     /* request memory; wiped after verification */
	const char *ip;
	const char *user_agent;
	struct throttle_req tq;
	bool found;           /* tenant and user exist */
	bool verified;        /* set by the worker */
	struct tenant tenant; /* request memory */
	struct user user;     /* request memory */
	const char *hash;     /* request memory */
	char session_id[UUID_STR_LEN];
	char refresh_id[UUID_STR_LEN];
	char refresh[REFRESH_TOKEN_LEN + 1];
	char refresh_hash[65];
};

static void login_set_step(struct login_ctx *c, enum login_step next)
{
	assert((int)next == (int)c->step + 1);
	c->step = next;
}

static void login_fail(struct login_ctx *c, int status, const char *code, const char *msg,
		       const char *metric)
{
	app_count(c->app, M_LOGINS, metric);
	http_reply_error(c->req, status, code, msg, NULL);
}

static void login_on_session(const struct pg_result *r, void *arg)
{
	struct login_ctx *c = arg;
	struct log_ctx lc = app_log_ctx(c->req, c->tenant.id, c->user.id);

	if (r->err != NULL || PQntuples(r->res) != 1) {
		app_count(c->app, M_LOGINS, "error");
		app_reply_db_error(c->req, "create session", r->err != NULL ? r : NULL);
		return;
	}
	c->user.last_active_date = app_strdup(c->req, pg_val(r->res, 0, 0));
	log_info(&lc, "login", LS("session_id", c->session_id), LS("ip", c->ip));
	app_count(c->app, M_LOGINS, "ok");
	app_reply_tokens(c->app, c->req, &c->user, &c->tenant, c->session_id, c->refresh);
}

static void login_create_session(struct login_ctx *c)
{
	struct session_new s = {.id = c->session_id,
				.user_id = c->user.id,
				.tenant_id = c->tenant.id,
				.device_id = c->r.device_id,
				.device_name = c->r.device_name,
				.user_agent = c->user_agent,
				.ip_address = c->ip,
				.refresh_id = c->refresh_id,
				.refresh_hash = c->refresh_hash,
				.ttl_s = c->app->cfg->refresh_ttl_s};

	uuid_v4(c->session_id);
	uuid_v4(c->refresh_id);
	if (refresh_token_new(c->refresh, c->refresh_hash) < 0) {
		app_reply_internal(c->req, "refresh token");
		return;
	}
	login_set_step(c, LOGIN_SESSION);
	if (session_store_create(c->app->pg, &s, login_on_session, c) < 0)
		app_reply_db_error(c->req, "create session", NULL);
}

static void login_verify_work(void *arg)
{
	struct login_ctx *c = arg;
	bool ok;

	app_worker_nice();
	if (app_stopping(c->app))
		return; /* forced stop: the done callback answers 503 */
	ok = password_verify(c->found ? c->hash : c->app->dummy_hash, c->password);
	c->verified = ok && c->found;
}

static void login_verify_done(void *arg)
{
	struct login_ctx *c = arg;
	struct log_ctx lc = app_log_ctx(c->req, c->found ? c->tenant.id : NULL,
					c->found ? c->user.id : NULL);

	explicit_bzero(c->password, strlen(c->password));
	if (app_stopping(c->app)) {
		app_count(c->app, M_LOGINS, "error");
		app_reply_unavailable(c->req, "shutting down");
		return;
	}
	if (!c->verified) {
		throttle_failed(c->app->throttle, c->r.tenant_slug, c->r.email, c->ip);
		log_info(&lc, "login failed", LS("reason", "invalid_credentials"), LS("ip", c->ip));
		login_fail(c, 401, "invalid_credentials", "The e-mail or password is incorrect.",
			   "invalid_credentials");
		return;
	}
	http_request_set_log_ids(c->req, c->tenant.id, c->user.id);
	if (tenant_status_blocks(c->tenant.status)) {
		login_fail(c, 403, "tenant_suspended", "This tenant is suspended.",
			   "tenant_suspended");
		return;
	}
	if (strcmp(c->user.status, "Active") != 0) {
		log_info(&lc, "login refused", LS("reason", "user_banned"));
		login_fail(c, 403, "user_banned", "This account is banned.", "user_banned");
		return;
	}
	throttle_succeeded(c->app->throttle, c->r.tenant_slug, c->r.email);
	if (!keyring_ready(c->app->keys)) {
		app_count(c->app, M_LOGINS, "error");
		app_reply_unavailable(c->req, "no signing key");
		return;
	}
	login_create_session(c);
}

static void login_on_lookup(const struct pg_result *r, void *arg)
{
	struct login_ctx *c = arg;

	if (r->err != NULL) {
		app_count(c->app, M_LOGINS, "error");
		app_reply_db_error(c->req, "find user", r);
		return;
	}
	if (PQntuples(r->res) == 1 && !PQgetisnull(r->res, 0, LOGIN_COL_USER)) {
		tenant_from_row(r->res, 0, 0, &c->tenant, c->req);
		user_from_row(r->res, 0, LOGIN_COL_USER, &c->user, c->req);
		c->hash = app_strdup(c->req, pg_val(r->res, 0, LOGIN_COL_HASH));
		c->found = c->hash != NULL;
	}
	login_set_step(c, LOGIN_VERIFY);
	if (app_work_or_reply(c->app, c->req, login_verify_work, login_verify_done, c) < 0)
		app_count(c->app, M_LOGINS, "error");
}

static void login_on_throttle(long retry_after_s, void *arg)
{
	struct login_ctx *c = arg;
	char ra[24];

	if (retry_after_s > 0) {
		struct log_ctx lc = app_log_ctx(c->req, NULL, NULL);

		snprintf(ra, sizeof(ra), "%ld", retry_after_s);
		http_reply_header(c->req, "Retry-After", ra);
		log_info(&lc, "login throttled", LS("ip", c->ip),
			 LI("retry_after_s", retry_after_s));
		login_fail(c, 429, "too_many_attempts",
			   "Too many failed login attempts; try again later.", "throttled");
		return;
	}
	login_set_step(c, LOGIN_LOOKUP);
	if (user_store_login_lookup(c->app->pg, c->r.tenant_slug, c->r.email, login_on_lookup, c) <
	    0)
		app_reply_db_error(c->req, "find user", NULL);
}

void auth_http_login(struct http_request *req, void *arg)
{
	struct identity_app *app = arg;
	struct login_ctx *c;
	struct iauth ia;
	bool signed_ok;
	json_object *body;
	struct jv v;

	if (app_iauth_or_reply(app, req, &ia, &signed_ok) < 0 ||
	    (body = http_request_json_or_reply(req)) == NULL)
		return;
	c = http_request_alloc(req, sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->app = app;
	c->req = req;
	c->step = LOGIN_THROTTLE;
	jv_init(&v);
	if (login_req_parse(body, &c->r, &v) < 0) {
		json_object_put(body);
		app_count(app, M_LOGINS, "invalid_request");
		http_reply_validation(req, &v);
		return;
	}
	c->password = http_request_strdup(req, c->r.password);
	c->r.password = NULL;
	c->r.device_id = app_strdup(req, c->r.device_id);
	c->r.device_name = app_strdup(req, c->r.device_name);
	json_object_put(body);
	c->ip = app_clean_text(req, app_client_ip(req, &ia, signed_ok), 63);
	if (c->ip == NULL)
		c->ip = "unknown";
	c->user_agent = app_clean_text(req, http_request_header(req, "User-Agent"), 512);
	throttle_check(app->throttle, &c->tq, c->r.tenant_slug, c->r.email, c->ip,
		       login_on_throttle, c);
}
