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
 * with a message in err. */
int migrate_run(const char *conninfo, const char *schema, const char *dir, char *err, size_t errlen);

#endif
