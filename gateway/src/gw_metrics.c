/*
 * gw_metrics.c - declares and updates the gateway's metric families (see gw_metrics.h).
 *
 * Owns nothing; the registry belongs to main.c. Label strings are built on the stack from
 * values that are already safe (status numbers, static codes, pre-escaped upstream names).
 */
#include "gw_metrics.h"

#include <stdio.h>
#include <string.h>

#include "common/metrics.h"
#include "upstreams.h"

void gw_metrics_declare(struct metrics *m)
{
	metrics_declare(m, "gateway_upstream_requests_total", METRIC_COUNTER,
			"Responses relayed from upstream services, by service and status.");
	metrics_declare(m, "gateway_upstream_errors_total", METRIC_COUNTER,
			"Upstream calls that failed without a response, by service and kind.");
	metrics_declare(m, "gateway_auth_failures_total", METRIC_COUNTER,
			"Requests rejected by authentication, by error code.");
	metrics_declare(m, "gateway_token_cache_hits_total", METRIC_COUNTER,
			"Access tokens found in the verified-token cache.");
	metrics_declare(m, "gateway_token_cache_misses_total", METRIC_COUNTER,
			"Access tokens that had to be verified (ES256).");
	metrics_declare(m, "gateway_session_cache_total", METRIC_COUNTER,
			"Session validity lookups, by layer (l1, redis, identity) and result.");
	metrics_declare(m, "gateway_revocations_received_total", METRIC_COUNTER,
			"Session revocation events (identity.session.revoked.v1) applied.");
	metrics_inc(m, "gateway_revocations_received_total", NULL, 0); /* shown from the start */
}

void gw_metrics_upstream_status(struct metrics *m, struct upstream *up, int status)
{
	struct upstream_status_label *l =
		&up->status_labels[(unsigned)status % UPSTREAM_STATUS_LABELS];

	if (l->status != status) { /* built once per (upstream, status) slot, then reused */
		snprintf(l->labels, sizeof(l->labels), "service=\"%s\",status=\"%d\"", up->label,
			 status);
		l->status = status;
	}
	metrics_inc(m, "gateway_upstream_requests_total", l->labels, 1);
}

const char *gw_upstream_err_kind(enum http_client_err e)
{
	switch (e) {
	case HC_OK:
		return "none";
	case HC_ECONNECT:
		return "connect";
	case HC_ETIMEOUT:
		return "timeout";
	case HC_EPROTO:
		return "protocol";
	case HC_EOVERLOAD:
		return "overload";
	case HC_ESHUTDOWN:
		return "shutdown";
	}
	return "unknown";
}

void gw_metrics_upstream_error(struct metrics *m, const struct upstream *up,
			       enum http_client_err e)
{
	char labels[UPSTREAM_LABEL_MAX + 32];

	snprintf(labels, sizeof(labels), "service=\"%s\",kind=\"%s\"", up->label,
		 gw_upstream_err_kind(e));
	metrics_inc(m, "gateway_upstream_errors_total", labels, 1);
}

void gw_metrics_auth_failure(struct metrics *m, const char *code)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "code=\"%s\"", code);
	metrics_inc(m, "gateway_auth_failures_total", labels, 1);
}

void gw_metrics_token_cache(struct metrics *m, int hit)
{
	metrics_inc(m, hit ? "gateway_token_cache_hits_total" : "gateway_token_cache_misses_total",
		    NULL, 1);
}

void gw_metrics_session(struct metrics *m, const char *layer, const char *result)
{
	char labels[96];

	if (strcmp(layer, "l1") == 0) /* the per-request series: no formatting */
		metrics_inc(m, "gateway_session_cache_total",
			    strcmp(result, "hit") == 0 ? "layer=\"l1\",result=\"hit\""
						       : "layer=\"l1\",result=\"miss\"",
			    1);
	else {
		snprintf(labels, sizeof(labels), "layer=\"%s\",result=\"%s\"", layer, result);
		metrics_inc(m, "gateway_session_cache_total", labels, 1);
	}
}

void gw_metrics_revocation(struct metrics *m)
{
	metrics_inc(m, "gateway_revocations_received_total", NULL, 1);
}
