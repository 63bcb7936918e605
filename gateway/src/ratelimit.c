/*
 * ratelimit.c - rate-limit decisions: one Redis script per request, the local fallback when
 * Redis does not answer in time, the metrics, and the RateLimit-* / 429 replies (see
 * ratelimit.h).
 *
 * Owns the script's SHA (loaded with SCRIPT LOAD once Redis is up, EVAL while unknown or
 * after NOSCRIPT), the local fallback (ratelimit_local.h), and every decision waiting for
 * Redis (struct rl_check, heap memory: it lives until its Redis callback has run, even when
 * the decision was already made locally after the deadline).
 *
 * Metrics:
 *   gateway_ratelimit_decisions_total{kind,result}  kind of the deciding limit (apikey, user,
 *                                                   tenant, ip, apikey_ip, none); allowed | limited |
 *                                                   replayed
 *   gateway_ratelimit_degraded_total{reason}        decided locally: unreachable | timeout | error
 */
#include "ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/http.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redis.h"
#include "ratelimit_local.h"

/* KEYS: [nonce key] + one window key per limit. ARGV: has_nonce ("1"/"0"), nonce TTL s, then
 * the limits in KEYS order. A window value is the newest bucket's index (Unix seconds / 5,
 * int32) and the 13 bucket counts newest first (uint32), packed little-endian (see
 * ratelimit.h); bucket b - k stops counting at (b - k + 1) * 5 + 60 s. Every argument passed
 * back to Redis is a string (Lua's number formatting is slow) and nothing is written on a
 * refusal. Returns {allowed, replayed, limit, remaining, reset_s, retry_after_s, index
 * (1-based, 0 none)}. */
_Static_assert(RL_BUCKET_S == 5 && RL_BUCKETS == 13 && RL_WINDOW_S == 60,
	       "the script below spells these out");
static const char rl_script[] =
	"local t = redis.call('TIME')\n"
	"local sec = tonumber(t[1])\n"
	"local b = math.floor(sec / 5)\n"
	"local fmt = '<i4I4I4I4I4I4I4I4I4I4I4I4I4I4'\n"
	"local first = 1\n"
	"if ARGV[1] == '1' then\n"
	"  if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then\n"
	"    return {0, 1, 0, 0, 0, 0, 0}\n"
	"  end\n"
	"  first = 2\n"
	"end\n"
	"local now = sec * 1000000 + tonumber(t[2])\n"
	"local function leaves(k) return ((b - k) * 5 + 65) * 1000000 - now end\n"
	"local function load(key)\n"
	"  local v, c = redis.call('GET', key), nil\n"
	"  if v and #v == 56 then\n"
	"    c = {struct.unpack(fmt, v)}\n"
	"    local d = b - c[1]\n"
	"    if d > 0 then\n"
	"      for k = 14, 2, -1 do c[k] = k - d >= 2 and c[k - d] or 0 end\n"
	"    end\n"
	"  else\n"
	"    c = {b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}\n"
	"  end\n"
	"  c[1] = b\n"
	"  local s = 0\n"
	"  for k = 2, 14 do s = s + c[k] end\n"
	"  return c, s\n"
	"end\n"
	"local cs, sums, worst, wait = {}, {}, 0, -1\n"
	"for i = first, #KEYS do\n"
	"  local c, s = load(KEYS[i])\n"
	"  local lim = tonumber(ARGV[i - first + 3])\n"
	"  cs[i], sums[i] = c, s\n"
	"  if s >= lim then\n"
	"    local need, w = s - lim + 1, 0\n"
	"    for k = 14, 2, -1 do\n"
	"      need = need - c[k]\n"
	"      if need <= 0 then w = leaves(k - 2) break end\n"
	"    end\n"
	"    if w > wait then wait, worst = w, i end\n"
	"  end\n"
	"end\n"
	"if worst > 0 then\n"
	"  local s = math.ceil(wait / 1000000)\n"
	"  return {0, 0, tonumber(ARGV[worst - first + 3]), 0, s, s, worst - first + 1}\n"
	"end\n"
	"local best, rem, reset, blim = 0, 0, 0, 0\n"
	"for i = first, #KEYS do\n"
	"  local c, lim = cs[i], tonumber(ARGV[i - first + 3])\n"
	"  c[2] = c[2] + 1\n"
	"  redis.call('SET', KEYS[i], struct.pack(fmt, unpack(c, 1, 14)), 'PX', '66000')\n"
	"  local r = lim - sums[i] - 1\n"
	"  if best == 0 or r < rem then\n"
	"    local o = 14\n"
	"    while c[o] == 0 do o = o - 1 end\n"
	"    best, rem, blim = i, r, lim\n"
	"    reset = math.ceil(leaves(o - 2) / 1000000)\n"
	"  end\n"
	"end\n"
	"return {1, 0, blim, rem, reset, 0, best - first + 1}\n";

