/*
 * config.h - the gateway's configuration: one struct filled from environment variables.
 *
 * The table of variables lives in config.c (gw_config_items); main.c loads it once and passes
 * the struct down by const pointer. Nothing here is a mutable global.
 */
#ifndef GATEWAY_CONFIG_H
#define GATEWAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/config_common.h"

struct gw_config {
	/* FR_ENV, FR_LOG_LEVEL, FR_INTERNAL_SECRET, FR_JWT_*, FR_REDIS_*, FR_AMQP_* */
	struct fr_common_config common;
	/* listener and limits */
	char *bind;
	long port;
	long max_body_bytes;
	long max_header_bytes;
	long read_timeout_ms;
	long idle_timeout_ms;
	long write_timeout_ms;
	long max_connections;
	long drain_timeout_ms;
	bool access_log;
	/* upstreams */
	char *identity_url;
	char *billing_url;
	long upstream_timeout_ms;
	long upstream_connect_timeout_ms;
	long upstream_pool;
	long upstream_queue;
	long upstream_max_response_bytes;
	char *extra_routes;
	/* auth */
	char *cors_origins;
	long jwks_refresh_s;
	long token_cache_size;
	long session_l1_ttl_ms;
	long session_l1_size;
	long session_redis_ttl_s;
	/* rate limits (ratelimit.h) */
	bool rl_enabled;
	long rl_user_rpm;
	long rl_tenant_rpm;
	long rl_ip_rpm;
	long rl_apikey_ip_rpm;
	long rl_apikey_default_rpm;
	long rl_redis_timeout_ms;
	/* API keys (apikey.h) */
	long apikey_l1_ttl_ms;
	long apikey_l1_size;
	long apikey_usage_flush_ms;
};

extern const struct cfg_item gw_config_items[];
extern const size_t gw_config_nitems;

/* Loads cfg from the environment and checks the shared rules (config_common.h: known log
 * level; FR_ENV other than "local" refuses the built-in FR_INTERNAL_SECRET and one shorter
 * than 32, but accepts FR_AMQP_PASSWORD "guest"). On failure writes why into err and returns
 * -1; call gw_config_free() either way. */
int gw_config_load(struct gw_config *cfg, char *err, size_t errlen) MUST_CHECK;
void gw_config_free(struct gw_config *cfg);

#endif
