/*
 * main.c - the billing daemon: arguments, configuration, migrations, wiring, the loop,
 * signals and the graceful drain, then freeing everything (LeakSanitizer stays meaningful).
 *
 * Owns the struct billing_app and every object in it.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "common/amqp.h"
#include "common/daemon.h"
#include "common/http_client.h"
#include "common/metrics.h"
#include "common/migrate.h"
#include "common/outbox.h"
#include "common/svc_auth.h"
#include "billing_consumer.h"
#include "common/consumer.h"
#include "config.h"
#include "hold_store.h"
#include "pay_sweep.h"
#include "sweep.h"
#include "pay_app.h"
#include "routes.h"

#define SCHEMA "billing"
#define MIGRATE_ATTEMPTS 30 /* one per second: PostgreSQL may still be starting */

static void usage(FILE *out)
{
	fprintf(out, "usage: billing [--routes | --config-table | --help]\n"
		     "  Configuration comes from environment variables (see --config-table).\n");
}

/* The first signal: the server stops accepting (daemon_drain), then this. */
static void main_on_stop(void *arg)
{
	struct billing_app *app = arg;

	sweep_stop(app->sweep);
	sweep_stop(app->pay_sweep);
}

static struct pg_pool *main_pg(const struct billing_app *app)
{
	struct pg_pool_opts o;

	pg_pool_opts_default(&o);
	o.conninfo = app->cfg->database_url;
	o.size = (int)app->cfg->db_pool_size;
	o.query_timeout_ms = (int)app->cfg->db_query_timeout_ms;
	o.search_path = SCHEMA;
	return pg_pool_new(app->base, &o);
}

/* Publisher (the outbox relay) and consumer (identity.user.registered.v1). */
static struct amqp *main_amqp(const struct billing_app *app)
{
	struct amqp_opts o;

	amqp_opts_default(&o);
	o.host = app->cfg->common.amqp_host;
	o.port = (int)app->cfg->common.amqp_port;
	o.user = app->cfg->common.amqp_user;
	o.password = app->cfg->common.amqp_password;
	o.vhost = app->cfg->common.amqp_vhost;
	o.service = "billing";
	o.metrics = app->metrics;
	return amqp_new(app->base, &o);
}

static struct outbox *main_outbox(const struct billing_app *app)
{
	struct outbox_opts o;

	outbox_opts_default(&o, app->schema);
	o.batch = (int)app->cfg->outbox_batch;
	o.poll_ms = (int)app->cfg->outbox_poll_ms;
	o.metrics = app->metrics;
	return outbox_new(app->base, app->pg, app->amqp, &o);
}

/* identity, for its JWKS (service tokens). */
static struct http_client *main_identity(const struct billing_app *app)
{
	struct http_client_opts o;
	struct http_client *c;
	char *host = NULL;
	int port;

	if (http_url_parse(app->cfg->common.identity_url, &host, &port) < 0) {
		log_error(NULL, "bad FR_IDENTITY_URL");
		return NULL;
	}
	http_client_opts_default(&o);
	o.host = host;
	o.port = port;
	c = http_client_new(app->base, &o);
	free(host);
	return c;
}

static bool main_pg_ready(void *pg)
{
	return pg_pool_ready(pg);
}

/* Info only: while the broker is down billing keeps serving and its events wait. */
static bool main_amqp_ready(void *amqp)
{
	return amqp_ready(amqp);
}

static struct http_server *main_http(struct billing_app *app)
{
	struct http_server_opts o;
	struct http_server *s;

	if ((app->routes = billing_routes_build(&app->nroutes)) == NULL)
		return NULL;
	http_server_opts_default(&o, "billing");
	o.bind_addr = app->cfg->bind;
	o.port = (int)app->cfg->port;
	o.max_body_bytes = (size_t)app->cfg->max_body_bytes;
	o.access_log = app->cfg->access_log;
	o.metrics = app->metrics;
	s = http_server_new(app->base, &o, app->routes, app->nroutes, app);
	if (s == NULL)
		return NULL;
	http_server_add_ready_check(s, "postgres", main_pg_ready, app->pg);
	http_server_add_ready_check(s, "service_keys", svc_verifier_ready, app->svc);
	http_server_add_info_check(s, "amqp", main_amqp_ready, app->amqp);
	return s;
}

