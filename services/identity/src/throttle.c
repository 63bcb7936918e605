/*
 * throttle.c - login failure counting in Redis with an in-process fallback (see throttle.h).
 *
 * Owns the fallback table and nothing else; the Redis connection is borrowed.
 */
#include "throttle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/redis.h"

#define THROTTLE_MEM_MAX 65536

long throttle_decide(const struct throttle_limits *l, long acct_fails, long acct_ttl, long ip_fails,
		     long ip_ttl)
{
	bool blocked = false;
	long wait = 0;

	if (acct_fails >= l->max_account) {
		blocked = true;
		wait = acct_ttl >= 1 ? acct_ttl : l->window_s;
	}
	if (ip_fails >= l->max_ip) {
		long w = ip_ttl >= 1 ? ip_ttl : l->window_s;
		blocked = true;
		if (w > wait)
			wait = w;
	}
	if (!blocked)
		return 0;
	return wait >= 1 ? wait : 1;
}

/* ---- the in-process table ------------------------------------------------------------------ */

struct tm_entry {
	struct tm_entry *next;
	char key[THROTTLE_KEY_MAX];
	long count;
	time_t expires;
};

struct throttle_mem {
	struct tm_entry **buckets;
	size_t nbuckets;
	size_t n;
	size_t max;
};

static size_t tm_hash(const char *key, size_t nbuckets)
{
	unsigned long h = 5381;

	for (; *key != '\0'; key++)
		h = h * 33 + (unsigned char)*key;
	return h % nbuckets;
}

struct throttle_mem *throttle_mem_new(size_t max_entries)
{
	struct throttle_mem *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->max = max_entries > 0 ? max_entries : 1;
	m->nbuckets = m->max < 1024 ? 64 : m->max / 4;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (m->buckets == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void throttle_mem_free(struct throttle_mem *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct tm_entry *e = m->buckets[i], *next;
		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->buckets);
	free(m);
}

/* Unlinks and frees every entry for which drop(e) is true; returns how many. */
static size_t tm_sweep(struct throttle_mem *m, bool (*drop)(const struct tm_entry *, time_t),
		       time_t arg)
{
	size_t freed = 0;

	for (size_t i = 0; i < m->nbuckets; i++) {
		struct tm_entry **pp = &m->buckets[i];
		while (*pp != NULL) {
			struct tm_entry *e = *pp;
			if (drop(e, arg)) {
				*pp = e->next;
				free(e);
				freed++;
			} else {
				pp = &e->next;
			}
		}
	}
	m->n -= freed;
	return freed;
}

static bool tm_expired(const struct tm_entry *e, time_t now)
{
	return e->expires <= now;
}

static bool tm_expires_by(const struct tm_entry *e, time_t t)
{
	return e->expires <= t;
}

/* Makes room for one entry: expired windows first, then the ones ending soonest. */
static void tm_make_room(struct throttle_mem *m, time_t now)
{
	time_t oldest;

	if (m->n < m->max || tm_sweep(m, tm_expired, now) > 0)
		return;
	oldest = 0;
	for (size_t i = 0; i < m->nbuckets; i++)
		for (struct tm_entry *e = m->buckets[i]; e != NULL; e = e->next)
			if (oldest == 0 || e->expires < oldest)
				oldest = e->expires;
	tm_sweep(m, tm_expires_by, oldest);
}

/* The live entry of key (an expired one is removed), or NULL. */
static struct tm_entry *tm_find(struct throttle_mem *m, const char *key, time_t now)
{
	struct tm_entry **pp = &m->buckets[tm_hash(key, m->nbuckets)];

	for (; *pp != NULL; pp = &(*pp)->next) {
		struct tm_entry *e = *pp;
		if (strcmp(e->key, key) != 0)
			continue;
		if (e->expires > now)
			return e;
		*pp = e->next;
		free(e);
		m->n--;
		return NULL;
	}
	return NULL;
}

long throttle_mem_get(struct throttle_mem *m, const char *key, time_t now, long *ttl)
{
	struct tm_entry *e = tm_find(m, key, now);

	*ttl = e != NULL ? (long)(e->expires - now) : 0;
	return e != NULL ? e->count : 0;
}

void throttle_mem_hit(struct throttle_mem *m, const char *key, long window_s, time_t now)
{
	struct tm_entry *e = tm_find(m, key, now);
	size_t b;

	if (e != NULL) {
		e->count++;
		return;
	}
	tm_make_room(m, now);
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->count = 1;
	e->expires = now + window_s;
	b = tm_hash(e->key, m->nbuckets);
	e->next = m->buckets[b];
	m->buckets[b] = e;
	m->n++;
}

void throttle_mem_clear(struct throttle_mem *m, const char *key)
{
	struct tm_entry **pp = &m->buckets[tm_hash(key, m->nbuckets)];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->key, key) == 0) {
			struct tm_entry *e = *pp;
			*pp = e->next;
			free(e);
			m->n--;
			return;
		}
	}
}

size_t throttle_mem_count(const struct throttle_mem *m)
{
	return m->n;
}

void throttle_account_key(const char *slug, const char *email, char out[THROTTLE_KEY_MAX])
{
	char buf[64 + 1 + 256], hex[65];
	int n = snprintf(buf, sizeof(buf), "%s\n%s", slug, email);

	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = (int)sizeof(buf) - 1; /* cannot happen for validated input */
	sha256_hex(buf, (size_t)n, hex);
	snprintf(out, THROTTLE_KEY_MAX, "fr:login:acct:%s", hex);
}

