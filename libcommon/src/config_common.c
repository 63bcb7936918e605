/*
 * config_common.c - the rules every FlatRender daemon applies to its shared variables.
 *
 * The shared rows themselves are macros in config_common.h (a cfg_item table must be a
 * constant initialiser); this file holds the checks run after config_load(). Owns nothing
 * and borrows everything; error messages name a variable, never its value.
 */
#include "common/config_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/log.h"

/* Writes the message into err (when there is room for one) and returns -1. */
__attribute__((format(printf, 3, 4))) static int cc_fail(char *err, size_t errlen, const char *fmt,
							 ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* -1 with a message when a secret still has its built-in value. */
static int cc_refuse_builtin(const char *env, const char *val, const char *builtin, char *err,
			     size_t errlen)
{
	if (val == NULL || builtin == NULL || strcmp(val, builtin) != 0)
		return 0;
	return cc_fail(err, errlen,
		       "%s: the built-in local default is refused when FR_ENV is not \"local\"",
		       env);
}

void fr_common_derive_service_secret(const char *internal_secret, const char *client_id,
				     char out[65])
{
	static const char pfx[] = "service-client:";
	unsigned char mac[32];
	char msg[sizeof(pfx) + 256];
	int n = snprintf(msg, sizeof(msg), "%s%s", pfx, client_id);

	if (n < 0 || (size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	hmac_sha256(internal_secret, strlen(internal_secret), msg, (size_t)n, mac);
	hex_encode(mac, sizeof(mac), out);
	explicit_bzero(mac, sizeof(mac));
}

int fr_common_service_defaults(struct fr_common_config *c, const char *daemon)
{
	char *id;

	if (c->service_client_id == NULL || c->service_client_id[0] != '\0')
		return 0;
	id = strdup(daemon);
	if (id == NULL)
		return -1;
	free(c->service_client_id);
	c->service_client_id = id;
	return 0;
}

int fr_common_service_secret(const struct fr_common_config *c, char *out, size_t cap)
{
	const char *set = c->service_client_secret;

	if (c->service_client_id == NULL || set == NULL)
		return -1;
	if (set[0] != '\0') {
		if (strlen(set) >= cap)
			return -1;
		memcpy(out, set, strlen(set) + 1);
		return 0;
	}
	if (!fr_common_is_local(c) || cap < 65 || c->internal_secret == NULL)
		return -1;
	fr_common_derive_service_secret(c->internal_secret, c->service_client_id, out);
	return 0;
}

bool fr_common_is_local(const struct fr_common_config *c)
{
	return c->env != NULL && strcmp(c->env, "local") == 0;
}

int fr_common_config_check(const struct fr_common_config *c, char *err, size_t errlen)
{
	if (log_level_parse(c->log_level) < 0)
		return cc_fail(err, errlen, "FR_LOG_LEVEL: must be debug, info, warn or error");
	if (c->internal_secret == NULL || c->internal_secret[0] == '\0')
		return cc_fail(err, errlen, "FR_INTERNAL_SECRET: must not be empty");
	return 0;
}

int fr_common_refuse_local_secrets(const struct fr_common_config *c,
				   const struct fr_builtin_secret *own, size_t nown, unsigned flags,
				   char *err, size_t errlen)
{
	if (fr_common_is_local(c))
		return 0;
	if (cc_refuse_builtin("FR_INTERNAL_SECRET", c->internal_secret, FR_LOCAL_INTERNAL_SECRET,
			      err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < nown; i++)
		if (cc_refuse_builtin(own[i].env, own[i].value, own[i].builtin, err, errlen) < 0)
			return -1;
	if (!(flags & FR_COMMON_ALLOW_AMQP_GUEST) &&
	    cc_refuse_builtin("FR_AMQP_PASSWORD", c->amqp_password, FR_LOCAL_AMQP_PASSWORD, err,
			      errlen) < 0)
		return -1;
	if (c->service_client_secret != NULL && c->service_client_secret[0] == '\0')
		return cc_fail(err, errlen,
			       "FR_SERVICE_CLIENT_SECRET: must be set when FR_ENV is not \"local\"");
	if (c->internal_secret == NULL || strlen(c->internal_secret) < FR_INTERNAL_SECRET_MIN_LEN)
		return cc_fail(err, errlen,
			       "FR_INTERNAL_SECRET: must be at least %d characters when FR_ENV is "
			       "not \"local\"",
			       FR_INTERNAL_SECRET_MIN_LEN);
	return 0;
}
