/*
 * outbox.c - the transactional outbox: outbox_add() inside a caller's transaction, and the
 * relay that publishes unsent rows through the AMQP bridge with publisher confirms.
 *
 * One relay round, all asynchronous (one step per state, see enum ob_state):
 *   BEGIN -> try the per-schema advisory xact lock -> SELECT unsent rows FOR UPDATE in id order
 *   -> publish each (stop at the first refused publish) and wait for every confirm
 *   -> UPDATE sent_at for the confirmed rows before the first failure, attempts+1 for failed
 *   ones -> COMMIT.
 * A failure anywhere rolls back (or commits only the confirmed prefix) and backs off
 * exponentially; a full batch starts the next round at once. A second timer refreshes the
 * depth gauges and now and then deletes sent rows older than 7 days.
 *
 * Owns the relay, its timers, the rows of the round in flight and its SQL texts. Every
 * pending pg/amqp callback is counted (ob->pending) so outbox_free() can leave them to
 * finish: the last one frees the memory.
 */
#include "common/outbox.h"

#include "common/amqp.h"
#include "common/crypto.h"
#include "common/event.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OB_SCHEMA_MAX 63
#define OB_BACKOFF_FIRST_MS 100
#define OB_STATS_MS 5000
#define OB_RETENTION_TICKS 720   /* every hour at OB_STATS_MS */
#define OB_RETENTION_ROWS 10000  /* rows deleted per retention statement */
#define OB_WARN_AFTER_MS 1000    /* a broker still connecting after start-up is no warning yet */
#define OB_NOT_CONNECTED "broker not connected"

enum ob_state {
	OB_IDLE,    /* nothing in flight; the tick timer starts the next round */
	OB_BEGIN,   /* pg_tx_begin in flight */
	OB_LOCK,    /* pg_try_advisory_xact_lock in flight */
	OB_SELECT,  /* fetching unsent rows */
	OB_PUBLISH, /* rows handed to amqp, waiting for their confirms */
	OB_MARK,    /* UPDATE sent_at / attempts in flight */
	OB_END,     /* COMMIT or ROLLBACK in flight */
};

enum ob_row_state {
	ROW_UNSENT,    /* not handed to the broker this round */
	ROW_PENDING,   /* published, confirm outstanding */
	ROW_CONFIRMED, /* the broker confirmed it */
	ROW_FAILED,    /* refused, nacked or lost */
};

struct ob_row {
	struct outbox *ob;
	char *id; /* bigint as text */
	char *event_id;
	char *event_type;
	char *payload;
	enum ob_row_state st;
};

struct outbox {
	struct event_base *base;
	struct pg_pool *pg;
	struct amqp *amqp;
	struct metrics *metrics;
	char *schema;
	char *lock_key;        /* "outbox:<schema>" */
	char *sql_select;
	char *sql_mark;
	char *sql_stats;
	char *sql_retention;
	int batch;
	int poll_ms;
	int max_backoff_ms;
	struct event *tick;    /* next round */
	struct event *stats_timer;
	enum ob_state state;
	struct pg_tx *tx;
	struct ob_row *rows;   /* batch slots */
	int nrows;
	int unconfirmed;
	bool failed;           /* this round failed: back off */
	bool again;            /* kicked during the round, or a full batch: go again at once */
	int backoff_ms;        /* 0 while healthy */
	bool warned;           /* the current failure streak was logged as a warning */
	bool committing;       /* the round's end is a COMMIT of its marks */
	char why[128];         /* the round's first failure, for the log */
	int pending;           /* pg and amqp callbacks still to come */
	bool closing;
	bool stats_busy;
	bool retention_busy;
	unsigned stats_ticks;
};

static void ob_round_start(struct outbox *ob);
static void ob_round_end(struct outbox *ob, bool commit);

