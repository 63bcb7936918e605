/*
 * http_server.c - the HTTP server object: options, the listener, readiness checks, the
 * built-in /healthz, /readyz and /metrics routes, graceful shutdown and teardown.
 *
 * Owns struct http_server: its listener, compiled router, connections (http_conn.c),
 * request objects (http_request.c) and copies of the option strings. The route table,
 * app pointer and metrics registry are borrowed.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/metrics.h"
#include "http_internal.h"

#define LINGER_MS 1000
#define ACCEPT_RETRY_MS 100

void http_server_opts_default(struct http_server_opts *o, const char *service)
{
	memset(o, 0, sizeof(*o));
	o->service = service;
	o->bind_addr = "127.0.0.1";
	o->port = 0;
	o->max_header_bytes = 16384;
	o->max_body_bytes = 1048576;
	o->read_timeout_ms = 30000;
	o->idle_timeout_ms = 60000;
	o->write_timeout_ms = 30000;
	o->max_connections = 10000;
	o->access_log = true;
	o->metrics = NULL;
}

/* ---- built-in routes ---------------------------------------------------------------------- */

static void builtin_healthz(struct http_request *r, void *app)
{
	static const char body[] = "{\"status\":\"ok\"}";
	http_reply_raw(r, 200, "application/json", body, sizeof(body) - 1);
}

static void builtin_readyz(struct http_request *r, void *app)
{
	struct http_server *s = r->srv;
	bool ready = !s->shutting_down;
	json_object *checks = json_object_new_object();
	for (size_t i = 0; i < s->nchecks; i++) {
		bool ok = s->checks[i].fn(s->checks[i].arg);
		json_object_object_add(checks, s->checks[i].name, json_object_new_boolean(ok));
		if (s->checks[i].gating)
			ready = ready && ok;
	}
	json_object *body = json_object_new_object();
	json_object_object_add(body, "status", json_object_new_string(ready ? "ready" : "not_ready"));
	json_object_object_add(body, "checks", checks);
	if (s->shutting_down)
		json_object_object_add(body, "shutting_down", json_object_new_boolean(true));
	http_reply_json(r, ready ? 200 : 503, body);
}

static void builtin_metrics(struct http_request *r, void *app)
{
	struct http_server *s = r->srv;
	size_t len = 0;
	char *text = s->opts.metrics ? metrics_render(s->opts.metrics, &len) : NULL;
	http_reply_raw(r, 200, "text/plain; version=0.0.4", text ? text : "", text ? len : 0);
	free(text);
}

static const struct http_route builtin_routes[] = {
	{HTTP_GET, "/healthz", builtin_healthz, 0, NULL},
	{HTTP_GET, "/readyz", builtin_readyz, 0, NULL},
	{HTTP_GET, "/metrics", builtin_metrics, 0, NULL},
};

/* ---- listener ----------------------------------------------------------------------------- */

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen,
		      void *arg)
{
	http_conn_accept(arg, fd, sa, socklen);
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *s = arg;
	if (s->listener && !s->shutting_down)
		evconnlistener_enable(s->listener);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct http_server *s = arg;
	int err = EVUTIL_SOCKET_ERROR();
	log_error(NULL, "http accept failed", LS("error", evutil_socket_error_to_string(err)));
	/* out of descriptors: back off instead of spinning on the ready listener */
	struct timeval tv = {0, ACCEPT_RETRY_MS * 1000};
	evconnlistener_disable(l);
	evtimer_add(s->accept_retry, &tv);
}

static const struct timeval *common_tv(struct event_base *b, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	const struct timeval *c = event_base_init_common_timeout(b, &tv);
	return c ? c : NULL;
}

struct http_server *http_server_new(struct event_base *base, const struct http_server_opts *o,
				    const struct http_route *routes, size_t nroutes, void *app)
{
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->base = base;
	s->opts = *o;
	s->app = app;
	s->service = strdup(o->service ? o->service : "http");
	s->bind_addr = strdup(o->bind_addr ? o->bind_addr : "127.0.0.1");
	s->accept_retry = evtimer_new(base, accept_retry_cb, s);
	if (!s->service || !s->bind_addr || !s->accept_retry ||
	    http_router_init(&s->router, builtin_routes, sizeof(builtin_routes) / sizeof(builtin_routes[0]),
			     routes, nroutes) < 0) {
		http_server_free(s);
		return NULL;
	}
	s->opts.service = s->service;
	s->opts.bind_addr = s->bind_addr;
	if (s->opts.max_header_bytes < 64)
		s->opts.max_header_bytes = 64;
	s->tv_read = common_tv(base, s->opts.read_timeout_ms > 0 ? s->opts.read_timeout_ms : 1);
	s->tv_idle = common_tv(base, s->opts.idle_timeout_ms > 0 ? s->opts.idle_timeout_ms : 1);
	s->tv_linger = common_tv(base, LINGER_MS);
	s->tv_write.tv_sec = s->opts.write_timeout_ms / 1000;
	s->tv_write.tv_usec = (s->opts.write_timeout_ms % 1000) * 1000;
	if (!s->tv_read || !s->tv_idle || !s->tv_linger) {
		http_server_free(s);
		return NULL;
	}
	if (s->opts.metrics) {
		metrics_declare(s->opts.metrics, "http_requests_total", METRIC_COUNTER,
				"HTTP requests answered, by method, route pattern and status.");
		metrics_declare(s->opts.metrics, "http_request_duration_seconds", METRIC_HISTOGRAM,
				"HTTP request latency from the first byte to the queued reply.");
	}
	return s;
}

