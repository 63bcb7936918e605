/*
 * daemon.h - process plumbing shared by every daemon: the command line, signals and graceful
 * shutdown.
 *
 * daemon_cli() answers the arguments every daemon takes (--help/-h, --routes, --config-table)
 * and refuses any other.
 *
 * daemon_on_signals() watches SIGTERM and SIGINT on the loop (as libevent signal events) and
 * ignores SIGPIPE. The first signal calls on_stop(arg) once, which should stop accepting and
 * start draining; a second signal, or drain_timeout_ms passing, breaks the loop.
 */
#ifndef COMMON_DAEMON_H
#define COMMON_DAEMON_H

#include <event2/event.h>
#include <stddef.h>
#include <stdio.h>

struct cfg_item;    /* common/config.h */
struct http_server; /* common/http.h */

struct daemon_sig;

struct daemon_sig *daemon_on_signals(struct event_base *base, void (*on_stop)(void *arg),
				     void *arg, int drain_timeout_ms);
/* Call when draining is finished: breaks the loop (event_base_loopbreak). */
void daemon_stopped(struct daemon_sig *d);
void daemon_sig_free(struct daemon_sig *d);

/* Handles the command line: no argument -> -1 (go on and run); "--help" or "-h" -> usage on
 * stdout, 0; "--routes" -> print_routes(stdout), 0; "--config-table" -> the markdown table of
 * items, 0; anything else -> usage on stderr, 2. Otherwise the process exit status. */
int daemon_cli(int argc, char **argv, void (*usage)(FILE *out), void (*print_routes)(FILE *out),
	       const struct cfg_item *items, size_t nitems);

/* The graceful stop of an HTTP daemon, on top of daemon_on_signals(): the first signal stops
 * http accepting, calls on_stop(arg) (when not NULL: the daemon stops its own timers), then
 * polls until no request is in flight and stops the loop. Borrows base and http. */
struct daemon_drain;

struct daemon_drain *daemon_drain_new(struct event_base *base, struct http_server *http,
				      void (*on_stop)(void *arg), void *arg, int drain_timeout_ms);
void daemon_drain_free(struct daemon_drain *d);

#endif