void throttle_ip_key(const char *ip, char out[THROTTLE_KEY_MAX])
{
	snprintf(out, THROTTLE_KEY_MAX, "fr:login:ip:%.64s", ip != NULL ? ip : "");
}

/* ---- with Redis -------------------------------------------------------------------------- */

struct throttle {
	struct redis *redis;
	struct throttle_limits limits;
	struct throttle_mem *mem;
};

/* Reads both counters and their remaining windows in one round trip. */
static const char check_lua[] =
	"return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('TTL', KEYS[1]),"
	" tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('TTL', KEYS[2])}";
/* Counts one failure on each key; the first failure of a window sets its expiry. */
static const char fail_lua[] =
	"for _, k in ipairs(KEYS) do"
	" local n = redis.call('INCR', k);"
	" if n == 1 or redis.call('TTL', k) < 0 then redis.call('EXPIRE', k, ARGV[1]) end"
	" end return 1";

struct throttle *throttle_new(struct redis *redis, const struct throttle_limits *l)
{
	struct throttle *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->redis = redis;
	t->limits = *l;
	if ((t->mem = throttle_mem_new(THROTTLE_MEM_MAX)) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void throttle_free(struct throttle *t)
{
	if (t == NULL)
		return;
	throttle_mem_free(t->mem);
	free(t);
}

static long throttle_mem_verdict(struct throttle *t, const char *akey, const char *ikey)
{
	time_t now = time(NULL);
	long attl, ittl;
	long a = throttle_mem_get(t->mem, akey, now, &attl);
	long i = throttle_mem_get(t->mem, ikey, now, &ittl);

	return throttle_decide(&t->limits, a, attl, i, ittl);
}

static bool reply_int(const redisReply *r, long *out)
{
	if (r->type != REDIS_REPLY_INTEGER)
		return false;
	*out = (long)r->integer;
	return true;
}

static void throttle_on_check(redisReply *reply, const char *err, void *arg)
{
	struct throttle_req *q = arg;
	long v[4];
	bool ok = reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == 4;

	for (size_t i = 0; ok && i < 4; i++)
		ok = reply_int(reply->element[i], &v[i]);
	if (!ok) {
		log_warn(NULL, "login throttle falls back to memory",
			 LS("error", err != NULL ? err : "unexpected reply"));
		q->cb(throttle_mem_verdict(q->t, q->akey, q->ikey), q->arg);
		return;
	}
	q->cb(throttle_decide(&q->t->limits, v[0], v[1], v[2], v[3]), q->arg);
}

void throttle_check(struct throttle *t, struct throttle_req *q, const char *slug, const char *email,
		    const char *ip, throttle_cb cb, void *arg)
{
	q->t = t;
	q->cb = cb;
	q->arg = arg;
	throttle_account_key(slug, email, q->akey);
	throttle_ip_key(ip, q->ikey);
	if (t->redis != NULL && redis_command(t->redis, throttle_on_check, q, "EVAL %s 2 %s %s",
					      check_lua, q->akey, q->ikey) == 0)
		return;
	cb(throttle_mem_verdict(t, q->akey, q->ikey), arg);
}

/* A failure being counted in Redis; counted in memory instead when Redis fails. */
struct throttle_fail {
	struct throttle *t;
	char akey[THROTTLE_KEY_MAX];
	char ikey[THROTTLE_KEY_MAX];
};

static void throttle_mem_fail(struct throttle *t, const char *akey, const char *ikey)
{
	time_t now = time(NULL);

	throttle_mem_hit(t->mem, akey, t->limits.window_s, now);
	throttle_mem_hit(t->mem, ikey, t->limits.window_s, now);
}

static void throttle_on_failed(redisReply *reply, const char *err, void *arg)
{
	struct throttle_fail *f = arg;

	if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
		if (err == NULL || strcmp(err, "shutdown") != 0)
			throttle_mem_fail(f->t, f->akey, f->ikey);
	}
	free(f);
}

void throttle_failed(struct throttle *t, const char *slug, const char *email, const char *ip)
{
	struct throttle_fail *f = calloc(1, sizeof(*f));
	char akey[THROTTLE_KEY_MAX], ikey[THROTTLE_KEY_MAX];

	throttle_account_key(slug, email, akey);
	throttle_ip_key(ip, ikey);
	if (f != NULL && t->redis != NULL) {
		f->t = t;
		memcpy(f->akey, akey, sizeof(akey));
		memcpy(f->ikey, ikey, sizeof(ikey));
		if (redis_command(t->redis, throttle_on_failed, f, "EVAL %s 2 %s %s %ld", fail_lua,
				  akey, ikey, t->limits.window_s) == 0)
			return;
	}
	free(f);
	throttle_mem_fail(t, akey, ikey);
}

void throttle_succeeded(struct throttle *t, const char *slug, const char *email)
{
	char akey[THROTTLE_KEY_MAX];

	throttle_account_key(slug, email, akey);
	throttle_mem_clear(t->mem, akey);
	if (t->redis != NULL && redis_command(t->redis, NULL, NULL, "DEL %s", akey) < 0)
		log_debug(NULL, "login throttle: redis down, account counter cleared in memory");
}