bool outbox_schema_valid(const char *s)
{
	size_t n = 0;

	if (!s || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (; s[n]; n++) {
		if (n >= OB_SCHEMA_MAX)
			return false;
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return false;
	}
	return true;
}

void outbox_opts_default(struct outbox_opts *o, const char *schema)
{
	memset(o, 0, sizeof(*o));
	o->schema = schema;
	o->batch = 100;
	o->poll_ms = 1000;
	o->max_backoff_ms = 30000;
}

int outbox_add(struct pg_tx *tx, const char *schema, json_object *envelope, const char *aggregate_id,
	       pg_result_cb cb, void *arg)
{
	json_object *v = NULL;
	const char *params[4];
	char sql[160];

	if (!tx || !outbox_schema_valid(schema) || !envelope)
		return -1;
	if (!json_object_object_get_ex(envelope, "event_id", &v) || !uuid_valid(json_object_get_string(v)))
		return -1;
	params[0] = json_object_get_string(v);
	if (!json_object_object_get_ex(envelope, "event_type", &v) ||
	    !event_type_valid(json_object_get_string(v)))
		return -1;
	params[1] = json_object_get_string(v);
	params[2] = aggregate_id;
	params[3] = json_compact(envelope, NULL);
	if (!params[3])
		return -1;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO \"%s\".outbox(event_id, event_type, aggregate_id, payload) "
		 "VALUES ($1,$2,$3,$4)", schema);
	return pg_tx_query(tx, sql, 4, params, cb, arg);
}

/* ---- lifetime ---------------------------------------------------------------------------- */

static void ob_rows_clear(struct outbox *ob)
{
	for (int i = 0; i < ob->nrows; i++) {
		struct ob_row *r = &ob->rows[i];

		free(r->id);
		free(r->event_id);
		free(r->event_type);
		free(r->payload);
		memset(r, 0, sizeof(*r));
	}
	ob->nrows = 0;
	ob->unconfirmed = 0;
}

static void ob_destroy(struct outbox *ob)
{
	if (ob->tick)
		event_free(ob->tick);
	if (ob->stats_timer)
		event_free(ob->stats_timer);
	ob_rows_clear(ob);
	free(ob->rows);
	free(ob->schema);
	free(ob->lock_key);
	free(ob->sql_select);
	free(ob->sql_mark);
	free(ob->sql_stats);
	free(ob->sql_retention);
	free(ob);
}

/* Every callback starts here: true when the outbox is shutting down and the callback must
 * only release what it holds (then the last one frees the outbox). */
static bool ob_callback_enter(struct outbox *ob)
{
	ob->pending--;
	if (!ob->closing)
		return false;
	if (ob->pending == 0)
		ob_destroy(ob);
	return true;
}

void outbox_free(struct outbox *ob)
{
	if (!ob || ob->closing)
		return;
	ob->closing = true;
	if (ob->tick) {
		event_free(ob->tick);
		ob->tick = NULL;
	}
	if (ob->stats_timer) {
		event_free(ob->stats_timer);
		ob->stats_timer = NULL;
	}
	if (ob->tx) {
		pg_tx_rollback(ob->tx, NULL, NULL); /* nothing of this round is marked sent */
		ob->tx = NULL;
	}
	if (ob->pending == 0)
		ob_destroy(ob);
}

/* ---- scheduling ------------------------------------------------------------------------ */

static bool ob_transition_ok(enum ob_state from, enum ob_state to)
{
	switch (to) {
	case OB_BEGIN: return from == OB_IDLE;
	case OB_LOCK: return from == OB_BEGIN;
	case OB_SELECT: return from == OB_LOCK;
	case OB_PUBLISH: return from == OB_SELECT;
	case OB_MARK: return from == OB_SELECT || from == OB_PUBLISH;
	case OB_END: return from == OB_LOCK || from == OB_SELECT || from == OB_MARK;
	case OB_IDLE: return from == OB_BEGIN || from == OB_END;
	}
	return false;
}

static void ob_set_state(struct outbox *ob, enum ob_state to)
{
	assert(ob_transition_ok(ob->state, to));
	ob->state = to;
}

static void ob_arm(struct outbox *ob, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	if (ob->tick && evtimer_add(ob->tick, &tv) != 0)
		log_error(NULL, "outbox timer add failed", LS("schema", ob->schema));
}

