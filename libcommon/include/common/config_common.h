/*
 * config_common.h - the environment variables every FlatRender daemon shares, declared once.
 *
 * A daemon embeds a struct fr_common_config (by convention as the member `common`) in its
 * own config struct and puts the shared rows into its one declarative cfg_item table with
 * FR_COMMON_CFG_ROWS() (or _BASE and _AMQP apart, to keep its own rows in between):
 *
 *     static const struct cfg_item items[] = {
 *         FR_COMMON_CFG_ROWS(struct svc_config, common),
 *         CFG_ROW("SVC_PORT", CFG_INT, "8082", false, struct svc_config, port, 0, 65535, "..."),
 *     };
 *
 * After config_load(), fr_common_config_check() and fr_common_refuse_local_secrets() hold the
 * shared rules: a known log level, a non-empty internal secret, and outside FR_ENV=local no
 * built-in secret and no internal secret shorter than FR_INTERNAL_SECRET_MIN_LEN.
 * Owns nothing: the strings belong to the daemon's struct until its config_free().
 */
#ifndef COMMON_CONFIG_COMMON_H
#define COMMON_CONFIG_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/* Built-in local defaults of the shared secrets; refused when FR_ENV is not "local". */
#define FR_LOCAL_INTERNAL_SECRET "flatrender-local-internal-secret"
/* RabbitMQ's well-known default; a broker credential like any other secret. */
#define FR_LOCAL_AMQP_PASSWORD "guest"
/* Outside FR_ENV=local, FR_INTERNAL_SECRET must be at least this long. */
#define FR_INTERNAL_SECRET_MIN_LEN 32

struct fr_common_config {
	char *env;             /* FR_ENV: "local" allows the built-in secrets */
	char *log_level;       /* FR_LOG_LEVEL */
	char *internal_secret; /* FR_INTERNAL_SECRET (iauth HMAC key) */
	char *jwt_issuer;      /* FR_JWT_ISSUER */
	char *jwt_audience;    /* FR_JWT_AUDIENCE */
	char *redis_host;      /* FR_REDIS_HOST */
	long redis_port;       /* FR_REDIS_PORT */
	char *redis_password;  /* FR_REDIS_PASSWORD, "" = none */
	char *amqp_host;       /* FR_AMQP_HOST (NULL when the daemon has no _AMQP rows) */
	long amqp_port;        /* FR_AMQP_PORT */
	char *amqp_user;       /* FR_AMQP_USER */
	char *amqp_password;   /* FR_AMQP_PASSWORD */
	char *amqp_vhost;      /* FR_AMQP_VHOST */
	char *service_client_id;     /* FR_SERVICE_CLIENT_ID (NULL when no _SVC rows) */
	char *service_client_secret; /* FR_SERVICE_CLIENT_SECRET, "" = derived (local only) */
	char *identity_url;          /* FR_IDENTITY_URL */
};

/* One shared row: `st` is the daemon's config struct, `m` its struct fr_common_config member. */
#define FR_COMMON_CFG_ROW(env, type, def, secret, st, m, field, min, max, help)                    \
	CFG_ROW(env, type, def, secret, st, m.field, min, max, help)

/* FR_ENV .. FR_REDIS_PASSWORD (8 rows, no trailing comma). */
#define FR_COMMON_CFG_ROWS_BASE(st, m)                                                             \
	FR_COMMON_CFG_ROW("FR_ENV", CFG_STR, "local", false, st, m, env, 0, 0,                     \
			  "deployment name; anything but \"local\" refuses built-in secrets"),     \
	FR_COMMON_CFG_ROW("FR_LOG_LEVEL", CFG_STR, "info", false, st, m, log_level, 0, 0,          \
			  "debug, info, warn or error"),                                           \
	FR_COMMON_CFG_ROW("FR_INTERNAL_SECRET", CFG_STR, FR_LOCAL_INTERNAL_SECRET, true, st, m,    \
			  internal_secret, 0, 0,                                                   \
			  "HMAC key of the signed identity headers (iauth); the same value in "    \
			  "the gateway and every service"),                                        \
	FR_COMMON_CFG_ROW("FR_JWT_ISSUER", CFG_STR, "flatrender-identity", false, st, m,           \
			  jwt_issuer, 0, 0, "iss of the access tokens identity signs"),            \
	FR_COMMON_CFG_ROW("FR_JWT_AUDIENCE", CFG_STR, "flatrender", false, st, m, jwt_audience, 0, \
			  0, "aud of the access tokens identity signs"),                           \
	FR_COMMON_CFG_ROW("FR_REDIS_HOST", CFG_STR, "127.0.0.1", false, st, m, redis_host, 0, 0,   \
			  "Redis host"),                                                           \
	FR_COMMON_CFG_ROW("FR_REDIS_PORT", CFG_INT, "6379", false, st, m, redis_port, 1, 65535,    \
			  "Redis port"),                                                           \
	FR_COMMON_CFG_ROW("FR_REDIS_PASSWORD", CFG_STR, "", true, st, m, redis_password, 0, 0,     \
			  "Redis AUTH password, empty = none")

