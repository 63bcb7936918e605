/*
 * sweep.c - the periodic expiry rounds of billing (see sweep.h).
 *
 * Owns its timer and, during a round, the transaction and the collected events.
 */
#include "sweep.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>

#include "app.h"
#include "billing_events.h"

struct sweep {
	struct billing_app *app;
	const char *what;    /* "holds", "payments": for the log */
	sweep_batch_fn batch;
	struct event *timer;
	struct pg_tx *tx;
	json_object *events; /* of the round in flight */
	int expired;         /* rows expired by the round in flight */
	bool busy;
	bool stopped;
};

static void sweep_schedule(struct sweep *s, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (!s->stopped)
		evtimer_add(s->timer, &tv);
}

/* The round is over: the next one in an interval, or at once after a full batch. */
static void sweep_end(struct sweep *s, const char *err)
{
	bool full = err == NULL && s->expired >= s->app->cfg->sweep_batch;

	if (err != NULL)
		log_warn(NULL, "expiry sweep failed", LS("what", s->what), LS("error", err));
	else if (s->expired > 0)
		log_info(NULL, "expired", LS("what", s->what), LI("count", s->expired));
	json_object_put(s->events);
	s->events = NULL;
	s->busy = false;
	sweep_schedule(s, full ? 0 : s->app->cfg->sweep_interval_ms);
}

static void sweep_fail(struct sweep *s, const char *err)
{
	if (s->tx != NULL) {
		pg_tx_rollback(s->tx, NULL, NULL);
		s->tx = NULL;
	}
	sweep_end(s, err);
}

static void sweep_on_committed(const char *err, void *arg)
{
	struct sweep *s = arg;

	s->tx = NULL;
	if (err == NULL && s->expired > 0)
		app_outbox_kick(s->app);
	sweep_end(s, err);
}

static void sweep_on_events(const char *err, void *arg)
{
	struct sweep *s = arg;
	struct pg_tx *tx = s->tx;

	if (err != NULL) {
		sweep_fail(s, err);
		return;
	}
	pg_tx_commit(tx, sweep_on_committed, s);
}

/* Every row's events into one array (s->events). */
static void sweep_collect(struct sweep *s, const PGresult *res)
{
	int n = PQntuples(res);

	s->events = json_object_new_array();
	for (int i = 0; i < n; i++) {
		const char *text = pg_val(res, i, 2);
		json_object *ev = text != NULL ? json_tokener_parse(text) : NULL;
		size_t m = json_object_is_type(ev, json_type_array) ? json_object_array_length(ev) : 0;

		for (size_t j = 0; j < m; j++)
			json_object_array_add(s->events,
					      json_object_get(json_object_array_get_idx(ev, j)));
		json_object_put(ev);
		if (pg_int(res, i, 0) == 200)
			s->expired++;
	}
}

static void sweep_on_batch(const struct pg_result *r, void *arg)
{
	struct sweep *s = arg;

	if (r->err != NULL) {
		sweep_fail(s, r->err);
		return;
	}
	sweep_collect(s, r->res);
	if (s->expired == 0) {
		sweep_fail(s, NULL); /* nothing changed: roll back the empty transaction */
		return;
	}
	if (billing_events_add_all(s->tx, s->app->schema, NULL, s->events, sweep_on_events, s) < 0)
		sweep_fail(s, "events not queued");
}

static void sweep_on_begun(struct pg_tx *tx, const char *err, void *arg)
{
	struct sweep *s = arg;

	if (tx == NULL) {
		sweep_end(s, err);
		return;
	}
	s->tx = tx;
	if (s->batch(tx, s->app->cfg, sweep_on_batch, s) < 0)
		sweep_fail(s, "batch not queued");
}

static void sweep_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sweep *s = arg;

	(void)fd;
	(void)what;
	if (s->busy || s->stopped)
		return;
	s->busy = true;
	s->expired = 0;
	if (pg_tx_begin(s->app->pg, sweep_on_begun, s) < 0)
		sweep_end(s, "begin not queued");
}

struct sweep *sweep_new(struct billing_app *app, const char *what, sweep_batch_fn batch)
{
	struct sweep *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->app = app;
	s->what = what;
	s->batch = batch;
	if ((s->timer = evtimer_new(app->base, sweep_on_timer, s)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void sweep_start(struct sweep *s)
{
	sweep_schedule(s, s->app->cfg->sweep_interval_ms);
}

void sweep_stop(struct sweep *s)
{
	if (s == NULL)
		return;
	s->stopped = true;
	evtimer_del(s->timer);
}

void sweep_free(struct sweep *s)
{
	if (s == NULL)
		return;
	event_free(s->timer);
	json_object_put(s->events);
	free(s);
}
