/*
 * config.c - the gateway's environment variables (one table) and the rules between them.
 *
 * Owns the gw_config_items table; the strings loaded into a struct gw_config belong to that
 * struct until gw_config_free().
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#define S CFG_STR
#define I CFG_INT
#define B CFG_BOOL
#define ROW(env, type, def, secret, field, min, max, help)                                     \
	CFG_ROW(env, type, def, secret, struct gw_config, field, min, max, help)

const struct cfg_item gw_config_items[] = {
	FR_COMMON_CFG_ROWS(struct gw_config, common),
	FR_COMMON_CFG_ROWS_SVC(struct gw_config, common),
	ROW("GATEWAY_BIND", S, "127.0.0.1", false, bind, 0, 0, "listen address (0.0.0.0 in containers)"),
	ROW("GATEWAY_PORT", I, "8080", false, port, 0, 65535, "listen port (0 = ephemeral)"),
	ROW("GATEWAY_MAX_BODY_BYTES", I, "1048576", false, max_body_bytes, 0, 1073741824,
	    "largest request body (413 beyond)"),
	ROW("GATEWAY_MAX_HEADER_BYTES", I, "16384", false, max_header_bytes, 1024, 1048576,
	    "largest request line + headers (431 beyond)"),
	ROW("GATEWAY_READ_TIMEOUT_MS", I, "10000", false, read_timeout_ms, 1, 3600000,
	    "a started request must arrive completely within this (408)"),
	ROW("GATEWAY_IDLE_TIMEOUT_MS", I, "60000", false, idle_timeout_ms, 1, 3600000,
	    "idle keep-alive client connections are closed after this"),
	ROW("GATEWAY_WRITE_TIMEOUT_MS", I, "10000", false, write_timeout_ms, 1, 3600000,
	    "a reply that cannot be written in time drops the connection"),
	ROW("GATEWAY_MAX_CONNECTIONS", I, "4096", false, max_connections, 1, 1000000,
	    "client connections beyond this get 503"),
	ROW("GATEWAY_DRAIN_TIMEOUT_MS", I, "10000", false, drain_timeout_ms, 0, 600000,
	    "on SIGTERM, wait this long for requests in flight"),
	ROW("GATEWAY_ACCESS_LOG", B, "true", false, access_log, 0, 0, "one log line per request"),
	ROW("GATEWAY_IDENTITY_URL", S, "http://127.0.0.1:8081", false, identity_url, 0, 0,
	    "identity service base URL (http://host:port)"),
	ROW("GATEWAY_BILLING_URL", S, "http://127.0.0.1:8082", false, billing_url, 0, 0,
	    "billing service base URL (http://host:port)"),
	ROW("GATEWAY_UPSTREAM_TIMEOUT_MS", I, "10000", false, upstream_timeout_ms, 1, 600000,
	    "deadline of one upstream call (504 beyond)"),
	ROW("GATEWAY_UPSTREAM_CONNECT_TIMEOUT_MS", I, "2000", false, upstream_connect_timeout_ms, 1,
	    600000, "upstream connect deadline"),
	ROW("GATEWAY_UPSTREAM_POOL", I, "64", false, upstream_pool, 1, 100000,
	    "keep-alive connections per upstream"),
	ROW("GATEWAY_UPSTREAM_QUEUE", I, "4096", false, upstream_queue, 0, 1000000,
	    "requests waiting for a pooled connection (503 beyond)"),
	ROW("GATEWAY_UPSTREAM_MAX_RESPONSE_BYTES", I, "16777216", false, upstream_max_response_bytes,
	    1024, 1073741824, "largest upstream response (502 beyond)"),
	ROW("GATEWAY_EXTRA_ROUTES", S, "", false, extra_routes, 0, 0,
	    "extra prefix routes \"/prefix/=http://host:port=none|jwt|apikey;...\" (benchmarks; not public)"),
	ROW("GATEWAY_CORS_ORIGINS", S, "http://localhost:3000", false, cors_origins, 0, 0,
	    "comma-separated browser origins allowed by CORS (exact match)"),
	ROW("GATEWAY_JWKS_REFRESH_S", I, "300", false, jwks_refresh_s, 1, 86400,
	    "re-fetch identity's JWKS this often"),
	ROW("GATEWAY_TOKEN_CACHE_SIZE", I, "16384", false, token_cache_size, 16, 16777216,
	    "verified access tokens kept in memory"),
	ROW("GATEWAY_SESSION_L1_TTL_MS", I, "1000", false, session_l1_ttl_ms, 0, 600000,
	    "in-process session validity cache TTL (0 = off)"),
	ROW("GATEWAY_SESSION_L1_SIZE", I, "16384", false, session_l1_size, 16, 16777216,
	    "sessions kept in the in-process cache"),
	ROW("GATEWAY_SESSION_REDIS_TTL_S", I, "4", false, session_redis_ttl_s, 1, 86400,
	    "TTL of fr:sess:<sid> entries the gateway writes to Redis"),
	ROW("GATEWAY_RL_ENABLED", B, "true", false, rl_enabled, 0, 0,
	    "rate limits on (429 rate_limited beyond them)"),
	ROW("GATEWAY_RL_USER_RPM", I, "600", false, rl_user_rpm, 1, 100000000,
	    "requests per minute per user (JWT callers)"),
	ROW("GATEWAY_RL_TENANT_RPM", I, "6000", false, rl_tenant_rpm, 1, 100000000,
	    "requests per minute per tenant (JWT and API-key callers)"),
	ROW("GATEWAY_RL_IP_RPM", I, "60", false, rl_ip_rpm, 1, 100000000,
	    "requests per minute per client IP on login, register, refresh"),
	ROW("GATEWAY_RL_APIKEY_IP_RPM", I, "6000", false, rl_apikey_ip_rpm, 0, 100000000,
	    "requests per minute per client IP on API-key routes whose key must be looked up "
	    "(not in process memory) (0 = off)"),
	ROW("GATEWAY_RL_APIKEY_DEFAULT_RPM", I, "60", false, rl_apikey_default_rpm, 1, 100000000,
	    "requests per minute of an API key whose rate_limit_rpm is 0"),
	ROW("GATEWAY_RL_REDIS_TIMEOUT_MS", I, "50", false, rl_redis_timeout_ms, 1, 10000,
	    "no Redis answer by then: decide locally (degraded, per replica)"),
	ROW("GATEWAY_APIKEY_L1_TTL_MS", I, "2000", false, apikey_l1_ttl_ms, 0, 60000,
	    "in-process API-key cache TTL (0 = off; revocation events drop keys at once)"),
	ROW("GATEWAY_APIKEY_L1_SIZE", I, "4096", false, apikey_l1_size, 16, 1048576,
	    "API keys kept in the in-process cache"),
	ROW("GATEWAY_APIKEY_USAGE_FLUSH_MS", I, "5000", false, apikey_usage_flush_ms, 100, 600000,
	    "how often API-key usage counts are reported to identity"),
};
const size_t gw_config_nitems = sizeof(gw_config_items) / sizeof(gw_config_items[0]);

int gw_config_load(struct gw_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	if (config_load(gw_config_items, gw_config_nitems, cfg, err, errlen) < 0)
		return -1;
	if (fr_common_service_defaults(&cfg->common, "gateway") < 0) {
		snprintf(err, errlen, "FR_SERVICE_CLIENT_ID: out of memory");
		return -1;
	}
	if (fr_common_config_check(&cfg->common, err, errlen) < 0)
		return -1;
	return fr_common_refuse_local_secrets(&cfg->common, NULL, 0, 0, err, errlen);
}

void gw_config_free(struct gw_config *cfg)
{
	config_free(gw_config_items, gw_config_nitems, cfg);
}
