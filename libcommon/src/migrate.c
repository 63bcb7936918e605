/*
 * migrate.c - schema migrations at start-up: applies dir/NNNN_name.sql files in order into a
 * schema, each file in its own transaction, recorded with its SHA-256 in
 * <schema>.schema_migrations.
 *
 * Blocking on purpose (it runs before a daemon's loop serves anything). Owns, for the length
 * of one migrate_run() call, its own PGconn and the session advisory lock on
 * hashtext('migrate:' || schema), which serialises replicas starting together. Creates the
 * schema only when it is missing (normally the stack bootstrap made it for the service role).
 */
#include "common/migrate.h"
#include "common/pg.h"

#include "common/crypto.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIG_MAX_FILES 10000
#define MIG_MAX_FILE_BYTES (16 * 1024 * 1024)
#define MIG_VERSION_LEN 4

struct mig_run {
	PGconn *pg;
	const char *schema;
	char *qschema;     /* the schema as a quoted identifier; PQfreemem */
	char lock_key[96]; /* 'migrate:' || schema */
	bool locked;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int mig_fail(struct mig_run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->errlen) {
		va_start(ap, fmt);
		vsnprintf(r->err, r->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ^[0-9]{4}_[a-z0-9_]+\.sql$ */
static bool mig_name_ok(const char *name)
{
	size_t len = strlen(name);
	size_t i;

	if (len < MIG_VERSION_LEN + 1 + 1 + 4 || strcmp(name + len - 4, ".sql") != 0)
		return false;
	for (i = 0; i < MIG_VERSION_LEN; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
	}
	if (name[i++] != '_')
		return false;
	for (; i < len - 4; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return true;
}

static int mig_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void mig_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The matching file names of dir, sorted; *out is the caller's (mig_names_free). */
static int mig_list(struct mig_run *r, const char *dir, char ***out, size_t *nout)
{
	char **names = NULL, **grown;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d = opendir(dir);
	int rc = -1;

	if (!d)
		return mig_fail(r, "cannot open migrations directory %s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		if (!mig_name_ok(e->d_name))
			continue;
		if (n == MIG_MAX_FILES) {
			mig_fail(r, "too many migration files in %s", dir);
			goto out;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(names, cap * sizeof(*names));
			if (!grown)
				goto oom;
			names = grown;
		}
		if (!(names[n] = strdup(e->d_name)))
			goto oom;
		n++;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), mig_cmp);
	for (size_t i = 1; i < n; i++) {
		if (strncmp(names[i - 1], names[i], MIG_VERSION_LEN) == 0) {
			mig_fail(r, "two migrations share version %.4s", names[i]);
			goto out;
		}
	}
	*out = names;
	*nout = n;
	names = NULL;
	n = 0;
	rc = 0;
	goto out;
oom:
	mig_fail(r, "out of memory");
out:
	mig_names_free(names, n);
	closedir(d);
	return rc;
}

/* The whole file, NUL-terminated; caller frees. */
static char *mig_read(struct mig_run *r, const char *dir, const char *name, size_t *len)
{
	char path[4096];
	struct stat st;
	char *buf = NULL;
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		mig_fail(r, "path too long: %s", name);
		return NULL;
	}
	f = fopen(path, "rb");
	if (!f) {
		mig_fail(r, "cannot open %s: %s", name, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) || st.st_size > MIG_MAX_FILE_BYTES) {
		mig_fail(r, "%s: unreadable or larger than %d bytes", name, MIG_MAX_FILE_BYTES);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		mig_fail(r, "out of memory");
		goto out;
	}
	*len = fread(buf, 1, (size_t)st.st_size, f);
	buf[*len] = '\0';
	if (ferror(f) || *len != (size_t)st.st_size || strlen(buf) != *len) {
		mig_fail(r, "%s: read failed or the file contains a NUL byte", name);
		free(buf);
		buf = NULL;
	}
out:
	fclose(f);
	return buf;
}

static void mig_error_text(const PGresult *res, const PGconn *pg, char *buf, size_t len)
{
	const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	size_t n;

	if (!m)
		m = PQerrorMessage(pg);
	n = strcspn(m, "\r\n");
	if (n >= len)
		n = len - 1;
	memcpy(buf, m, n);
	buf[n] = '\0';
}

/* Runs one statement; returns its result (caller PQclears) or NULL with r->err set. */
static PGresult *mig_exec(struct mig_run *r, const char *what, const char *sql, int n,
			  const char *const *params)
{
	PGresult *res = PQexecParams(r->pg, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	char msg[512];

	if (res && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK))
		return res;
	mig_error_text(res, r->pg, msg, sizeof(msg));
	mig_fail(r, "%s: %s", what, msg);
	PQclear(res);
	return NULL;
}

static int mig_exec_ok(struct mig_run *r, const char *what, const char *sql, int n,
		       const char *const *params)
{
	PGresult *res = mig_exec(r, what, sql, n, params);

	PQclear(res);
	return res ? 0 : -1;
}

/* Lock, make sure the schema and the bookkeeping table exist, point search_path at it. */
static int mig_prepare(struct mig_run *r)
{
	const char *key = r->lock_key;
	const char *schema = r->schema;
	const char *qschema = r->qschema;
	char sql[512];
	PGresult *res;
	bool exists;

	if (mig_exec_ok(r, "advisory lock", "SELECT pg_advisory_lock(hashtext($1))", 1, &key))
		return -1;
	r->locked = true;
	res = mig_exec(r, "schema lookup",
		       "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1", 1, &schema);
	if (!res)
		return -1;
	exists = PQntuples(res) > 0;
	PQclear(res);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", qschema);
	if (!exists && mig_exec_ok(r, "create schema", sql, 0, NULL))
		return -1;
	if (mig_exec_ok(r, "set search_path",
			"SELECT pg_catalog.set_config('search_path', $1, false)", 1, &qschema))
		return -1;
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE IF NOT EXISTS %s.schema_migrations (version text PRIMARY KEY, "
		 "name text NOT NULL, sha256 text NOT NULL, "
		 "applied_at timestamptz NOT NULL DEFAULT now())",
		 qschema);
	return mig_exec_ok(r, "create schema_migrations", sql, 0, NULL);
}

/* Runs one file and records it, in one transaction; rolls back on any error. */
static int mig_apply(struct mig_run *r, const char *name, const char *body, const char *sha)
{
	char version[MIG_VERSION_LEN + 1];
	char stem[256];
	const char *params[3] = {version, stem, sha};
	char sql[512], msg[512];
	PGresult *res;
	ExecStatusType st;

	snprintf(version, sizeof(version), "%.*s", MIG_VERSION_LEN, name);
	snprintf(stem, sizeof(stem), "%.*s", (int)(strlen(name) - MIG_VERSION_LEN - 1 - 4),
		 name + MIG_VERSION_LEN + 1);
	if (mig_exec_ok(r, "begin", "BEGIN", 0, NULL))
		return -1;
	res = PQexec(r->pg, body); /* several statements are fine here */
	st = PQresultStatus(res);
	if (!res || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)) {
		mig_error_text(res, r->pg, msg, sizeof(msg));
		mig_fail(r, "%s: %s", name, msg);
		PQclear(res);
		goto rollback;
	}
	PQclear(res);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s.schema_migrations (version, name, sha256) VALUES ($1, $2, $3)",
		 r->qschema);
	if (mig_exec_ok(r, name, sql, 3, params))
		goto rollback;
	res = mig_exec(r, name, "COMMIT", 0, NULL);
	if (!res)
		goto rollback;
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		PQclear(res);
		return mig_fail(r, "%s: transaction rolled back", name);
	}
	PQclear(res);
	return 0;
