/*
 * daemon.h - process plumbing shared by every daemon: signals and graceful shutdown.
 *
 * daemon_on_signals() watches SIGTERM and SIGINT on the loop (as libevent signal events) and
 * ignores SIGPIPE. The first signal calls on_stop(arg) once, which should stop accepting and
 * start draining; a second signal, or drain_timeout_ms passing, breaks the loop.
 */
#ifndef COMMON_DAEMON_H
#define COMMON_DAEMON_H

#include <event2/event.h>

struct daemon_sig;

struct daemon_sig *daemon_on_signals(struct event_base *base, void (*on_stop)(void *arg),
				     void *arg, int drain_timeout_ms);
/* Call when draining is finished: breaks the loop (event_base_loopbreak). */
void daemon_stopped(struct daemon_sig *d);
void daemon_sig_free(struct daemon_sig *d);

#endif
