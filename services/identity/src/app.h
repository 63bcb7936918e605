/*
 * app.h - struct identity_app: everything identity's handlers reach through their `app`
 * argument, and the small helpers every handler file shares (internal auth check, error
 * replies, worker-pool submission, session cache invalidation, metrics, waking the outbox).
 *
 * main.c builds the app, owns every member and frees them at exit; handlers borrow it.
 */
#ifndef IDENTITY_APP_H
#define IDENTITY_APP_H

#include <event2/event.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common/http.h"
#include "common/iauth.h"
#include "common/log.h"
#include "common/password.h"
#include "common/pg.h"
#include "common/workpool.h"
#include "config.h"

struct identity_app {
	const struct identity_config *cfg;
	struct event_base *base;
	struct metrics *metrics;
	struct pg_pool *pg;
	const char *schema;    /* "identity": holds the outbox (identity_event_add) */
	struct amqp *amqp;     /* publisher only; NULL once freed at shutdown */
	struct outbox *outbox; /* the relay; NULL once freed at shutdown */
	struct redis *redis;   /* NULL once freed at shutdown */
	struct workpool *wp;   /* NULL once freed at shutdown */
	struct keyring *keys;
	struct throttle *throttle;
	struct seed *seed;
	struct svc_verifier *svc;             /* service tokens on internal routes (svc_auth.h) */
	struct service_clients *svc_clients; /* who may mint them (service_clients.h) */
	struct http_server *http;
	struct password_params pw;
	char *dummy_hash;     /* hash of a random password: equalises login timing */
	atomic_bool stopping; /* after the loop: start no new work (workers read it too) */
};

/* Metric families (declared by app_metrics_declare). */
#define M_LOGINS "identity_logins_total"
#define M_REGISTRATIONS "identity_registrations_total"
#define M_REFRESHES "identity_refreshes_total"
#define M_WORK_QUEUE "identity_workpool_queue_depth"

void app_metrics_declare(struct identity_app *app);
/* Counts one event of family name with label result="<result>" (NULL = no label). */
void app_count(struct identity_app *app, const char *name, const char *result);

/* Checks the internal signature headers. A present but invalid or stale signature is
 * answered 401 token_invalid here (returns -1). Otherwise returns 0 and sets *signed_ok
 * (out filled when true). */
int app_iauth_or_reply(struct identity_app *app, struct http_request *req, struct iauth *out,
		       bool *signed_ok);
/* The end client's address: the signed X-FR-Client-Ip, else the TCP peer. */
const char *app_client_ip(struct http_request *req, const struct iauth *ia, bool signed_ok);

/* The log context of a request (ids borrowed). */
struct log_ctx app_log_ctx(struct http_request *req, const char *tenant_id, const char *user_id);

/* Queues CPU-heavy work (password hashing). On failure (queue full, shutting down) replies
 * 503 service_unavailable and returns -1: neither work nor done will run. */
int app_work_or_reply(struct identity_app *app, struct http_request *req, work_fn work,
		      work_done_fn done, void *arg);

/* True once the daemon is past its loop (a forced stop): work functions skip the hashing and
 * done callbacks answer 503. Safe from any thread. */
bool app_stopping(const struct identity_app *app);

/* Called first by every work function: lowers the worker thread's scheduling priority once,
 * so the event loop thread (health checks, cheap requests) wins the CPU during a login storm. */
void app_worker_nice(void);

/* 500 internal_error (or 503 service_unavailable when the database is unreachable, slow or
 * shutting down), logging what failed. r may be NULL (the query was not even queued). */
void app_reply_db_error(struct http_request *req, const char *what, const struct pg_result *r);
void app_reply_internal(struct http_request *req, const char *what);
void app_reply_unavailable(struct http_request *req, const char *what);

/* Signs an access token for session sid of user u (tenant t) and replies 200 AuthTokens
 * with refresh_token; 503 when no signing key is usable, 500 when signing fails. */
struct user;
struct tenant;
void app_reply_tokens(struct identity_app *app, struct http_request *req, const struct user *u,
		      const struct tenant *t, const char *sid, const char *refresh_token);

/* A copy of untrusted header text fit for a text column: valid UTF-8 only (other bytes and
 * control characters become '?'), cut at a character boundary to at most max bytes. NULL
 * when s is NULL or empty. In the request's memory. */
char *app_clean_text(struct http_request *req, const char *s, size_t max);
/* http_request_strdup that passes NULL through. */
char *app_strdup(struct http_request *req, const char *s);

/* Call after committing a transaction that added events: the relay publishes them now
 * instead of at its next poll. A no-op once the relay is freed. */
void app_outbox_kick(struct identity_app *app);

/* Best effort: marks a revoked session as revoked in the gateway's Redis cache (session_cache.h). */
void app_session_uncache(struct identity_app *app, struct http_request *req, const char *sid);

#endif