#define RL_SHA_LEN 40
#define RL_ARGV_MAX (3 + 1 + RL_MAX_LIMITS + 2 + RL_MAX_LIMITS)

/* The loaded script's SHA; outlives the limiter while a SCRIPT LOAD is in flight. */
struct rl_script {
	char sha[RL_SHA_LEN + 1]; /* "" = unknown: use EVAL */
	bool loading;
	bool orphaned; /* the limiter is gone: free on the SCRIPT LOAD callback */
};

struct rl_check {
	struct ratelimit *rl;        /* NULL once the limiter is freed */
	struct rl_check *prev, *next; /* rl->pending, while not answered */
	struct event *timer;
	bool answered;
	size_t n;
	enum rl_kind kind[RL_MAX_LIMITS];
	long per_minute[RL_MAX_LIMITS];
	char key[RL_MAX_LIMITS][RL_KEY_MAX];
	bool has_nonce;
	char nonce[RL_KEY_MAX];
	long nonce_ttl_s;
	rl_cb cb;
	void *arg;
};

struct ratelimit {
	struct event_base *base;
	struct redis *redis;
	struct metrics *m;
	struct ratelimit_opts o;
	struct rl_local *local;
	struct rl_script *script;
	struct rl_check *pending;
};

void ratelimit_opts_default(struct ratelimit_opts *o)
{
	o->enabled = true;
	o->redis_timeout_ms = 50;
	o->local_entries = 65536; /* at most about 12 MiB of windows */
	o->local_nonces = 262144;
}

const char *rl_kind_name(enum rl_kind k)
{
	switch (k) {
	case RL_APIKEY:
		return "apikey";
	case RL_USER:
		return "user";
	case RL_TENANT:
		return "tenant";
	case RL_IP:
		return "ip";
	case RL_APIKEY_IP:
		return "apikey_ip";
	}
	return "none";
}

static int64_t rl_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- construction -------------------------------------------------------------------------- */

struct ratelimit *ratelimit_new(struct event_base *base, struct redis *redis, struct metrics *m)
{
	struct ratelimit_opts o;

	ratelimit_opts_default(&o);
	return ratelimit_new_opts(base, redis, m, &o);
}

struct ratelimit *ratelimit_new_opts(struct event_base *base, struct redis *redis,
				     struct metrics *m, const struct ratelimit_opts *o)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	rl->base = base;
	rl->redis = redis;
	rl->m = m;
	rl->o = *o;
	rl->local = rl_local_new(o->local_entries, o->local_nonces);
	rl->script = calloc(1, sizeof(*rl->script));
	if (rl->local == NULL || rl->script == NULL) {
		ratelimit_free(rl);
		return NULL;
	}
	metrics_declare(m, "gateway_ratelimit_decisions_total", METRIC_COUNTER,
			"rate-limit decisions by the deciding limit's kind and result");
	metrics_declare(m, "gateway_ratelimit_degraded_total", METRIC_COUNTER,
			"rate-limit decisions made locally because Redis did not answer");
	return rl;
}

/* ---- deciding ------------------------------------------------------------------------------ */

static void rl_count(struct ratelimit *rl, const struct rl_check *c, int idx,
		     const struct rl_decision *d)
{
	char labels[64];
	const char *kind = idx >= 0 && (size_t)idx < c->n ? rl_kind_name(c->kind[idx]) : "none";

	snprintf(labels, sizeof(labels), "kind=\"%s\",result=\"%s\"", kind,
		 d->replayed ? "replayed" : d->allowed ? "allowed" : "limited");
	metrics_inc(rl->m, "gateway_ratelimit_decisions_total", labels, 1);
}

