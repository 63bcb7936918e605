/*
 * svc_token.c - the calling side of service tokens (see svc_token.h).
 *
 * Owns the client credentials (the secret is wiped at free), one cached token per audience,
 * the requests waiting for a token (copied: they are sent, and maybe re-sent after a 401,
 * later) and the list of requests handed to a target client, so that freeing detaches them.
 * A token fetch in flight holds a heap context that freeing detaches likewise. Tokens and the
 * secret never reach a log line.
 */
#include "common/svc_token.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/json.h"
#include "common/jwt.h"
#include "common/log.h"

#define SVC_EXPIRY_MARGIN_MS 5000   /* a token this close to exp is not sent any more */
#define SVC_REFRESH_MIN_GAP_MS 1000 /* background refreshes at most once per second */
#define SVC_MAX_HEADERS 64

struct svc_call;
struct svc_fetch;

struct svc_aud {
	struct svc_aud *next;
	char name[SVC_CLIENT_ID_MAX + 1];
	char *token;            /* NULL when none */
	uint64_t refresh_at_ms; /* 80% of its life */
	uint64_t expire_at_ms;  /* exp minus the margin */
	uint64_t last_fetch_ms;
	struct svc_fetch *fetch; /* in flight, or NULL */
	struct svc_call *waiters;
	size_t nwaiters;
};

struct svc_fetch {
	struct svc_tokens *t; /* NULL once freed: the answer is ignored */
	struct svc_aud *aud;
};

/* One svc_send(): a private copy of the request, waiting for a token or handed to c. */
struct svc_call {
	struct svc_call *next, *prev; /* in a waiter list (next only) or the in-flight list */
	struct svc_tokens *t;         /* NULL once detached by svc_tokens_free */
	struct svc_aud *aud;
	struct http_client *c;
	http_client_cb cb;
	void *arg;
	bool retried;
	char *used_token; /* the token it was last sent with (to drop it on 401) */
	enum http_method method;
	char *target;
	struct http_client_header *headers; /* nheaders copies + a slot for Authorization */
	size_t nheaders;
	void *body;
	size_t body_len;
	int timeout_ms;
};

struct svc_tokens {
	struct event_base *base;
	struct http_client *identity;
	char client_id[SVC_CLIENT_ID_MAX + 1];
	char *secret;
	struct svc_aud *auds;
	struct svc_call *inflight; /* doubly linked */
};

static uint64_t svc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool svc_name_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > 0 && n <= SVC_CLIENT_ID_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

