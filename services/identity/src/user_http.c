/*
 * user_http.c - the caller's profile: GET and PATCH /v1/users/me.
 *
 * PATCH validates every field (api.md: lengths, gender enum, birth_date a past calendar
 * date, unknown fields refused) and sets only the fields sent, in one UPDATE.
 * Owns a per-request context in the request's memory.
 */
#include <string.h>
#include <time.h>

#include "app.h"
#include "authn.h"
#include "handlers.h"
#include "identity_json.h"
#include "user_store.h"
#include "validate.h"

struct me_ctx {
	struct identity_app *app;
	struct http_request *req;
};

static struct me_ctx *me_ctx_new(struct http_request *req, struct identity_app *app)
{
	struct me_ctx *c = http_request_alloc(req, sizeof(*c));

	c->app = app;
	c->req = req;
	return c;
}

/* Replies the single user row of r (200), or 404 / the database error. */
static void me_on_user(const struct pg_result *r, void *arg)
{
	struct me_ctx *c = arg;
	struct user u;

	if (r->err != NULL) {
		app_reply_db_error(c->req, "user", r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_error(c->req, 404, "user_not_found", "The user no longer exists.", NULL);
		return;
	}
	user_from_row(r->res, 0, 0, &u, NULL);
	http_reply_json(c->req, 200, user_to_json(&u));
}

static void get_me_as(struct http_request *req, const struct authn_caller *caller, void *arg)
{
	struct me_ctx *c = arg;

	if (user_store_get(c->app->pg, caller->user_id, me_on_user, c) < 0)
		app_reply_db_error(req, "user", NULL);
}

void user_http_get_me(struct http_request *req, void *app)
{
	authn_resolve(app, req, 0, get_me_as, me_ctx_new(req, app));
}

static void patch_me_as(struct http_request *req, const struct authn_caller *caller, void *arg)
{
	struct me_ctx *c = arg;
	struct user_patch p;
	json_object *body;
	struct jv v;
	int rc;

	if ((body = http_request_json_or_reply(req)) == NULL)
		return;
	jv_init(&v);
	if (user_patch_parse(body, time(NULL), &p, &v) < 0) {
		json_object_put(body);
		http_reply_validation(req, &v);
		return;
	}
	/* p borrows strings from body: they are copied by the query before it returns */
	rc = user_store_update(c->app->pg, caller->user_id, &p, me_on_user, c);
	json_object_put(body);
	if (rc < 0)
		app_reply_db_error(req, "update user", NULL);
}

void user_http_patch_me(struct http_request *req, void *app)
{
	authn_resolve(app, req, 0, patch_me_as, me_ctx_new(req, app));
}
