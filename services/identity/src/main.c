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
#include <unistd.h>

#include "app.h"
#include "common/amqp.h"
#include "common/crypto.h"
#include "common/daemon.h"
#include "common/metrics.h"
#include "common/migrate.h"
#include "common/outbox.h"
#include "common/redis.h"
#include "config.h"
#include "keyring.h"
#include "routes.h"
#include "seed.h"
#include "throttle.h"

#define SCHEMA "identity"
#define MIGRATE_ATTEMPTS 30 /* one per second: PostgreSQL may still be starting */
#define DRAIN_POLL_MS 20

/* The graceful stop: stop accepting, then poll until no request is in flight. */
struct drain {
	struct identity_app *app;
	struct daemon_sig *sig;
	struct event *tick;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: identity [--routes | --config-table | --help]\n"
		     "  Configuration comes from environment variables (see --config-table).\n");
}

/* Applies migrations before anything serves (blocking on purpose, on its own connection). */
static int main_migrate(const struct identity_config *cfg)
{
	char err[512];

	for (int i = 1; i <= MIGRATE_ATTEMPTS; i++) {
		int n = migrate_run(cfg->database_url, SCHEMA, cfg->migrations_dir, err,
				    sizeof(err));

		if (n >= 0) {
			log_info(NULL, "migrations applied", LI("count", n));
			return 0;
		}
		log_warn(NULL, "migrations failed", LS("error", err), LI("attempt", i));
		if (i < MIGRATE_ATTEMPTS)
			sleep(1);
	}
	return -1;
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

static void drain_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct drain *d = arg;

	(void)fd;
	(void)what;
	if (http_server_inflight(d->app->http) == 0)
		daemon_stopped(d->sig);
}

static void main_on_stop(void *arg)
{
	struct drain *d = arg;
	struct timeval tv = {0, DRAIN_POLL_MS * 1000};

	http_server_shutdown(d->app->http);
	seed_stop(d->app->seed);
	if (http_server_inflight(d->app->http) == 0)
		daemon_stopped(d->sig);
	else
		evtimer_add(d->tick, &tv);
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
	if (app->keys == NULL || (app->throttle = throttle_new(app->redis, &tl)) == NULL ||
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
	struct drain d = {.app = app};
	int rc = -1;

	if (app_init(app, cfg) < 0) {
		log_error(NULL, "start-up failed");
		return -1;
	}
	d.tick = event_new(app->base, -1, EV_PERSIST, drain_on_tick, &d);
	d.sig = daemon_on_signals(app->base, main_on_stop, &d, (int)cfg->drain_timeout_ms);
	if (d.tick == NULL || d.sig == NULL || http_server_listen(app->http) < 0)
		goto out;
	seed_start(app->seed);
	keyring_start(app->keys);
	if (event_base_dispatch(app->base) < 0)
		log_error(NULL, "event loop failed");
	else
		rc = 0;
	log_info(NULL, "stopped", LI("inflight", (long long)http_server_inflight(app->http)));
out:
	if (d.tick != NULL)
		event_free(d.tick);
	daemon_sig_free(d.sig);
	return rc;
}

int main(int argc, char **argv)
{
	struct identity_config cfg;
	struct identity_app app;
	char err[512];
	int rc = 1;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--help") == 0)) {
		usage(argc > 2 ? stderr : stdout);
		return argc > 2 ? 2 : 0;
	}
	if (argc == 2 && strcmp(argv[1], "--routes") == 0) {
		identity_routes_print(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--config-table") == 0) {
		config_print_table(identity_config_items, identity_config_nitems);
		return 0;
	}
	if (argc == 2) {
		usage(stderr);
		return 2;
	}
	log_init("identity", LOG_LEVEL_INFO);
	memset(&app, 0, sizeof(app));
	if (identity_config_load(&cfg, err, sizeof(err)) < 0) {
		log_error(NULL, "configuration refused", LS("error", err));
		goto out;
	}
	log_init("identity", (enum log_level)log_level_parse(cfg.common.log_level));
	config_log(identity_config_items, identity_config_nitems, &cfg);
	if (evthread_use_pthreads() != 0 || main_migrate(&cfg) < 0)
		goto out;
	if (main_run(&app, &cfg) == 0)
		rc = 0;
	app_free(&app);
out:
	identity_config_free(&cfg);
	libevent_global_shutdown();
	return rc;
}
