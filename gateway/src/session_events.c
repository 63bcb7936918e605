/*
 * session_events.c - the identity.session.revoked.v1 consumer (see session_events.h).
 *
 * Owns nothing: the consumer it creates belongs to main.c (consumer_free), the caches it
 * updates to the struct gateway. The handler is synchronous: every message is settled before
 * it returns, so nothing is in flight when the consumer is freed.
 */
#include "session_events.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/amqp.h"
#include "common/consumer.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/session_cache.h"
#include "apikey_events.h"
#include "gateway.h"
#include "gw_metrics.h"
#include "session_check.h"

#define SE_QUEUE_RANDOM_BYTES 8

static const char *const se_binding_keys[] = {SESSION_EVENTS_TYPE, APIKEY_EVENT_REVOKED,
					       APIKEY_EVENT_SUSPENDED, APIKEY_EVENT_UPDATED, NULL};

/* A reason worth logging: a short word of [a-z0-9_]. */
static bool se_reason_ok(const char *r, size_t n)
{
	if (n == 0 || n >= SESSION_REASON_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '_'))
			return false;
	return true;
}

/* The string value of member key of object o, or NULL when absent or not a string. */
static const char *se_string_member(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int session_revocation_parse(json_object *data, struct session_revocation *out, const char **why)
{
	const char *s, *reason;

	memset(out, 0, sizeof(*out));
	if (why != NULL)
		*why = NULL;
	if (!json_object_is_type(data, json_type_object)) {
		if (why != NULL)
			*why = "data is not an object";
		return -1;
	}
	s = se_string_member(data, "session_id");
	if (s == NULL || strlen(s) != UUID_STR_LEN - 1 || !uuid_valid(s)) {
		if (why != NULL)
			*why = "data.session_id is not a UUID";
		return -1;
	}
	for (size_t i = 0; i < UUID_STR_LEN - 1; i++) /* the form tokens and cache keys use */
		out->session_id[i] = (s[i] >= 'A' && s[i] <= 'F') ? (char)(s[i] - 'A' + 'a') : s[i];
	reason = se_string_member(data, "reason");
	if (reason != NULL && se_reason_ok(reason, strlen(reason)))
		memcpy(out->reason, reason, strlen(reason) + 1);
	else
		snprintf(out->reason, sizeof(out->reason), "unknown");
	return 0;
}

int session_events_queue_name(char *out, size_t cap)
{
	unsigned char rnd[SE_QUEUE_RANDOM_BYTES];
	char hex[2 * SE_QUEUE_RANDOM_BYTES + 1];

	if (cap < SESSION_EVENTS_QUEUE_MAX || crypto_random(rnd, sizeof(rnd)) < 0)
		return -1;
	hex_encode(rnd, sizeof(rnd), hex);
	snprintf(out, cap, "%s%s", SESSION_EVENTS_QUEUE_PREFIX, hex);
	return 0;
}

static void se_on_set(redisReply *reply, const char *err, void *arg)
{
	(void)reply;
	(void)err;
	(void)arg;
}

/* Writes the revocation marker for sid (session_cache.h), so no replica can read a stale
 * "active" from Redis (fire and forget). */
static void se_redis_forget(struct redis *redis, const char *sid)
{
	if (redis == NULL || !redis_ready(redis))
		return;
	if (redis_command(redis, se_on_set, NULL, "SET " SESSION_CACHE_KEY_FMT " revoked|revoked EX %d",
			  sid, SESSION_CACHE_REVOKED_TTL_S) < 0)
		log_debug(NULL, "session cache revocation not sent", LS("session_id", sid));
}

/* An API-key revocation or tenant status change (apikey_events.h). */
static void se_on_apikey_event(struct consumer_msg *m, const struct event_msg *ev,
			       struct gateway *gw)
{
	struct log_ctx lc = {ev->trace_id, ev->tenant_id, NULL};
	struct apikey_event e;
	const char *why = NULL;

	if (apikey_event_parse(ev->event_type, ev->data, &e, &why) < 0) {
		consumer_done(m, CONSUMER_POISON, why);
		return;
	}
	apikey_event_apply(gw->apikeys, &e);
	log_info(&lc, "api key access changed by event", LS("event_type", ev->event_type),
		 LS("key_prefix", e.key_prefix), LS("tenant_id", e.tenant_id),
		 LS("event_id", ev->event_id));
	consumer_done(m, CONSUMER_OK, NULL);
}

static void se_on_event(struct consumer_msg *m, const struct event_msg *ev, void *arg)
{
	struct gateway *gw = arg;
	struct log_ctx lc = {ev->trace_id, ev->tenant_id, NULL};
	struct session_revocation r;
	const char *why = NULL;

	if (apikey_event_type(ev->event_type)) {
		se_on_apikey_event(m, ev, gw);
		return;
	}
	if (strcmp(ev->event_type, SESSION_EVENTS_TYPE) != 0) {
		consumer_done(m, CONSUMER_POISON, "unexpected event type");
		return;
	}
	if (session_revocation_parse(ev->data, &r, &why) < 0) {
		consumer_done(m, CONSUMER_POISON, why);
		return;
	}
	session_check_revoked(gw->sessions, r.session_id);
	se_redis_forget(gw->redis, r.session_id);
	gw_metrics_revocation(gw->metrics);
	log_info(&lc, "session revoked by event", LS("session_id", r.session_id),
		 LS("reason", r.reason), LS("event_id", ev->event_id));
	consumer_done(m, CONSUMER_OK, NULL);
}

struct consumer *session_events_start(struct amqp *a, struct gateway *gw)
{
	char name[SESSION_EVENTS_QUEUE_MAX];
	struct amqp_queue_spec q;
	struct consumer_opts o;
	struct consumer *c;

	if (session_events_queue_name(name, sizeof(name)) < 0)
		return NULL;
	memset(&q, 0, sizeof(q));
	q.name = name;
	q.binding_keys = se_binding_keys;
	q.max_attempts = 1;
	q.exclusive_auto_delete = true; /* every replica sees every revocation */
	memset(&o, 0, sizeof(o));
	o.queue = &q;
	o.pg = NULL; /* idempotent effect: no inbox */
	o.metrics = gw->metrics;
	if ((c = consumer_new(a, &o, se_on_event, gw)) != NULL)
		log_info(NULL, "consuming session and api key revocations", LS("queue", name),
			 LS("binding_key", SESSION_EVENTS_TYPE));
	return c;
}
