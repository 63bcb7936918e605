/*
 * seed.c - tenant "default" and the platform admin at start-up (see seed.h).
 *
 * Owns its retry timer and, while the worker hashes, the admin's password hash.
 */
#include "seed.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "tenant_store.h"
#include "user_store.h"

#define SEED_RETRY_MS 2000

enum seed_state {
	SEED_IDLE,   /* not started, or waiting to retry */
	SEED_TENANT, /* ensuring tenant "default" */
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
	char *hash; /* malloc'd by the worker */
};

/* The legal transitions; any step may fall back to IDLE (retry) until DONE. */
static void seed_set_state(struct seed *s, enum seed_state next)
{
	switch (next) {
	case SEED_IDLE: assert(s->state != SEED_DONE); break;
	case SEED_TENANT: assert(s->state == SEED_IDLE); break;
	case SEED_EXISTS: assert(s->state == SEED_TENANT); break;
	case SEED_HASH: assert(s->state == SEED_EXISTS); break;
	case SEED_INSERT: assert(s->state == SEED_HASH); break;
	case SEED_DONE: assert(s->state == SEED_EXISTS || s->state == SEED_INSERT); break;
	}
	s->state = next;
}

static void seed_retry(struct seed *s, const char *step, const char *err)
{
	struct timeval tv = {SEED_RETRY_MS / 1000, (SEED_RETRY_MS % 1000) * 1000};

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

static void seed_on_tenant(const struct pg_result *r, void *arg)
{
	struct seed *s = arg;

	if (s->stopping)
		return;
	if (r->err != NULL || PQntuples(r->res) != 1) {
		seed_retry(s, "default tenant", r->err);
		return;
	}
	snprintf(s->tenant_id, sizeof(s->tenant_id), "%s", pg_val(r->res, 0, 0));
	seed_set_state(s, SEED_EXISTS);
	if (user_store_exists(s->app->pg, s->tenant_id, s->app->cfg->admin_email, seed_on_exists,
			      s) < 0)
		seed_retry(s, "find admin", NULL);
}

static void seed_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct seed *s = arg;

	(void)fd;
	(void)what;
	if (s->stopping || s->state != SEED_IDLE)
		return;
	seed_set_state(s, SEED_TENANT);
	if (tenant_store_ensure_default(s->app->pg, s->app->cfg->admin_email, seed_on_tenant, s) <
	    0)
		seed_retry(s, "default tenant", NULL);
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
