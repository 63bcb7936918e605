/*
 * event_probe.c - a small real event consumer for the end-to-end fault tests.
 *
 * Consumes one queue (FR_PROBE_QUEUE, bound to FR_PROBE_BINDING on flatrender.events)
 * through libcommon's consumer WITH its inbox, exactly as a service would, and records every
 * applied event in <schema>.applied inside the message's transaction:
 *
 *   INSERT INTO probe.applied(event_id, event_type, user_id) VALUES (...)
 *   ON CONFLICT (event_id) DO UPDATE SET applied_count = applied.applied_count + 1
 *
 * so an event applied twice (an inbox that failed to de-duplicate) shows applied_count 2.
 * An envelope whose data.user_id is missing or not a UUID is poison (dead-lettered at once).
 * Creates its schema (inbox + applied) at start-up, idempotently, with blocking DDL before
 * the loop starts. FR_FAULT_EXIT_AFTER_COMMIT=<queue> makes it _exit(3) after a commit and
 * before the ack (consumer.c). With FR_PROBE_PORT > 0 it serves /healthz, /readyz (postgres
 * and amqp) and /metrics (consumer_messages_total{queue,outcome}, ...) on 127.0.0.1.
 * SIGTERM / SIGINT: stops, frees everything, exits 0. Logs JSON lines (log.h).
 *
 * Owns struct probe and every object in it.
 */
#include <event2/event.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/amqp.h"
#include "common/config.h"
#include "common/consumer.h"
#include "common/crypto.h"
#include "common/daemon.h"
#include "common/event.h"
#include "common/http.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/outbox.h"
#include "common/pg.h"

#define PROBE_SQL_MAX 512

struct probe_config {
	char *log_level;
	char *database_url;
	char *schema;
	char *queue;
	char *binding;
	long max_attempts;
	long retry_delay_ms;
	long port;
	long pool_size;
	long prefetch;
	char *amqp_host;
	long amqp_port;
	char *amqp_user;
	char *amqp_password;
	char *amqp_vhost;
};

#define ROW(env, type, def, secret, field, min, max, help)                                         \
	CFG_ROW(env, type, def, secret, struct probe_config, field, min, max, help)

static const struct cfg_item probe_items[] = {
	ROW("FR_LOG_LEVEL", CFG_STR, "info", false, log_level, 0, 0, "debug, info, warn or error"),
	ROW("FR_PROBE_DATABASE_URL", CFG_STR, NULL, true, database_url, 0, 0,
	    "PostgreSQL URI; the role must be able to create the schema"),
	ROW("FR_PROBE_SCHEMA", CFG_STR, "probe", false, schema, 0, 0,
	    "schema holding inbox and applied (created at start-up)"),
	ROW("FR_PROBE_QUEUE", CFG_STR, "probe.user-registered", false, queue, 0, 0,
	    "the quorum queue consumed (with .retry and .dlq)"),
	ROW("FR_PROBE_BINDING", CFG_STR, "identity.user.registered.v1", false, binding, 0, 0,
	    "binding key on flatrender.events"),
	ROW("FR_PROBE_MAX_ATTEMPTS", CFG_INT, "3", false, max_attempts, 1, 100,
	    "deliveries before dead-lettering"),
	ROW("FR_PROBE_RETRY_DELAY_MS", CFG_INT, "200", false, retry_delay_ms, 1, 3600000,
	    "TTL of <queue>.retry"),
	ROW("FR_PROBE_PORT", CFG_INT, "0", false, port, 0, 65535,
	    "HTTP port for /healthz /readyz /metrics on 127.0.0.1; 0 = no HTTP"),
	ROW("FR_PROBE_DB_POOL_SIZE", CFG_INT, "4", false, pool_size, 1, 64,
	    "PostgreSQL connections"),
	ROW("FR_PROBE_PREFETCH", CFG_INT, "64", false, prefetch, 1, 65535,
	    "unacked deliveries at a time"),
	ROW("FR_AMQP_HOST", CFG_STR, "127.0.0.1", false, amqp_host, 0, 0, "RabbitMQ host"),
	ROW("FR_AMQP_PORT", CFG_INT, "5672", false, amqp_port, 1, 65535, "RabbitMQ port"),
	ROW("FR_AMQP_USER", CFG_STR, "guest", false, amqp_user, 0, 0, "RabbitMQ user"),
	ROW("FR_AMQP_PASSWORD", CFG_STR, "guest", true, amqp_password, 0, 0, "RabbitMQ password"),
	ROW("FR_AMQP_VHOST", CFG_STR, "/", false, amqp_vhost, 0, 0, "RabbitMQ virtual host"),
};
#define PROBE_NITEMS (sizeof(probe_items) / sizeof(probe_items[0]))

