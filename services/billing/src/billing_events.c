/*
 * billing_events.c - envelopes and outbox rows of billing's events (see billing_events.h).
 *
 * Owns, for billing_events_add_all(), a small malloc'd context that lives until its callback
 * has run (it holds a reference on the events array meanwhile).
 */
#include "billing_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/event.h"
#include "common/outbox.h"

int billing_event_add(struct pg_tx *tx, const char *schema, const char *type,
		      const char *trace_id, json_object *data, const char *aggregate_id,
		      pg_result_cb cb, void *arg)
{
	json_object *tid = NULL, *env;
	int rc;

	if (data == NULL || !json_object_object_get_ex(data, "tenant_id", &tid) ||
	    !json_object_is_type(tid, json_type_string)) {
		json_object_put(data);
		return -1;
	}
	/* event_envelope_new puts data itself when it fails */
	env = event_envelope_new(type, EV_PRODUCER, json_object_get_string(tid), trace_id, data,
				 NULL);
	if (env == NULL)
		return -1;
	rc = outbox_add(tx, schema, env, aggregate_id, cb, arg); /* copies the payload text */
	json_object_put(env);
	return rc;
}

struct events_ctx {
	struct pg_tx *tx;
	const char *schema;
	char trace_id[72];
	json_object *events; /* a reference we hold */
	size_t next, n;
	billing_events_cb cb;
	void *arg;
};

static void events_finish(struct events_ctx *c, const char *err)
{
	billing_events_cb cb = c->cb;
	void *arg = c->arg;

	json_object_put(c->events);
	free(c);
	cb(err, arg);
}

/* Inserts element c->next; -1 when it could not be queued. */
static int events_add_next(struct events_ctx *c);

static void events_on_added(const struct pg_result *r, void *arg)
{
	struct events_ctx *c = arg;

	if (r->err != NULL) {
		events_finish(c, r->err);
		return;
	}
	if (c->next == c->n) {
		events_finish(c, NULL);
		return;
	}
	if (events_add_next(c) < 0)
		events_finish(c, "event not queued");
}

static int events_add_next(struct events_ctx *c)
{
	json_object *e = json_object_array_get_idx(c->events, c->next++);
	json_object *type = NULL, *agg = NULL, *data = NULL;

	if (!json_object_object_get_ex(e, "type", &type) ||
	    !json_object_object_get_ex(e, "data", &data) ||
	    !json_object_is_type(type, json_type_string))
		return -1;
	json_object_object_get_ex(e, "aggregate_id", &agg);
	return billing_event_add(c->tx, c->schema, json_object_get_string(type),
				 c->trace_id[0] != '\0' ? c->trace_id : NULL,
				 json_object_get(data),
				 json_object_is_type(agg, json_type_string) ?
					 json_object_get_string(agg) : NULL,
				 events_on_added, c);
}

/* Nothing to insert: still answer from the loop, through a no-op statement. */
static void events_on_noop(const struct pg_result *r, void *arg)
{
	struct events_ctx *c = arg;

	events_finish(c, r->err);
}

int billing_events_add_all(struct pg_tx *tx, const char *schema, const char *trace_id,
			   json_object *events, billing_events_cb cb, void *arg)
{
	struct events_ctx *c = calloc(1, sizeof(*c));
	int rc;

	if (c == NULL)
		return -1;
	c->tx = tx;
	c->schema = schema;
	if (trace_id != NULL)
		snprintf(c->trace_id, sizeof(c->trace_id), "%s", trace_id);
	c->events = json_object_is_type(events, json_type_array) ? json_object_get(events) : NULL;
	c->n = c->events != NULL ? json_object_array_length(c->events) : 0;
	c->cb = cb;
	c->arg = arg;
	rc = c->n > 0 ? events_add_next(c) : pg_tx_query(tx, "SELECT 1", 0, NULL, events_on_noop, c);
	if (rc < 0) {
		json_object_put(c->events);
		free(c);
	}
	return rc;
}
