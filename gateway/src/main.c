/*
 * main.c - the gateway daemon: arguments, configuration, wiring, the loop, signals and a
 * graceful drain. Everything created here is freed here, in reverse order, so LeakSanitizer
 * reports mean something.
 *
 *   gateway                 run (configuration from the environment, see --config-table)
 *   gateway --routes        print "METHOD PATTERN" per public route and exit
 *   gateway --config-table  print the environment variables as a markdown table and exit
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/amqp.h"
#include "common/config.h"
#include "common/consumer.h"
#include "common/daemon.h"
#include "common/http.h"
#include "common/http_client.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redis.h"
#include "common/svc_token.h"
#include "apikey.h"
#include "config.h"
#include "extra_routes.h"
#include "gateway.h"
#include "gw_metrics.h"
#include "jwks.h"
#include "ratelimit.h"
#include "routes.h"
#include "session_check.h"
#include "session_events.h"
#include "token_cache.h"
#include "upstreams.h"

#define GW_DRAIN_POLL_MS 20
/* Polls with nothing in flight before the loop stops: the last replies are queued on their
 * connections when the request is freed, and need a loop turn or two to be written out. */
#define GW_DRAIN_QUIET_POLLS 3

struct gw_main {
	struct gw_config cfg;
	struct gateway gw;
	struct extra_routes extra;
	struct http_route *routes;
	size_t nroutes;
	struct daemon_sig *sig;
	struct event *drain_poll;
	int quiet_polls; /* consecutive drain polls that found nothing in flight */
};

static void gw_usage(FILE *out)
{
	fprintf(out, "usage: gateway [--routes | --config-table | --help]\n"
		     "Configuration comes from the environment; see --config-table.\n");
}

/* ---- readiness and gauges ------------------------------------------------------------------ */

static bool gw_identity_ready(void *arg)
{
	struct gateway *gw = arg;

	return upstream_ready(gw->identity);
}

/* Informational only: without the broker revocations take effect through the cache TTLs. */
static bool gw_amqp_ready(void *arg)
{
	struct gateway *gw = arg;

	return amqp_ready(gw->amqp);
}

static double gw_token_cache_entries(void *arg)
{
	return (double)token_cache_count(arg);
}

static double gw_session_l1_entries(void *arg)
{
	return (double)session_check_l1_count(arg);
}

static double gw_identity_conns(void *arg)
{
	const struct upstream *up = arg;

	return (double)http_client_open_conns(up->client);
}

/* ---- shutdown ------------------------------------------------------------------------------ */

static void gw_on_drain_poll(evutil_socket_t fd, short what, void *arg)
{
	struct gw_main *m = arg;
	struct timeval tv = {0, GW_DRAIN_POLL_MS * 1000};
	bool idle = http_server_inflight(m->gw.server) == 0;

	if (idle) /* the last API-key usage counts (no-op when none, or a report is in flight) */
		apikey_cache_flush(m->gw.apikeys);
	idle = idle && !apikey_cache_flushing(m->gw.apikeys);
	m->quiet_polls = idle ? m->quiet_polls + 1 : 0;
	if (m->quiet_polls >= GW_DRAIN_QUIET_POLLS) {
		log_info(NULL, "drained");
		daemon_stopped(m->sig);
		return;
	}
	evtimer_add(m->drain_poll, &tv);
}

static void gw_on_stop(void *arg)
{
	struct gw_main *m = arg;
	struct timeval tv = {0, 0};

	m->gw.stopping = true;
	http_server_shutdown(m->gw.server);
	evtimer_add(m->drain_poll, &tv);
}

/* Frees everything, in an order where no callback can reach a freed object: first stop new
 * work (revocation events, JWKS timers, session waiters), then Redis and the upstream pools
 * (their pending callbacks run now and answer their requests), then the server. */
static void gw_teardown(struct gw_main *m)
{
	struct gateway *gw = &m->gw;

	if (m->drain_poll != NULL)
		event_free(m->drain_poll);
	/* amqp_free right after consumer_free, no loop turn between (consumer.h). */
	consumer_free(gw->revocations);
	if (gw->amqp != NULL)
		amqp_free(gw->amqp);
	jwks_close(gw->jwks);
	session_check_close(gw->sessions);
	apikey_cache_close(gw->apikeys);
	ratelimit_free(gw->rl); /* before Redis: waiting decisions are answered locally */
	if (gw->redis != NULL)
		redis_free(gw->redis);
	svc_tokens_free(gw->svc_tokens); /* waiting calls fail; sent ones are the client's */
	if (gw->identity_svc != NULL)
		http_client_free(gw->identity_svc);
	upstreams_free(gw->ups);
	session_check_free(gw->sessions);
	apikey_cache_free(gw->apikeys); /* after Redis and the identity clients: no callback left */
	jwks_free(gw->jwks);
	if (gw->server != NULL)
		http_server_free(gw->server);
	daemon_sig_free(m->sig);
	token_cache_free(gw->tokens);
	free(m->routes);
	metrics_free(gw->metrics);
	cors_free(&gw->cors);
	extra_routes_free(&m->extra);
	if (gw->base != NULL)
		event_base_free(gw->base);
	gw_config_free(&m->cfg);
}

