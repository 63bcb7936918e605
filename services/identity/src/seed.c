/*
 * seed.c - tenant "default" and the platform admin at start-up (see seed.h).
 *
 * The tenant is inserted in a transaction that also writes identity.tenant.created.v1 into
 * the outbox when (and only when) this replica created it; trace_id is null (no request).
 * Owns its retry timer, that transaction while it runs and, while the worker hashes, the
 * admin's password hash.
 */
#include "seed.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "identity_events.h"
#include "tenant_store.h"
#include "user_store.h"

#define SEED_RETRY_MS 2000

enum seed_state {
	SEED_IDLE,   /* not started, or waiting to retry */
	SEED_TENANT, /* BEGIN, then ensuring tenant "default" */
	SEED_EVENT,  /* it was created: its event going into the outbox */
	SEED_COMMIT, /* COMMIT of the tenant and its event */
	SEED_EXISTS, /* does the admin exist? */
	SEED_HASH,   /* hashing the admin's password on the worker pool */
	SEED_INSERT, /* inserting the admin */
	SEED_DONE,   /* finished */
};

struct seed {
	struct identity_app *app;
	struct event *timer;
	enum seed_state state;
	bool stopping;
	char tenant_id[37];
	struct pg_tx *tx; /* the tenant's transaction while a step of it is due */
	char *hash;       /* malloc'd by the worker */
};

/* The legal transitions; any step may fall back to IDLE (retry) until DONE. */
static void seed_set_state(struct seed *s, enum seed_state next)
{
	switch (next) {
	case SEED_IDLE: assert(s->state != SEED_DONE); break;
	case SEED_TENANT: assert(s->state == SEED_IDLE); break;
	case SEED_EVENT: assert(s->state == SEED_TENANT); break;
	case SEED_COMMIT: assert(s->state == SEED_EVENT); break;
	case SEED_EXISTS: assert(s->state == SEED_TENANT || s->state == SEED_COMMIT); break;
	case SEED_HASH: assert(s->state == SEED_EXISTS); break;
	case SEED_INSERT: assert(s->state == SEED_HASH); break;
	case SEED_DONE: assert(s->state == SEED_EXISTS || s->state == SEED_INSERT); break;
	}
	s->state = next;
}

static void seed_rollback(struct seed *s)
{
	if (s->tx != NULL) {
		pg_tx_rollback(s->tx, NULL, NULL);
		s->tx = NULL;
	}
}

static void seed_retry(struct seed *s, const char *step, const char *err)
{
	struct timeval tv = {SEED_RETRY_MS / 1000, (SEED_RETRY_MS % 1000) * 1000};

	seed_rollback(s);
	log_warn(NULL, "seeding defaults failed, retrying", LS("step", step),
		 LS("error", err != NULL ? err : "not queued"));
	seed_set_state(s, SEED_IDLE);
	if (!s->stopping)
		evtimer_add(s->timer, &tv);
}

static void seed_done(struct seed *s, bool created)
{
	seed_set_state(s, SEED_DONE);
	log_info(NULL, created ? "platform admin created" : "defaults present",
		 LS("tenant_id", s->tenant_id));
}

static void seed_on_inserted(const struct pg_result *r, void *arg)
{
	struct seed *s = arg;

	if (s->stopping)
		return;
	if (r->err != NULL)
		seed_retry(s, "insert admin", r->err);
	else
		seed_done(s, PQcmdTuples(r->res)[0] == '1');
}

static void seed_hash_work(void *arg)
{
	struct seed *s = arg;

	app_worker_nice();
	if (!app_stopping(s->app))
		s->hash = password_hash(s->app->cfg->admin_password, &s->app->pw);
}

static void seed_hash_done(void *arg)
{
	struct seed *s = arg;
	int rc = -1;

	if (!s->stopping && s->hash != NULL) {
		seed_set_state(s, SEED_INSERT);
		rc = user_store_insert_admin(s->app->pg, s->tenant_id, s->app->cfg->admin_email,
					     s->hash, seed_on_inserted, s);
	}
	if (s->hash != NULL) {
		explicit_bzero(s->hash, strlen(s->hash));
		free(s->hash);
		s->hash = NULL;
	}
	if (rc < 0 && !s->stopping)
		seed_retry(s, "hash admin password", NULL);
}

