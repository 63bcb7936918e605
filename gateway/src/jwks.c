/*
 * jwks.c - fetches and swaps identity's key set (see jwks.h).
 *
 * Owns the current struct jwt_keyset and its timer. At most one fetch is in flight; parked
 * waiters (unknown kid) ride on it.
 */
#include "jwks.h"

#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/http_client.h"
#include "common/log.h"
#include "token_cache.h"
#include "upstreams.h"

#define JWKS_BACKOFF_MIN_MS 200
#define JWKS_BACKOFF_MAX_MS 30000

struct jwks {
	struct event_base *base;
	struct upstream *identity;
	struct token_cache *tokens;
	struct jwt_keyset *keys;
	long refresh_s;
	struct event *timer;
	bool fetching;
	bool closing;
	int backoff_ms;
	uint64_t last_kid_fetch_ms;
	struct jwks_waiter *waiters;
	size_t nwaiters;
};

static void jwks_fetch(struct jwks *j);

static void jwks_on_timer(evutil_socket_t fd, short what, void *arg)
{
	jwks_fetch(arg);
}

struct jwks *jwks_new(struct event_base *base, struct upstream *identity,
		      struct token_cache *tokens, long refresh_s)
{
	struct jwks *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->base = base;
	j->identity = identity;
	j->tokens = tokens;
	j->refresh_s = refresh_s;
	j->backoff_ms = JWKS_BACKOFF_MIN_MS;
	j->timer = evtimer_new(base, jwks_on_timer, j);
	if (j->timer == NULL) {
		free(j);
		return NULL;
	}
	return j;
}

static void jwks_arm(struct jwks *j, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (!j->closing)
		evtimer_add(j->timer, &tv);
}

/* Runs every parked waiter once (each may free its own memory, so next is read first). */
static void jwks_release_waiters(struct jwks *j)
{
	struct jwks_waiter *w = j->waiters;

	j->waiters = NULL;
	j->nwaiters = 0;
	while (w != NULL) {
		struct jwks_waiter *next = w->next;

		w->fn(w->arg);
		w = next;
	}
}

static bool jwks_keep_kid(void *arg, const char *kid)
{
	return jwt_keyset_has(arg, kid);
}

/* Installs a fetched document; 0 on success. */
static int jwks_install(struct jwks *j, const char *body, size_t len)
{
	char err[128] = "";
	struct jwt_keyset *ks = jwt_keyset_from_jwks(body, len, err, sizeof(err));
	size_t purged = 0;
	bool first = j->keys == NULL;

	if (ks == NULL) {
		log_warn(NULL, "jwks rejected", LS("reason", err));
		return -1;
	}
	if (j->keys != NULL)
		jwt_keyset_free(j->keys);
	j->keys = ks;
	if (j->tokens != NULL)
		purged = token_cache_purge(j->tokens, jwks_keep_kid, ks);
	if (first)
		log_info(NULL, "jwks loaded", LI("keys", jwt_keyset_count(ks)));
	else
		log_debug(NULL, "jwks refreshed", LI("keys", jwt_keyset_count(ks)),
			  LI("tokens_purged", purged));
	return 0;
}

static void jwks_on_response(enum http_client_err err, const struct http_client_response *resp,
			     void *arg)
{
	struct jwks *j = arg;
	int rc = -1;

	j->fetching = false;
	upstream_note(j->identity, err, gw_now_ms());
	if (j->closing)
		return;
	if (err != HC_OK)
		log_warn(NULL, "jwks fetch failed", LS("error", http_client_strerror(err)),
			 LI("retry_ms", j->backoff_ms));
	else if (resp->status != 200)
		log_warn(NULL, "jwks fetch failed", LI("status", resp->status),
			 LI("retry_ms", j->backoff_ms));
	else
		rc = jwks_install(j, resp->body, resp->body_len);
	if (rc == 0) {
		j->backoff_ms = JWKS_BACKOFF_MIN_MS;
		jwks_arm(j, j->refresh_s * 1000);
	} else {
		jwks_arm(j, j->backoff_ms);
		j->backoff_ms = j->backoff_ms * 2 > JWKS_BACKOFF_MAX_MS ? JWKS_BACKOFF_MAX_MS
									: j->backoff_ms * 2;
	}
	jwks_release_waiters(j);
}

static void jwks_fetch(struct jwks *j)
{
	char rid[UUID_STR_LEN];
	struct http_client_header h[1] = {{"X-Request-Id", rid}};
	struct http_client_request r = {HTTP_GET, JWKS_PATH, h, 1, NULL, 0, 0};

	if (j->fetching || j->closing)
		return;
	uuid_v4(rid);
	if (http_client_send(j->identity->client, &r, jwks_on_response, j) < 0) {
		log_warn(NULL, "jwks fetch not sent", LI("retry_ms", j->backoff_ms));
		jwks_arm(j, j->backoff_ms);
		return;
	}
	j->fetching = true;
}

void jwks_start(struct jwks *j)
{
	jwks_fetch(j);
}

const struct jwt_keyset *jwks_current(const struct jwks *j)
{
	return j->keys;
}

bool jwks_ready(void *arg)
{
	const struct jwks *j = arg;

	return j->keys != NULL;
}

int jwks_refresh_for_kid(struct jwks *j, struct jwks_waiter *w)
{
	uint64_t now = gw_now_ms();

	if (j->closing || j->nwaiters >= JWKS_MAX_WAITERS)
		return -1;
	if (!j->fetching) {
		if (j->last_kid_fetch_ms != 0 && now - j->last_kid_fetch_ms < JWKS_KID_REFETCH_MS)
			return -1;
		j->last_kid_fetch_ms = now;
		jwks_fetch(j);
		if (!j->fetching)
			return -1;
	}
	w->next = j->waiters;
	j->waiters = w;
	j->nwaiters++;
	return 0;
}

void jwks_close(struct jwks *j)
{
	if (j == NULL)
		return;
	j->closing = true;
	evtimer_del(j->timer);
	jwks_release_waiters(j);
}

void jwks_free(struct jwks *j)
{
	if (j == NULL)
		return;
	if (j->timer != NULL)
		event_free(j->timer);
	if (j->keys != NULL)
		jwt_keyset_free(j->keys);
	free(j);
}