static void ob_backoff(struct outbox *ob)
{
	int next = ob->backoff_ms ? ob->backoff_ms * 2 : OB_BACKOFF_FIRST_MS;

	if (next > ob->max_backoff_ms)
		next = ob->max_backoff_ms;
	if (!ob->warned && (strcmp(ob->why, OB_NOT_CONNECTED) != 0 || next >= OB_WARN_AFTER_MS)) {
		log_warn(NULL, "outbox relay failing", LS("schema", ob->schema), LS("error", ob->why));
		ob->warned = true;
	} else {
		log_debug(NULL, "outbox relay still failing", LS("schema", ob->schema),
			  LS("error", ob->why), LI("backoff_ms", next));
	}
	ob->backoff_ms = next;
	metrics_set(ob->metrics, "outbox_backoff_seconds", NULL, next / 1000.0);
	ob_arm(ob, next);
}

/* After a round (or a refused start): when to run the next one. */
static void ob_schedule(struct outbox *ob, bool failed, bool again)
{
	if (failed) {
		ob_backoff(ob);
		return;
	}
	if (ob->warned)
		log_info(NULL, "outbox relay recovered", LS("schema", ob->schema));
	ob->warned = false;
	if (ob->backoff_ms) {
		ob->backoff_ms = 0;
		metrics_set(ob->metrics, "outbox_backoff_seconds", NULL, 0);
	}
	ob_arm(ob, again ? 0 : ob->poll_ms);
}

static void ob_on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ob_round_start(arg);
}

void outbox_kick(struct outbox *ob)
{
	if (!ob || ob->closing)
		return;
	if (ob->state != OB_IDLE) {
		ob->again = true; /* the rows just committed may be after this round's SELECT */
		return;
	}
	if (ob->backoff_ms && !amqp_ready(ob->amqp))
		return; /* the backoff timer retries; kicking a dead broker helps nobody */
	ob->backoff_ms = 0;
	metrics_set(ob->metrics, "outbox_backoff_seconds", NULL, 0);
	ob_arm(ob, 0);
}

/* ---- one round ------------------------------------------------------------------------- */

/* Records the round's failure; why is copied (pg's messages live only for the callback). */
static void ob_fail(struct outbox *ob, const char *why)
{
	ob->failed = true;
	if (!ob->why[0])
		snprintf(ob->why, sizeof(ob->why), "%s", why ? why : "unknown");
}

static void ob_on_end(const char *err, void *arg)
{
	struct outbox *ob = arg;
	bool failed, again;

	if (ob_callback_enter(ob))
		return;
	if (err && ob->committing)
		ob_fail(ob, err);
	failed = ob->failed;
	again = !failed && (ob->again || ob->nrows == ob->batch);
	ob_rows_clear(ob);
	ob_set_state(ob, OB_IDLE);
	ob_schedule(ob, failed, again);
}

/* COMMIT (the marks of this round) or ROLLBACK; ob_on_end decides what comes next. */
static void ob_round_end(struct outbox *ob, bool commit)
{
	struct pg_tx *tx = ob->tx;

	ob->tx = NULL;
	ob->committing = commit;
	ob_set_state(ob, OB_END);
	ob->pending++;
	if (commit)
		pg_tx_commit(tx, ob_on_end, ob);
	else
		pg_tx_rollback(tx, ob_on_end, ob);
}

static void ob_on_mark(const struct pg_result *r, void *arg)
{
	struct outbox *ob = arg;

	if (ob_callback_enter(ob))
		return;
	if (r->err) {
		ob_fail(ob, r->err);
		ob_round_end(ob, false);
		return;
	}
	ob_round_end(ob, true);
}

/* Builds the two id arrays: rows to mark sent (confirmed, before the first failure) and rows
 * whose publish failed. Returns -1 on allocation failure. */
static int ob_mark_lists(struct outbox *ob, char **sent, char **failed, int *nsent, int *nfailed)
{
	const char **s = calloc((size_t)ob->nrows + 1, sizeof(*s));
	const char **f = calloc((size_t)ob->nrows + 1, sizeof(*f));
	bool stop = false;
	int rc = -1;

	*nsent = *nfailed = 0;
	if (!s || !f)
		goto out;
	for (int i = 0; i < ob->nrows; i++) {
		struct ob_row *r = &ob->rows[i];

		if (r->st != ROW_CONFIRMED)
			stop = true; /* keep id order: the next round starts here */
		if (r->st == ROW_CONFIRMED && !stop)
			s[(*nsent)++] = r->id;
		else if (r->st == ROW_FAILED)
			f[(*nfailed)++] = r->id;
	}
	*sent = pg_array_literal(s, (size_t)*nsent);
	*failed = pg_array_literal(f, (size_t)*nfailed);
	rc = *sent && *failed ? 0 : -1;
out:
	free(s);
	free(f);
	return rc;
}

