/*
 * migrate.h - schema migrations: migrations/<service>/NNNN_name.sql applied in order.
 *
 * Runs at a daemon's start-up, before its loop serves anything (it blocks, on purpose, on
 * its own connection). Takes pg_advisory_lock on a key derived from the schema name so two
 * replicas starting together apply each file once; records every applied file with its
 * SHA-256 in <schema>.schema_migrations; refuses to start when an applied file changed.
 * Each file runs in its own transaction.
 */
#ifndef COMMON_MIGRATE_H
#define COMMON_MIGRATE_H

#include <stddef.h>

/* Applies pending migrations from dir into schema. Returns the number applied (>= 0) or -1
 * with a message in err (err may be NULL). Files are those named ^[0-9]{4}_[a-z0-9_]+\.sql$,
 * in name order; two files with the same version are an error. The schema is created only
 * when missing; search_path is the schema while files run, so unqualified names land there.
 * A file must not contain its own BEGIN/COMMIT, nor statements that cannot run inside a
 * transaction block. Blocks: call it before the loop runs (it is thread-safe). */
int migrate_run(const char *conninfo, const char *schema, const char *dir, char *err, size_t errlen);
/* A daemon's start-up: migrate_run() up to attempts times, one second apart (PostgreSQL may
 * still be starting), logging each failure. Returns 0 once applied, -1 when every attempt
 * failed. Blocks, like migrate_run(). */
int migrate_run_retry(const char *conninfo, const char *schema, const char *dir, int attempts);

#endif
