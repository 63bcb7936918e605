/*
 * upstreams.h - the services behind the gateway: name -> keep-alive http_client pool.
 *
 * Built at start-up from GATEWAY_<SERVICE>_URL (only identity today; the table grows with the
 * services) plus one entry per GATEWAY_EXTRA_ROUTES prefix. Each upstream also remembers
 * whether its last call reached the service, for /readyz.
 */
#ifndef GATEWAY_UPSTREAMS_H
#define GATEWAY_UPSTREAMS_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/http_client.h"

#define UPSTREAMS_MAX 32
#define UPSTREAM_LABEL_MAX 160

struct gw_config;
struct extra_routes;

#define UPSTREAM_STATUS_LABELS 16

/* A metrics label string for one status, cached (slot = status % UPSTREAM_STATUS_LABELS). */
struct upstream_status_label {
	int status;
	char labels[UPSTREAM_LABEL_MAX + 32];
};

struct upstream {
	char *name;                     /* "identity", "extra:/bench/" */
	char label[UPSTREAM_LABEL_MAX]; /* name escaped for a metrics label value */
	char *url;
	struct http_client *client;
	bool reached;                   /* the last call got a response (any status) */
	uint64_t last_call_ms;          /* monotonic ms of the last call's outcome */
	bool probing;                   /* a readiness probe (GET /healthz) is in flight */
	uint64_t last_probe_ms;
	struct upstream_status_label status_labels[UPSTREAM_STATUS_LABELS];
};

struct upstreams {
	size_t n;
	struct upstream v[UPSTREAMS_MAX];
};

/* The well-known services: (name, config URL) pairs, from the config. */
struct upstream_def {
	const char *name;
	const char *url;
};
/* Fills defs with the service upstreams of cfg; returns how many. */
size_t upstreams_defs(const struct gw_config *cfg, struct upstream_def *defs, size_t cap);

/* Creates every upstream of cfg and x (x may be NULL). NULL (and why in err) on a bad URL or
 * OOM. */
struct upstreams *upstreams_new(struct event_base *base, const struct gw_config *cfg,
				const struct extra_routes *x, char *err, size_t errlen);
/* Frees every pool (pending calls fail with HC_ESHUTDOWN first) and the table. */
void upstreams_free(struct upstreams *u);

/* Linear lookup by name (the table is tiny); NULL when unknown. */
struct upstream *upstreams_get(struct upstreams *u, const char *name);

/* Records the outcome of a call for readiness: reached unless connect/timeout failed. */
void upstream_note(struct upstream *up, enum http_client_err e, uint64_t now_ms);
/* Whether up looks reachable for /readyz: its last call (or probe) got an answer. When
 * nothing has called it for a while, starts a background GET /healthz (at most one per
 * second) so the next check reflects the present. */
bool upstream_ready(struct upstream *up);
/* The monotonic clock in milliseconds (coarse; ~ms resolution). */
uint64_t gw_now_ms(void);

#endif