/* Builds every member of app; -1 when one cannot be created (app_free cleans up). */
static int app_init(struct billing_app *app, const struct billing_config *cfg)
{
	app->cfg = cfg;
	app->schema = SCHEMA;
	if ((app->base = event_base_new()) == NULL || (app->metrics = metrics_new()) == NULL ||
	    (app->pg = main_pg(app)) == NULL || (app->amqp = main_amqp(app)) == NULL ||
	    (app->outbox = main_outbox(app)) == NULL ||
	    (app->identity = main_identity(app)) == NULL)
		return -1;
	app->svc = svc_verifier_new_jwks(app->base, app->identity, "billing",
					 cfg->common.jwt_issuer);
	if (app->svc == NULL || (app->consumer = billing_consumer_start(app)) == NULL ||
	    (app->sweep = sweep_new(app, "holds", hold_store_expire_batch)) == NULL ||
	    (app->pay_sweep = sweep_new(app, "payments", pay_expire_batch)) == NULL ||
	    (app->pay = pay_app_new(app)) == NULL ||
	    (app->http = main_http(app)) == NULL)
		return -1;
	return 0;
}

/* Frees in dependency order: what may still call back into others goes first. */
static void app_free(struct billing_app *app)
{
	atomic_store(&app->stopping, true);
	sweep_stop(app->sweep);
	sweep_stop(app->pay_sweep);
	/* outbox -> amqp -> pool (outbox.h): the relay's pending callbacks run in their shutdown */
	if (app->outbox != NULL) {
		struct outbox *ob = app->outbox;
		app->outbox = NULL; /* no more kicks */
		outbox_free(ob);
	}
	/* amqp_free right after consumer_free, no loop turn between (consumer.h) */
	if (app->consumer != NULL)
		consumer_free(app->consumer);
	if (app->amqp != NULL) {
		struct amqp *a = app->amqp;
		app->amqp = NULL;
		amqp_free(a); /* unconfirmed publishes fail: their rows stay unsent */
	}
	pay_app_free(app->pay); /* provider calls in flight answer now, while pg still works */
	app->pay = NULL;
	if (app->svc != NULL)
		svc_verifier_free(app->svc);
	if (app->identity != NULL)
		http_client_free(app->identity);
	if (app->pg != NULL)
		pg_pool_free(app->pg); /* pending queries fail now; their callbacks reply */
	sweep_free(app->sweep); /* its round's callbacks ran in the pool's shutdown */
	sweep_free(app->pay_sweep);
	if (app->http != NULL)
		http_server_free(app->http);
	free(app->routes);
	if (app->metrics != NULL)
		metrics_free(app->metrics);
	if (app->base != NULL)
		event_base_free(app->base);
}

static int main_run(struct billing_app *app, const struct billing_config *cfg)
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
	sweep_start(app->sweep);
	sweep_start(app->pay_sweep);
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
	struct billing_config cfg;
	struct billing_app app;
	char err[512];
	int rc = 1;

	rc = daemon_cli(argc, argv, usage, billing_routes_print, billing_config_items,
			billing_config_nitems);
	if (rc >= 0)
		return rc;
	rc = 1;
	log_init("billing", LOG_LEVEL_INFO);
	memset(&app, 0, sizeof(app));
	if (billing_config_load(&cfg, err, sizeof(err)) < 0) {
		log_error(NULL, "configuration refused", LS("error", err));
		goto out;
	}
	log_init("billing", (enum log_level)log_level_parse(cfg.common.log_level));
	config_log(billing_config_items, billing_config_nitems, &cfg);
	/* migrations before anything serves (blocking on purpose, on their own connection) */
	if (evthread_use_pthreads() != 0 ||
	    migrate_run_retry(cfg.database_url, SCHEMA, cfg.migrations_dir, MIGRATE_ATTEMPTS) < 0)
		goto out;
	if (main_run(&app, &cfg) == 0)
		rc = 0;
	app_free(&app);
out:
	billing_config_free(&cfg);
	libevent_global_shutdown();
	return rc;
}
