/*
 * daemon.c - the command line, SIGTERM/SIGINT handling and graceful shutdown for every daemon.
 *
 * Owns two libevent signal events and the drain timer. The first signal calls on_stop once
 * and arms the drain timer (when drain_timeout_ms > 0); a second signal or the timer breaks
 * the loop, and so does daemon_stopped() once the daemon has drained by itself (through an
 * activated event, so it works from inside or outside the loop). A daemon_drain owns a
 * daemon_sig and the poll timer that waits for the HTTP server's requests in flight.
 */
#include "common/daemon.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/http.h"
#include "common/log.h"

#define DAEMON_DRAIN_POLL_MS 20

struct daemon_drain {
	struct http_server *http;
	struct daemon_sig *sig;
	struct event *tick;
	void (*on_stop)(void *arg);
	void *arg;
};

struct daemon_sig {
	struct event_base *base;
	struct event *ev_term;
	struct event *ev_int;
	struct event *drain;
	struct event *stop; /* activated by daemon_stopped(); breaks the loop from inside it */
	void (*on_stop)(void *arg);
	void *arg;
	int drain_timeout_ms;
	bool stopping;
};

static void daemon_on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_sig *d = arg;

	log_warn(NULL, "drain timeout, stopping now", LI("drain_timeout_ms", d->drain_timeout_ms));
	event_base_loopbreak(d->base);
}

static void daemon_on_stop_event(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_sig *d = arg;

	event_base_loopbreak(d->base);
}

static void daemon_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_sig *d = arg;

	if (d->stopping) {
		log_warn(NULL, "second signal, stopping now", LI("signal", sig));
		event_base_loopbreak(d->base);
		return;
	}
	d->stopping = true;
	log_info(NULL, "shutting down", LI("signal", sig), LI("drain_timeout_ms", d->drain_timeout_ms));
	if (d->drain_timeout_ms > 0) {
		struct timeval tv = {d->drain_timeout_ms / 1000, (d->drain_timeout_ms % 1000) * 1000};

		if (evtimer_add(d->drain, &tv) != 0)
			event_base_loopbreak(d->base);
	}
	if (d->on_stop != NULL)
		d->on_stop(d->arg);
	else
		event_base_loopbreak(d->base);
}

struct daemon_sig *daemon_on_signals(struct event_base *base, void (*on_stop)(void *arg),
				     void *arg, int drain_timeout_ms)
{
	struct daemon_sig *d;

	if (base == NULL || (d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->base = base;
	d->on_stop = on_stop;
	d->arg = arg;
	d->drain_timeout_ms = drain_timeout_ms;
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		goto fail;
	d->ev_term = evsignal_new(base, SIGTERM, daemon_on_signal, d);
	d->ev_int = evsignal_new(base, SIGINT, daemon_on_signal, d);
	d->drain = evtimer_new(base, daemon_on_drain_timeout, d);
	d->stop = event_new(base, -1, 0, daemon_on_stop_event, d);
	if (d->ev_term == NULL || d->ev_int == NULL || d->drain == NULL || d->stop == NULL ||
	    evsignal_add(d->ev_term, NULL) != 0 || evsignal_add(d->ev_int, NULL) != 0)
		goto fail;
	return d;
fail:
	daemon_sig_free(d);
	return NULL;
}

void daemon_stopped(struct daemon_sig *d)
{
	if (d == NULL)
		return;
	evtimer_del(d->drain);
	/* An event rather than a direct loopbreak, so that it also works when called while the
	 * loop is not running (libevent clears the break flag when a loop starts). */
	event_active(d->stop, EV_TIMEOUT, 0);
}

void daemon_sig_free(struct daemon_sig *d)
{
	if (d == NULL)
		return;
	if (d->ev_term != NULL)
		event_free(d->ev_term);
	if (d->ev_int != NULL)
		event_free(d->ev_int);
	if (d->drain != NULL)
		event_free(d->drain);
	if (d->stop != NULL)
		event_free(d->stop);
	free(d);
}

int daemon_cli(int argc, char **argv, void (*usage)(FILE *out), void (*print_routes)(FILE *out),
	       const struct cfg_item *items, size_t nitems)
{
	if (argc < 2)
		return -1;
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--routes") == 0) {
		print_routes(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--config-table") == 0) {
		config_print_table(items, nitems);
		return 0;
	}
	usage(stderr);
	return 2;
}

static void daemon_drain_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_drain *d = arg;

	if (http_server_inflight(d->http) == 0)
		daemon_stopped(d->sig);
}

static void daemon_drain_on_stop(void *arg)
{
	struct daemon_drain *d = arg;
	struct timeval tv = {0, DAEMON_DRAIN_POLL_MS * 1000};

	http_server_shutdown(d->http);
	if (d->on_stop != NULL)
		d->on_stop(d->arg);
	if (http_server_inflight(d->http) == 0)
		daemon_stopped(d->sig);
	else
		evtimer_add(d->tick, &tv);
}

struct daemon_drain *daemon_drain_new(struct event_base *base, struct http_server *http,
				      void (*on_stop)(void *arg), void *arg, int drain_timeout_ms)
{
	struct daemon_drain *d;

	if (base == NULL || http == NULL || (d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->http = http;
	d->on_stop = on_stop;
	d->arg = arg;
	d->tick = event_new(base, -1, EV_PERSIST, daemon_drain_on_tick, d);
	d->sig = daemon_on_signals(base, daemon_drain_on_stop, d, drain_timeout_ms);
	if (d->tick == NULL || d->sig == NULL) {
		daemon_drain_free(d);
		return NULL;
	}
	return d;
}

void daemon_drain_free(struct daemon_drain *d)
{
	if (d == NULL)
		return;
	if (d->tick != NULL)
		event_free(d->tick);
	daemon_sig_free(d->sig);
	free(d);
}
