/*
 * extra_routes.c - parses GATEWAY_EXTRA_ROUTES into prefix routes (see extra_routes.h).
 *
 * Owns the strings of each struct extra_route until extra_routes_free().
 */
#include "extra_routes.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Characters allowed in a prefix: unreserved URI characters and '/'. */
static bool extra_prefix_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '/' || c == '-' || c == '.' || c == '_' || c == '~';
}

static int extra_check_prefix(const char *p, size_t n, char *err, size_t errlen)
{
	if (n < 2 || n > EXTRA_PREFIX_MAX || p[0] != '/' || p[n - 1] != '/') {
		snprintf(err, errlen,
			 "GATEWAY_EXTRA_ROUTES: a prefix must start and end with '/' and hold "
			 "2..%d characters",
			 EXTRA_PREFIX_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!extra_prefix_char(p[i]) || (i > 0 && p[i] == '/' && p[i - 1] == '/')) {
			snprintf(err, errlen, "GATEWAY_EXTRA_ROUTES: bad character in prefix %.*s",
				 (int)n, p);
			return -1;
		}
	}
	return 0;
}

/* "http://host:port" with a non-empty host and a port 1..65535, nothing after it. */
static int extra_check_url(const char *u, size_t n, char *err, size_t errlen)
{
	const char *host, *colon;
	long port = 0;

	if (n < 8 || strncmp(u, "http://", 7) != 0)
		goto bad;
	host = u + 7;
	colon = memchr(host, ':', n - 7);
	if (colon == NULL || colon == host || colon + 1 == u + n)
		goto bad;
	for (const char *h = host; h < colon; h++)
		if (*h == '/' || *h == '@' || *h == ' ' || *h == '=')
			goto bad;
	for (const char *d = colon + 1; d < u + n; d++) {
		if (*d < '0' || *d > '9' || port > 65535)
			goto bad;
		port = port * 10 + (*d - '0');
	}
	if (port < 1 || port > 65535)
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "GATEWAY_EXTRA_ROUTES: the upstream must be http://host:port");
	return -1;
}

static int extra_parse_auth(const char *a, size_t n, enum gw_auth *out)
{
	if (n == 4 && memcmp(a, "none", 4) == 0)
		*out = GW_AUTH_NONE;
	else if (n == 3 && memcmp(a, "jwt", 3) == 0)
		*out = GW_AUTH_JWT;
	else if (n == 6 && memcmp(a, "apikey", 6) == 0)
		*out = GW_AUTH_APIKEY; /* signed API-key requests, no scope required */
	else
		return -1;
	return 0;
}

/* Parses one entry s[0..n) ("prefix=url=auth") into the next slot of x. */
static int extra_parse_entry(const char *s, size_t n, struct extra_routes *x, char *err,
			     size_t errlen)
{
	const char *eq1 = memchr(s, '=', n), *eq2 = NULL;
	struct extra_route *r;
	enum gw_auth auth;

	for (const char *p = s + n; p > s; p--)
		if (p[-1] == '=') {
			eq2 = p - 1;
			break;
		}
	if (eq1 == NULL || eq2 == eq1) {
		snprintf(err, errlen, "GATEWAY_EXTRA_ROUTES: an entry must be prefix=url=auth");
		return -1;
	}
	if (extra_check_prefix(s, (size_t)(eq1 - s), err, errlen) < 0 ||
	    extra_check_url(eq1 + 1, (size_t)(eq2 - eq1 - 1), err, errlen) < 0)
		return -1;
	if (extra_parse_auth(eq2 + 1, (size_t)(s + n - eq2 - 1), &auth) < 0) {
		snprintf(err, errlen, "GATEWAY_EXTRA_ROUTES: auth must be none, jwt or apikey");
		return -1;
	}
	for (size_t i = 0; i < x->n; i++)
		if (strlen(x->v[i].prefix) == (size_t)(eq1 - s) &&
		    memcmp(x->v[i].prefix, s, (size_t)(eq1 - s)) == 0) {
			snprintf(err, errlen, "GATEWAY_EXTRA_ROUTES: duplicate prefix %.*s",
				 (int)(eq1 - s), s);
			return -1;
		}
	if (x->n == EXTRA_ROUTES_MAX) {
		snprintf(err, errlen, "GATEWAY_EXTRA_ROUTES: at most %d entries", EXTRA_ROUTES_MAX);
		return -1;
	}
	r = &x->v[x->n];
	r->prefix = strndup(s, (size_t)(eq1 - s));
	r->url = strndup(eq1 + 1, (size_t)(eq2 - eq1 - 1));
	r->service = malloc(strlen("extra:") + (size_t)(eq1 - s) + 1);
	x->n++; /* counted now so extra_routes_free() releases a partial entry */
	if (r->prefix == NULL || r->url == NULL || r->service == NULL) {
		snprintf(err, errlen, "GATEWAY_EXTRA_ROUTES: out of memory");
		return -1;
	}
	sprintf(r->service, "extra:%s", r->prefix);
	r->route.service = r->service;
	r->route.auth = auth;
	return 0;
}

static bool extra_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int extra_routes_parse(const char *spec, struct extra_routes *x, char *err, size_t errlen)
{
	const char *p = spec;

	memset(x, 0, sizeof(*x));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ';');
		const char *s = p, *e = end != NULL ? end : p + strlen(p);

		while (s < e && extra_blank(*s))
			s++;
		while (e > s && extra_blank(e[-1]))
			e--;
		if (e > s && extra_parse_entry(s, (size_t)(e - s), x, err, errlen) < 0) {
			extra_routes_free(x);
			return -1;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return 0;
}

void extra_routes_free(struct extra_routes *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->v[i].prefix);
		free(x->v[i].url);
		free(x->v[i].service);
	}
	memset(x, 0, sizeof(*x));
}