int http_server_listen(struct http_server *s)
{
	if (s->listener)
		return 0;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char port[16];
	snprintf(port, sizeof(port), "%d", s->opts.port);
	int rc = getaddrinfo(s->bind_addr, port, &hints, &ai);
	if (rc != 0 || !ai) {
		log_error(NULL, "http listen: bad address", LS("bind", s->bind_addr),
			  LS("error", gai_strerror(rc)));
		if (ai)
			freeaddrinfo(ai);
		return -1;
	}
	s->listener = evconnlistener_new_bind(s->base, accept_cb, s,
					      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
						      LEV_OPT_CLOSE_ON_EXEC,
					      1024, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (!s->listener) {
		log_error(NULL, "http listen failed", LS("bind", s->bind_addr), LI("port", s->opts.port),
			  LS("error", strerror(errno)));
		return -1;
	}
	evconnlistener_set_error_cb(s->listener, accept_error_cb);
	log_info(NULL, "http listening", LS("service", s->service), LS("bind", s->bind_addr),
		 LI("port", http_server_port(s)));
	return 0;
}

int http_server_port(const struct http_server *s)
{
	if (!s->listener)
		return -1;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

void http_server_set_fallback(struct http_server *s, http_handler_fn fn)
{
	s->fallback = fn;
}

static void http_server_add_check(struct http_server *s, const char *name, http_ready_fn fn,
				  void *arg, bool gating)
{
	struct http_ready_check *nc = realloc(s->checks, (s->nchecks + 1) * sizeof(*nc));
	char *dup = strdup(name);
	if (!nc || !dup) {
		free(dup);
		if (nc)
			s->checks = nc;
		log_error(NULL, "http ready check: out of memory", LS("name", name));
		return;
	}
	s->checks = nc;
	s->checks[s->nchecks++] = (struct http_ready_check){dup, fn, arg, gating};
}

void http_server_add_ready_check(struct http_server *s, const char *name, http_ready_fn fn, void *arg)
{
	http_server_add_check(s, name, fn, arg, true);
}

void http_server_add_info_check(struct http_server *s, const char *name, http_ready_fn fn, void *arg)
{
	http_server_add_check(s, name, fn, arg, false);
}

/* ---- shutdown and teardown ---------------------------------------------------------------- */

void http_server_shutdown(struct http_server *s)
{
	if (s->shutting_down)
		return;
	s->shutting_down = true;
	if (s->listener)
		evconnlistener_disable(s->listener);
	evtimer_del(s->accept_retry);
	struct http_conn *c = s->conns;
	while (c) {
		struct http_conn *next = c->next;
		if (c->state == HTTP_CONN_IDLE && !c->in_process &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
			http_conn_close_idle(c);
		c = next;
	}
	log_info(NULL, "http shutting down", LS("service", s->service),
		 LI("inflight", http_server_inflight(s)));
}

size_t http_server_inflight(const struct http_server *s)
{
	size_t n = s->nlive + s->nheads;

	/* A reply already queued but not yet on the wire still counts: a daemon that stops its
	 * loop at zero must not drop the last response. Only walked while draining. */
	for (const struct http_conn *c = s->conns; c != NULL; c = c->next)
		if (c->bev != NULL && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			n++;
	return n;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	if (s->listener)
		evconnlistener_free(s->listener);
	if (s->accept_retry)
		event_free(s->accept_retry);
	while (s->conns)
		http_conn_free(s->conns);
	while (s->live)
		http_req_free(s->live);
	while (s->pool) {
		struct http_request *r = s->pool;
		s->pool = r->next;
		free(r);
	}
	http_router_free(&s->router);
	for (size_t i = 0; i < s->nchecks; i++)
		free(s->checks[i].name);
	free(s->checks);
	free(s->service);
	free(s->bind_addr);
	free(s);
}
