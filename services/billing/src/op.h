/*
 * op.h - one money operation as one transaction, from the statement to the reply.
 *
 * The operation itself is ONE SQL statement calling a function of the migration that locks
 * what it changes, applies the rules and returns one row (status integer, body json,
 * events json): the HTTP status, the answer (or {"code","message","details"} when status
 * >= 400) and the events to publish. op_run() sends it inside op_exec()
 * (migrations/billing/0003_op_exec.sql) as ONE autocommit statement, so one round trip does
 *
 *   [idempotency key: replay / conflict end here] -> the statement -> status >= 400: undone,
 *   error reply | else: its events into the outbox -> [the stored answer] -> COMMIT
 *
 * and then, in C: fault hook (BILLING_FAULT_EXIT_AFTER_COMMIT == name) -> outbox kick ->
 * reply. The effect, its events and its idempotency record commit together or not at all.
 * op_exec runs sql with EXECUTE ... USING the parameters as text: sql casts every
 * parameter that is not text ("hold_capture($1::uuid, $2::bigint, $3::bigint)").
 */
#ifndef BILLING_OP_H
#define BILLING_OP_H

#include "app.h"

#define OP_MAX_PARAMS 16

/* Replaces the 2xx JSON reply after the commit when set (op_spec.on_ok): takes body, must
 * reply exactly once (e.g. a 302, or more work first). Not used with an idempotency scope. */
typedef void (*op_ok_fn)(struct http_request *req, int status, json_object *body, void *arg);

struct op_spec {
	const char *name;                  /* "hold.reserve": logs and the fault hook */
	const char *sql;                   /* one row (status, body, events); typed casts */
	int nparams;
	const char *params[OP_MAX_PARAMS]; /* borrowed until the reply (request memory) */
	const char *idem_scope;            /* NULL: no idempotency record */
	const char *idem_key;
	char idem_hash[65];                /* idem_hash() of the canonical parameters */
	op_ok_fn on_ok;                    /* NULL: reply status + body as JSON */
	void *on_ok_arg;
};

/* Runs op (copied; its strings borrowed) and replies exactly once. */
void op_run(struct billing_app *app, struct http_request *req, const struct op_spec *op);

#endif
