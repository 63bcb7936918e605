/*
 * app.c - helpers shared by identity's handler files (see app.h).
 *
 * Owns nothing: every function borrows the app and the request.
 */
#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/metrics.h"
#include "common/outbox.h"
#include "common/redis.h"
#include "common/session_cache.h"
#include "identity_json.h"
#include "keyring.h"
#include "tokens.h"

static double app_work_queue_depth(void *arg)
{
	struct identity_app *app = arg;

	return app->wp != NULL ? (double)workpool_queued(app->wp) : 0.0;
}

void app_metrics_declare(struct identity_app *app)
{
	metrics_declare(app->metrics, M_LOGINS, METRIC_COUNTER, "Login attempts by result.");
	metrics_declare(app->metrics, M_REGISTRATIONS, METRIC_COUNTER, "Users registered.");
	metrics_declare(app->metrics, M_REFRESHES, METRIC_COUNTER, "Token refreshes by result.");
	metrics_declare(app->metrics, M_WORK_QUEUE, METRIC_GAUGE,
			"Password hashing jobs waiting for a worker.");
	metrics_gauge_fn(app->metrics, M_WORK_QUEUE, NULL, app_work_queue_depth, app);
}

void app_count(struct identity_app *app, const char *name, const char *result)
{
	char labels[96];

	if (result == NULL) {
		metrics_inc(app->metrics, name, NULL, 1);
		return;
	}
	snprintf(labels, sizeof(labels), "result=\"%s\"", result); /* results are constants */
	metrics_inc(app->metrics, name, labels, 1);
}

int app_iauth_or_reply(struct identity_app *app, struct http_request *req, struct iauth *out,
		       bool *signed_ok)
{
	enum iauth_result r = iauth_check(req, app->cfg->common.internal_secret, out);

	*signed_ok = r == IAUTH_OK;
	if (r != IAUTH_BAD)
		return 0;
	log_warn(&(struct log_ctx){.request_id = http_request_id(req)},
		 "internal signature rejected", LS("peer", http_request_peer(req)));
	http_reply_error(req, 401, "token_invalid", "The internal signature is invalid or stale.",
			 NULL);
	return -1;
}

const char *app_client_ip(struct http_request *req, const struct iauth *ia, bool signed_ok)
{
	if (signed_ok && ia->client_ip[0] != '\0')
		return ia->client_ip;
	return http_request_peer(req);
}

struct log_ctx app_log_ctx(struct http_request *req, const char *tenant_id, const char *user_id)
{
	return (struct log_ctx){
		.request_id = http_request_id(req), .tenant_id = tenant_id, .user_id = user_id};
}

int app_work_or_reply(struct identity_app *app, struct http_request *req, work_fn work,
		      work_done_fn done, void *arg)
{
	if (!app_stopping(app) && app->wp != NULL && workpool_submit(app->wp, work, done, arg) == 0)
		return 0;
	app_reply_unavailable(req, "worker pool full");
	return -1;
}

bool app_stopping(const struct identity_app *app)
{
	return atomic_load(&app->stopping);
}

#define WORKER_NICE 5

void app_worker_nice(void)
{
	static __thread bool done;

	if (done)
		return;
	done = true;
	/* Linux applies nice per thread; failure only costs latency, never correctness */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WORKER_NICE);
}

void app_reply_db_error(struct http_request *req, const char *what, const struct pg_result *r)
{
	pg_reply_error(req, what, r);
}

void app_reply_internal(struct http_request *req, const char *what)
{
	http_reply_internal(req, what);
}

void app_reply_unavailable(struct http_request *req, const char *what)
{
	http_reply_unavailable(req, what);
}

void app_outbox_kick(struct identity_app *app)
{
	if (app->outbox != NULL)
		outbox_kick(app->outbox);
}

static void app_on_uncached(redisReply *reply, const char *err, void *arg)
{
	(void)arg;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		log_warn(NULL, "session cache invalidation failed",
			 LS("error", err != NULL ? err : reply->str));
}

void app_session_uncache(struct identity_app *app, struct http_request *req, const char *sid)
{
	char key[64];
	struct log_ctx ctx = app_log_ctx(req, NULL, NULL);

	snprintf(key, sizeof(key), SESSION_CACHE_KEY_FMT, sid);
	/* a marker, not a DEL: a gateway lookup already in flight writes "active" with NX only,
	 * so it cannot undo this (session_cache.h) */
	if (app->redis != NULL &&
	    redis_command(app->redis, app_on_uncached, NULL, "SET %s revoked|revoked EX %d", key,
			  SESSION_CACHE_REVOKED_TTL_S) == 0)
		return;
	log_warn(&ctx, "session cache invalidation failed", LS("session_id", sid),
		 LS("error", "redis unavailable"));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one. */
static size_t utf8_seq_len(const unsigned char *s)
{
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0; /* overlong, surrogate or beyond U+10FFFF */
	return n;
}

char *app_clean_text(struct http_request *req, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, o = 0;
	char *out;

	if (s == NULL || s[0] == '\0')
		return NULL;
	len = strlen(s);
	out = http_request_alloc(req, (len < max ? len : max) + 1);
	while (*p != '\0') {
		size_t n = utf8_seq_len(p);

		if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
			if (o + 1 > max)
				break;
			out[o++] = '?';
			p++;
			continue;
		}
		if (o + n > max)
			break;
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = '\0';
	return out;
}

char *app_strdup(struct http_request *req, const char *s)
{
	return s != NULL ? http_request_strdup(req, s) : NULL;
}

void app_reply_tokens(struct identity_app *app, struct http_request *req, const struct user *u,
		      const struct tenant *t, const char *sid, const char *refresh_token)
{
	time_t now = time(NULL);
	const struct jwt_key *k = keyring_signer(app->keys, now);
	struct access_claims c = {.issuer = app->cfg->common.jwt_issuer,
				  .audience = app->cfg->common.jwt_audience,
				  .user_id = u->id,
				  .tenant_id = t->id,
				  .session_id = sid,
				  .is_admin = u->is_admin,
				  .is_tenant_admin = u->is_tenant_admin,
				  .now = now,
				  .ttl_s = app->cfg->access_ttl_s};
	char *access;
	json_object *body;

	if (k == NULL) {
		app_reply_unavailable(req, "no signing key");
		return;
	}
	if ((access = access_token_sign(k, &c)) == NULL) {
		app_reply_internal(req, "sign access token");
		return;
	}
	body = auth_tokens_to_json(access, refresh_token, app->cfg->access_ttl_s, u, t);
	free(access);
	if (body == NULL) {
		app_reply_internal(req, "render tokens");
		return;
	}
	http_reply_json(req, 200, body);
}
