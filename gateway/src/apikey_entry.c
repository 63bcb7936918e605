/*
 * apikey_entry.c - API keys as the gateway caches them: identity's validate answer, the
 * Redis value of fr:apikey:<prefix>, allow-lists and expiry times (see apikey_entry.h).
 *
 * Owns nothing; pure.
 */
#include "apikey_entry.h"

#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/apikey_cache.h"
#include "common/json.h"

#define APIKEY_NONE_PREFIX APIKEY_CACHE_NONE ":"

static const char scope_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789:_.-";

/* ---- small parsers -------------------------------------------------------------------- */

int apikey_cidr_parse(const char *s, struct apikey_cidr *out)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	long bits;
	char *end;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, out->addr) == 1)
		out->family = AF_INET6;
	else
		return -1;
	bits = out->family == AF_INET ? 32 : 128;
	if (slash != NULL) {
		long max = bits;

		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		bits = strtol(slash + 1, &end, 10);
		if (*end != '\0' || bits < 0 || bits > max)
			return -1;
	}
	out->bits = (int)bits;
	return 0;
}

/* True when the first bits bits of a and b agree. */
static bool prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (unsigned char)(0xFF << (8 - rest))) == 0;
}

bool apikey_entry_ip_allowed(const struct apikey_entry *e, const char *ip)
{
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
	unsigned char a[16];
	int family;

	if (e->nips == 0)
		return true;
	if (ip == NULL)
		return false;
	if (inet_pton(AF_INET, ip, a) == 1) {
		family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		family = AF_INET6;
		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
			memmove(a, a + 12, 4);
			family = AF_INET;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < e->nips; i++)
		if (e->ips[i].family == family && prefix_match(a, e->ips[i].addr, e->ips[i].bits))
			return true;
	return false;
}

bool apikey_entry_has_scope(const struct apikey_entry *e, const char *scope)
{
	size_t n = scope != NULL ? strlen(scope) : 0;
	const char *p = e->scopes;

	if (scope == NULL)
		return true;
	while (n > 0 && *p != '\0') {
		size_t len = strcspn(p, " ");

		if (len == n && memcmp(p, scope, n) == 0)
			return true;
		p += len;
		p += strspn(p, " ");
	}
	return false;
}

static bool digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

int apikey_time_parse(const char *s, int64_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p = s + 19;
	time_t t;

	if (s == NULL || strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' ||
	    !digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
	    !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		sign = 0;
	} else if ((*p == '+' || *p == '-') && digits(p + 1, 2, &oh) &&
		   (p[3] == '\0' || (p[3] == ':' && strlen(p) == 6 && digits(p + 4, 2, &om)) ||
		    (strlen(p) == 5 && digits(p + 3, 2, &om)))) {
		sign = *p == '+' ? 1 : -1; /* +hh:mm, +hhmm or +hh (PostgreSQL's text form) */
	} else {
		return -1;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || oh > 23 ||
	    om > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*out = (int64_t)t - sign * (oh * 3600 + om * 60);
	return 0;
}

/* ---- JSON answers --------------------------------------------------------------------- */

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int copy_uuid(char dst[UUID_STR_LEN], const char *s)
{
	if (s == NULL || !uuid_valid(s))
		return -1;
	memcpy(dst, s, UUID_STR_LEN);
	return 0;
}

/* The scopes array as "a b c"; -1 when a name is empty, odd or the list too long. */
static int parse_scopes(json_object *o, char *out, size_t cap)
{
	json_object *arr;
	size_t o_len = 0;

	out[0] = '\0';
	if (!json_object_object_get_ex(o, "scopes", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return -1;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *s = json_object_array_get_idx(arr, i);
		const char *v = json_object_is_type(s, json_type_string) ? json_object_get_string(s)
									 : NULL;
		size_t n = v != NULL ? strlen(v) : 0;

		if (n == 0 || strspn(v, scope_chars) != n || o_len + n + 2 > cap)
			return -1;
		if (o_len > 0)
			out[o_len++] = ' ';
		memcpy(out + o_len, v, n + 1);
		o_len += n;
	}
	return 0;
}

static int parse_ips(json_object *o, struct apikey_entry *e)
{
	json_object *arr;
	size_t n;

	e->nips = 0;
	if (!json_object_object_get_ex(o, "allowed_ips", &arr) || arr == NULL)
		return 0; /* absent or null: any address */
	if (!json_object_is_type(arr, json_type_array) ||
	    (n = json_object_array_length(arr)) > APIKEY_MAX_IPS)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(s, json_type_string) ||
		    apikey_cidr_parse(json_object_get_string(s), &e->ips[i]) < 0)
			return -1;
	}
	e->nips = n;
	return 0;
}

