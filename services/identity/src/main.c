/*
 * main.c - the identity daemon: arguments, configuration, migrations, wiring, the loop,
 * signals and the graceful drain, then freeing everything (LeakSanitizer stays meaningful).
 *
 * Owns the struct identity_app and every object in it.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "common/amqp.h"
#include "common/crypto.h"
#include "common/daemon.h"
#include "common/metrics.h"
#include "common/migrate.h"
#include "common/outbox.h"
#include "common/redis.h"
#include "common/svc_auth.h"
#include "config.h"
#include "keyring.h"
#include "routes.h"
#include "seed.h"
#include "service_clients.h"
#include "throttle.h"

#define SCHEMA "identity"
#define MIGRATE_ATTEMPTS 30 /* one per second: PostgreSQL may still be starting */

static void usage(FILE *out)
{
	fprintf(out, "usage: identity [--routes | --config-table | --help]\n"
		     "  Configuration comes from environment variables (see --config-table).\n");
}

/* Hash of a random password: verified against when the account is unknown. */
static char *main_dummy_hash(const struct password_params *pw)
{
	char *pass = crypto_token(24);
	char *hash;

	if (pass == NULL)
		return NULL;
	hash = password_hash(pass, pw);
	free(pass);
	return hash;
}

/* The first signal: the server stops accepting (daemon_drain), then this. */
static void main_on_stop(void *arg)
{
	struct identity_app *app = arg;

	seed_stop(app->seed);
}

static struct pg_pool *main_pg(const struct identity_app *app)
{
	struct pg_pool_opts o;

	pg_pool_opts_default(&o);
	o.conninfo = app->cfg->database_url;
	o.size = (int)app->cfg->db_pool_size;
	o.query_timeout_ms = (int)app->cfg->db_query_timeout_ms;
	o.search_path = SCHEMA;
	return pg_pool_new(app->base, &o);
}

static struct redis *main_redis(const struct identity_app *app)
{
	struct redis_opts o;

	redis_opts_default(&o);
	o.host = app->cfg->common.redis_host;
	o.port = (int)app->cfg->common.redis_port;
	o.password = app->cfg->common.redis_password;
	o.command_timeout_ms = 250; /* throttling falls back to memory beyond this */
	return redis_new(app->base, &o);
}

/* The publisher only: identity consumes nothing. Connects in the background. */
static struct amqp *main_amqp(const struct identity_app *app)
{
	struct amqp_opts o;

	amqp_opts_default(&o);
	o.host = app->cfg->common.amqp_host;
	o.port = (int)app->cfg->common.amqp_port;
	o.user = app->cfg->common.amqp_user;
	o.password = app->cfg->common.amqp_password;
	o.vhost = app->cfg->common.amqp_vhost;
	o.service = "identity";
	o.metrics = app->metrics;
	return amqp_new(app->base, &o);
}

static struct outbox *main_outbox(const struct identity_app *app)
{
	struct outbox_opts o;

	outbox_opts_default(&o, app->schema);
	o.batch = (int)app->cfg->outbox_batch;
	o.poll_ms = (int)app->cfg->outbox_poll_ms;
	o.metrics = app->metrics;
	return outbox_new(app->base, app->pg, app->amqp, &o);
}

static bool main_pg_ready(void *pg)
{
	return pg_pool_ready(pg);
}

/* Info only: while the broker is down identity keeps serving and its events wait. */
static bool main_amqp_ready(void *amqp)
{
	return amqp_ready(amqp);
}

static struct http_server *main_http(struct identity_app *app)
{
	struct http_server_opts o;
	struct http_server *s;

	http_server_opts_default(&o, "identity");
	o.bind_addr = app->cfg->bind;
	o.port = (int)app->cfg->port;
	o.max_body_bytes = (size_t)app->cfg->max_body_bytes;
	o.access_log = app->cfg->access_log;
	o.metrics = app->metrics;
	s = http_server_new(app->base, &o, identity_routes, identity_nroutes, app);
	if (s == NULL)
		return NULL;
	http_server_add_ready_check(s, "postgres", main_pg_ready, app->pg);
	http_server_add_ready_check(s, "signing_key", keyring_ready, app->keys);
	http_server_add_ready_check(s, "seed", seed_ready, app->seed);
	http_server_add_info_check(s, "amqp", main_amqp_ready, app->amqp);
	return s;
}

/* The keys service tokens addressed to identity are verified with: its own published keys. */
static const struct jwt_keyset *main_svc_keys(void *kr)
{
	return keyring_keyset(kr);
}

/* Service tokens: who may mint them, and the verifier of identity's internal routes. */
static int main_svc(struct identity_app *app)
{
	const struct fr_common_config *c = &app->cfg->common;
	char err[256] = "";

	app->svc_clients = service_clients_new(app->cfg->service_clients, fr_common_is_local(c),
					       c->internal_secret, err, sizeof(err));
	if (app->svc_clients == NULL) {
		log_error(NULL, "service clients refused", LS("error", err));
		return -1;
	}
	app->svc = svc_verifier_new_keys(main_svc_keys, app->keys, "identity", c->jwt_issuer);
	return app->svc != NULL ? 0 : -1;
}

