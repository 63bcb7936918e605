/*
 * apikey.c - API-key lookups through tombstones -> L1 -> Redis -> identity, and the batched
 * usage reports (see apikey.h).
 *
 * Owns the L1 map, the two tombstone sets, the usage counters (apikey_usage.h), every lookup
 * in flight (struct ak_lookup, malloc'd, one per presented key however many requests wait on
 * it) and the usage report in flight (at most APIKEY_USAGE_BATCH keys; when more are counted,
 * the next report follows as soon as one succeeds). A lookup is freed when it completes; after apikey_cache_close()
 * it is an orphan kept until its last callback (or apikey_cache_free) releases it. Waiters
 * are called from Redis / HTTP client callbacks, never from inside apikey_cache_lookup().
 */
#include "apikey.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apikey_l1.h"
#include "apikey_usage.h"
#include "common/apikey_cache.h"
#include "common/http.h"
#include "common/http_client.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redis.h"
#include "common/reqsig.h"
#include "common/svc_token.h"
#include "upstreams.h"

#define AK_NBUCKETS 256
#define AK_REVOKED_MAX 4096   /* revoked prefixes remembered (oldest forgotten first) */
#define AK_SUSPENDED_MAX 4096 /* suspended tenants remembered */
#define AK_USAGE_MAX 65536    /* distinct keys counted between two reports */
#define AK_VALIDATE_PATH "/v1/api-keys/validate"
#define AK_USAGE_PATH "/internal/v1/api-keys/usage"

struct ak_lookup {
	struct apikey_cache *c;
	char prefix[REQSIG_PREFIX_LEN + 1];
	char key_hash[65];
	char verifier[65];
	char request_id[HTTP_REQUEST_ID_MAX + 1];
	char *body; /* the validate request */
	struct apikey_waiter *waiters;
	struct apikey_waiter **tail;
	struct ak_lookup *next; /* hash chain, or the orphan list */
	bool in_start;          /* apikey_cache_lookup() is still on the stack */
	bool done;              /* finished while in_start: result below */
	bool orphaned;
	enum apikey_lookup_result r;
	struct apikey_entry e;
};

/* One usage report in flight: the counts it carries (put back when it fails). */
struct ak_flush {
	struct apikey_usage_batch b;
	char *body;
};

struct apikey_cache {
	struct redis *redis;
	struct svc_tokens *svc;
	struct http_client *identity;
	struct metrics *m;
	struct event *flush_timer;
	long l1_ttl_ms;
	struct apikey_l1 *l1;        /* prefix -> struct apikey_entry */
	struct apikey_l1 *revoked;   /* prefix -> (nothing) */
	struct apikey_l1 *suspended; /* tenant id -> (nothing) */
	struct apikey_usage *usage;  /* counts not yet reported */
	struct ak_flush *flush;      /* the report in flight, or NULL */
	bool closing;
	struct ak_lookup *table[AK_NBUCKETS];
	struct ak_lookup *orphans;
};

static void ak_metric(struct apikey_cache *c, const char *layer, const char *result)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "layer=\"%s\",result=\"%s\"", layer, result);
	metrics_inc(c->m, "gateway_apikey_cache_total", labels, 1);
}

/* ---- tombstones and L1 ------------------------------------------------------------------ */

/* What the tombstones say about an entry found elsewhere (possibly before they were set). */
static void ak_apply_tombstones(struct apikey_cache *c, const char *prefix, struct apikey_entry *e)
{
	uint64_t now = gw_now_ms();

	if (apikey_l1_get(c->revoked, prefix, now) != NULL) {
		memset(e, 0, sizeof(*e));
		e->state = APIKEY_REVOKED;
	} else if (e->state == APIKEY_VALID &&
		   apikey_l1_get(c->suspended, e->tenant_id, now) != NULL) {
		e->state = APIKEY_TENANT_SUSPENDED;
	}
}

static void ak_l1_store(struct apikey_cache *c, const char *prefix, const struct apikey_entry *e)
{
	if (c->l1_ttl_ms > 0 &&
	    apikey_l1_put(c->l1, prefix, e, gw_now_ms() + (uint64_t)c->l1_ttl_ms) < 0)
		ak_metric(c, "l1", "oom");
}

/* The L1 answer for the presented key, if it has one: an unknown-key entry only answers for
 * the very key it was about. */
static bool ak_l1_answer(struct apikey_cache *c, const char *prefix, const char verifier[65],
			 struct apikey_entry *out)
{
	const struct apikey_entry *e = apikey_l1_get(c->l1, prefix, gw_now_ms());

