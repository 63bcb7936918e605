/*
 * apikey_events.c - API-key revocations and tenant status changes read from identity's events
 * (see apikey_events.h).
 *
 * Owns nothing.
 */
#include "apikey_events.h"

#include <string.h>

#include "apikey.h"

bool apikey_event_type(const char *t)
{
	return strcmp(t, APIKEY_EVENT_REVOKED) == 0 || strcmp(t, APIKEY_EVENT_SUSPENDED) == 0 ||
	       strcmp(t, APIKEY_EVENT_UPDATED) == 0;
}

static const char *ae_string(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* "fr_live_" / "fr_test_" + 8 base62 characters. */
static bool ae_prefix_ok(const char *s)
{
	static const char base62[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

	return s != NULL && strlen(s) == REQSIG_PREFIX_LEN &&
	       (strncmp(s, "fr_live_", 8) == 0 || strncmp(s, "fr_test_", 8) == 0) &&
	       strspn(s + 8, base62) == REQSIG_PREFIX_LEN - 8;
}

static int ae_tenant(json_object *data, struct apikey_event *out)
{
	const char *s = ae_string(data, "tenant_id");

	if (s == NULL || strlen(s) != UUID_STR_LEN - 1 || !uuid_valid(s))
		return -1;
	for (size_t i = 0; i < UUID_STR_LEN; i++) /* the form the cache keys use */
		out->tenant_id[i] = (s[i] >= 'A' && s[i] <= 'F') ? (char)(s[i] - 'A' + 'a') : s[i];
	return 0;
}

static int ae_fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return -1;
}

int apikey_event_parse(const char *event_type, json_object *data, struct apikey_event *out,
		       const char **why)
{
	const char *s;

	memset(out, 0, sizeof(*out));
	if (why != NULL)
		*why = NULL;
	if (!json_object_is_type(data, json_type_object))
		return ae_fail(why, "data is not an object");
	if (strcmp(event_type, APIKEY_EVENT_REVOKED) == 0) {
		s = ae_string(data, "key_prefix");
		if (!ae_prefix_ok(s))
			return ae_fail(why, "data.key_prefix is not an API key prefix");
		memcpy(out->key_prefix, s, REQSIG_PREFIX_LEN + 1);
		out->kind = APIKEY_EVENT_KEY_REVOKED;
		return 0;
	}
	if (ae_tenant(data, out) < 0)
		return ae_fail(why, "data.tenant_id is not a UUID");
	if (strcmp(event_type, APIKEY_EVENT_SUSPENDED) == 0) {
		out->kind = APIKEY_EVENT_TENANT_REFUSED;
		return 0;
	}
	if (strcmp(event_type, APIKEY_EVENT_UPDATED) != 0)
		return ae_fail(why, "unexpected event type");
	s = ae_string(data, "status");
	if (s != NULL && (strcmp(s, "Active") == 0 || strcmp(s, "Trial") == 0))
		out->kind = APIKEY_EVENT_TENANT_ACTIVE;
	else if (s != NULL && (strcmp(s, "Suspended") == 0 || strcmp(s, "Cancelled") == 0))
		out->kind = APIKEY_EVENT_TENANT_REFUSED;
	else
		return ae_fail(why, "data.status is not a tenant status");
	return 0;
}

void apikey_event_apply(struct apikey_cache *c, const struct apikey_event *e)
{
	switch (e->kind) {
	case APIKEY_EVENT_KEY_REVOKED: apikey_cache_revoked(c, e->key_prefix); break;
	case APIKEY_EVENT_TENANT_REFUSED: apikey_cache_tenant_suspended(c, e->tenant_id); break;
	case APIKEY_EVENT_TENANT_ACTIVE: apikey_cache_tenant_active(c, e->tenant_id); break;
	}
}