/* Builds every member of app; -1 when one cannot be created (app_free cleans up). */
static int app_init(struct identity_app *app, const struct identity_config *cfg)
{
	unsigned char kek[32];
	struct keyring_opts ko;
	struct throttle_limits tl = {cfg->login_window_s, cfg->login_max_fails_account,
				     cfg->login_max_fails_ip};

	app->cfg = cfg;
	app->schema = SCHEMA;
	app->pw = (struct password_params){(uint32_t)cfg->argon2_m_kib, (uint32_t)cfg->argon2_t, 1};
	if ((app->dummy_hash = main_dummy_hash(&app->pw)) == NULL ||
	    identity_config_kek(cfg, kek) < 0 || (app->base = event_base_new()) == NULL ||
	    (app->metrics = metrics_new()) == NULL || (app->pg = main_pg(app)) == NULL ||
	    (app->amqp = main_amqp(app)) == NULL || (app->outbox = main_outbox(app)) == NULL ||
	    (app->redis = main_redis(app)) == NULL ||
	    (app->wp = workpool_new(app->base, (int)cfg->workers, (size_t)cfg->work_queue)) == NULL)
		return -1;
	ko = (struct keyring_opts){app->base, app->pg, kek, cfg->key_rotation_s, cfg->access_ttl_s};
	app->keys = keyring_new(&ko);
	explicit_bzero(kek, sizeof(kek));
	if (app->keys == NULL || main_svc(app) < 0 ||
	    (app->throttle = throttle_new(app->redis, &tl)) == NULL ||
	    (app->seed = seed_new(app)) == NULL || (app->http = main_http(app)) == NULL)
		return -1;
	app_metrics_declare(app);
	return 0;
}

/* Frees in dependency order: what may still call back into others goes first. */
static void app_free(struct identity_app *app)
{
	atomic_store(&app->stopping, true);
	keyring_stop(app->keys);
	seed_stop(app->seed);
	if (app->wp != NULL) {
		struct workpool *wp = app->wp;
		workpool_free(wp); /* runs pending done callbacks (they may still query) */
		app->wp = NULL;
	}
	if (app->redis != NULL) {
		struct redis *r = app->redis;
		app->redis = NULL;
		redis_free(r); /* pending callbacks run with "shutdown" (throttle still alive) */
	}
	/* outbox -> amqp -> pool (outbox.h): the relay's pending callbacks run in their shutdown */
	if (app->outbox != NULL) {
		struct outbox *ob = app->outbox;
		app->outbox = NULL; /* no more kicks */
		outbox_free(ob);
	}
	if (app->amqp != NULL) {
		struct amqp *a = app->amqp;
		app->amqp = NULL;
		amqp_free(a); /* unconfirmed publishes fail: their rows stay unsent */
	}
	if (app->pg != NULL)
		pg_pool_free(app->pg); /* pending queries fail now; their callbacks reply */
	if (app->http != NULL)
		http_server_free(app->http);
	svc_verifier_free(app->svc);
	service_clients_free(app->svc_clients);
	keyring_free(app->keys);
	seed_free(app->seed);
	throttle_free(app->throttle);
	if (app->metrics != NULL)
		metrics_free(app->metrics);
	if (app->base != NULL)
		event_base_free(app->base);
	free(app->dummy_hash);
}

static int main_run(struct identity_app *app, const struct identity_config *cfg)
{
	struct daemon_drain *drain = NULL;
	int rc = -1;

	if (app_init(app, cfg) < 0) {
		log_error(NULL, "start-up failed");
		return -1;
	}
	drain = daemon_drain_new(app->base, app->http, main_on_stop, app,
				 (int)cfg->drain_timeout_ms);
	if (drain == NULL || http_server_listen(app->http) < 0)
		goto out;
	seed_start(app->seed);
	keyring_start(app->keys);
	if (event_base_dispatch(app->base) < 0)
		log_error(NULL, "event loop failed");
	else
		rc = 0;
	log_info(NULL, "stopped", LI("inflight", (long long)http_server_inflight(app->http)));
out:
	daemon_drain_free(drain);
	return rc;
}

int main(int argc, char **argv)
{
	struct identity_config cfg;
	struct identity_app app;
	char err[512];
	int rc = 1;

	rc = daemon_cli(argc, argv, usage, identity_routes_print, identity_config_items,
			identity_config_nitems);
	if (rc >= 0)
		return rc;
	rc = 1;
	log_init("identity", LOG_LEVEL_INFO);
	memset(&app, 0, sizeof(app));
	if (identity_config_load(&cfg, err, sizeof(err)) < 0) {
		log_error(NULL, "configuration refused", LS("error", err));
		goto out;
	}
	log_init("identity", (enum log_level)log_level_parse(cfg.common.log_level));
	config_log(identity_config_items, identity_config_nitems, &cfg);
	/* migrations before anything serves (blocking on purpose, on their own connection) */
	if (evthread_use_pthreads() != 0 ||
	    migrate_run_retry(cfg.database_url, SCHEMA, cfg.migrations_dir, MIGRATE_ATTEMPTS) < 0)
		goto out;
	if (main_run(&app, &cfg) == 0)
		rc = 0;
	app_free(&app);
out:
	identity_config_free(&cfg);
	libevent_global_shutdown();
	return rc;
}
