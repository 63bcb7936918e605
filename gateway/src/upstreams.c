/*
 * upstreams.c - creates and looks up the upstream pools (see upstreams.h).
 *
 * Owns every struct upstream's strings and http_client until upstreams_free().
 */
#include "upstreams.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/metrics.h"
#include "config.h"
#include "extra_routes.h"

size_t upstreams_defs(const struct gw_config *cfg, struct upstream_def *defs, size_t cap)
{
	size_t n = 0;

	if (n < cap)
		defs[n++] = (struct upstream_def){"identity", cfg->identity_url};
	if (n < cap)
		defs[n++] = (struct upstream_def){"billing", cfg->billing_url};
	/* render, file, notification: one line each as they join */
	return n;
}

static int upstreams_add(struct upstreams *u, struct event_base *base, const struct gw_config *cfg,
			 const char *name, const char *url, char *err, size_t errlen)
{
	struct http_client_opts o;
	struct upstream *up;
	char *host = NULL;
	int port = 0;

	if (u->n == UPSTREAMS_MAX) {
		snprintf(err, errlen, "too many upstreams (at most %d)", UPSTREAMS_MAX);
		return -1;
	}
	if (http_url_parse(url, &host, &port) < 0) {
		snprintf(err, errlen, "upstream %s: the URL must be http://host:port", name);
		return -1;
	}
	http_client_opts_default(&o);
	o.host = host;
	o.port = port;
	o.max_conns = (int)cfg->upstream_pool;
	o.max_queue = (int)cfg->upstream_queue;
	o.connect_timeout_ms = (int)cfg->upstream_connect_timeout_ms;
	o.request_timeout_ms = (int)cfg->upstream_timeout_ms;
	o.max_response_bytes = (size_t)cfg->upstream_max_response_bytes;
	up = &u->v[u->n];
	up->name = strdup(name);
	up->url = strdup(url);
	up->client = http_client_new(base, &o);
	free(host);
	u->n++; /* counted now so upstreams_free() releases a partial entry */
	if (up->name == NULL || up->url == NULL || up->client == NULL) {
		snprintf(err, errlen, "upstream %s: cannot create the client", name);
		return -1;
	}
	metrics_escape(name, up->label, sizeof(up->label));
	up->reached = true; /* optimistic until a call says otherwise */
	return 0;
}

struct upstreams *upstreams_new(struct event_base *base, const struct gw_config *cfg,
				const struct extra_routes *x, char *err, size_t errlen)
{
	struct upstreams *u = calloc(1, sizeof(*u));
	struct upstream_def defs[UPSTREAMS_MAX];
	size_t nd;

	if (u == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	nd = upstreams_defs(cfg, defs, UPSTREAMS_MAX);
	for (size_t i = 0; i < nd; i++)
		if (upstreams_add(u, base, cfg, defs[i].name, defs[i].url, err, errlen) < 0)
			goto fail;
	for (size_t i = 0; x != NULL && i < x->n; i++)
		if (upstreams_add(u, base, cfg, x->v[i].service, x->v[i].url, err, errlen) < 0)
			goto fail;
	return u;
fail:
	upstreams_free(u);
	return NULL;
}

void upstreams_free(struct upstreams *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n; i++) {
		if (u->v[i].client != NULL)
			http_client_free(u->v[i].client);
		free(u->v[i].name);
		free(u->v[i].url);
	}
	free(u);
}

struct upstream *upstreams_get(struct upstreams *u, const char *name)
{
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->v[i].name, name) == 0)
			return &u->v[i];
	return NULL;
}

void upstream_note(struct upstream *up, enum http_client_err e, uint64_t now_ms)
{
	if (e == HC_EOVERLOAD || e == HC_ESHUTDOWN)
		return; /* says nothing about the service */
	up->reached = e == HC_OK;
	up->last_call_ms = now_ms;
}

#define UPSTREAM_STALE_MS 2000
#define UPSTREAM_PROBE_EVERY_MS 1000

static void upstream_on_probe(enum http_client_err err, const struct http_client_response *resp,
			      void *arg)
{
	struct upstream *up = arg;

	(void)resp;
	up->probing = false;
	upstream_note(up, err, gw_now_ms());
}

static void upstream_probe(struct upstream *up, uint64_t now)
{
	char rid[UUID_STR_LEN];
	struct http_client_header h[1] = {{"X-Request-Id", rid}};
	struct http_client_request r = {HTTP_GET, "/healthz", h, 1, NULL, 0, 0};

	uuid_v4(rid);
	up->last_probe_ms = now;
	if (http_client_send(up->client, &r, upstream_on_probe, up) == 0)
		up->probing = true;
}

bool upstream_ready(struct upstream *up)
{
	uint64_t now = gw_now_ms();

	if (!up->probing && now - up->last_call_ms >= UPSTREAM_STALE_MS &&
	    now - up->last_probe_ms >= UPSTREAM_PROBE_EVERY_MS)
		upstream_probe(up, now);
	return up->reached;
}

uint64_t gw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
