/*
 * gw_metrics.h - the gateway's own Prometheus series (the server adds the per-request ones).
 *
 *   gateway_upstream_requests_total{service,status}  responses relayed from an upstream
 *   gateway_upstream_errors_total{service,kind}      connect | timeout | protocol | overload
 *   gateway_auth_failures_total{code}                 token_missing, token_invalid, ...
 *   gateway_token_cache_hits_total / _misses_total   verified-token cache
 *   gateway_session_cache_total{layer,result}         l1 | redis | identity, hit | miss | ...
 *   gateway_revocations_received_total               identity.session.revoked.v1 events applied
 */
#ifndef GATEWAY_GW_METRICS_H
#define GATEWAY_GW_METRICS_H

#include "common/http_client.h"

struct metrics;
struct upstream;

void gw_metrics_declare(struct metrics *m);
void gw_metrics_upstream_status(struct metrics *m, struct upstream *up, int status);
void gw_metrics_upstream_error(struct metrics *m, const struct upstream *up,
			       enum http_client_err e);
void gw_metrics_auth_failure(struct metrics *m, const char *code);
void gw_metrics_token_cache(struct metrics *m, int hit);
/* layer: "l1", "redis", "identity"; result: "hit", "miss", "error", ... (static strings). */
void gw_metrics_session(struct metrics *m, const char *layer, const char *result);
/* One session revocation event applied (session_events.c). */
void gw_metrics_revocation(struct metrics *m);
/* The "kind" label of an upstream error. */
const char *gw_upstream_err_kind(enum http_client_err e);

#endif
