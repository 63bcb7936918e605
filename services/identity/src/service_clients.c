/*
 * service_clients.c - IDENTITY_SERVICE_CLIENTS and the credential check (see service_clients.h).
 *
 * Owns the table of (name, SHA-256 of the secret) and the in-memory failure counters.
 */
#include "service_clients.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config_common.h"
#include "common/crypto.h"
#include "throttle.h"

#define SC_NAME_MAX 63
#define SC_FAIL_TEXT_MAX 256 /* "<ip>\n<client id>" hashed into a throttle key */
#define SC_NAME_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_-"

struct service_client {
	char name[SC_NAME_MAX + 1];
	unsigned char hash[32];
};

struct service_clients {
	struct service_client c[SERVICE_CLIENTS_MAX];
	size_t n;
	unsigned char dummy[32]; /* compared against when the name is unknown */
	struct throttle_mem *fails;
};

static bool sc_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > SC_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] == '\0' || strchr(SC_NAME_CHARS, s[i]) == NULL)
			return false;
	return true;
}

static const struct service_client *sc_find(const struct service_clients *sc, const char *name)
{
	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(sc->c[i].name, name) == 0)
			return &sc->c[i];
	return NULL;
}

/* Adds one "name:hex" item of length n; -1 with a reason. */
static int sc_add_item(struct service_clients *sc, const char *item, size_t n, char *err,
		       size_t errlen)
{
	const char *colon = memchr(item, ':', n);
	size_t nl = colon != NULL ? (size_t)(colon - item) : 0;
	struct service_client *c;

	if (colon == NULL || !sc_name_ok(item, nl)) {
		snprintf(err, errlen,
			 "IDENTITY_SERVICE_CLIENTS: item %zu: expected name:sha256hex with a name "
			 "of 1..63 of [a-z0-9_-]",
			 sc->n + 1);
		return -1;
	}
	if (sc->n >= SERVICE_CLIENTS_MAX) {
		snprintf(err, errlen, "IDENTITY_SERVICE_CLIENTS: more than %d clients",
			 SERVICE_CLIENTS_MAX);
		return -1;
	}
	c = &sc->c[sc->n];
	memcpy(c->name, item, nl);
	c->name[nl] = '\0';
	if (sc_find(sc, c->name) != NULL) {
		snprintf(err, errlen, "IDENTITY_SERVICE_CLIENTS: client \"%s\" listed twice",
			 c->name);
		return -1;
	}
	if (n - nl - 1 != 64 || hex_decode(colon + 1, 64, c->hash, sizeof(c->hash)) < 0) {
		snprintf(err, errlen,
			 "IDENTITY_SERVICE_CLIENTS: client \"%s\": the hash must be 64 hex digits",
			 c->name);
		return -1;
	}
	sc->n++;
	return 0;
}

static int sc_parse(struct service_clients *sc, const char *spec, char *err, size_t errlen)
{
	const char *p = spec;

	for (;;) {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		while (n > 0 && *p == ' ') {
			p++;
			n--;
		}
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (sc_add_item(sc, p, n, err, errlen) < 0)
			return -1;
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

/* The local defaults: every SERVICE_CLIENTS_LOCAL name with its derived secret. */
static void sc_local(struct service_clients *sc, const char *internal_secret)
{
	char names[] = SERVICE_CLIENTS_LOCAL;
	char *save = NULL;

	for (char *name = strtok_r(names, ",", &save); name != NULL;
	     name = strtok_r(NULL, ",", &save)) {
		struct service_client *c = &sc->c[sc->n++];
		char secret[65];

		snprintf(c->name, sizeof(c->name), "%s", name);
		fr_common_derive_service_secret(internal_secret, name, secret);
		sha256(secret, strlen(secret), c->hash);
		explicit_bzero(secret, sizeof(secret));
	}
}

struct service_clients *service_clients_new(const char *spec, bool allow_default,
					    const char *internal_secret, char *err, size_t errlen)
{
	struct service_clients *sc;

	if ((spec == NULL || spec[0] == '\0') && !allow_default) {
		snprintf(err, errlen,
			 "IDENTITY_SERVICE_CLIENTS: must be set when FR_ENV is not \"local\"");
		return NULL;
	}
	sc = calloc(1, sizeof(*sc));
	if (sc == NULL || (sc->fails = throttle_mem_new(1024)) == NULL ||
	    crypto_random(sc->dummy, sizeof(sc->dummy)) < 0) {
		snprintf(err, errlen, "IDENTITY_SERVICE_CLIENTS: out of memory");
		service_clients_free(sc);
		return NULL;
	}
	if (spec == NULL || spec[0] == '\0')
		sc_local(sc, internal_secret);
	else if (sc_parse(sc, spec, err, errlen) < 0) {
		service_clients_free(sc);
		return NULL;
	}
	return sc;
}

void service_clients_free(struct service_clients *sc)
{
	if (sc == NULL)
		return;
	throttle_mem_free(sc->fails);
	explicit_bzero(sc, sizeof(*sc));
	free(sc);
}

size_t service_clients_count(const struct service_clients *sc)
{
	return sc->n;
}

bool service_clients_verify(const struct service_clients *sc, const char *client_id,
			    const char *secret)
{
	const struct service_client *c = sc_find(sc, client_id);
	unsigned char h[32];
	bool same;

	sha256(secret, strlen(secret), h);
	same = ct_equal(h, c != NULL ? c->hash : sc->dummy, sizeof(h));
	explicit_bzero(h, sizeof(h));
	return c != NULL && same;
}

bool service_audience_known(const char *audience)
{
	static const char list[] = SERVICE_AUDIENCES;
	size_t n = strlen(audience);

	for (const char *p = list; *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len == n && memcmp(p, audience, n) == 0)
			return true;
		p += len + (end != NULL);
	}
	return false;
}

/* The counter key of a client name and caller address (any text, hashed to fit). Per
 * address, so that nobody else reaching identity can lock a client out with bad secrets. */
static void sc_fail_key(const char *client_id, const char *ip, char out[THROTTLE_KEY_MAX])
{
	char buf[SC_FAIL_TEXT_MAX]; /* client ids from HTTP are short; longer text is cut */
	char hex[65];

	snprintf(buf, sizeof(buf), "%s\n%s", ip != NULL ? ip : "", client_id);
	sha256_hex(buf, strlen(buf), hex);
	snprintf(out, THROTTLE_KEY_MAX, "svc:%s", hex);
}

long service_clients_blocked(struct service_clients *sc, const char *client_id, const char *ip,
			     time_t now)
{
	char key[THROTTLE_KEY_MAX];
	long ttl = 0;
	long fails;

	sc_fail_key(client_id, ip, key);
	fails = throttle_mem_get(sc->fails, key, now, &ttl);
	if (fails < SERVICE_CLIENTS_MAX_FAILS)
		return 0;
	return ttl >= 1 ? ttl : SERVICE_CLIENTS_WINDOW_S;
}

void service_clients_failed(struct service_clients *sc, const char *client_id, const char *ip,
			    time_t now)
{
	char key[THROTTLE_KEY_MAX];

	sc_fail_key(client_id, ip, key);
	throttle_mem_hit(sc->fails, key, SERVICE_CLIENTS_WINDOW_S, now);
}