static void seed_on_exists(const struct pg_result *r, void *arg)
{
	struct seed *s = arg;

	if (s->stopping)
		return;
	if (r->err != NULL || PQntuples(r->res) != 1) {
		seed_retry(s, "find admin", r->err);
		return;
	}
	if (pg_bool(r->res, 0, 0)) {
		seed_done(s, false);
		return;
	}
	seed_set_state(s, SEED_HASH);
	if (s->app->wp == NULL ||
	    workpool_submit(s->app->wp, seed_hash_work, seed_hash_done, s) < 0)
		seed_retry(s, "hash admin password", "worker pool full");
}

/* The tenant is settled (s->tenant_id): does the admin exist? */
static void seed_find_admin(struct seed *s)
{
	seed_set_state(s, SEED_EXISTS);
	if (user_store_exists(s->app->pg, s->tenant_id, s->app->cfg->admin_email, seed_on_exists,
			      s) < 0)
		seed_retry(s, "find admin", NULL);
}

static void seed_on_committed(const char *err, void *arg)
{
	struct seed *s = arg;

	if (s->stopping)
		return;
	if (err != NULL) {
		seed_retry(s, "commit default tenant", err);
		return;
	}
	app_outbox_kick(s->app);
	log_info(NULL, "default tenant created", LS("tenant_id", s->tenant_id));
	seed_find_admin(s);
}

static void seed_on_event(const struct pg_result *r, void *arg)
{
	struct seed *s = arg;
	struct pg_tx *tx = s->tx;

	if (s->stopping) {
		seed_rollback(s);
		return;
	}
	if (r->err != NULL) {
		seed_retry(s, "default tenant event", r->err);
		return;
	}
	seed_set_state(s, SEED_COMMIT);
	s->tx = NULL; /* the handle is gone once the commit answers */
	pg_tx_commit(tx, seed_on_committed, s);
}

static void seed_on_tenant(const struct pg_result *r, void *arg)
{
	struct seed *s = arg;
	struct tenant t;

	if (s->stopping) {
		seed_rollback(s);
		return;
	}
	if (r->err != NULL || PQntuples(r->res) != 1) {
		seed_retry(s, "default tenant", r->err);
		return;
	}
	snprintf(s->tenant_id, sizeof(s->tenant_id), "%s", pg_val(r->res, 0, 1));
	if (!tenant_created_from_row(r->res, 0, &t)) { /* present already: nothing to publish */
		seed_rollback(s);
		seed_find_admin(s);
		return;
	}
	seed_set_state(s, SEED_EVENT);
	if (identity_event_add(s->tx, s->app->schema, EV_TENANT_CREATED, NULL,
			       tenant_created_data(&t), t.id, seed_on_event, s) < 0)
		seed_retry(s, "default tenant event", NULL);
}

static void seed_on_begun(struct pg_tx *tx, const char *err, void *arg)
{
	struct seed *s = arg;

	s->tx = tx;
	if (s->stopping) {
		seed_rollback(s);
		return;
	}
	if (tx == NULL) {
		seed_retry(s, "begin", err);
		return;
	}
	if (tenant_store_ensure_default(tx, s->app->cfg->admin_email, seed_on_tenant, s) < 0)
		seed_retry(s, "default tenant", NULL);
}

static void seed_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct seed *s = arg;

	(void)fd;
	(void)what;
	if (s->stopping || s->state != SEED_IDLE)
		return;
	seed_set_state(s, SEED_TENANT);
	if (pg_tx_begin(s->app->pg, seed_on_begun, s) < 0)
		seed_retry(s, "begin", NULL);
}

struct seed *seed_new(struct identity_app *app)
{
	struct seed *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->app = app;
	if ((s->timer = evtimer_new(app->base, seed_on_timer, s)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void seed_start(struct seed *s)
{
	struct timeval zero = {0, 0};

	evtimer_add(s->timer, &zero);
}

void seed_stop(struct seed *s)
{
	if (s == NULL)
		return;
	s->stopping = true;
	evtimer_del(s->timer);
}

void seed_free(struct seed *s)
{
	if (s == NULL)
		return;
	event_free(s->timer);
	free(s->hash);
	free(s);
}

bool seed_ready(void *arg)
{
	const struct seed *s = arg;

	return s->state == SEED_DONE;
}