/* ---- wiring -------------------------------------------------------------------------------- */

static int gw_make_redis(struct gw_main *m)
{
	struct redis_opts ro;

	redis_opts_default(&ro);
	ro.host = m->cfg.common.redis_host;
	ro.port = (int)m->cfg.common.redis_port;
	ro.password = m->cfg.common.redis_password;
	m->gw.redis = redis_new(m->gw.base, &ro);
	return m->gw.redis != NULL ? 0 : -1;
}

/* The rate limiter on the shared Redis connection, with its own (short) deadline. */
static int gw_make_ratelimit(struct gw_main *m)
{
	struct ratelimit_opts o;

	ratelimit_opts_default(&o);
	o.enabled = m->cfg.rl_enabled;
	o.redis_timeout_ms = m->cfg.rl_redis_timeout_ms;
	m->gw.rl = ratelimit_new_opts(m->gw.base, m->gw.redis, m->gw.metrics, &o);
	return m->gw.rl != NULL ? 0 : -1;
}

/* The service-token source and its own client to identity (never the proxy pool), for the
 * gateway's service calls (API-key validation, usage). */
static int gw_make_svc(struct gw_main *m)
{
	struct http_client_opts o;
	char secret[256];
	char *host = NULL;

	http_client_opts_default(&o);
	if (http_url_parse(m->cfg.common.identity_url, &host, &o.port) < 0) {
		log_error(NULL, "bad FR_IDENTITY_URL");
		return -1;
	}
	o.host = host;
	o.max_conns = 8;
	m->gw.identity_svc = http_client_new(m->gw.base, &o);
	free(host);
	if (m->gw.identity_svc == NULL ||
	    fr_common_service_secret(&m->cfg.common, secret, sizeof(secret)) < 0)
		return -1;
	m->gw.svc_tokens = svc_tokens_new(m->gw.base, m->gw.identity_svc,
					  m->cfg.common.service_client_id, secret);
	explicit_bzero(secret, sizeof(secret));
	return m->gw.svc_tokens != NULL ? 0 : -1;
}

/* The API-key cache: Redis, then identity through the service-token client. */
static int gw_make_apikeys(struct gw_main *m)
{
	const struct apikey_cache_opts o = {m->cfg.apikey_l1_ttl_ms, (size_t)m->cfg.apikey_l1_size,
					    m->cfg.apikey_usage_flush_ms};

	m->gw.apikeys = apikey_cache_new(m->gw.base, m->gw.redis, m->gw.svc_tokens,
					 m->gw.identity_svc, m->gw.metrics, &o);
	return m->gw.apikeys != NULL ? 0 : -1;
}

/* The broker bridge and the revocation consumer. The broker need not be up: the bridge
 * connects (and reconnects) in the background. */
static int gw_make_events(struct gw_main *m)
{
	struct gateway *gw = &m->gw;
	struct amqp_opts ao;

	amqp_opts_default(&ao);
	ao.host = m->cfg.common.amqp_host;
	ao.port = (int)m->cfg.common.amqp_port;
	ao.user = m->cfg.common.amqp_user;
	ao.password = m->cfg.common.amqp_password;
	ao.vhost = m->cfg.common.amqp_vhost;
	ao.service = "gateway";
	ao.metrics = gw->metrics;
	if ((gw->amqp = amqp_new(gw->base, &ao)) == NULL)
		return -1;
	gw->revocations = session_events_start(gw->amqp, gw);
	return gw->revocations != NULL ? 0 : -1;
}