	if (e == NULL || (e->state == APIKEY_UNKNOWN && strcmp(e->verifier, verifier) != 0))
		return false;
	*out = *e;
	return true;
}

static bool ak_same_tenant(const void *payload, void *arg)
{
	const struct apikey_entry *e = payload;

	return strcmp(e->tenant_id, arg) == 0;
}

void apikey_cache_revoked(struct apikey_cache *c, const char *prefix)
{
	if (strlen(prefix) != REQSIG_PREFIX_LEN)
		return;
	apikey_l1_del(c->l1, prefix);
	if (apikey_l1_put(c->revoked, prefix, NULL,
			  gw_now_ms() + (uint64_t)APIKEY_CACHE_REVOKED_TTL_S * 1000) < 0)
		ak_metric(c, "tombstone", "oom");
	if (c->redis != NULL && !c->closing && redis_ready(c->redis) &&
	    redis_command(c->redis, NULL, NULL, "SET " APIKEY_CACHE_KEY_FMT " %s EX %d", prefix,
			  APIKEY_CACHE_REVOKED, APIKEY_CACHE_REVOKED_TTL_S) < 0)
		ak_metric(c, "redis", "error");
}

void apikey_cache_tenant_suspended(struct apikey_cache *c, const char *tenant_id)
{
	if (!uuid_valid(tenant_id))
		return;
	apikey_l1_del_if(c->l1, ak_same_tenant, (void *)tenant_id);
	if (apikey_l1_put(c->suspended, tenant_id, NULL, APIKEY_L1_FOREVER) < 0)
		ak_metric(c, "tombstone", "oom");
}

void apikey_cache_tenant_active(struct apikey_cache *c, const char *tenant_id)
{
	if (uuid_valid(tenant_id))
		apikey_l1_del(c->suspended, tenant_id);
}

/* ---- lookups ---------------------------------------------------------------------------- */

static size_t ak_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h % AK_NBUCKETS);
}

static struct ak_lookup *ak_find(struct apikey_cache *c, const char *key_hash)
{
	for (struct ak_lookup *l = c->table[ak_hash(key_hash)]; l != NULL; l = l->next)
		if (strcmp(l->key_hash, key_hash) == 0)
			return l;
	return NULL;
}

static void ak_unlink(struct ak_lookup **head, struct ak_lookup *l)
{
	for (struct ak_lookup **pp = head; *pp != NULL; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			return;
		}
}

static void ak_lookup_free(struct ak_lookup *l)
{
	free(l->body);
	explicit_bzero(l->key_hash, sizeof(l->key_hash));
	free(l);
}

/* Ends a lookup: hands the result to its waiters (or to apikey_cache_lookup when it is still
 * running) and frees it. */
static void ak_finish(struct ak_lookup *l, enum apikey_lookup_result r)
{
	struct apikey_cache *c = l->c;
	struct apikey_waiter *w;

	if (l->orphaned) {
		ak_unlink(&c->orphans, l);
		ak_lookup_free(l);
		return;
	}
	ak_unlink(&c->table[ak_hash(l->key_hash)], l);
	l->r = r;
	if (r == APIKEY_LOOKUP_FOUND)
		ak_apply_tombstones(c, l->prefix, &l->e);
	if (l->in_start) {
		l->done = true; /* apikey_cache_lookup() answers and frees it */
		return;
	}
	w = l->waiters;
	while (w != NULL) {
		struct apikey_waiter *next = w->next; /* fn may free w with its request */

		w->fn(w->arg, l->r, &l->e);
		w = next;
	}
	ak_lookup_free(l);
}

static void ak_finish_unavailable(struct ak_lookup *l)
{
	memset(&l->e, 0, sizeof(l->e));
	ak_finish(l, APIKEY_LOOKUP_UNAVAILABLE);
}

/* Caches identity's answer in Redis (fire and forget): a revocation overwrites, anything
 * else never replaces what is there (a revocation marker above all). */
static void ak_redis_store(struct apikey_cache *c, const char *prefix, const struct apikey_entry *e,
			   const char *value)
{
	int ttl = e->state == APIKEY_VALID || e->state == APIKEY_REVOKED ? APIKEY_CACHE_TTL_S
									 : APIKEY_CACHE_NONE_TTL_S;

	if (c->redis == NULL || c->closing || !redis_ready(c->redis))
		return;
	if ((e->state == APIKEY_REVOKED
		     ? redis_command(c->redis, NULL, NULL, "SET " APIKEY_CACHE_KEY_FMT " %s EX %d",
				     prefix, value, ttl)
		     : redis_command(c->redis, NULL, NULL,
				     "SET " APIKEY_CACHE_KEY_FMT " %s EX %d NX", prefix, value,
				     ttl)) < 0)
		ak_metric(c, "redis", "error");
}

