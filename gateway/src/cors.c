/*
 * cors.c - CORS origin list, decisions and headers (see cors.h).
 *
 * Owns the origin strings of a struct cors until cors_free().
 */
#include "cors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* scheme "://" host [":" port], no path, no blanks, no credentials. */
static bool cors_origin_valid(const char *s, size_t n)
{
	const char *sep = NULL;

	for (size_t i = 0; i + 2 < n; i++)
		if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
			sep = s + i;
			break;
		}
	if (sep == NULL || sep == s || (size_t)(sep - s) + 3 >= n)
		return false;
	for (const char *p = sep + 3; p < s + n; p++)
		if (*p == '/' || *p == '@' || *p == ' ' || *p == '\t' || *p == '*')
			return false;
	return true;
}

int cors_init(struct cors *c, const char *list, char *err, size_t errlen)
{
	const char *p = list != NULL ? list : "";

	memset(c, 0, sizeof(*c));
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		const char *stop = end != NULL ? end : p + strlen(p);
		const char *s = p, *e = stop;

		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s) {
			if (!cors_origin_valid(s, (size_t)(e - s)) || c->n == CORS_MAX_ORIGINS) {
				snprintf(err, errlen,
					 "GATEWAY_CORS_ORIGINS: bad origin \"%.*s\" (scheme://host[:port], "
					 "at most %d)",
					 (int)(e - s), s, CORS_MAX_ORIGINS);
				cors_free(c);
				return -1;
			}
			if ((c->origins[c->n] = strndup(s, (size_t)(e - s))) == NULL) {
				snprintf(err, errlen, "GATEWAY_CORS_ORIGINS: out of memory");
				cors_free(c);
				return -1;
			}
			c->n++;
		}
		p = end != NULL ? end + 1 : stop;
	}
	return 0;
}

void cors_free(struct cors *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->origins[i]);
	memset(c, 0, sizeof(*c));
}

bool cors_origin_allowed(const struct cors *c, const char *origin)
{
	if (origin == NULL)
		return false;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->origins[i], origin) == 0)
			return true;
	return false;
}

enum cors_decision cors_decide(const struct cors *c, enum http_method m, const char *origin,
			       const char *acrm)
{
	bool allowed;

	if (origin == NULL)
		return CORS_NOT_CORS;
	allowed = cors_origin_allowed(c, origin);
	if (m == HTTP_OPTIONS && acrm != NULL)
		return allowed ? CORS_PREFLIGHT_OK : CORS_PREFLIGHT_DENIED;
	return allowed ? CORS_ACTUAL_ALLOWED : CORS_ACTUAL_OTHER;
}

void cors_add_actual_headers(struct http_request *r, const char *origin)
{
	http_reply_header(r, "Access-Control-Allow-Origin", origin);
	http_reply_header(r, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
	http_reply_header(r, "Vary", "Origin");
}

void cors_reply_preflight(struct http_request *r, enum cors_decision d, const char *origin)
{
	if (d != CORS_PREFLIGHT_OK) {
		http_reply_header(r, "Vary", "Origin");
		http_reply_error(r, 403, "cors_origin_denied",
				 "This origin is not allowed to call the API.", NULL);
		return;
	}
	http_reply_header(r, "Access-Control-Allow-Origin", origin);
	http_reply_header(r, "Access-Control-Allow-Methods", CORS_ALLOW_METHODS);
	http_reply_header(r, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
	http_reply_header(r, "Access-Control-Max-Age", CORS_MAX_AGE);
	http_reply_header(r, "Vary", "Origin");
	http_reply_empty(r, 204);
}