static int gw_make_server(struct gw_main *m)
{
	struct gateway *gw = &m->gw;
	struct http_server_opts o;

	http_server_opts_default(&o, "gateway");
	o.bind_addr = m->cfg.bind;
	o.port = (int)m->cfg.port;
	o.max_body_bytes = (size_t)m->cfg.max_body_bytes;
	o.max_header_bytes = (size_t)m->cfg.max_header_bytes;
	o.read_timeout_ms = (int)m->cfg.read_timeout_ms;
	o.idle_timeout_ms = (int)m->cfg.idle_timeout_ms;
	o.write_timeout_ms = (int)m->cfg.write_timeout_ms;
	o.max_connections = (int)m->cfg.max_connections;
	o.access_log = m->cfg.access_log;
	o.metrics = gw->metrics;
	m->routes = gw_routes_build(&m->extra, &m->nroutes);
	if (m->routes == NULL)
		return -1;
	gw->server = http_server_new(gw->base, &o, m->routes, m->nroutes, gw);
	if (gw->server == NULL)
		return -1;
	http_server_add_ready_check(gw->server, "jwks", jwks_ready, gw->jwks);
	http_server_add_ready_check(gw->server, "identity", gw_identity_ready, gw);
	http_server_add_info_check(gw->server, "amqp", gw_amqp_ready, gw);
	return http_server_listen(gw->server);
}

static int gw_wire(struct gw_main *m, char *err, size_t errlen)
{
	struct gateway *gw = &m->gw;
	struct session_check_opts so;

	gw->cfg = &m->cfg;
	gw->verify = (struct jwt_verify_opts){m->cfg.common.jwt_issuer, m->cfg.common.jwt_audience,
					      GW_JWT_LEEWAY_S, 0};
	if (extra_routes_parse(m->cfg.extra_routes, &m->extra, err, errlen) < 0 ||
	    cors_init(&gw->cors, m->cfg.cors_origins, err, errlen) < 0)
		return -1;
	snprintf(err, errlen, "start-up failed (see the log)");
	if ((gw->base = event_base_new()) == NULL || (gw->metrics = metrics_new()) == NULL)
		return -1;
	gw_metrics_declare(gw->metrics);
	if ((gw->ups = upstreams_new(gw->base, &m->cfg, &m->extra, err, errlen)) == NULL)
		return -1;
	gw->identity = upstreams_get(gw->ups, "identity");
	if (gw_make_redis(m) < 0 ||
	    (gw->tokens = token_cache_new((size_t)m->cfg.token_cache_size)) == NULL ||
	    (gw->jwks = jwks_new(gw->base, gw->identity, gw->tokens, m->cfg.jwks_refresh_s)) == NULL)
		return -1;
	so = (struct session_check_opts){m->cfg.common.internal_secret, m->cfg.session_l1_ttl_ms,
					 (size_t)m->cfg.session_l1_size, m->cfg.session_redis_ttl_s};
	if ((gw->sessions = session_check_new(gw->redis, gw->identity, gw->metrics, &so)) == NULL)
		return -1;
	if (gw_make_ratelimit(m) < 0 || gw_make_svc(m) < 0 || gw_make_apikeys(m) < 0)
		return -1;
	metrics_gauge_fn(gw->metrics, "gateway_token_cache_entries", NULL, gw_token_cache_entries,
			 gw->tokens);
	metrics_gauge_fn(gw->metrics, "gateway_session_l1_entries", NULL, gw_session_l1_entries,
			 gw->sessions);
	metrics_gauge_fn(gw->metrics, "gateway_upstream_open_connections", "service=\"identity\"",
			 gw_identity_conns, gw->identity);
	if (gw_make_events(m) < 0 || gw_make_server(m) < 0)
		return -1;
	m->drain_poll = evtimer_new(gw->base, gw_on_drain_poll, m);
	m->sig = daemon_on_signals(gw->base, gw_on_stop, m, (int)m->cfg.drain_timeout_ms);
	return m->drain_poll != NULL && m->sig != NULL ? 0 : -1;
}

static int gw_run(void)
{
	static struct gw_main m; /* static: large (the extra-route table) and single */
	char err[256] = "";
	int rc = 1;

	if (gw_config_load(&m.cfg, err, sizeof(err)) < 0) {
		log_init("gateway", LOG_LEVEL_INFO);
		log_error(NULL, "bad configuration", LS("error", err));
		goto out;
	}
	log_init("gateway", (enum log_level)log_level_parse(m.cfg.common.log_level));
	config_log(gw_config_items, gw_config_nitems, &m.cfg);
	if (gw_wire(&m, err, sizeof(err)) < 0) {
		log_error(NULL, "cannot start", LS("error", err));
		goto out;
	}
	log_info(NULL, "listening", LS("bind", m.cfg.bind), LI("port", http_server_port(m.gw.server)),
		 LI("routes", m.nroutes), LI("extra_routes", m.extra.n));
	jwks_start(m.gw.jwks);
	event_base_dispatch(m.gw.base);
	log_info(NULL, "stopped", LI("inflight", http_server_inflight(m.gw.server)));
	rc = 0;
out:
	gw_teardown(&m);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = daemon_cli(argc, argv, gw_usage, gw_routes_print, gw_config_items, gw_config_nitems);

	return rc >= 0 ? rc : gw_run();
}
