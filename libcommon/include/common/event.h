/*
 * event.h - the event envelope every FlatRender event travels in.
 *
 *   { "event_id": uuid, "event_type": "<domain>.<entity>.<event>.v<N>", "occurred_at": ISO 8601,
 *     "producer": service name, "tenant_id": uuid|null, "trace_id": request id|null, "data": {...} }
 *
 * The routing key on the exchange equals event_type. Schemas: contracts/events/.
 */
#ifndef COMMON_EVENT_H
#define COMMON_EVENT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define EVENT_TYPE_MAX 128

/* True when t has the form <domain>.<entity>.<event>.v<N>: lower-case [a-z0-9_] words. */
bool event_type_valid(const char *t);

/* A new envelope (caller puts it); takes ownership of data (an object; NULL means {}).
 * occurred_at is the current UTC time with milliseconds ("2026-11-22T06:40:09.123Z").
 * tenant_id (a UUID) and trace_id (at most 64 bytes) may be NULL; producer is 1..64 bytes.
 * event_id_out (37 bytes, may be NULL) receives the new event id. NULL when event_type or
 * another argument is invalid (data is put). */
json_object *event_envelope_new(const char *event_type, const char *producer, const char *tenant_id,
				const char *trace_id, json_object *data, char *event_id_out);

/* A parsed envelope; strings point into env (borrowed). Named event_msg, not "event":
 * libevent owns struct event and event_free(), and every daemon links libevent. */
struct event_msg {
	const char *event_id;
	const char *event_type;
	const char *occurred_at;
	const char *producer;
	const char *tenant_id; /* NULL when null */
	const char *trace_id;  /* NULL when null */
	json_object *data;
	json_object *env;      /* the whole envelope, owned by struct event_msg */
};

/* Parses and checks an envelope from untrusted bytes (strict JSON, required fields and types,
 * UUID event_id, valid event_type, occurred_at a non-empty string, producer 1..64 bytes,
 * tenant_id null/absent or a UUID, trace_id null/absent or at most 64 bytes, data an object;
 * unknown members are ignored). 0 on success (event_msg_free later), -1 with a static reason in
 * *why (why may be NULL; ev is zeroed then, and event_msg_free on it is harmless). */
int event_parse(const char *body, size_t len, struct event_msg *ev, const char **why);
void event_msg_free(struct event_msg *ev);

#endif
