/*
 * apikey_usage.c - API-key usage counters and the bounded reports cut from them (see
 * apikey_usage.h).
 *
 * Owns the counter map (apikey_l1.h, api key id -> struct apikey_usage_count, no deadline).
 */
#include "apikey_usage.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "apikey_l1.h"
#include "common/json.h"

struct apikey_usage {
	struct apikey_l1 *counts;
};

struct apikey_usage *apikey_usage_new(size_t max_keys)
{
	struct apikey_usage *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	u->counts = apikey_l1_new(max_keys > 0 ? max_keys : 1, sizeof(struct apikey_usage_count));
	if (u->counts == NULL) {
		free(u);
		return NULL;
	}
	return u;
}

void apikey_usage_free(struct apikey_usage *u)
{
	if (u == NULL)
		return;
	apikey_l1_free(u->counts);
	free(u);
}

int apikey_usage_add(struct apikey_usage *u, const char *api_key_id, long count,
		     time_t last_used)
{
	struct apikey_usage_count *c = apikey_l1_get(u->counts, api_key_id, 0);
	struct apikey_usage_count fresh;

	if (c != NULL) {
		c->count += count;
		if (last_used > c->last_used)
			c->last_used = last_used;
		return 0;
	}
	if (strlen(api_key_id) >= sizeof(fresh.api_key_id))
		return -1;
	memset(&fresh, 0, sizeof(fresh));
	memcpy(fresh.api_key_id, api_key_id, strlen(api_key_id));
	fresh.count = count;
	fresh.last_used = last_used;
	return apikey_l1_put(u->counts, api_key_id, &fresh, APIKEY_L1_FOREVER);
}

size_t apikey_usage_keys(const struct apikey_usage *u)
{
	return apikey_l1_count(u->counts);
}

/* del_if callback: moves one counter into the batch while it has room. */
static bool au_take_one(const void *payload, void *arg)
{
	struct apikey_usage_batch *b = arg;

	if (b->n == APIKEY_USAGE_BATCH)
		return false; /* stays counted for the next report */
	b->v[b->n++] = *(const struct apikey_usage_count *)payload;
	return true;
}

void apikey_usage_take(struct apikey_usage *u, struct apikey_usage_batch *b)
{
	b->n = 0;
	apikey_l1_del_if(u->counts, au_take_one, b);
}

size_t apikey_usage_restore(struct apikey_usage *u, const struct apikey_usage_batch *b)
{
	size_t lost = 0;

	for (size_t i = 0; i < b->n; i++)
		if (apikey_usage_add(u, b->v[i].api_key_id, b->v[i].count, b->v[i].last_used) < 0)
			lost++;
	return lost;
}

char *apikey_usage_body(const struct apikey_usage_batch *b)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	char *body = NULL;

	for (size_t i = 0; o != NULL && arr != NULL && i < b->n; i++) {
		json_object *e = json_object_new_object();
		char ts[32];
		struct tm tm;

		gmtime_r(&b->v[i].last_used, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_set_str(e, "api_key_id", b->v[i].api_key_id);
		json_set_int(e, "count", b->v[i].count);
		json_set_str(e, "last_used_at", ts);
		json_object_array_add(arr, e);
	}
	if (o != NULL && arr != NULL) {
		json_object_object_add(o, "usage", arr);
		arr = NULL;
		body = strdup(json_compact(o, NULL));
	}
	if (arr != NULL)
		json_object_put(arr);
	if (o != NULL)
		json_object_put(o);
	return body;
}