static void ob_mark(struct outbox *ob)
{
	char *sent = NULL, *failed = NULL;
	const char *params[2];
	int nsent, nfailed;

	ob_set_state(ob, OB_MARK);
	if (ob_mark_lists(ob, &sent, &failed, &nsent, &nfailed) != 0) {
		ob_fail(ob, "out of memory");
		ob_round_end(ob, false);
		goto out;
	}
	if (nsent == 0 && nfailed == 0) {
		ob_round_end(ob, false);
		goto out;
	}
	params[0] = sent;
	params[1] = failed;
	if (pg_tx_query(ob->tx, ob->sql_mark, 2, params, ob_on_mark, ob) != 0) {
		ob_fail(ob, "mark query refused");
		ob_round_end(ob, false);
		goto out;
	}
	ob->pending++;
out:
	free(sent);
	free(failed);
}

static void ob_on_confirm(bool ok, void *arg)
{
	struct ob_row *r = arg;
	struct outbox *ob = r->ob;

	if (ob_callback_enter(ob))
		return;
	r->st = ok ? ROW_CONFIRMED : ROW_FAILED;
	metrics_inc(ob->metrics, ok ? "outbox_published_total" : "outbox_publish_failures_total", NULL, 1);
	if (!ok)
		ob_fail(ob, "publish not confirmed");
	if (--ob->unconfirmed == 0)
		ob_mark(ob);
}

/* Hands the rows to the broker in id order, stopping at the first refused publish. */
static void ob_publish(struct outbox *ob)
{
	ob_set_state(ob, OB_PUBLISH);
	for (int i = 0; i < ob->nrows; i++) {
		struct ob_row *r = &ob->rows[i];

		if (amqp_publish(ob->amqp, r->event_type, r->event_id, r->payload, strlen(r->payload),
				 ob_on_confirm, r) != 0) {
			if (i > 0 && amqp_ready(ob->amqp)) {
				ob->again = true; /* too many unconfirmed: the rest next round */
				break;
			}
			r->st = ROW_FAILED;
			metrics_inc(ob->metrics, "outbox_publish_failures_total", NULL, 1);
			ob_fail(ob, "broker not available");
			break;
		}
		r->st = ROW_PENDING;
		ob->unconfirmed++;
		ob->pending++;
	}
	if (ob->unconfirmed == 0)
		ob_mark(ob);
}

static int ob_rows_take(struct outbox *ob, const PGresult *res)
{
	int n = PQntuples(res);

	for (int i = 0; i < n && i < ob->batch; i++) {
		struct ob_row *r = &ob->rows[i];
		const char *id = pg_val(res, i, 0), *eid = pg_val(res, i, 1);
		const char *type = pg_val(res, i, 2), *payload = pg_val(res, i, 3);

		ob->nrows++;
		r->ob = ob;
		r->st = ROW_UNSENT;
		if (!id || !eid || !type || !payload)
			return -1;
		r->id = strdup(id);
		r->event_id = strdup(eid);
		r->event_type = strdup(type);
		r->payload = strdup(payload);
		if (!r->id || !r->event_id || !r->event_type || !r->payload)
			return -1;
	}
	return 0;
}

static void ob_on_select(const struct pg_result *r, void *arg)
{
	struct outbox *ob = arg;

	if (ob_callback_enter(ob))
		return;
	if (r->err) {
		ob_fail(ob, r->err);
		ob_round_end(ob, false);
		return;
	}
	if (ob_rows_take(ob, r->res) != 0) {
		ob_rows_clear(ob);
		ob_fail(ob, "out of memory");
		ob_round_end(ob, false);
		return;
	}
	if (ob->nrows == 0) {
		ob_round_end(ob, false); /* nothing to send; releases the lock */
		return;
	}
	ob_publish(ob);
}

