/*
 * billing_consumer.c - identity.user.registered.v1 -> wallet (+ starter plan) (see
 * billing_consumer.h).
 *
 * Owns nothing: the consumer it creates belongs to main.c (consumer_free).
 */
#include "billing_consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "billing_json.h"
#include "common/consumer.h"
#include "common/crypto.h"

#define EV_USER_REGISTERED "identity.user.registered.v1"
#define USER_REGISTERED_MAX_ATTEMPTS 10
#define USER_REGISTERED_RETRY_MS 2000

static const char *const ur_binding_keys[] = {EV_USER_REGISTERED, NULL};

struct ur_msg {
	struct consumer_msg *m;
	char user_id[37];
};

static void ur_on_applied(const struct pg_result *r, void *arg)
{
	struct ur_msg *u = arg;
	struct consumer_msg *m = u->m;

	if (r->err != NULL) {
		log_warn(NULL, "user registered: apply failed", LS("error", r->err),
			 LS("user_id", u->user_id));
		free(u);
		consumer_done(m, CONSUMER_RETRY, "database error");
		return;
	}
	log_info(&(struct log_ctx){.user_id = u->user_id}, "wallet opened",
		 LS("effect", pg_val(r->res, 0, 0)));
	free(u);
	consumer_done(m, CONSUMER_OK, NULL);
}

static void ur_on_event(struct consumer_msg *m, const struct event_msg *ev, void *arg)
{
	static const char sql[] = "SELECT user_registered($1, $2, $3, $4)";
	struct billing_app *app = arg;
	const char *user = billing_json_str(ev->data, "user_id");
	const char *tenant = billing_json_str(ev->data, "tenant_id");
	const char *params[4];
	struct ur_msg *u;

	if (strcmp(ev->event_type, EV_USER_REGISTERED) != 0) {
		consumer_done(m, CONSUMER_POISON, "unexpected event type");
		return;
	}
	if (user == NULL || tenant == NULL || !uuid_valid(user) || !uuid_valid(tenant)) {
		consumer_done(m, CONSUMER_POISON, "user_id and tenant_id must be UUIDs");
		return;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		consumer_done(m, CONSUMER_RETRY, "out of memory");
		return;
	}
	u->m = m;
	snprintf(u->user_id, sizeof(u->user_id), "%s", user);
	params[0] = user;
	params[1] = tenant;
	params[2] = app->cfg->currency;
	params[3] = app->cfg->starter_plan;
	if (pg_tx_query(consumer_tx(m), sql, 4, params, ur_on_applied, u) < 0) {
		free(u);
		consumer_done(m, CONSUMER_RETRY, "database busy");
	}
}

struct consumer *billing_consumer_start(struct billing_app *app)
{
	struct amqp_queue_spec q;
	struct consumer_opts o;

	memset(&q, 0, sizeof(q));
	q.name = BILLING_QUEUE_USER_REGISTERED;
	q.binding_keys = ur_binding_keys;
	q.max_attempts = USER_REGISTERED_MAX_ATTEMPTS;
	q.retry_delay_ms = USER_REGISTERED_RETRY_MS;
	memset(&o, 0, sizeof(o));
	o.queue = &q;
	o.pg = app->pg;
	o.schema = app->schema;
	o.metrics = app->metrics;
	return consumer_new(app->amqp, &o, ur_on_event, app);
}
