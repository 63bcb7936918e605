/*
 * pg_util.c - helpers for PostgreSQL text results and parameters: reading a value, a boolean
 * or an integer out of a PGresult, building a text-array literal, and the HTTP reply to a
 * failed query.
 *
 * Owns nothing; every function borrows its arguments.
 */
#include "common/http.h"
#include "common/log.h"
#include "common/pg.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *pg_val(const PGresult *res, int row, int col)
{
	if (!res || row < 0 || col < 0 || row >= PQntuples(res) || col >= PQnfields(res))
		return NULL;
	if (PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

bool pg_bool(const PGresult *res, int row, int col)
{
	const char *v = pg_val(res, row, col);

	return v && v[0] == 't';
}

long long pg_int(const PGresult *res, int row, int col)
{
	const char *v = pg_val(res, row, col);
	char *end = NULL;
	long long n;

	if (!v)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end)
		return 0;
	return n;
}

/* Bytes one element takes inside the literal, without the separator. */
static size_t array_item_len(const char *s)
{
	size_t n = 2; /* quotes */

	if (!s)
		return 4; /* NULL */
	for (; *s; s++)
		n += (*s == '"' || *s == '\\') ? 2 : 1;
	return n;
}

char *pg_array_literal(const char *const *items, size_t n)
{
	size_t len = 3; /* braces and NUL */
	char *out, *w;

	if (n && !items)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t add = array_item_len(items[i]) + 1;

		if (len > SIZE_MAX / 2 - add)
			return NULL;
		len += add;
	}
	out = malloc(len);
	if (!out)
		return NULL;
	w = out;
	*w++ = '{';
	for (size_t i = 0; i < n; i++) {
		const char *s = items[i];

		if (i)
			*w++ = ',';
		if (!s) {
			memcpy(w, "NULL", 4);
			w += 4;
			continue;
		}
		*w++ = '"';
		for (; *s; s++) {
			if (*s == '"' || *s == '\\')
				*w++ = '\\';
			*w++ = *s;
		}
		*w++ = '"';
	}
	*w++ = '}';
	*w = '\0';
	return out;
}

void pg_log_notice(void *arg, const char *message)
{
	char line[256];
	size_t n = strcspn(message, "\r\n");

	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, message, n);
	line[n] = '\0';
	log_debug(NULL, arg != NULL ? (const char *)arg : "pg notice", LS("message", line));
}

/* No SQLSTATE, or a state worth retrying later (see pg_reply_error in pg.h). */
static bool pg_sqlstate_transient(const char *st)
{
	return st[0] == '\0' || strncmp(st, "08", 2) == 0 || strncmp(st, "53", 2) == 0 ||
	       strncmp(st, "57", 2) == 0 || strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0;
}

void pg_reply_error(struct http_request *req, const char *what, const struct pg_result *r)
{
	struct log_ctx ctx = {.request_id = http_request_id(req)};
	const char *st = r != NULL && r->sqlstate != NULL ? r->sqlstate : "";

	log_error(&ctx, "database error", LS("step", what),
		  LS("error", r != NULL && r->err != NULL ? r->err : "not queued"),
		  LS("sqlstate", st));
	if (pg_sqlstate_transient(st))
		http_reply_error(req, 503, "service_unavailable",
				 "The service is temporarily unavailable.", NULL);
	else
		http_reply_error(req, 500, "internal_error", "An internal error occurred.", NULL);
}