struct probe {
	const struct probe_config *cfg;
	struct event_base *base;
	struct metrics *metrics;
	struct pg_pool *pg;
	struct amqp *amqp;
	struct consumer *consumer;
	struct http_server *http;
	struct daemon_sig *sig;
	const char *keys[2];
	struct amqp_queue_spec spec;
	char sql_apply[PROBE_SQL_MAX];
};

/* ---- start-up: the schema (blocking, before the loop) ----------------------------------- */

static void probe_quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Creates <schema>.inbox and <schema>.applied when absent; serialised by an advisory lock so
 * two probes starting together do not race on CREATE ... IF NOT EXISTS. */
static int probe_create_schema(const struct probe_config *cfg)
{
	char sql[1536];
	PGconn *c = NULL;
	PGresult *r = NULL;
	int rc = -1;

	snprintf(sql, sizeof(sql),
		 "SELECT pg_advisory_lock(hashtext('event_probe:%s'));"
		 "CREATE SCHEMA IF NOT EXISTS \"%s\";"
		 "CREATE TABLE IF NOT EXISTS \"%s\".inbox (event_id uuid PRIMARY KEY,"
		 " event_type text NOT NULL, received_at timestamptz NOT NULL DEFAULT now());"
		 "CREATE TABLE IF NOT EXISTS \"%s\".applied (event_id uuid PRIMARY KEY,"
		 " event_type text, user_id uuid, applied_count int NOT NULL DEFAULT 1,"
		 " applied_at timestamptz NOT NULL DEFAULT now());"
		 "SELECT pg_advisory_unlock(hashtext('event_probe:%s'));",
		 cfg->schema, cfg->schema, cfg->schema, cfg->schema, cfg->schema);
	c = PQconnectdb(cfg->database_url);
	if (PQstatus(c) != CONNECTION_OK) {
		log_error(NULL, "database connection failed", LS("error", PQerrorMessage(c)));
		goto out;
	}
	PQsetNoticeProcessor(c, probe_quiet_notice, NULL);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		log_error(NULL, "schema creation failed", LS("error", PQerrorMessage(c)));
		goto out;
	}
	rc = 0;
out:
	PQclear(r);
	PQfinish(c);
	return rc;
}

/* ---- the handler: one INSERT .. ON CONFLICT inside the message's transaction -------------- */

static void probe_on_applied(const struct pg_result *r, void *arg)
{
	struct consumer_msg *m = arg;

	if (r->err) {
		consumer_done(m, CONSUMER_RETRY, "applied insert failed");
		return;
	}
	consumer_done(m, CONSUMER_OK, NULL);
}

/* data.user_id as a UUID string, or NULL with the poison reason in *why. */
static const char *probe_user_id(const struct event_msg *ev, const char **why)
{
	json_object *v = NULL;
	const char *s;

	if (!ev->data || !json_object_object_get_ex(ev->data, "user_id", &v) || v == NULL) {
		*why = "data.user_id is missing";
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		*why = "data.user_id is not a string";
		return NULL;
	}
	s = json_object_get_string(v);
	if (!uuid_valid(s)) {
		*why = "data.user_id is not a UUID";
		return NULL;
	}
	return s;
}

static void probe_handle(struct consumer_msg *m, const struct event_msg *ev, void *arg)
{
	struct probe *p = arg;
	const char *why = NULL, *uid = probe_user_id(ev, &why);
	const char *params[3] = {ev->event_id, ev->event_type, uid};
	struct pg_tx *tx = consumer_tx(m);

	if (!uid) {
		consumer_done(m, CONSUMER_POISON, why);
		return;
	}
	log_info(NULL, "applying event", LS("event_id", ev->event_id),
		 LS("event_type", ev->event_type), LS("user_id", uid));
	if (!tx || pg_tx_query(tx, p->sql_apply, 3, params, probe_on_applied, m) != 0)
		consumer_done(m, CONSUMER_RETRY, "applied insert refused");
}

/* ---- wiring ------------------------------------------------------------------------------- */

static bool probe_pg_ready(void *arg)
{
	return pg_pool_ready(arg);
}

static bool probe_amqp_ready(void *arg)
{
	return amqp_ready(arg);
}

static void probe_on_stop(void *arg)
{
	struct probe *p = arg;

	log_info(NULL, "stopping");
	if (p->http)
		http_server_shutdown(p->http);
	daemon_stopped(p->sig); /* messages in flight are abandoned: the broker redelivers */
}

static int probe_http(struct probe *p)
{
	struct http_server_opts o;

	if (p->cfg->port == 0)
		return 0;
	http_server_opts_default(&o, "event_probe");
	o.bind_addr = "127.0.0.1";
	o.port = (int)p->cfg->port;
	o.access_log = false;
	o.metrics = p->metrics;
	p->http = http_server_new(p->base, &o, NULL, 0, p);
	if (!p->http)
		return -1;
	http_server_add_ready_check(p->http, "postgres", probe_pg_ready, p->pg);
	http_server_add_ready_check(p->http, "amqp", probe_amqp_ready, p->amqp);
	return http_server_listen(p->http);
}

