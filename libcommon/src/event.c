/*
 * event.c - the event envelope: building a new one (id, UTC timestamp, producer, data) and
 * parsing and checking one received from the broker.
 *
 * Owns nothing global. A built envelope belongs to the caller; a parsed one belongs to its
 * struct event_msg until event_free().
 */
#include "common/event.h"

#include "common/crypto.h"
#include "common/json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define EVENT_PRODUCER_MAX 64
#define EVENT_TRACE_ID_MAX 64
#define EVENT_OCCURRED_AT_MAX 64

static bool event_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Checks one non-empty [a-z0-9_] word ending at '.'; advances *p past the dot. */
static bool event_type_word(const char **p)
{
	const char *s = *p;

	while (event_word_char(*s))
		s++;
	if (s == *p || *s != '.')
		return false;
	*p = s + 1;
	return true;
}

bool event_type_valid(const char *t)
{
	const char *p = t;

	if (!t || strnlen(t, EVENT_TYPE_MAX) >= EVENT_TYPE_MAX)
		return false;
	for (int i = 0; i < 3; i++) {
		if (!event_type_word(&p))
			return false;
	}
	if (*p++ != 'v' || *p < '1' || *p > '9')
		return false; /* v<N>, N >= 1 without leading zeros */
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '\0';
}

/* "2026-11-22T06:40:09.123Z": the current UTC time with milliseconds. */
static void event_now_iso(char out[64])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 64, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 64 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000L) % 1000);
}

static bool event_producer_ok(const char *p)
{
	size_t n = p ? strnlen(p, EVENT_PRODUCER_MAX + 1) : 0;

	return n > 0 && n <= EVENT_PRODUCER_MAX;
}

static bool event_trace_ok(const char *t)
{
	return !t || strnlen(t, EVENT_TRACE_ID_MAX + 1) <= EVENT_TRACE_ID_MAX;
}

json_object *event_envelope_new(const char *event_type, const char *producer, const char *tenant_id,
				const char *trace_id, json_object *data, char *event_id_out)
{
	char id[UUID_STR_LEN];
	char now[64];
	json_object *env = NULL;

	if (!data)
		data = json_object_new_object(); /* an event without payload carries {} */
	if (!data || !json_object_is_type(data, json_type_object) || !event_type_valid(event_type) ||
	    !event_producer_ok(producer) || (tenant_id && !uuid_valid(tenant_id)) ||
	    !event_trace_ok(trace_id))
		goto fail;
	env = json_object_new_object();
	if (!env)
		goto fail;
	uuid_v4(id);
	event_now_iso(now);
	json_set_str(env, "event_id", id);
	json_set_str(env, "event_type", event_type);
	json_set_str(env, "occurred_at", now);
	json_set_str(env, "producer", producer);
	json_set_str(env, "tenant_id", tenant_id);
	json_set_str(env, "trace_id", trace_id);
	if (json_object_object_add(env, "data", data) != 0) {
		json_object_put(env);
		goto fail;
	}
	if (json_object_object_length(env) != 7) { /* an allocation inside json-c failed */
		json_object_put(env);
		return NULL;
	}
	if (event_id_out)
		memcpy(event_id_out, id, UUID_STR_LEN);
	return env;
fail:
	json_object_put(data);
	return NULL;
}

/* A string member; NULL when absent, null or not a string (*is_null tells null/absent). */
static const char *event_str(json_object *env, const char *key, bool *is_null)
{
	json_object *v = NULL;

	*is_null = !json_object_object_get_ex(env, key, &v) || v == NULL;
	if (*is_null || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Required non-empty string of at most max bytes. */
static const char *event_req_str(json_object *env, const char *key, size_t max)
{
	bool is_null;
	const char *s = event_str(env, key, &is_null);

	if (!s || !*s || strnlen(s, max + 1) > max)
		return NULL;
	return s;
}

/* The checks of event_parse on the tree; returns NULL or the reason. */
static const char *event_check(json_object *env, struct event_msg *ev)
{
	json_object *data = NULL;
	bool is_null;

	if (!json_object_is_type(env, json_type_object))
		return "envelope is not an object";
	ev->event_id = event_req_str(env, "event_id", UUID_STR_LEN);
	if (!ev->event_id || !uuid_valid(ev->event_id))
		return "event_id is not a uuid";
	ev->event_type = event_req_str(env, "event_type", EVENT_TYPE_MAX);
	if (!ev->event_type || !event_type_valid(ev->event_type))
		return "event_type is invalid";
	ev->occurred_at = event_req_str(env, "occurred_at", EVENT_OCCURRED_AT_MAX);
	if (!ev->occurred_at)
		return "occurred_at is not a string";
	ev->producer = event_req_str(env, "producer", EVENT_PRODUCER_MAX);
	if (!ev->producer)
		return "producer is not a non-empty string";
	ev->tenant_id = event_str(env, "tenant_id", &is_null);
	if (!is_null && (!ev->tenant_id || !uuid_valid(ev->tenant_id)))
		return "tenant_id is not null or a uuid";
	ev->trace_id = event_str(env, "trace_id", &is_null);
	if (!is_null && (!ev->trace_id || !event_trace_ok(ev->trace_id)))
		return "trace_id is not null or a short string";
	if (!json_object_object_get_ex(env, "data", &data) || !json_object_is_type(data, json_type_object))
		return "data is not an object";
	ev->data = data;
	return NULL;
}

int event_parse(const char *body, size_t len, struct event_msg *ev, const char **why)
{
	const char *reason = NULL;
	json_object *env;

	memset(ev, 0, sizeof(*ev));
	if (!body) {
		reason = "empty body";
		goto fail;
	}
	env = json_parse_strict(body, len, &reason);
	if (!env) {
		if (!reason)
			reason = "malformed json";
		goto fail;
	}
	reason = event_check(env, ev);
	if (reason) {
		json_object_put(env);
		goto fail;
	}
	ev->env = env;
	return 0;
fail:
	memset(ev, 0, sizeof(*ev));
	if (why)
		*why = reason;
	return -1;
}

void event_msg_free(struct event_msg *ev)
{
	if (!ev)
		return;
	json_object_put(ev->env);
	memset(ev, 0, sizeof(*ev));
}