static void ob_on_lock(const struct pg_result *r, void *arg)
{
	struct outbox *ob = arg;
	char batch[16];
	const char *params[1] = {batch};

	if (ob_callback_enter(ob))
		return;
	if (r->err) {
		ob_fail(ob, r->err);
		ob_round_end(ob, false);
		return;
	}
	if (!pg_bool(r->res, 0, 0)) {
		ob_round_end(ob, false); /* another replica is relaying: poll later */
		return;
	}
	ob_set_state(ob, OB_SELECT);
	snprintf(batch, sizeof(batch), "%d", ob->batch);
	if (pg_tx_query(ob->tx, ob->sql_select, 1, params, ob_on_select, ob) != 0) {
		ob_fail(ob, "select refused");
		ob_round_end(ob, false);
		return;
	}
	ob->pending++;
}

static void ob_on_begin(struct pg_tx *tx, const char *err, void *arg)
{
	struct outbox *ob = arg;
	const char *params[1] = {ob->lock_key};

	if (ob_callback_enter(ob)) {
		if (tx)
			pg_tx_rollback(tx, NULL, NULL);
		return;
	}
	if (!tx) {
		ob_fail(ob, err);
		ob_set_state(ob, OB_IDLE);
		ob_schedule(ob, true, false);
		return;
	}
	ob->tx = tx;
	ob_set_state(ob, OB_LOCK);
	if (pg_tx_query(tx, "SELECT pg_try_advisory_xact_lock(hashtext($1))", 1, params, ob_on_lock,
			ob) != 0) {
		ob_fail(ob, "lock query refused");
		ob_round_end(ob, false);
		return;
	}
	ob->pending++;
}

static void ob_round_start(struct outbox *ob)
{
	if (ob->closing || ob->state != OB_IDLE)
		return;
	ob->failed = false;
	ob->again = false;
	ob->committing = false;
	ob->why[0] = '\0';
	if (!amqp_ready(ob->amqp)) {
		ob_fail(ob, OB_NOT_CONNECTED);
		ob_schedule(ob, true, false); /* no point locking rows we cannot publish */
		return;
	}
	if (pg_tx_begin(ob->pg, ob_on_begin, ob) != 0) {
		ob_fail(ob, "begin refused");
		ob_schedule(ob, true, false);
		return;
	}
	ob->pending++;
	ob_set_state(ob, OB_BEGIN);
}

/* ---- gauges and retention ---------------------------------------------------------------- */

static void ob_on_stats(const struct pg_result *r, void *arg)
{
	struct outbox *ob = arg;
	const char *age;

	if (ob_callback_enter(ob))
		return;
	ob->stats_busy = false;
	if (r->err)
		return; /* the relay logs database trouble; keep the last values */
	age = pg_val(r->res, 0, 1);
	metrics_set(ob->metrics, "outbox_depth", NULL, (double)pg_int(r->res, 0, 0));
	metrics_set(ob->metrics, "outbox_oldest_age_seconds", NULL, age ? strtod(age, NULL) : 0.0);
}

static void ob_on_retention(const struct pg_result *r, void *arg)
{
	struct outbox *ob = arg;
	const char *n;

	if (ob_callback_enter(ob))
		return;
	ob->retention_busy = false;
	if (r->err) {
		log_warn(NULL, "outbox retention failed", LS("schema", ob->schema), LS("error", r->err));
		return;
	}
	n = PQcmdTuples(r->res);
	if (n && atoi(n) >= OB_RETENTION_ROWS)
		ob->stats_ticks = 0; /* more to delete: again at the next tick */
}

static void ob_on_stats_timer(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *ob = arg;

	(void)fd;
	(void)what;
	if (ob->metrics && !ob->stats_busy &&
	    pg_query(ob->pg, ob->sql_stats, 0, NULL, ob_on_stats, ob) == 0) {
		ob->stats_busy = true;
		ob->pending++;
	}
	if (ob->stats_ticks++ % OB_RETENTION_TICKS == 0 && !ob->retention_busy &&
	    pg_query(ob->pg, ob->sql_retention, 0, NULL, ob_on_retention, ob) == 0) {
		ob->retention_busy = true;
		ob->pending++;
	}
}

