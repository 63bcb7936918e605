/*
 * session_check.c - session validity through L1 -> Redis -> identity (see session_check.h).
 *
 * Owns the L1 cache and every lookup in flight (struct sc_lookup, malloc'd, one per session
 * id however many requests wait on it). A lookup is freed when it completes; after
 * session_check_close() it is only an orphan kept until its last callback (or
 * session_check_free) releases it. Waiters are called from Redis / HTTP client callbacks,
 * never from inside session_check_start().
 */
#include "session_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/http.h"
#include "common/http_client.h"
#include "common/iauth.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/session_cache.h"
#include "gw_metrics.h"
#include "upstreams.h"

#define SC_NBUCKETS 256
#define SC_TARGET_FMT "/internal/v1/sessions/%s"

struct sc_lookup {
	struct session_check *sc;
	char sid[UUID_STR_LEN];
	char request_id[HTTP_REQUEST_ID_MAX + 1];
	char client_ip[64];
	struct session_waiter *waiters;
	struct session_waiter **tail;
	struct sc_lookup *next; /* hash chain, or the orphan list */
	bool in_start;          /* session_check_start() is still on the stack */
	bool done;              /* finished while in_start: result below */
	bool orphaned;
	enum session_verdict v;
	struct gw_session s;
};

struct session_check {
	struct redis *redis;
	struct upstream *identity;
	struct metrics *m;
	struct session_l1 *l1;
	const char *secret;
	long redis_ttl_s;
	bool closing;
	struct sc_lookup *table[SC_NBUCKETS];
	struct sc_lookup *orphans;
};

struct session_check *session_check_new(struct redis *redis, struct upstream *identity,
					struct metrics *m, const struct session_check_opts *o)
{
	struct session_check *sc = calloc(1, sizeof(*sc));

	if (sc == NULL)
		return NULL;
	sc->redis = redis;
	sc->identity = identity;
	sc->m = m;
	sc->secret = o->secret;
	sc->redis_ttl_s = o->redis_ttl_s;
	sc->l1 = session_l1_new(o->l1_size, o->l1_ttl_ms);
	if (sc->l1 == NULL) {
		free(sc);
		return NULL;
	}
	return sc;
}

static size_t sc_hash(const char *sid)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)sid; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h % SC_NBUCKETS);
}

static struct sc_lookup *sc_find(struct session_check *sc, const char *sid)
{
	for (struct sc_lookup *l = sc->table[sc_hash(sid)]; l != NULL; l = l->next)
		if (strcmp(l->sid, sid) == 0)
			return l;
	return NULL;
}

static void sc_unlink(struct sc_lookup **head, struct sc_lookup *l)
{
	for (struct sc_lookup **pp = head; *pp != NULL; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			return;
		}
}

/* Ends a lookup: hands the verdict to its waiters (or to session_check_start when it is
 * still running) and frees it. */
static void sc_finish(struct sc_lookup *l, enum session_verdict v, const struct gw_session *s)
{
	struct session_check *sc = l->sc;
	struct session_waiter *w;

	if (l->orphaned) {
		sc_unlink(&sc->orphans, l);
		free(l);
		return;
	}
	sc_unlink(&sc->table[sc_hash(l->sid)], l);
	l->v = v;
	l->s = *s;
	if (l->in_start) {
		l->done = true; /* session_check_start() answers and frees it */
		return;
	}
	w = l->waiters;
	while (w != NULL) {
		struct session_waiter *next = w->next; /* fn may free w with its request */

		w->fn(w->arg, l->v, &l->s);
		w = next;
	}
	free(l);
}

/* Stores a verdict from Redis or identity in L1 and ends the lookup. */
static void sc_finish_known(struct sc_lookup *l, const struct gw_session *s)
{
	session_l1_put(l->sc->l1, l->sid, s, gw_now_ms());
	sc_finish(l, s->active ? SESSION_ACTIVE : SESSION_REVOKED, s);
}

static void sc_finish_unavailable(struct sc_lookup *l)
{
	struct gw_session none;

	memset(&none, 0, sizeof(none));
	sc_finish(l, SESSION_UNAVAILABLE, &none);
}

static void sc_on_set(redisReply *reply, const char *err, void *arg)
{
	(void)reply;
	(void)err;
	(void)arg;
}

