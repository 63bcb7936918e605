/*
 * config.c - identity's environment variables (one table) and the rules between them.
 *
 * Owns the identity_config_items table; the strings loaded into a struct identity_config
 * belong to that struct until identity_config_free().
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "service_clients.h"

#define S CFG_STR
#define I CFG_INT
#define B CFG_BOOL
#define ROW(env, type, def, secret, field, min, max, help)                                         \
	CFG_ROW(env, type, def, secret, struct identity_config, field, min, max, help)

const struct cfg_item identity_config_items[] = {
	FR_COMMON_CFG_ROWS_BASE(struct identity_config, common),
	ROW("FR_ADMIN_EMAIL", S, "admin@flatrender.local", false, admin_email, 0, 0,
	    "platform admin created in tenant \"default\" at start-up when absent"),
	ROW("FR_ADMIN_PASSWORD", S, IDENTITY_LOCAL_ADMIN_PASSWORD, true, admin_password, 0, 0,
	    "that admin's initial password (never overwritten)"),
	FR_COMMON_CFG_ROWS_AMQP(struct identity_config, common),
	FR_COMMON_CFG_ROWS_SVC(struct identity_config, common),
	ROW("IDENTITY_BIND", S, "127.0.0.1", false, bind, 0, 0,
	    "listen address (0.0.0.0 in containers)"),
	ROW("IDENTITY_PORT", I, "8081", false, port, 0, 65535, "listen port (0 = ephemeral)"),
	ROW("IDENTITY_MAX_BODY_BYTES", I, "65536", false, max_body_bytes, 1024, 16777216,
	    "largest request body (413 beyond)"),
	ROW("IDENTITY_DRAIN_TIMEOUT_MS", I, "10000", false, drain_timeout_ms, 0, 600000,
	    "on SIGTERM, wait this long for requests in flight"),
	ROW("IDENTITY_ACCESS_LOG", B, "true", false, access_log, 0, 0, "one log line per request"),
	ROW("IDENTITY_DATABASE_URL", S, "postgresql://identity:identity@127.0.0.1:5432/flatrender",
	    true, database_url, 0, 0, "PostgreSQL connection URI (schema \"identity\")"),
	ROW("IDENTITY_DB_POOL_SIZE", I, "8", false, db_pool_size, 1, 256, "PostgreSQL connections"),
	ROW("IDENTITY_DB_QUERY_TIMEOUT_MS", I, "5000", false, db_query_timeout_ms, 100, 600000,
	    "deadline of one SQL statement"),
	ROW("IDENTITY_MIGRATIONS_DIR", S, "migrations/identity", false, migrations_dir, 0, 0,
	    "directory of the NNNN_name.sql files applied at start-up"),
	ROW("IDENTITY_OUTBOX_POLL_MS", I, "1000", false, outbox_poll_ms, 10, 600000,
	    "how often the outbox relay looks for unsent events (a commit wakes it at once)"),
	ROW("IDENTITY_OUTBOX_BATCH", I, "100", false, outbox_batch, 1, 10000,
	    "events published per outbox relay round"),
	ROW("IDENTITY_WORKERS", I, "2", false, workers, 1, 64,
	    "worker threads for password hashing"),
	ROW("IDENTITY_WORK_QUEUE", I, "256", false, work_queue, 1, 100000,
	    "hashing jobs waiting for a worker (503 beyond)"),
	ROW("IDENTITY_ARGON2_M_KIB", I, "19456", false, argon2_m_kib, 1024, 4194304,
	    "Argon2id memory cost in KiB"),
	ROW("IDENTITY_ARGON2_T", I, "2", false, argon2_t, 1, 16, "Argon2id iterations"),
	ROW("IDENTITY_ACCESS_TTL_S", I, "900", false, access_ttl_s, 30, 86400,
	    "access token lifetime (seconds)"),
	ROW("IDENTITY_REFRESH_TTL_S", I, "2592000", false, refresh_ttl_s, 60, 31536000,
	    "refresh token / idle session lifetime (seconds, renewed by each refresh)"),
	ROW("IDENTITY_KEY_ROTATION_S", I, "604800", false, key_rotation_s, 60, 31536000,
	    "how long one signing key signs before a new one takes over"),
	ROW("IDENTITY_KEY_ENCRYPTION_KEY", S, IDENTITY_LOCAL_KEK, true, key_encryption_key, 0, 0,
	    "64 hex digits: AES-256-GCM key sealing the signing keys in the database"),
	ROW("IDENTITY_LOGIN_WINDOW_S", I, "900", false, login_window_s, 1, 86400,
	    "window of the login failure counters (seconds)"),
	ROW("IDENTITY_LOGIN_MAX_FAILS_ACCOUNT", I, "5", false, login_max_fails_account, 1, 1000000,
	    "failures per tenant + e-mail in a window before 429"),
	ROW("IDENTITY_LOGIN_MAX_FAILS_IP", I, "100", false, login_max_fails_ip, 1, 100000000,
	    "failures per client address in a window before 429"),
	ROW("IDENTITY_REQUIRE_EMAIL_VERIFICATION", B, "false", false, require_email_verification, 0,
	    0, "register answers verification_required=true (no e-mail is sent yet)"),
	ROW("IDENTITY_SERVICE_CLIENTS", S, "", true, service_clients, 0, 0,
	    "service clients allowed to mint service tokens: name:sha256hex(secret),...; empty "
	    "= gateway,billing,render,file,notification with derived secrets (FR_ENV=local only)"),
};
const size_t identity_config_nitems = sizeof(identity_config_items) /
				      sizeof(identity_config_items[0]);

int identity_config_load(struct identity_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	if (config_load(identity_config_items, identity_config_nitems, cfg, err, errlen) < 0)
		return -1;
	if (fr_common_service_defaults(&cfg->common, "identity") < 0) {
		snprintf(err, errlen, "FR_SERVICE_CLIENT_ID: out of memory");
		return -1;
	}
	return identity_config_check(cfg, err, errlen);
}

int identity_config_check(const struct identity_config *cfg, char *err, size_t errlen)
{
	const struct fr_builtin_secret own[] = {
		{"FR_ADMIN_PASSWORD", cfg->admin_password, IDENTITY_LOCAL_ADMIN_PASSWORD},
		{"IDENTITY_KEY_ENCRYPTION_KEY", cfg->key_encryption_key, IDENTITY_LOCAL_KEK},
	};
	unsigned char kek[32];
	struct service_clients *sc;

	if (fr_common_config_check(&cfg->common, err, errlen) < 0)
		return -1;
	if (cfg->admin_password[0] == '\0') {
		snprintf(err, errlen, "FR_ADMIN_PASSWORD: must not be empty");
		return -1;
	}
	if (strlen(cfg->admin_password) < 8 || strlen(cfg->admin_password) > 128) {
		snprintf(err, errlen, "FR_ADMIN_PASSWORD: must be 8..128 bytes");
		return -1;
	}
	if (strlen(cfg->admin_email) < 3 || strlen(cfg->admin_email) > 254 ||
	    strchr(cfg->admin_email, '@') == NULL) {
		snprintf(err, errlen, "FR_ADMIN_EMAIL: must be an e-mail address");
		return -1;
	}
	if (identity_config_kek(cfg, kek) < 0) {
		snprintf(err, errlen, "IDENTITY_KEY_ENCRYPTION_KEY: must be exactly 64 hex digits");
		return -1;
	}
	explicit_bzero(kek, sizeof(kek));
	sc = service_clients_new(cfg->service_clients, fr_common_is_local(&cfg->common),
				 cfg->common.internal_secret, err, errlen);
	if (sc == NULL)
		return -1;
	service_clients_free(sc);
	/* the built-in FR_INTERNAL_SECRET, then these, then FR_AMQP_PASSWORD "guest", then a
	 * short FR_INTERNAL_SECRET */
	return fr_common_refuse_local_secrets(&cfg->common, own, sizeof(own) / sizeof(own[0]), 0,
					      err, errlen);
}

int identity_config_kek(const struct identity_config *cfg, unsigned char out[32])
{
	const char *k = cfg->key_encryption_key;

	if (k == NULL || strlen(k) != 64)
		return -1;
	return hex_decode(k, 64, out, 32);
}

void identity_config_free(struct identity_config *cfg)
{
	config_free(identity_config_items, identity_config_nitems, cfg);
}