rollback:
	PQclear(PQexec(r->pg, "ROLLBACK"));
	return -1;
}

/* 1 when applied now, 0 when it was applied before (unchanged), -1 on error. */
static int mig_file(struct mig_run *r, const char *dir, const char *name, const PGresult *applied)
{
	char sha[65];
	size_t len = 0;
	char *body = mig_read(r, dir, name, &len);
	int rc = -1;

	if (!body)
		return -1;
	sha256_hex(body, len, sha);
	for (int i = 0; i < PQntuples(applied); i++) {
		if (strncmp(PQgetvalue(applied, i, 0), name, MIG_VERSION_LEN) != 0 ||
		    PQgetvalue(applied, i, 0)[MIG_VERSION_LEN] != '\0')
			continue;
		if (strcmp(PQgetvalue(applied, i, 1), sha) != 0) {
			mig_fail(r, "%s changed after it was applied (sha256 %s, recorded %s)", name,
				 sha, PQgetvalue(applied, i, 1));
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (mig_apply(r, name, body, sha))
		goto out;
	log_info(NULL, "migration applied", LS("schema", r->schema), LS("file", name));
	rc = 1;
out:
	free(body);
	return rc;
}

static void mig_close(struct mig_run *r)
{
	const char *key = r->lock_key;

	if (r->locked && PQstatus(r->pg) == CONNECTION_OK)
		PQclear(PQexecParams(r->pg, "SELECT pg_advisory_unlock(hashtext($1))", 1, NULL, &key,
				     NULL, NULL, 0));
	if (r->qschema)
		PQfreemem(r->qschema);
	PQfinish(r->pg); /* also releases the lock if the unlock could not run */
}

int migrate_run(const char *conninfo, const char *schema, const char *dir, char *err, size_t errlen)
{
	struct mig_run r = {.schema = schema, .err = err, .errlen = err ? errlen : 0};
	PGresult *applied = NULL;
	char **names = NULL;
	size_t n = 0;
	char sql[512], msg[256];
	int rc = -1, count = 0;

	if (r.errlen)
		err[0] = '\0';
	if (!conninfo || !schema || !dir)
		return mig_fail(&r, "missing argument");
	if (!*schema || strlen(schema) > 63)
		return mig_fail(&r, "bad schema name");
	snprintf(r.lock_key, sizeof(r.lock_key), "migrate:%s", schema);
	if (mig_list(&r, dir, &names, &n))
		return -1;
	r.pg = PQconnectdb(conninfo);
	if (PQstatus(r.pg) != CONNECTION_OK) {
		mig_error_text(NULL, r.pg, msg, sizeof(msg));
		mig_fail(&r, "cannot connect: %s", msg);
		goto out;
	}
	PQsetNoticeProcessor(r.pg, pg_log_notice, (void *)"migrate notice");
	r.qschema = PQescapeIdentifier(r.pg, schema, strlen(schema));
	if (!r.qschema) {
		mig_fail(&r, "bad schema name");
		goto out;
	}
	if (mig_prepare(&r))
		goto out;
	snprintf(sql, sizeof(sql), "SELECT version, sha256 FROM %s.schema_migrations", r.qschema);
	applied = mig_exec(&r, "read schema_migrations", sql, 0, NULL);
	if (!applied)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int one = mig_file(&r, dir, names[i], applied);

		if (one < 0)
			goto out;
		count += one;
	}
	log_info(NULL, "migrations done", LS("schema", schema), LI("applied", count),
		 LI("files", n));
	rc = count;
out:
	PQclear(applied);
	mig_close(&r);
	mig_names_free(names, n);
	return rc;
}

int migrate_run_retry(const char *conninfo, const char *schema, const char *dir, int attempts)
{
	char err[512];

	for (int i = 1; i <= attempts; i++) {
		int n = migrate_run(conninfo, schema, dir, err, sizeof(err));

		if (n >= 0) {
			log_info(NULL, "migrations applied", LI("count", n));
			return 0;
		}
		log_warn(NULL, "migrations failed", LS("error", err), LI("attempt", i));
		if (i < attempts)
			sleep(1);
	}
	return -1;
}