/* Writes the verdict back to Redis (fire and forget). */
static void sc_redis_store(struct session_check *sc, const char *sid, const struct gw_session *s)
{
	char value[SESSION_VALUE_MAX];

	if (sc->redis == NULL || sc->closing || !redis_ready(sc->redis) ||
	    session_value_format(s, value, sizeof(value)) < 0)
		return;
	/* an "active" answer never overwrites a revocation marker (session_cache.h); hiredis
	 * splits the format into arguments before substituting, hence two formats */
	if ((s->active ? redis_command(sc->redis, sc_on_set, NULL,
				       "SET " SESSION_CACHE_KEY_FMT " %s EX %ld NX", sid, value,
				       sc->redis_ttl_s)
		       : redis_command(sc->redis, sc_on_set, NULL,
				       "SET " SESSION_CACHE_KEY_FMT " %s EX %ld", sid, value,
				       sc->redis_ttl_s)) < 0)
		gw_metrics_session(sc->m, "redis", "error");
}

static void sc_on_identity(enum http_client_err err, const struct http_client_response *resp,
			   void *arg)
{
	struct sc_lookup *l = arg;
	struct session_check *sc = l->sc;
	struct log_ctx lc = {l->request_id, NULL, NULL};
	struct gw_session s;

	if (!l->orphaned)
		upstream_note(sc->identity, err, gw_now_ms());
	if (l->orphaned || err != HC_OK) {
		if (!l->orphaned) {
			gw_metrics_session(sc->m, "identity", "error");
			log_warn(&lc, "session lookup failed", LS("error", http_client_strerror(err)));
		}
		sc_finish_unavailable(l);
		return;
	}
	if (resp->status == 404) {
		memset(&s, 0, sizeof(s));
		strcpy(s.reason, "not_found");
	} else if (resp->status != 200 ||
		   session_status_parse(resp->body, resp->body_len, l->sid, &s) < 0) {
		gw_metrics_session(sc->m, "identity", "error");
		log_warn(&lc, "session lookup refused", LI("status", resp->status),
			 LS("hint", resp->status == 401 ? "FR_INTERNAL_SECRET differs from identity's"
							: "unexpected answer"));
		sc_finish_unavailable(l);
		return;
	}
	gw_metrics_session(sc->m, "identity", s.active ? "active" : "revoked");
	sc_redis_store(sc, l->sid, &s);
	sc_finish_known(l, &s);
}

/* Asks identity; on a synchronous failure the lookup ends as unavailable. */
static void sc_ask_identity(struct sc_lookup *l)
{
	struct session_check *sc = l->sc;
	char target[sizeof(SC_TARGET_FMT) + UUID_STR_LEN], ts[24], sig[65];
	struct iauth a;
	time_t now = time(NULL);
	struct http_client_header h[9];
	struct http_client_request r;

	snprintf(target, sizeof(target), SC_TARGET_FMT, l->sid);
	memset(&a, 0, sizeof(a));
	snprintf(a.caller, sizeof(a.caller), "gateway");
	snprintf(a.client_ip, sizeof(a.client_ip), "%s", l->client_ip);
	snprintf(ts, sizeof(ts), "%lld", (long long)now);
	iauth_sign(sc->secret, now, "GET", target, l->request_id, &a, sig);
	h[0] = (struct http_client_header){"X-Request-Id", l->request_id};
	h[1] = (struct http_client_header){"X-FR-Caller", a.caller};
	h[2] = (struct http_client_header){"X-FR-User-Id", ""};
	h[3] = (struct http_client_header){"X-FR-Tenant-Id", ""};
	h[4] = (struct http_client_header){"X-FR-Session-Id", ""};
	h[5] = (struct http_client_header){"X-FR-Roles", iauth_roles(&a)};
	h[6] = (struct http_client_header){"X-FR-Client-Ip", a.client_ip};
	h[7] = (struct http_client_header){"X-FR-Auth-Ts", ts};
	h[8] = (struct http_client_header){"X-FR-Auth-Sig", sig};
	memset(&r, 0, sizeof(r));
	r.method = HTTP_GET;
	r.target = target;
	r.headers = h;
	r.nheaders = 9;
	if (http_client_send(sc->identity->client, &r, sc_on_identity, l) < 0) {
		gw_metrics_session(sc->m, "identity", "error");
		sc_finish_unavailable(l);
	}
}