static void rl_unlink(struct ratelimit *rl, struct rl_check *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (rl->pending == c)
		rl->pending = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* Answers c (exactly once) with d; idx is the deciding limit's index or -1. */
static void rl_answer(struct ratelimit *rl, struct rl_check *c, int idx,
		      const struct rl_decision *d)
{
	c->answered = true;
	rl_unlink(rl, c);
	if (c->timer != NULL)
		evtimer_del(c->timer);
	rl_count(rl, c, idx, d);
	c->cb(c->arg, d);
}

/* Decides c in memory (Redis unreachable, slow or failing) and answers it. */
static void rl_answer_local(struct ratelimit *rl, struct rl_check *c, const char *reason)
{
	struct rl_window_req w[RL_MAX_LIMITS];
	struct rl_decision d;
	char labels[48];
	size_t i;
	int idx;

	for (i = 0; i < c->n; i++)
		w[i] = (struct rl_window_req){c->key[i], c->per_minute[i]};
	idx = rl_local_decide(rl->local, w, c->n, c->has_nonce ? c->nonce : NULL, c->nonce_ttl_s,
			      rl_mono_us(), &d);
	d.degraded = true;
	snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
	metrics_inc(rl->m, "gateway_ratelimit_degraded_total", labels, 1);
	rl_answer(rl, c, idx, &d);
}

static void rl_check_free(struct rl_check *c)
{
	if (c->timer != NULL)
		event_free(c->timer);
	free(c);
}

/* The script's answer, or -1 when the reply is not one. */
static int rl_parse(const redisReply *r, struct rl_decision *d, int *idx)
{
	long long v[7];
	size_t i;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 7)
		return -1;
	for (i = 0; i < 7; i++) {
		if (r->element[i]->type != REDIS_REPLY_INTEGER)
			return -1;
		v[i] = r->element[i]->integer;
	}
	memset(d, 0, sizeof(*d));
	d->allowed = v[0] == 1;
	d->replayed = v[1] == 1;
	d->limit = (long)v[2];
	d->remaining = (long)(v[3] < 0 ? 0 : v[3]);
	d->reset_s = (long)v[4];
	d->retry_after_s = (long)v[5];
	*idx = (int)v[6] - 1;
	return 0;
}

static int rl_send(struct ratelimit *rl, struct rl_check *c);

static void rl_on_load(redisReply *reply, const char *err, void *arg)
{
	struct rl_script *s = arg;

	(void)err;
	s->loading = false;
	if (s->orphaned) {
		free(s);
		return;
	}
	if (reply != NULL && reply->type == REDIS_REPLY_STRING && reply->len == RL_SHA_LEN)
		memcpy(s->sha, reply->str, RL_SHA_LEN + 1);
}

/* SCRIPT LOAD once Redis is up (again); decisions use EVAL until the SHA is known. */
static void rl_load_script(struct ratelimit *rl)
{
	if (rl->script->sha[0] != '\0' || rl->script->loading)
		return;
	if (redis_command(rl->redis, rl_on_load, rl->script, "SCRIPT LOAD %s", rl_script) == 0)
		rl->script->loading = true;
}

static bool rl_is_noscript(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

static void rl_on_reply(redisReply *reply, const char *err, void *arg)
{
	struct rl_check *c = arg;
	struct ratelimit *rl = c->rl;
	struct rl_decision d;
	int idx;

	if (c->answered) { /* decided locally after the deadline, or the limiter is gone */
		rl_check_free(c);
		return;
	}
	if (rl_is_noscript(reply)) { /* Redis restarted: its script cache is empty */
		rl->script->sha[0] = '\0';
		if (rl_send(rl, c) == 0)
			return;
	}
	if (rl_parse(reply, &d, &idx) < 0) {
		log_warn(NULL, "ratelimit redis failed",
			 LS("error", reply != NULL && reply->type == REDIS_REPLY_ERROR ? reply->str
				     : err != NULL ? err : "bad reply"));
		rl_answer_local(rl, c, "error");
	} else {
		rl_answer(rl, c, idx, &d);
	}
	rl_check_free(c);
}

static void rl_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct rl_check *c = arg;

	(void)fd;
	(void)what;
	rl_answer_local(c->rl, c, "timeout"); /* c is freed by its Redis callback */
}

/* EVALSHA (or EVAL) of the script for c; 0, or -1 when Redis is not connected. */
static int rl_send(struct ratelimit *rl, struct rl_check *c)
{
	const char *argv[RL_ARGV_MAX];
	size_t len[RL_ARGV_MAX];
	char nkeys[8], ttl[24], lim[RL_MAX_LIMITS][24];
	int argc = 0;
	size_t i;

	rl_load_script(rl);
	argv[argc++] = rl->script->sha[0] != '\0' ? "EVALSHA" : "EVAL";
	argv[argc++] = rl->script->sha[0] != '\0' ? rl->script->sha : rl_script;
	snprintf(nkeys, sizeof(nkeys), "%zu", c->n + (c->has_nonce ? 1 : 0));
	argv[argc++] = nkeys;
	if (c->has_nonce)
		argv[argc++] = c->nonce;
	for (i = 0; i < c->n; i++)
		argv[argc++] = c->key[i];
	snprintf(ttl, sizeof(ttl), "%ld", c->nonce_ttl_s > 0 ? c->nonce_ttl_s : 1);
	argv[argc++] = c->has_nonce ? "1" : "0";
	argv[argc++] = ttl;
	for (i = 0; i < c->n; i++) {
		snprintf(lim[i], sizeof(lim[i]), "%ld", c->per_minute[i]);
		argv[argc++] = lim[i];
	}
	for (i = 0; i < (size_t)argc; i++)
		len[i] = strlen(argv[i]);
	return redis_command_argv(rl->redis, rl_on_reply, c, argc, argv, len);
}

