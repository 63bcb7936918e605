/*
 * config.h - identity's configuration: one struct filled from environment variables.
 *
 * The table of variables lives in config.c (identity_config_items); main.c loads it once and
 * passes the struct down by const pointer. Nothing here is a mutable global.
 */
#ifndef IDENTITY_CONFIG_H
#define IDENTITY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/config_common.h"

/* Built-in local defaults of identity's own secrets; refused when FR_ENV is not "local" (the
 * shared ones, FR_LOCAL_INTERNAL_SECRET and FR_LOCAL_AMQP_PASSWORD, are in config_common.h). */
#define IDENTITY_LOCAL_ADMIN_PASSWORD "flatrender-admin"
/* hex of "flatrender-local-key-not-secret!" (32 bytes) */
#define IDENTITY_LOCAL_KEK "666c617472656e6465722d6c6f63616c2d6b65792d6e6f742d73656372657421"

struct identity_config {
	/* FR_ENV, FR_LOG_LEVEL, FR_INTERNAL_SECRET, FR_JWT_*, FR_REDIS_*, FR_AMQP_* (the broker:
	 * events leave through the outbox), FR_SERVICE_CLIENT_*, FR_IDENTITY_URL */
	struct fr_common_config common;
	/* platform admin */
	char *admin_email;
	char *admin_password;
	/* listener */
	char *bind;
	long port;
	long max_body_bytes;
	long drain_timeout_ms;
	bool access_log;
	/* database */
	char *database_url;
	long db_pool_size;
	long db_query_timeout_ms;
	char *migrations_dir;
	long outbox_poll_ms;
	long outbox_batch;
	/* work */
	long workers;
	long work_queue;
	long argon2_m_kib;
	long argon2_t;
	/* tokens and keys */
	long access_ttl_s;
	long refresh_ttl_s;
	long key_rotation_s;
	char *key_encryption_key;
	/* login */
	long login_window_s;
	long login_max_fails_account;
	long login_max_fails_ip;
	bool require_email_verification;
	/* service tokens: "name:sha256hex,..." (service_clients.h), "" = local defaults */
	char *service_clients;
};

extern const struct cfg_item identity_config_items[];
extern const size_t identity_config_nitems;

/* Loads cfg from the environment, then identity_config_check(). On failure writes why into
 * err and returns -1; call identity_config_free() either way. */
int identity_config_load(struct identity_config *cfg, char *err, size_t errlen) MUST_CHECK;
/* The cross-field rules: known log level, a 64-hex key-encryption key, non-empty secrets,
 * and when FR_ENV is not "local" no secret may keep its built-in default. 0 or -1 + err. */
int identity_config_check(const struct identity_config *cfg, char *err, size_t errlen) MUST_CHECK;
/* The 32-byte key-encryption key from cfg->key_encryption_key (already checked). */
int identity_config_kek(const struct identity_config *cfg, unsigned char out[32]) MUST_CHECK;
void identity_config_free(struct identity_config *cfg);

#endif