static void sc_on_redis(redisReply *reply, const char *err, void *arg)
{
	struct sc_lookup *l = arg;
	struct session_check *sc = l->sc;
	struct gw_session s;

	if (l->orphaned) {
		sc_finish_unavailable(l);
		return;
	}
	if (reply != NULL && reply->type == REDIS_REPLY_STRING &&
	    session_value_parse(reply->str, reply->len, &s) == 0) {
		gw_metrics_session(sc->m, "redis", "hit");
		sc_finish_known(l, &s);
		return;
	}
	if (reply != NULL && reply->type == REDIS_REPLY_NIL)
		gw_metrics_session(sc->m, "redis", "miss");
	else
		gw_metrics_session(sc->m, "redis", reply == NULL ? "error" : "bad_value");
	(void)err;
	sc_ask_identity(l);
}

/* Starts the Redis layer, or identity directly when Redis is off or down. */
static void sc_lookup_begin(struct sc_lookup *l)
{
	struct session_check *sc = l->sc;

	if (sc->redis == NULL || !redis_ready(sc->redis)) {
		gw_metrics_session(sc->m, "redis", "skip");
		sc_ask_identity(l);
		return;
	}
	if (redis_command(sc->redis, sc_on_redis, l, "GET " SESSION_CACHE_KEY_FMT, l->sid) < 0) {
		gw_metrics_session(sc->m, "redis", "error");
		sc_ask_identity(l);
	}
}

static void sc_add_waiter(struct sc_lookup *l, struct session_waiter *w)
{
	w->next = NULL;
	*l->tail = w;
	l->tail = &w->next;
}

enum session_verdict session_check_start(struct session_check *sc, const char *sid,
					 const char *request_id, const char *client_ip,
					 struct session_waiter *w, struct gw_session *out)
{
	struct sc_lookup *l;
	enum session_verdict v;

	if (session_l1_get(sc->l1, sid, gw_now_ms(), out)) {
		gw_metrics_session(sc->m, "l1", "hit");
		return out->active ? SESSION_ACTIVE : SESSION_REVOKED;
	}
	gw_metrics_session(sc->m, "l1", "miss");
	memset(out, 0, sizeof(*out));
	if (sc->closing || strlen(sid) != UUID_STR_LEN - 1)
		return SESSION_UNAVAILABLE;
	if ((l = sc_find(sc, sid)) != NULL) {
		sc_add_waiter(l, w);
		return SESSION_PENDING;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SESSION_UNAVAILABLE;
	l->sc = sc;
	memcpy(l->sid, sid, UUID_STR_LEN);
	snprintf(l->request_id, sizeof(l->request_id), "%s", request_id);
	snprintf(l->client_ip, sizeof(l->client_ip), "%s", client_ip != NULL ? client_ip : "");
	l->tail = &l->waiters;
	sc_add_waiter(l, w);
	l->next = sc->table[sc_hash(sid)];
	sc->table[sc_hash(sid)] = l;
	l->in_start = true;
	sc_lookup_begin(l);
	l->in_start = false;
	if (!l->done)
		return SESSION_PENDING;
	*out = l->s;
	v = l->v;
	free(l);
	return v;
}

void session_check_close(struct session_check *sc)
{
	if (sc == NULL)
		return;
	sc->closing = true;
	for (size_t i = 0; i < SC_NBUCKETS; i++) {
		struct sc_lookup *l;

		while ((l = sc->table[i]) != NULL) {
			struct session_waiter *w = l->waiters;
			struct gw_session none;

			sc->table[i] = l->next;
			l->orphaned = true;
			l->next = sc->orphans;
			sc->orphans = l;
			l->waiters = NULL;
			memset(&none, 0, sizeof(none));
			while (w != NULL) {
				struct session_waiter *next = w->next;

				w->fn(w->arg, SESSION_UNAVAILABLE, &none);
				w = next;
			}
		}
	}
}

void session_check_free(struct session_check *sc)
{
	if (sc == NULL)
		return;
	session_check_close(sc);
	while (sc->orphans != NULL) {
		struct sc_lookup *l = sc->orphans;

		sc->orphans = l->next;
		free(l);
	}
	session_l1_free(sc->l1);
	free(sc);
}

void session_check_revoked(struct session_check *sc, const char *sid)
{
	if (uuid_valid(sid))
		session_l1_revoke(sc->l1, sid, "revoked", gw_now_ms());
}

size_t session_check_l1_count(const struct session_check *sc)
{
	return session_l1_count(sc->l1);
}