/* Copies the request's limits and nonce into c. */
static void rl_check_fill(struct ratelimit *rl, struct rl_check *c, const struct rl_limit *limits,
			  size_t n, const char *nonce_key, long nonce_ttl_s)
{
	size_t i;

	for (i = 0; i < n && c->n < RL_MAX_LIMITS && rl->o.enabled; i++) {
		if (limits[i].per_minute <= 0)
			continue;
		c->kind[c->n] = limits[i].kind;
		c->per_minute[c->n] = limits[i].per_minute;
		snprintf(c->key[c->n], RL_KEY_MAX, "fr:rlb:%s:%.*s", rl_kind_name(limits[i].kind),
			 RL_ID_MAX, limits[i].id != NULL ? limits[i].id : "");
		c->n++;
	}
	c->has_nonce = nonce_key != NULL;
	if (c->has_nonce)
		snprintf(c->nonce, sizeof(c->nonce), "%s", nonce_key);
	c->nonce_ttl_s = nonce_ttl_s;
}

void ratelimit_check(struct ratelimit *rl, const struct rl_limit *limits, size_t n,
		     const char *nonce_key, long nonce_ttl_s, const char *request_id, rl_cb cb,
		     void *arg)
{
	struct rl_check *c = calloc(1, sizeof(*c));
	struct timeval tv = {rl->o.redis_timeout_ms / 1000, (rl->o.redis_timeout_ms % 1000) * 1000};

	if (c == NULL) {
		log_error(NULL, "ratelimit out of memory", LS("request_id", request_id));
		abort();
	}
	c->rl = rl;
	c->cb = cb;
	c->arg = arg;
	rl_check_fill(rl, c, limits, n, nonce_key, nonce_ttl_s);
	if (rl->redis == NULL || !redis_ready(rl->redis) || (c->n == 0 && !c->has_nonce)) {
		if (c->n == 0 && !c->has_nonce)
			rl_answer(rl, c, -1, &(struct rl_decision){.allowed = true});
		else
			rl_answer_local(rl, c, "unreachable");
		rl_check_free(c);
		return;
	}
	c->timer = evtimer_new(rl->base, rl_on_timeout, c);
	if (c->timer == NULL || rl_send(rl, c) < 0) {
		rl_answer_local(rl, c, "unreachable");
		rl_check_free(c);
		return;
	}
	evtimer_add(c->timer, &tv);
	c->next = rl->pending;
	if (c->next != NULL)
		c->next->prev = c;
	rl->pending = c;
}

void ratelimit_free(struct ratelimit *rl)
{
	struct rl_check *c;

	if (rl == NULL)
		return;
	while ((c = rl->pending) != NULL) {
		rl_answer_local(rl, c, "unreachable"); /* unlinks c */
		c->rl = NULL;                          /* freed by its Redis callback */
	}
	if (rl->script != NULL) {
		if (rl->script->loading)
			rl->script->orphaned = true;
		else
			free(rl->script);
	}
	rl_local_free(rl->local);
	free(rl);
}

/* ---- replies ------------------------------------------------------------------------------- */

size_t ratelimit_format_headers(const struct rl_decision *d, struct rl_header out[4])
{
	size_t n = 0;

	if (d->limit <= 0)
		return 0;
	out[n].name = "RateLimit-Limit";
	snprintf(out[n++].value, sizeof(out[0].value), "%ld", d->limit);
	out[n].name = "RateLimit-Remaining";
	snprintf(out[n++].value, sizeof(out[0].value), "%ld", d->remaining < 0 ? 0 : d->remaining);
	out[n].name = "RateLimit-Reset";
	snprintf(out[n++].value, sizeof(out[0].value), "%ld", d->reset_s < 0 ? 0 : d->reset_s);
	if (!d->allowed && !d->replayed) {
		out[n].name = "Retry-After";
		snprintf(out[n++].value, sizeof(out[0].value), "%ld",
			 d->retry_after_s < 1 ? 1 : d->retry_after_s);
	}
	return n;
}

void ratelimit_headers(struct http_request *req, const struct rl_decision *d)
{
	struct rl_header h[4];
	size_t i, n = ratelimit_format_headers(d, h);

	for (i = 0; i < n; i++)
		http_reply_header(req, h[i].name, h[i].value);
}

void ratelimit_reply_429(struct http_request *req, const struct rl_decision *d)
{
	json_object *details = json_object_new_object();

	json_object_object_add(details, "limit", json_object_new_int64(d->limit));
	json_object_object_add(details, "retry_after_s",
			       json_object_new_int64(d->retry_after_s < 1 ? 1 : d->retry_after_s));
	ratelimit_headers(req, d);
	http_reply_error(req, 429, "rate_limited", "Too many requests; retry later.", details);
}