struct svc_tokens *svc_tokens_new(struct event_base *base, struct http_client *identity,
				  const char *client_id, const char *client_secret)
{
	struct svc_tokens *t;

	if (!svc_name_ok(client_id) || client_secret == NULL || client_secret[0] == '\0')
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->base = base;
	t->identity = identity;
	snprintf(t->client_id, sizeof(t->client_id), "%s", client_id);
	t->secret = strdup(client_secret);
	if (t->secret == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

/* ---- calls ---------------------------------------------------------------------------- */

static void svc_call_free(struct svc_call *k)
{
	for (size_t i = 0; i < k->nheaders; i++) {
		free((char *)k->headers[i].name);
		free((char *)k->headers[i].value);
	}
	free(k->headers);
	free(k->target);
	free(k->body);
	free(k->used_token);
	free(k);
}

static struct svc_call *svc_call_new(const struct http_client_request *r)
{
	struct svc_call *k = calloc(1, sizeof(*k));

	if (k == NULL || r->nheaders > SVC_MAX_HEADERS)
		goto fail;
	k->method = r->method;
	k->timeout_ms = r->timeout_ms;
	k->target = strdup(r->target);
	k->headers = calloc(r->nheaders + 1, sizeof(*k->headers));
	if (k->target == NULL || k->headers == NULL)
		goto fail;
	for (size_t i = 0; i < r->nheaders; i++) {
		k->headers[i].name = strdup(r->headers[i].name);
		k->headers[i].value = strdup(r->headers[i].value);
		k->nheaders++;
		if (k->headers[i].name == NULL || k->headers[i].value == NULL)
			goto fail;
	}
	if (r->body_len > 0) {
		k->body = malloc(r->body_len);
		if (k->body == NULL)
			goto fail;
		memcpy(k->body, r->body, r->body_len);
		k->body_len = r->body_len;
	}
	return k;
fail:
	if (k != NULL)
		svc_call_free(k);
	return NULL;
}

static void svc_inflight_add(struct svc_tokens *t, struct svc_call *k)
{
	k->prev = NULL;
	k->next = t->inflight;
	if (t->inflight != NULL)
		t->inflight->prev = k;
	t->inflight = k;
}

static void svc_inflight_del(struct svc_tokens *t, struct svc_call *k)
{
	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		t->inflight = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	k->next = k->prev = NULL;
}

static void svc_on_target(enum http_client_err err, const struct http_client_response *resp,
			  void *arg);

/* Sends k with the audience's current token. 0, or -1 (k untouched, not in any list). */
static int svc_call_dispatch(struct svc_tokens *t, struct svc_call *k)
{
	const char *tok = k->aud->token;
	size_t n = strlen("Bearer ") + strlen(tok) + 1;
	char *auth = malloc(n);
	struct http_client_request r;
	int rc;

	if (auth == NULL)
		return -1;
	snprintf(auth, n, "Bearer %s", tok);
	k->headers[k->nheaders] = (struct http_client_header){"Authorization", auth};
	r = (struct http_client_request){k->method, k->target,   k->headers,   k->nheaders + 1,
					 k->body,   k->body_len, k->timeout_ms};
	rc = http_client_send(k->c, &r, svc_on_target, k);
	explicit_bzero(auth, n);
	free(auth);
	k->headers[k->nheaders] = (struct http_client_header){NULL, NULL};
	if (rc < 0)
		return -1;
	free(k->used_token);
	k->used_token = strdup(tok);
	svc_inflight_add(t, k);
	return 0;
}

/* ---- token fetch ---------------------------------------------------------------------- */

static void svc_fetch_start(struct svc_tokens *t, struct svc_aud *a);

static void svc_aud_drop_token(struct svc_aud *a)
{
	if (a->token == NULL)
		return;
	explicit_bzero(a->token, strlen(a->token));
	free(a->token);
	a->token = NULL;
}

/* Installs {access_token, expires_in}; 0, or -1 when the answer is not one. */
static int svc_install(struct svc_aud *a, const char *body, size_t len)
{
	json_object *o = json_parse_strict(body, len, NULL);
	json_object *tok, *exp;
	int64_t life;
	uint64_t now = svc_now_ms();
	int rc = -1;

	if (o == NULL)
		return -1;
	if (json_object_object_get_ex(o, "access_token", &tok) &&
	    json_object_is_type(tok, json_type_string) && json_object_get_string_len(tok) > 0 &&
	    json_object_get_string_len(tok) < JWT_MAX_LEN &&
	    json_object_object_get_ex(o, "expires_in", &exp) &&
	    json_object_is_type(exp, json_type_int) && (life = json_object_get_int64(exp)) > 0 &&
	    life <= 86400) {
		svc_aud_drop_token(a);
		a->token = strdup(json_object_get_string(tok));
		a->refresh_at_ms = now + (uint64_t)life * 800u;
		a->expire_at_ms = now + (uint64_t)life * 1000u;
		a->expire_at_ms = a->expire_at_ms > a->refresh_at_ms + SVC_EXPIRY_MARGIN_MS
					  ? a->expire_at_ms - SVC_EXPIRY_MARGIN_MS
					  : a->refresh_at_ms;
		rc = a->token != NULL ? 0 : -1;
	}
	json_object_put(o);
	return rc;
}

/* After a fetch: sends every waiter with the new token, or fails them all. */
static void svc_release_waiters(struct svc_tokens *t, struct svc_aud *a)
{
	struct svc_call *k = a->waiters;

	a->waiters = NULL;
	a->nwaiters = 0;
	while (k != NULL) {
		struct svc_call *next = k->next;

		k->next = NULL;
		if (a->token == NULL || svc_call_dispatch(t, k) < 0) {
			k->cb(a->token == NULL ? HC_ECONNECT : HC_EOVERLOAD, NULL, k->arg);
			svc_call_free(k);
		}
		k = next;
	}
}

static void svc_on_token(enum http_client_err err, const struct http_client_response *resp,
			 void *arg)
{
	struct svc_fetch *f = arg;
	struct svc_tokens *t = f->t;
	struct svc_aud *a = f->aud;

	free(f);
	if (t == NULL)
		return;
	a->fetch = NULL;
	if (err != HC_OK)
		log_warn(NULL, "service token fetch failed", LS("audience", a->name),
			 LS("error", http_client_strerror(err)));
	else if (resp->status != 200)
		log_warn(NULL, "service token refused", LS("audience", a->name),
			 LS("client_id", t->client_id), LI("status", resp->status));
	else if (svc_install(a, resp->body, resp->body_len) < 0)
		log_warn(NULL, "service token answer malformed", LS("audience", a->name));
	if (a->token != NULL && svc_now_ms() >= a->expire_at_ms)
		svc_aud_drop_token(a); /* an old token that a failed refresh leaves is useless */
	svc_release_waiters(t, a);
}

/* The request body; malloc'd, wiped by the caller. */
static char *svc_fetch_body(const struct svc_tokens *t, const char *audience)
{
	json_object *o = json_object_new_object();
	char *s = NULL;

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "client_id", json_object_new_string(t->client_id));
	json_object_object_add(o, "client_secret", json_object_new_string(t->secret));
	json_object_object_add(o, "audience", json_object_new_string(audience));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	/* json-c keeps the serialisation in the object's print buffer: wipe it too */
	json_object_object_add(o, "client_secret", json_object_new_string(""));
	json_object_put(o);
	return s;
}

/* Starts the audience's fetch unless one is in flight (single flight). */
static void svc_fetch_start(struct svc_tokens *t, struct svc_aud *a)
{
	char rid[UUID_STR_LEN];
	struct http_client_header h[2] = {{"Content-Type", "application/json"},
					  {"X-Request-Id", rid}};
	struct http_client_request r = {HTTP_POST, SVC_TOKEN_PATH, h, 2, NULL, 0, 0};
	struct svc_fetch *f;
	char *body;

	if (a->fetch != NULL)
		return;
	a->last_fetch_ms = svc_now_ms();
	f = calloc(1, sizeof(*f));
	body = svc_fetch_body(t, a->name);
	if (f == NULL || body == NULL) {
		free(f);
		free(body);
		return;
	}
	uuid_v4(rid);
	r.body = body;
	r.body_len = strlen(body);
	*f = (struct svc_fetch){t, a};
	if (http_client_send(t->identity, &r, svc_on_token, f) == 0)
		a->fetch = f;
	else
		free(f);
	explicit_bzero(body, strlen(body));
	free(body);
}

/* ---- sending -------------------------------------------------------------------------- */

static struct svc_aud *svc_aud_get(struct svc_tokens *t, const char *audience)
{
	struct svc_aud *a;

	for (a = t->auds; a != NULL; a = a->next)
		if (strcmp(a->name, audience) == 0)
			return a;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	snprintf(a->name, sizeof(a->name), "%s", audience);
	a->next = t->auds;
	t->auds = a;
	return a;
}

/* Parks k until the audience's fetch answers (starting it). 0, or -1 (not parked). */
static int svc_park(struct svc_tokens *t, struct svc_call *k)
{
	struct svc_aud *a = k->aud;

	if (a->nwaiters >= SVC_MAX_WAITERS)
		return -1;
	svc_fetch_start(t, a);
	if (a->fetch == NULL)
		return -1;
	k->next = a->waiters;
	a->waiters = k;
	a->nwaiters++;
	return 0;
}

static void svc_on_target(enum http_client_err err, const struct http_client_response *resp,
			  void *arg)
{
	struct svc_call *k = arg;
	struct svc_tokens *t = k->t;

	if (t != NULL)
		svc_inflight_del(t, k);
	if (t != NULL && err == HC_OK && resp->status == 401 && !k->retried) {
		struct svc_aud *a = k->aud;

		k->retried = true;
		if (a->token != NULL && k->used_token != NULL &&
		    strcmp(a->token, k->used_token) == 0)
			svc_aud_drop_token(a);
		if (a->token != NULL ? svc_call_dispatch(t, k) == 0 : svc_park(t, k) == 0)
			return;
	}
	k->cb(err, resp, k->arg);
	svc_call_free(k);
}

int svc_send(struct svc_tokens *t, struct http_client *c, const char *audience,
	     const struct http_client_request *r, http_client_cb cb, void *arg)
{
	uint64_t now = svc_now_ms();
	struct svc_aud *a;
	struct svc_call *k;

	if (!svc_name_ok(audience) || (a = svc_aud_get(t, audience)) == NULL ||
	    (k = svc_call_new(r)) == NULL)
		return -1;
	k->t = t;
	k->aud = a;
	k->c = c;
	k->cb = cb;
	k->arg = arg;
	if (a->token != NULL && now >= a->expire_at_ms)
		svc_aud_drop_token(a);
	if (a->token == NULL) {
		if (svc_park(t, k) == 0)
			return 0;
	} else if (svc_call_dispatch(t, k) == 0) {
		if (now >= a->refresh_at_ms && now - a->last_fetch_ms >= SVC_REFRESH_MIN_GAP_MS)
			svc_fetch_start(t, a); /* refresh in the background; this one went out */
		return 0;
	}
	svc_call_free(k);
	return -1;
}

bool svc_tokens_have(const struct svc_tokens *t, const char *audience)
{
	uint64_t now = svc_now_ms();

	for (const struct svc_aud *a = t->auds; a != NULL; a = a->next)
		if (strcmp(a->name, audience) == 0)
			return a->token != NULL && now < a->refresh_at_ms;
	return false;
}

void svc_tokens_free(struct svc_tokens *t)
{
	if (t == NULL)
		return;
	for (struct svc_call *k = t->inflight; k != NULL; k = k->next)
		k->t = NULL; /* the target client still owns them; their answers pass through */
	while (t->auds != NULL) {
		struct svc_aud *a = t->auds;
		struct svc_call *k = a->waiters;

		t->auds = a->next;
		if (a->fetch != NULL)
			a->fetch->t = NULL;
		while (k != NULL) {
			struct svc_call *next = k->next;

			k->cb(HC_ESHUTDOWN, NULL, k->arg);
			svc_call_free(k);
			k = next;
		}
		svc_aud_drop_token(a);
		free(a);
	}
	explicit_bzero(t->secret, strlen(t->secret));
	free(t->secret);
	free(t);
}
