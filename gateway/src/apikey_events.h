/*
 * apikey_events.h - the identity events that change what the gateway may accept from API
 * keys, as session_events.c consumes them on each replica's private queue:
 *
 *   identity.api_key.revoked.v1    data.key_prefix: refuse that key at once (tombstone)
 *   identity.tenant.suspended.v1   data.tenant_id: refuse the tenant's keys
 *   identity.tenant.updated.v1     data.tenant_id + data.status: Active / Trial lift that
 *                                  refusal, Suspended / Cancelled set it
 *
 * Tolerant readers: only the members named above are read. Pure apart from apikey_event_apply.
 */
#ifndef GATEWAY_APIKEY_EVENTS_H
#define GATEWAY_APIKEY_EVENTS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "common/crypto.h"
#include "common/reqsig.h"

#define APIKEY_EVENT_REVOKED "identity.api_key.revoked.v1"
#define APIKEY_EVENT_SUSPENDED "identity.tenant.suspended.v1"
#define APIKEY_EVENT_UPDATED "identity.tenant.updated.v1"

struct apikey_cache;

enum apikey_event_kind {
	APIKEY_EVENT_KEY_REVOKED = 0, /* key_prefix */
	APIKEY_EVENT_TENANT_REFUSED,  /* tenant_id: suspended or cancelled */
	APIKEY_EVENT_TENANT_ACTIVE,   /* tenant_id: active or trial */
};

struct apikey_event {
	enum apikey_event_kind kind;
	char key_prefix[REQSIG_PREFIX_LEN + 1];
	char tenant_id[UUID_STR_LEN]; /* lower case */
};

/* True for the three event types above. */
bool apikey_event_type(const char *event_type);

/* Reads one event's data (borrowed). 0 with *out filled, or -1 with a static reason in *why
 * (the event can never apply: poison). */
int apikey_event_parse(const char *event_type, json_object *data, struct apikey_event *out,
		       const char **why) __attribute__((warn_unused_result));

/* Applies e to the key cache. */
void apikey_event_apply(struct apikey_cache *c, const struct apikey_event *e);

#endif