static void ob_declare_metrics(struct metrics *m)
{
	metrics_declare(m, "outbox_depth", METRIC_GAUGE, "Outbox rows not yet published.");
	metrics_declare(m, "outbox_oldest_age_seconds", METRIC_GAUGE,
			"Age of the oldest unpublished outbox row.");
	metrics_declare(m, "outbox_published_total", METRIC_COUNTER,
			"Outbox events confirmed by the broker.");
	metrics_declare(m, "outbox_publish_failures_total", METRIC_COUNTER,
			"Outbox publishes refused, nacked or lost before the confirm.");
	metrics_declare(m, "outbox_backoff_seconds", METRIC_GAUGE,
			"Current relay backoff after a failure (0 while healthy).");
	metrics_set(m, "outbox_backoff_seconds", NULL, 0);
}

static int ob_build_sql(struct outbox *ob)
{
	const char *s = ob->schema;

	if (asprintf(&ob->lock_key, "outbox:%s", s) < 0)
		ob->lock_key = NULL;
	if (asprintf(&ob->sql_select,
		     "SELECT id, event_id, event_type, payload FROM \"%s\".outbox WHERE sent_at IS NULL "
		     "ORDER BY id LIMIT $1 FOR UPDATE", s) < 0)
		ob->sql_select = NULL;
	if (asprintf(&ob->sql_mark,
		     "UPDATE \"%s\".outbox SET sent_at = CASE WHEN id = ANY($1::bigint[]) THEN now() "
		     "ELSE sent_at END, attempts = COALESCE(attempts, 0) + CASE WHEN id = "
		     "ANY($2::bigint[]) THEN 1 ELSE 0 END WHERE id = ANY($1::bigint[]) OR id = "
		     "ANY($2::bigint[])", s) < 0)
		ob->sql_mark = NULL;
	if (asprintf(&ob->sql_stats,
		     "SELECT (SELECT count(*) FROM \"%s\".outbox WHERE sent_at IS NULL), "
		     "COALESCE((SELECT EXTRACT(EPOCH FROM now() - created_at) FROM \"%s\".outbox "
		     "WHERE sent_at IS NULL ORDER BY id LIMIT 1), 0)", s, s) < 0)
		ob->sql_stats = NULL;
	if (asprintf(&ob->sql_retention,
		     "DELETE FROM \"%s\".outbox WHERE id IN (SELECT id FROM \"%s\".outbox WHERE "
		     "sent_at < now() - interval '7 days' ORDER BY id LIMIT %d)", s, s,
		     OB_RETENTION_ROWS) < 0)
		ob->sql_retention = NULL;
	return ob->lock_key && ob->sql_select && ob->sql_mark && ob->sql_stats && ob->sql_retention
		       ? 0 : -1;
}

struct outbox *outbox_new(struct event_base *base, struct pg_pool *pg, struct amqp *amqp,
			  const struct outbox_opts *o)
{
	struct timeval stats_tv = {.tv_sec = OB_STATS_MS / 1000, .tv_usec = 0};
	struct outbox *ob;

	if (!base || !pg || !amqp || !o || !outbox_schema_valid(o->schema))
		return NULL;
	ob = calloc(1, sizeof(*ob));
	if (!ob)
		return NULL;
	ob->base = base;
	ob->pg = pg;
	ob->amqp = amqp;
	ob->metrics = o->metrics;
	ob->batch = o->batch < 1 ? 1 : o->batch > 10000 ? 10000 : o->batch;
	ob->poll_ms = o->poll_ms > 0 ? o->poll_ms : 1000;
	ob->max_backoff_ms = o->max_backoff_ms > OB_BACKOFF_FIRST_MS ? o->max_backoff_ms
								      : OB_BACKOFF_FIRST_MS;
	ob->schema = strdup(o->schema);
	ob->rows = calloc((size_t)ob->batch, sizeof(*ob->rows));
	ob->tick = evtimer_new(base, ob_on_tick, ob);
	ob->stats_timer = event_new(base, -1, EV_PERSIST, ob_on_stats_timer, ob);
	if (!ob->schema || !ob->rows || !ob->tick || !ob->stats_timer || ob_build_sql(ob) != 0 ||
	    event_add(ob->stats_timer, &stats_tv) != 0) {
		ob_destroy(ob);
		return NULL;
	}
	ob_declare_metrics(ob->metrics);
	ob_arm(ob, 0);
	return ob;
}