static int probe_init(struct probe *p, const struct probe_config *cfg)
{
	struct pg_pool_opts po;
	struct amqp_opts ao;
	struct consumer_opts co = {0};

	p->cfg = cfg;
	if (!(p->base = event_base_new()) || !(p->metrics = metrics_new()))
		return -1;
	pg_pool_opts_default(&po);
	po.conninfo = cfg->database_url;
	po.size = (int)cfg->pool_size;
	if (!(p->pg = pg_pool_new(p->base, &po)))
		return -1;
	amqp_opts_default(&ao);
	ao.host = cfg->amqp_host;
	ao.port = (int)cfg->amqp_port;
	ao.user = cfg->amqp_user;
	ao.password = cfg->amqp_password;
	ao.vhost = cfg->amqp_vhost;
	ao.service = "event_probe";
	ao.prefetch = (int)cfg->prefetch;
	ao.metrics = p->metrics;
	if (!(p->amqp = amqp_new(p->base, &ao)))
		return -1;
	p->keys[0] = cfg->binding;
	p->spec.name = cfg->queue;
	p->spec.binding_keys = p->keys;
	p->spec.max_attempts = (int)cfg->max_attempts;
	p->spec.retry_delay_ms = (int)cfg->retry_delay_ms;
	co.queue = &p->spec;
	co.pg = p->pg;
	co.schema = cfg->schema;
	co.metrics = p->metrics;
	if (!(p->consumer = consumer_new(p->amqp, &co, probe_handle, p)))
		return -1;
	p->sig = daemon_on_signals(p->base, probe_on_stop, p, 5000);
	if (!p->sig)
		return -1;
	return probe_http(p);
}

/* The documented order: consumer, then at once the bridge, then the pool. */
static void probe_free(struct probe *p)
{
	if (p->http)
		http_server_free(p->http);
	consumer_free(p->consumer);
	if (p->amqp)
		amqp_free(p->amqp);
	if (p->pg)
		pg_pool_free(p->pg);
	daemon_sig_free(p->sig);
	if (p->metrics)
		metrics_free(p->metrics);
	if (p->base)
		event_base_free(p->base);
}

static int probe_check_config(struct probe_config *cfg, char *sql, size_t cap)
{
	if (log_level_parse(cfg->log_level) < 0) {
		log_error(NULL, "FR_LOG_LEVEL is not debug, info, warn or error");
		return -1;
	}
	if (!outbox_schema_valid(cfg->schema)) {
		log_error(NULL, "FR_PROBE_SCHEMA must be a plain lower-case identifier");
		return -1;
	}
	if (!*cfg->queue || !*cfg->binding || strchr(cfg->binding, ' ')) {
		log_error(NULL, "FR_PROBE_QUEUE and FR_PROBE_BINDING must be set (no spaces)");
		return -1;
	}
	snprintf(sql, cap,
		 "INSERT INTO \"%s\".applied(event_id, event_type, user_id) VALUES ($1, $2, $3) "
		 "ON CONFLICT (event_id) DO UPDATE SET applied_count = applied.applied_count + 1",
		 cfg->schema);
	return 0;
}

int main(int argc, char **argv)
{
	struct probe_config cfg;
	struct probe p;
	char err[256];
	int rc = 1;

	memset(&cfg, 0, sizeof(cfg));
	memset(&p, 0, sizeof(p));
	if (argc == 2 && strcmp(argv[1], "--config-table") == 0) {
		config_print_table(probe_items, PROBE_NITEMS);
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr,
			"usage: event_probe [--config-table]  (configured by environment)\n");
		return 2;
	}
	log_init("event_probe", LOG_LEVEL_INFO);
	if (config_load(probe_items, PROBE_NITEMS, &cfg, err, sizeof(err)) != 0) {
		log_error(NULL, "configuration refused", LS("error", err));
		goto out;
	}
	if (probe_check_config(&cfg, p.sql_apply, sizeof(p.sql_apply)) != 0)
		goto out;
	log_init("event_probe", (enum log_level)log_level_parse(cfg.log_level));
	config_log(probe_items, PROBE_NITEMS, &cfg);
	if (probe_create_schema(&cfg) != 0)
		goto out;
	if (probe_init(&p, &cfg) != 0) {
		log_error(NULL, "start-up failed");
		goto out;
	}
	log_info(NULL, "consuming", LS("queue", cfg.queue), LS("binding", cfg.binding),
		 LI("port", p.http ? http_server_port(p.http) : 0));
	if (event_base_dispatch(p.base) < 0)
		log_error(NULL, "event loop failed");
	else
		rc = 0;
	log_info(NULL, "stopped");
out:
	probe_free(&p);
	config_free(probe_items, PROBE_NITEMS, &cfg);
	libevent_global_shutdown();
	return rc;
}