/* FR_AMQP_HOST .. FR_AMQP_VHOST (5 rows, no trailing comma). */
#define FR_COMMON_CFG_ROWS_AMQP(st, m)                                                             \
	FR_COMMON_CFG_ROW("FR_AMQP_HOST", CFG_STR, "127.0.0.1", false, st, m, amqp_host, 0, 0,     \
			  "RabbitMQ host"),                                                        \
	FR_COMMON_CFG_ROW("FR_AMQP_PORT", CFG_INT, "5672", false, st, m, amqp_port, 1, 65535,      \
			  "RabbitMQ port"),                                                        \
	FR_COMMON_CFG_ROW("FR_AMQP_USER", CFG_STR, "guest", false, st, m, amqp_user, 0, 0,         \
			  "RabbitMQ user"),                                                        \
	FR_COMMON_CFG_ROW("FR_AMQP_PASSWORD", CFG_STR, FR_LOCAL_AMQP_PASSWORD, true, st, m,        \
			  amqp_password, 0, 0, "RabbitMQ password"),                               \
	FR_COMMON_CFG_ROW("FR_AMQP_VHOST", CFG_STR, "/", false, st, m, amqp_vhost, 0, 0,           \
			  "RabbitMQ virtual host")

/* FR_SERVICE_CLIENT_ID .. FR_IDENTITY_URL (3 rows, no trailing comma): the daemon's client
 * credentials for service tokens (common/svc_token.h) and where identity is. After
 * config_load(), call fr_common_service_defaults() with the daemon's name. */
#define FR_COMMON_CFG_ROWS_SVC(st, m)                                                              \
	FR_COMMON_CFG_ROW("FR_SERVICE_CLIENT_ID", CFG_STR, "", false, st, m, service_client_id, 0, \
			  0, "client id of this daemon's service tokens; empty = the daemon's "    \
			  "name"),                                                                 \
	FR_COMMON_CFG_ROW("FR_SERVICE_CLIENT_SECRET", CFG_STR, "", true, st, m,                    \
			  service_client_secret, 0, 0,                                             \
			  "its client secret; empty = derived from FR_INTERNAL_SECRET (FR_ENV="    \
			  "local only, refused elsewhere)"),                                       \
	FR_COMMON_CFG_ROW("FR_IDENTITY_URL", CFG_STR, "http://127.0.0.1:8081", false, st, m,       \
			  identity_url, 0, 0, "identity's base URL for service tokens and JWKS")

/* Every shared row, base then AMQP (13 rows, no trailing comma). */
#define FR_COMMON_CFG_ROWS(st, m) FR_COMMON_CFG_ROWS_BASE(st, m), FR_COMMON_CFG_ROWS_AMQP(st, m)

/* A daemon's own secret with a built-in local default, for fr_common_refuse_local_secrets(). */
struct fr_builtin_secret {
	const char *env;     /* e.g. "FR_ADMIN_PASSWORD", named in the error */
	const char *value;   /* the loaded value (borrowed; NULL = not set, never refused) */
	const char *builtin; /* its built-in local default */
};

/* Flags of fr_common_refuse_local_secrets(). */
enum fr_common_refuse_flags {
	/* Accept FR_AMQP_PASSWORD "guest" outside FR_ENV=local (for a daemon that uses no broker
	 * credentials of its own; no daemon does today). */
	FR_COMMON_ALLOW_AMQP_GUEST = 1u << 0,
};

/* The local-only service client secret: lowercase hex HMAC-SHA256(internal_secret,
 * "service-client:" + client_id) into out (65 bytes). identity derives the same values for
 * its default IDENTITY_SERVICE_CLIENTS. */
void fr_common_derive_service_secret(const char *internal_secret, const char *client_id,
				     char out[65]);
/* Sets FR_SERVICE_CLIENT_ID to daemon when it was left empty (after config_load(), for a
 * daemon with the _SVC rows; a no-op without them). 0, or -1 when out of memory. */
int fr_common_service_defaults(struct fr_common_config *c, const char *daemon) MUST_CHECK;
/* The daemon's service client secret into out: FR_SERVICE_CLIENT_SECRET when set, else (in
 * FR_ENV=local only) the derived one. 0, or -1 when there is none (not local and unset, no
 * _SVC rows) or cap is too small. Never logs it. */
int fr_common_service_secret(const struct fr_common_config *c, char *out, size_t cap) MUST_CHECK;

/* True when FR_ENV is "local" (the built-in secrets are allowed). */
bool fr_common_is_local(const struct fr_common_config *c);
/* FR_LOG_LEVEL is debug, info, warn or error and FR_INTERNAL_SECRET is not empty.
 * 0, or -1 with the variable named in err. */
int fr_common_config_check(const struct fr_common_config *c, char *err, size_t errlen) MUST_CHECK;
/* Nothing to do when FR_ENV is "local". Otherwise refuses, in this order: the built-in
 * FR_INTERNAL_SECRET, each of the daemon's own[0..nown) still at its built-in value, the
 * built-in FR_AMQP_PASSWORD (unless FR_COMMON_ALLOW_AMQP_GUEST or no AMQP rows), an empty
 * FR_SERVICE_CLIENT_SECRET (daemons with the _SVC rows), and an FR_INTERNAL_SECRET shorter
 * than FR_INTERNAL_SECRET_MIN_LEN. 0, or -1 with the variable
 * named in err (never its value). Borrows everything. */
int fr_common_refuse_local_secrets(const struct fr_common_config *c,
				   const struct fr_builtin_secret *own, size_t nown, unsigned flags,
				   char *err, size_t errlen) MUST_CHECK;

#endif
