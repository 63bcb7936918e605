/*
 * user_create.c - a new user with a hashed password and its identity.user.registered.v1, in
 * one transaction (see user_create.h for the steps).
 *
 * Owns the transaction and the password hash of a struct user_create until they end.
 */
#include "user_create.h"

#include <stdlib.h>
#include <string.h>

#include "identity_events.h"

static void uc_wipe_hash(struct user_create *uc)
{
	if (uc->hash == NULL)
		return;
	explicit_bzero(uc->hash, strlen(uc->hash));
	free(uc->hash);
	uc->hash = NULL;
	uc->n.password_hash = NULL;
}

void user_create_fail(struct user_create *uc, const char *what, const struct pg_result *r)
{
	uc_wipe_hash(uc);
	if (uc->tx != NULL) {
		pg_tx_rollback(uc->tx, NULL, NULL);
		uc->tx = NULL;
	}
	if (what != NULL)
		app_reply_db_error(uc->req, what, r);
}

static void uc_on_committed(const char *err, void *arg)
{
	struct user_create *uc = arg;

	uc->tx = NULL;
	if (err != NULL) {
		struct pg_result r = {.res = NULL, .err = err, .sqlstate = ""};
		app_reply_db_error(uc->req, "commit user", &r);
		return;
	}
	app_outbox_kick(uc->app);
	uc->done(uc);
}

static void uc_on_event(const struct pg_result *r, void *arg)
{
	struct user_create *uc = arg;

	if (r->err != NULL) {
		user_create_fail(uc, "add user event", r);
		return;
	}
	pg_tx_commit(uc->tx, uc_on_committed, uc);
}

static void uc_on_user(const struct pg_result *r, void *arg)
{
	struct user_create *uc = arg;
	struct user ev;
	json_object *data;

	if (r->err != NULL && r->sqlstate != NULL && strcmp(r->sqlstate, "23505") == 0) {
		user_create_fail(uc, NULL, NULL);
		http_reply_error(uc->req, 409, "email_taken",
				 "This e-mail address is already registered in this tenant.", NULL);
		return;
	}
	if (r->err != NULL || PQntuples(r->res) != 1) {
		user_create_fail(uc, "insert user", r->err != NULL ? r : NULL);
		return;
	}
	user_from_row(r->res, 0, 0, &uc->u, uc->req);
	ev = uc->u;
	ev.register_date = pg_val(r->res, 0, USER_COL_CREATED_MS); /* with milliseconds */
	if ((data = user_registered_data(&ev, uc->verification_required)) == NULL) {
		user_create_fail(uc, NULL, NULL);
		app_reply_internal(uc->req, "build user event");
		return;
	}
	if (identity_event_add(uc->tx, uc->app->schema, EV_USER_REGISTERED,
			       http_request_id(uc->req), data, uc->u.id, uc_on_event, uc) < 0)
		user_create_fail(uc, "add user event", NULL);
}

void user_create_insert(struct user_create *uc)
{
	int rc = user_store_create(uc->tx, &uc->n, uc_on_user, uc);

	uc_wipe_hash(uc); /* the statement's parameters are copied */
	if (rc < 0)
		user_create_fail(uc, "insert user", NULL);
}

static void uc_on_begun(struct pg_tx *tx, const char *err, void *arg)
{
	struct user_create *uc = arg;

	if (tx == NULL) {
		struct pg_result r = {.res = NULL, .err = err, .sqlstate = ""};
		user_create_fail(uc, "begin", &r);
		return;
	}
	uc->tx = tx;
	if (uc->before != NULL)
		uc->before(uc);
	else
		user_create_insert(uc);
}

static void uc_hash_work(void *arg)
{
	struct user_create *uc = arg;

	app_worker_nice();
	if (!app_stopping(uc->app)) /* on a forced stop the done callback answers 503 */
		uc->hash = password_hash(uc->password, &uc->app->pw);
}

static void uc_hash_done(void *arg)
{
	struct user_create *uc = arg;

	explicit_bzero(uc->password, strlen(uc->password));
	if (uc->hash == NULL) {
		if (app_stopping(uc->app))
			app_reply_unavailable(uc->req, "shutting down");
		else
			app_reply_internal(uc->req, "password hash");
		return;
	}
	uc->n.password_hash = uc->hash;
	if (pg_tx_begin(uc->app->pg, uc_on_begun, uc) < 0) {
		uc_wipe_hash(uc);
		app_reply_db_error(uc->req, "begin", NULL);
	}
}

void user_create_start(struct user_create *uc)
{
	(void)app_work_or_reply(uc->app, uc->req, uc_hash_work, uc_hash_done, uc);
}
