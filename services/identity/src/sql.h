/*
 * sql.h - small helpers shared by identity's *_store.c files: timestamp rendering in SQL and
 * reading a text column either borrowed from the result or copied into request memory.
 */
#ifndef IDENTITY_SQL_H
#define IDENTITY_SQL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/http.h"
#include "common/pg.h"
#include "model.h"

/* A timestamptz expression rendered as ISO 8601 UTC, "2026-05-27T10:15:00Z". */
#define SQL_TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
/* The same with milliseconds, "2026-05-27T10:15:00.123Z": the *_at fields of events. */
#define SQL_TS_MS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Column c of row as text (NULL for SQL NULL): borrowed from res when copy is NULL, else a
 * copy in copy's request memory. */
static inline const char *sql_col(const PGresult *res, int row, int c, struct http_request *copy)
{
	const char *v = pg_val(res, row, c);

	return (v == NULL || copy == NULL) ? v : http_request_strdup(copy, v);
}

static inline struct opt_int sql_opt_int(const PGresult *res, int row, int c)
{
	struct opt_int o = {false, 0};

	if (!PQgetisnull(res, row, c)) {
		o.set = true;
		o.v = pg_int(res, row, c);
	}
	return o;
}

/* Decimal text of a long, for query parameters. */
#define SQL_LONG_BUF 24

#endif
