/*
 * jwks_client.c - fetches and swaps identity's key set (see jwks_client.h).
 *
 * Owns the current struct jwt_keyset and its timer. At most one fetch is in flight; parked
 * waiters (unknown kid) ride on it. A fetch in flight holds a small heap context pointing
 * back here, so freeing the client before the http_client answers only detaches it.
 */
#include "common/jwks_client.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/log.h"

#define JWKS_BACKOFF_MIN_MS 200
#define JWKS_BACKOFF_MAX_MS 30000

struct jwks_fetch {
	struct jwks_client *j; /* NULL once the client is gone: the answer is ignored */
};

struct jwks_client {
	struct event_base *base;
	struct http_client *identity;
	struct jwks_client_opts o;
	struct jwt_keyset *keys;
	struct event *timer;
	struct jwks_fetch *fetch; /* the fetch in flight, or NULL */
	bool closing;
	int backoff_ms;
	uint64_t last_kid_fetch_ms;
	struct jwks_waiter *waiters;
	size_t nwaiters;
};

static void jwks_fetch(struct jwks_client *j);

static uint64_t jwks_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void jwks_on_timer(evutil_socket_t fd, short what, void *arg)
{
	jwks_fetch(arg);
}

struct jwks_client *jwks_client_new(struct event_base *base, struct http_client *identity,
				    const struct jwks_client_opts *o)
{
	struct jwks_client *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->base = base;
	j->identity = identity;
	j->o = *o;
	j->backoff_ms = JWKS_BACKOFF_MIN_MS;
	j->timer = evtimer_new(base, jwks_on_timer, j);
	if (j->timer == NULL) {
		free(j);
		return NULL;
	}
	return j;
}

static void jwks_arm(struct jwks_client *j, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (!j->closing)
		evtimer_add(j->timer, &tv);
}

/* Runs every parked waiter once (each may free its own memory, so next is read first). */
static void jwks_release_waiters(struct jwks_client *j)
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

/* Installs a fetched document; 0 on success. */
static int jwks_install(struct jwks_client *j, const char *body, size_t len)
{
	char err[128] = "";
	struct jwt_keyset *ks = jwt_keyset_from_jwks(body, len, err, sizeof(err));
	bool first = j->keys == NULL;

	if (ks == NULL) {
		log_warn(NULL, "jwks rejected", LS("reason", err));
		return -1;
	}
	if (j->keys != NULL)
		jwt_keyset_free(j->keys);
	j->keys = ks;
	if (j->o.on_swap != NULL)
		j->o.on_swap(j->o.arg, ks);
	if (first)
		log_info(NULL, "jwks loaded", LI("keys", jwt_keyset_count(ks)));
	else
		log_debug(NULL, "jwks refreshed", LI("keys", jwt_keyset_count(ks)));
	return 0;
}

static void jwks_on_response(enum http_client_err err, const struct http_client_response *resp,
			     void *arg)
{
	struct jwks_fetch *f = arg;
	struct jwks_client *j = f->j;
	int rc = -1;

	free(f);
	if (j == NULL)
		return; /* the client was freed meanwhile */
	j->fetch = NULL;
	if (j->o.on_fetch != NULL)
		j->o.on_fetch(j->o.arg, err);
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
		jwks_arm(j, j->o.refresh_s * 1000);
	} else {
		jwks_arm(j, j->backoff_ms);
		j->backoff_ms = j->backoff_ms * 2 > JWKS_BACKOFF_MAX_MS ? JWKS_BACKOFF_MAX_MS
									: j->backoff_ms * 2;
	}
	jwks_release_waiters(j);
}

static void jwks_fetch(struct jwks_client *j)
{
	char rid[UUID_STR_LEN];
	struct http_client_header h[1] = {{"X-Request-Id", rid}};
	struct http_client_request r = {HTTP_GET, JWKS_PATH, h, 1, NULL, 0, 0};
	struct jwks_fetch *f;

	if (j->fetch != NULL || j->closing)
		return;
	uuid_v4(rid);
	f = calloc(1, sizeof(*f));
	if (f != NULL) {
		f->j = j;
		if (http_client_send(j->identity, &r, jwks_on_response, f) == 0) {
			j->fetch = f;
			return;
		}
		free(f);
	}
	log_warn(NULL, "jwks fetch not sent", LI("retry_ms", j->backoff_ms));
	jwks_arm(j, j->backoff_ms);
}

void jwks_client_start(struct jwks_client *j)
{
	jwks_fetch(j);
}

const struct jwt_keyset *jwks_client_current(const struct jwks_client *j)
{
	return j->keys;
}

bool jwks_client_ready(void *arg)
{
	const struct jwks_client *j = arg;

	return j->keys != NULL;
}

int jwks_client_refresh_for_kid(struct jwks_client *j, struct jwks_waiter *w)
{
	uint64_t now = jwks_now_ms();

	if (j->closing || (w != NULL && j->nwaiters >= JWKS_MAX_WAITERS))
		return -1;
	if (j->fetch == NULL) {
		if (j->last_kid_fetch_ms != 0 && now - j->last_kid_fetch_ms < JWKS_KID_REFETCH_MS)
			return -1;
		j->last_kid_fetch_ms = now;
		jwks_fetch(j);
		if (j->fetch == NULL)
			return -1;
	}
	if (w == NULL)
		return 0;
	w->next = j->waiters;
	j->waiters = w;
	j->nwaiters++;
	return 0;
}

void jwks_client_close(struct jwks_client *j)
{
	if (j == NULL || j->closing)
		return;
	j->closing = true;
	evtimer_del(j->timer);
	jwks_release_waiters(j);
}

void jwks_client_free(struct jwks_client *j)
{
	if (j == NULL)
		return;
	jwks_client_close(j);
	if (j->fetch != NULL)
		j->fetch->j = NULL;
	event_free(j->timer);
	if (j->keys != NULL)
		jwt_keyset_free(j->keys);
	free(j);
}