static void ak_on_validate(enum http_client_err err, const struct http_client_response *resp,
			   void *arg)
{
	struct ak_lookup *l = arg;
	struct apikey_cache *c = l->c;
	struct log_ctx lc = {l->request_id, NULL, NULL};
	char *value = NULL;

	if (l->orphaned) {
		ak_finish_unavailable(l);
		return;
	}
	if (err != HC_OK) {
		ak_metric(c, "identity", "error");
		log_warn(&lc, "api key lookup failed", LS("error", http_client_strerror(err)));
		ak_finish_unavailable(l);
		return;
	}
	if (resp->status != 200 || apikey_entry_from_validate(resp->body, resp->body_len,
							      l->verifier, &l->e, &value) < 0) {
		ak_metric(c, "identity", "bad_answer");
		log_warn(&lc, "api key lookup refused", LI("status", resp->status),
			 LS("key_prefix", l->prefix));
		ak_finish_unavailable(l);
		return;
	}
	ak_metric(c, "identity", l->e.state == APIKEY_VALID ? "valid" : "refused");
	ak_redis_store(c, l->prefix, &l->e, value);
	free(value);
	ak_l1_store(c, l->prefix, &l->e);
	ak_finish(l, APIKEY_LOOKUP_FOUND);
}

/* Asks identity; on a synchronous failure the lookup ends as unavailable. */
static void ak_ask_identity(struct ak_lookup *l)
{
	struct apikey_cache *c = l->c;
	struct http_client_header h[2] = {{"X-Request-Id", l->request_id},
					  {"Content-Type", "application/json"}};
	struct http_client_request r;

	if (asprintf(&l->body, "{\"key_prefix\":\"%s\",\"key_hash\":\"%s\"}", l->prefix,
		     l->key_hash) < 0) {
		l->body = NULL;
		ak_finish_unavailable(l);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.method = HTTP_POST;
	r.target = AK_VALIDATE_PATH;
	r.headers = h;
	r.nheaders = 2;
	r.body = l->body;
	r.body_len = strlen(l->body);
	if (svc_send(c->svc, c->identity, "identity", &r, ak_on_validate, l) < 0) {
		ak_metric(c, "identity", "error");
		ak_finish_unavailable(l);
	}
}

static void ak_on_redis(redisReply *reply, const char *err, void *arg)
{
	struct ak_lookup *l = arg;
	struct apikey_cache *c = l->c;
	struct apikey_entry e;

	(void)err;
	if (l->orphaned) {
		ak_finish_unavailable(l);
		return;
	}
	if (reply != NULL && reply->type == REDIS_REPLY_STRING &&
	    apikey_entry_from_cache(reply->str, reply->len, &e) == 0 &&
	    (e.state != APIKEY_UNKNOWN || strcmp(e.verifier, l->verifier) == 0)) {
		ak_metric(c, "redis", "hit");
		l->e = e;
		ak_l1_store(c, l->prefix, &l->e);
		ak_finish(l, APIKEY_LOOKUP_FOUND);
		return;
	}
	ak_metric(c, "redis",
		  reply == NULL                    ? "error"
		  : reply->type == REDIS_REPLY_NIL ? "miss"
						   : "other");
	ak_ask_identity(l);
}

/* Starts the Redis layer, or identity directly when Redis is off or down. */
static void ak_lookup_begin(struct ak_lookup *l)
{
	struct apikey_cache *c = l->c;

	if (c->redis == NULL || !redis_ready(c->redis)) {
		ak_metric(c, "redis", "skip");
		ak_ask_identity(l);
		return;
	}
	if (redis_command(c->redis, ak_on_redis, l, "GET " APIKEY_CACHE_KEY_FMT, l->prefix) < 0) {
		ak_metric(c, "redis", "error");
		ak_ask_identity(l);
	}
}

static void ak_add_waiter(struct ak_lookup *l, struct apikey_waiter *w)
{
	w->next = NULL;
	*l->tail = w;
	l->tail = &w->next;
}

/* A new lookup for the presented key, registered in the table; NULL on OOM. */
static struct ak_lookup *ak_lookup_new(struct apikey_cache *c, const char *prefix,
				       const char key_hash[65], const char verifier[65],
				       const char *request_id)
{
	struct ak_lookup *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->c = c;
	memcpy(l->prefix, prefix, REQSIG_PREFIX_LEN + 1);
	memcpy(l->key_hash, key_hash, 65);
	memcpy(l->verifier, verifier, 65);
	snprintf(l->request_id, sizeof(l->request_id), "%s", request_id != NULL ? request_id : "");
	l->tail = &l->waiters;
	l->next = c->table[ak_hash(key_hash)];
	c->table[ak_hash(key_hash)] = l;
	return l;
}

bool apikey_cache_peek(struct apikey_cache *c, const char *prefix, const char key_hash[65],
		       struct apikey_entry *out)
{
	char verifier[65];

	memset(out, 0, sizeof(*out));
	if (c->closing || strlen(prefix) != REQSIG_PREFIX_LEN || strlen(key_hash) != 64)
		return false;
	reqsig_verifier(key_hash, verifier);
	if (ak_l1_answer(c, prefix, verifier, out)) {
		ak_metric(c, "l1", "hit");
		ak_apply_tombstones(c, prefix, out);
		return true;
	}
	if (apikey_l1_get(c->revoked, prefix, gw_now_ms()) != NULL) {
		out->state = APIKEY_REVOKED;
		return true;
	}
	ak_metric(c, "l1", "miss");
	return false;
}

enum apikey_lookup_result apikey_cache_lookup(struct apikey_cache *c, const char *prefix,
					      const char key_hash[65], const char *request_id,
					      struct apikey_waiter *w, struct apikey_entry *out)
{
	char verifier[65];
	struct ak_lookup *l;
	enum apikey_lookup_result r;

	if (c->closing || strlen(prefix) != REQSIG_PREFIX_LEN || strlen(key_hash) != 64) {
		memset(out, 0, sizeof(*out));
		return APIKEY_LOOKUP_UNAVAILABLE;
	}
	if (apikey_cache_peek(c, prefix, key_hash, out))
		return APIKEY_LOOKUP_FOUND;
	reqsig_verifier(key_hash, verifier);
	if ((l = ak_find(c, key_hash)) != NULL) {
		ak_add_waiter(l, w);
		return APIKEY_LOOKUP_PENDING;
	}
	if ((l = ak_lookup_new(c, prefix, key_hash, verifier, request_id)) == NULL)
		return APIKEY_LOOKUP_UNAVAILABLE;
	ak_add_waiter(l, w);
	l->in_start = true;
	ak_lookup_begin(l);
	l->in_start = false;
	if (!l->done)
		return APIKEY_LOOKUP_PENDING;
	*out = l->e;
	r = l->r;
	ak_lookup_free(l);
	return r;
}

/* ---- usage ------------------------------------------------------------------------------ */

void apikey_cache_used(struct apikey_cache *c, const char *api_key_id)
{
	if (apikey_usage_add(c->usage, api_key_id, 1, time(NULL)) < 0)
		ak_metric(c, "usage", "oom");
}

/* Puts a failed report's counts back (newer uses since then keep their later time). */
static void ak_usage_restore(struct apikey_cache *c, const struct ak_flush *f)
{
	if (apikey_usage_restore(c->usage, &f->b) > 0)
		ak_metric(c, "usage", "oom");
}

static void ak_flush_free(struct ak_flush *f)
{
	if (f == NULL)
		return;
	free(f->body);
	free(f);
}

static void ak_on_usage(enum http_client_err err, const struct http_client_response *resp,
			void *arg)
{
	struct apikey_cache *c = arg;
	struct ak_flush *f = c->flush;
	bool ok = err == HC_OK && resp->status == 204;

	c->flush = NULL;
	metrics_inc(c->m, "gateway_apikey_usage_reports_total",
		    ok ? "result=\"ok\"" : "result=\"failed\"", 1);
	if (!ok && !c->closing) {
		log_warn(NULL, "api key usage report failed",
			 LS("error", err != HC_OK ? http_client_strerror(err) : "status"),
			 LI("status", err == HC_OK ? resp->status : 0), LI("keys", f->b.n));
		ak_usage_restore(c, f);
	}
	ak_flush_free(f);
	/* more than one report's worth counted: the next one at once (from the loop, not from
	 * inside this callback); after a failure, the next tick */
	if (ok && !c->closing && apikey_usage_keys(c->usage) > 0)
		event_active(c->flush_timer, EV_TIMEOUT, 1);
}

void apikey_cache_flush(struct apikey_cache *c)
{
	struct http_client_header h[1] = {{"Content-Type", "application/json"}};
	struct http_client_request r;
	struct ak_flush *f;

	if (c->flush != NULL || apikey_usage_keys(c->usage) == 0 ||
	    (f = calloc(1, sizeof(*f))) == NULL)
		return;
	apikey_usage_take(c->usage, &f->b);
	if (f->b.n == 0 || (f->body = apikey_usage_body(&f->b)) == NULL) {
		ak_usage_restore(c, f);
		ak_flush_free(f);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.method = HTTP_POST;
	r.target = AK_USAGE_PATH;
	r.headers = h;
	r.nheaders = 1;
	r.body = f->body;
	r.body_len = strlen(f->body);
	c->flush = f;
	if (svc_send(c->svc, c->identity, "identity", &r, ak_on_usage, c) < 0) {
		c->flush = NULL;
		ak_usage_restore(c, f);
		ak_flush_free(f);
	}
}

bool apikey_cache_flushing(const struct apikey_cache *c)
{
	return c != NULL && c->flush != NULL;
}

static void ak_on_flush_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	apikey_cache_flush(arg);
}

/* ---- life cycle ------------------------------------------------------------------------- */

struct apikey_cache *apikey_cache_new(struct event_base *base, struct redis *redis,
				      struct svc_tokens *svc, struct http_client *identity,
				      struct metrics *m, const struct apikey_cache_opts *o)
{
	struct apikey_cache *c = calloc(1, sizeof(*c));
	struct timeval tv = {o->usage_flush_ms / 1000, (o->usage_flush_ms % 1000) * 1000};

	if (c == NULL)
		return NULL;
	c->redis = redis;
	c->svc = svc;
	c->identity = identity;
	c->m = m;
	c->l1_ttl_ms = o->l1_ttl_ms;
	c->l1 = apikey_l1_new(o->l1_size > 0 ? o->l1_size : 1, sizeof(struct apikey_entry));
	c->revoked = apikey_l1_new(AK_REVOKED_MAX, 0);
	c->suspended = apikey_l1_new(AK_SUSPENDED_MAX, 0);
	c->usage = apikey_usage_new(AK_USAGE_MAX);
	c->flush_timer = event_new(base, -1, EV_PERSIST, ak_on_flush_timer, c);
	if (c->l1 == NULL || c->revoked == NULL || c->suspended == NULL || c->usage == NULL ||
	    c->flush_timer == NULL || event_add(c->flush_timer, &tv) != 0) {
		apikey_cache_free(c);
		return NULL;
	}
	metrics_declare(m, "gateway_apikey_cache_total", METRIC_COUNTER,
			"API-key lookups by layer (l1, redis, identity) and result.");
	metrics_declare(m, "gateway_apikey_usage_reports_total", METRIC_COUNTER,
			"Batched API-key usage reports sent to identity, by result.");
	return c;
}

void apikey_cache_close(struct apikey_cache *c)
{
	if (c == NULL)
		return;
	c->closing = true;
	if (c->flush_timer != NULL)
		event_del(c->flush_timer);
	for (size_t i = 0; i < AK_NBUCKETS; i++) {
		struct ak_lookup *l;

		while ((l = c->table[i]) != NULL) {
			struct apikey_waiter *w = l->waiters;
			struct apikey_entry none;

			c->table[i] = l->next;
			l->orphaned = true;
			l->next = c->orphans;
			c->orphans = l;
			l->waiters = NULL;
			memset(&none, 0, sizeof(none));
			while (w != NULL) {
				struct apikey_waiter *next = w->next;

				w->fn(w->arg, APIKEY_LOOKUP_UNAVAILABLE, &none);
				w = next;
			}
		}
	}
}

void apikey_cache_free(struct apikey_cache *c)
{
	if (c == NULL)
		return;
	apikey_cache_close(c);
	while (c->orphans != NULL) {
		struct ak_lookup *l = c->orphans;

		c->orphans = l->next;
		ak_lookup_free(l);
	}
	ak_flush_free(c->flush);
	if (c->flush_timer != NULL)
		event_free(c->flush_timer);
	apikey_l1_free(c->l1);
	apikey_l1_free(c->revoked);
	apikey_l1_free(c->suspended);
	apikey_usage_free(c->usage);
	free(c);
}

size_t apikey_cache_l1_count(const struct apikey_cache *c)
{
	return apikey_l1_count(c->l1);
}
