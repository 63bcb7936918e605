/*
 * cred_cache.c - the gateway's credential cache markers (see cred_cache.h).
 *
 * Owns nothing beyond the batch, which lives in the request's memory until the request's
 * answer (sent from the done callback, never before).
 */
#include "cred_cache.h"

#include <stdio.h>

#include "common/apikey_cache.h"
#include "common/redis.h"
#include "common/session_cache.h"

struct cred_batch {
	struct identity_app *app;
	struct http_request *req;
	cred_batch_done done;
	void *arg;
	int pending; /* replies still due, +1 until cred_batch_end */
	int failed;
};

struct cred_batch *cred_batch_new(struct identity_app *app, struct http_request *req,
				  cred_batch_done done, void *arg)
{
	struct cred_batch *b = http_request_alloc(req, sizeof(*b));

	*b = (struct cred_batch){app, req, done, arg, 1, 0};
	return b;
}

static void cred_batch_settle(struct cred_batch *b)
{
	struct log_ctx lc;

	if (--b->pending > 0)
		return;
	if (b->failed > 0) {
		lc = app_log_ctx(b->req, NULL, NULL);
		log_warn(&lc, "credential cache markers failed", LI("count", b->failed));
	}
	b->done(b->arg);
}

static void cred_batch_on_reply(redisReply *reply, const char *err, void *arg)
{
	struct cred_batch *b = arg;

	(void)err;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		b->failed++;
	cred_batch_settle(b);
}

/* Sends one command (key and value are ours: ids, prefixes and fixed words). */
static void cred_batch_send(struct cred_batch *b, int argc, const char **argv)
{
	b->pending++;
	if (b->app->redis != NULL &&
	    redis_command_argv(b->app->redis, cred_batch_on_reply, b, argc, argv, NULL) == 0)
		return;
	b->pending--;
	b->failed++;
}

static void cred_batch_set(struct cred_batch *b, const char *key, const char *value, int ttl_s)
{
	char ttl[16];
	const char *argv[5] = {"SET", key, value, "EX", ttl};

	snprintf(ttl, sizeof(ttl), "%d", ttl_s);
	cred_batch_send(b, 5, argv);
}

static void cred_batch_del(struct cred_batch *b, const char *key)
{
	const char *argv[2] = {"DEL", key};

	cred_batch_send(b, 2, argv);
}

void cred_batch_revoke_key(struct cred_batch *b, const char *key_prefix)
{
	char key[64];

	snprintf(key, sizeof(key), APIKEY_CACHE_KEY_FMT, key_prefix);
	cred_batch_set(b, key, APIKEY_CACHE_REVOKED, APIKEY_CACHE_REVOKED_TTL_S);
}

void cred_batch_forget_key(struct cred_batch *b, const char *key_prefix)
{
	char key[64];

	snprintf(key, sizeof(key), APIKEY_CACHE_KEY_FMT, key_prefix);
	cred_batch_del(b, key);
}

void cred_batch_revoke_session(struct cred_batch *b, const char *session_id, const char *reason)
{
	char key[64], value[64];

	snprintf(key, sizeof(key), SESSION_CACHE_KEY_FMT, session_id);
	snprintf(value, sizeof(value), "revoked|%s", reason);
	cred_batch_set(b, key, value, SESSION_CACHE_REVOKED_TTL_S);
}

void cred_batch_forget_session(struct cred_batch *b, const char *session_id)
{
	char key[64];

	snprintf(key, sizeof(key), SESSION_CACHE_KEY_FMT, session_id);
	cred_batch_del(b, key);
}

void cred_batch_end(struct cred_batch *b)
{
	cred_batch_settle(b);
}