/* A valid key's fields (environment, ids, scopes, allow-list, limit, expiry). */
static int parse_valid(json_object *o, struct apikey_entry *e)
{
	const char *env = jstr(o, "environment"), *exp;
	json_object *v;

	if (copy_uuid(e->api_key_id, jstr(o, "api_key_id")) < 0 ||
	    copy_uuid(e->tenant_id, jstr(o, "tenant_id")) < 0 || env == NULL ||
	    (strcmp(env, "Live") != 0 && strcmp(env, "Test") != 0) ||
	    parse_scopes(o, e->scopes, sizeof(e->scopes)) < 0 || parse_ips(o, e) < 0)
		return -1;
	e->live = strcmp(env, "Live") == 0;
	if (!json_object_object_get_ex(o, "rate_limit_rpm", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
	    json_object_get_int64(v) > 100000000)
		return -1;
	e->rate_limit_rpm = (long)json_object_get_int64(v);
	e->expires_at = 0;
	if (json_object_object_get_ex(o, "expires_at", &v) && v != NULL &&
	    ((exp = jstr(o, "expires_at")) == NULL || apikey_time_parse(exp, &e->expires_at) < 0))
		return -1;
	return 0;
}

/* {"valid":false,"reason":...} -> state; -1 on an unknown reason. */
static int parse_refusal(json_object *o, enum apikey_state *st)
{
	const char *r = jstr(o, "reason");

	if (r == NULL)
		return -1;
	if (strcmp(r, "unknown") == 0)
		*st = APIKEY_UNKNOWN;
	else if (strcmp(r, "revoked") == 0)
		*st = APIKEY_REVOKED;
	else if (strcmp(r, "expired") == 0)
		*st = APIKEY_EXPIRED;
	else if (strcmp(r, "tenant_suspended") == 0)
		*st = APIKEY_TENANT_SUSPENDED;
	else
		return -1;
	return 0;
}

/* Fills e (not its verifier) from a validate-shaped object. */
static int parse_answer(json_object *o, struct apikey_entry *e)
{
	json_object *valid;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "valid", &valid) ||
	    !json_object_is_type(valid, json_type_boolean))
		return -1;
	if (!json_object_get_boolean(valid))
		return parse_refusal(o, &e->state);
	e->state = APIKEY_VALID;
	return parse_valid(o, e);
}

static bool verifier_ok(const char *v)
{
	return v != NULL && strlen(v) == 64 && strspn(v, "0123456789abcdef") == 64;
}

/* The Redis value for a parsed answer; NULL on OOM. */
static char *cache_value_of(json_object *o, const struct apikey_entry *e)
{
	char *out = NULL;

	switch (e->state) {
	case APIKEY_VALID:
		json_object_object_add(o, "verifier", json_object_new_string(e->verifier));
		return strdup(json_compact(o, NULL));
	case APIKEY_UNKNOWN:
		if (asprintf(&out, APIKEY_NONE_PREFIX "%s", e->verifier) < 0)
			return NULL;
		return out;
	case APIKEY_REVOKED: return strdup(APIKEY_CACHE_REVOKED);
	case APIKEY_EXPIRED: return strdup("{\"valid\":false,\"reason\":\"expired\"}");
	case APIKEY_TENANT_SUSPENDED:
		return strdup("{\"valid\":false,\"reason\":\"tenant_suspended\"}");
	}
	return NULL;
}

int apikey_entry_from_validate(const char *json, size_t n, const char verifier[65],
			       struct apikey_entry *out, char **cache_value)
{
	json_object *o = json_parse_strict(json, n, NULL);
	int rc = -1;

	memset(out, 0, sizeof(*out));
	*cache_value = NULL;
	if (o == NULL || !verifier_ok(verifier) || parse_answer(o, out) < 0)
		goto out;
	memcpy(out->verifier, verifier, 65);
	*cache_value = cache_value_of(o, out);
	rc = *cache_value != NULL ? 0 : -1;
out:
	if (o != NULL)
		json_object_put(o);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int apikey_entry_from_cache(const char *v, size_t n, struct apikey_entry *out)
{
	size_t np = sizeof(APIKEY_NONE_PREFIX) - 1;
	json_object *o;
	const char *ver;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (n == sizeof(APIKEY_CACHE_REVOKED) - 1 && memcmp(v, APIKEY_CACHE_REVOKED, n) == 0) {
		out->state = APIKEY_REVOKED;
		return 0;
	}
	if (n == np + 64 && memcmp(v, APIKEY_NONE_PREFIX, np) == 0) {
		memcpy(out->verifier, v + np, 64);
		out->verifier[64] = '\0';
		if (!verifier_ok(out->verifier))
			goto out;
		out->state = APIKEY_UNKNOWN;
		return 0;
	}
	if ((o = json_parse_strict(v, n, NULL)) == NULL)
		goto out;
	ver = jstr(o, "verifier");
	if (parse_answer(o, out) == 0) {
		/* a negative answer is only ever cached as "none:<verifier>" */
		if (out->state == APIKEY_REVOKED || out->state == APIKEY_EXPIRED ||
		    out->state == APIKEY_TENANT_SUSPENDED) {
			rc = 0;
		} else if (out->state == APIKEY_VALID && verifier_ok(ver)) {
			memcpy(out->verifier, ver, 65);
			rc = 0;
		}
	}
	json_object_put(o);
out:
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}
