/*
 * pg_util.c - helpers for PostgreSQL text results and parameters: reading a value, a boolean
 * or an integer out of a PGresult, and building a text-array literal.
 *
 * Owns nothing; every function borrows its arguments.
 */
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
