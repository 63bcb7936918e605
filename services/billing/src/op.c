/*
 * op.c - one money operation as one op_exec() statement, from the query to the reply (see
 * op.h).
 *
 * Owns a per-request context in the request's memory until the reply.
 */
#include "op.h"

#include <string.h>

#include "billing_events.h"
#include "billing_json.h"

/* $1 scope, $2 key, $3 request hash, $4 producer, $5 trace id, $6 the op statement,
 * $7..$22 its parameters (migrations/billing/0003_op_exec.sql). */
#define OP_EXEC_SQL                                                                                \
	"SELECT outcome, status, body, events FROM op_exec($1, $2, $3, $4, $5, $6, $7, $8, $9,"    \
	" $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
#define OP_EXEC_FIXED 6
#define OP_EXEC_NPARAMS (OP_EXEC_FIXED + OP_MAX_PARAMS)
#define OP_TRACE_MAX 64 /* common/event.h: a longer trace id is left out of the envelope */

struct op_ctx {
	struct billing_app *app;
	struct http_request *req;
	struct op_spec op;
};

/* The answer of a committed operation: the fault hook, the outbox kick, the log, the reply. */
static void op_done(struct op_ctx *c, int status, const char *body, long events)
{
	json_object *o;

	app_fault_after_commit(c->app, c->op.name);
	if (events > 0)
		app_outbox_kick(c->app);
	log_info(&(struct log_ctx){.request_id = http_request_id(c->req)}, "money operation",
		 LS("operation", c->op.name), LI("status", status));
	if (c->op.on_ok == NULL) {
		/* PostgreSQL rendered it: sent as is, no parse and print again */
		http_reply_raw(c->req, status, "application/json", body, strlen(body));
		return;
	}
	if ((o = json_tokener_parse(body)) == NULL) {
		app_reply_internal(c->req, "render json");
		return;
	}
	c->op.on_ok(c->req, status, o, c->op.on_ok_arg);
}

/* status >= 400, nothing committed: the error envelope from {"code","message","details"}. */
static void op_refused(struct op_ctx *c, int status, const char *body)
{
	json_object *o = json_tokener_parse(body);

	if (o == NULL) {
		app_reply_internal(c->req, "render json");
		return;
	}
	billing_json_reply(c->req, status, o);
}

static void op_on_result(const struct pg_result *r, void *arg)
{
	struct op_ctx *c = arg;
	const char *outcome, *body;
	int status;

	if (r->err != NULL) {
		app_reply_db_error(c->req, c->op.name, r);
		return;
	}
	if (PQntuples(r->res) != 1 || (outcome = pg_val(r->res, 0, 0)) == NULL) {
		app_reply_internal(c->req, c->op.name);
		return;
	}
	if (strcmp(outcome, "conflict") == 0) {
		http_reply_error(c->req, 409, "idempotency_conflict",
				 "This idempotency key was used with other parameters.", NULL);
		return;
	}
	status = (int)pg_int(r->res, 0, 1);
	if ((body = pg_val(r->res, 0, 2)) == NULL) {
		app_reply_internal(c->req, c->op.name);
		return;
	}
	if (strcmp(outcome, "done") == 0)
		op_done(c, status, body, (long)pg_int(r->res, 0, 3));
	else if (strcmp(outcome, "replay") == 0)
		app_reply_pg_json(c->req, status, body);
	else
		op_refused(c, status, body);
}

void op_run(struct billing_app *app, struct http_request *req, const struct op_spec *op)
{
	struct op_ctx *c = http_request_alloc(req, sizeof(*c));
	const char *params[OP_EXEC_NPARAMS] = {NULL};
	const char *trace = http_request_id(req);

	memset(c, 0, sizeof(*c));
	c->app = app;
	c->req = req;
	c->op = *op;
	if (op->idem_scope != NULL) {
		params[0] = c->op.idem_scope;
		params[1] = c->op.idem_key;
		params[2] = c->op.idem_hash;
	}
	params[3] = EV_PRODUCER;
	params[4] = trace != NULL && trace[0] != '\0' && strlen(trace) <= OP_TRACE_MAX ? trace
										       : NULL;
	params[5] = c->op.sql;
	for (int i = 0; i < op->nparams && i < OP_MAX_PARAMS; i++)
		params[OP_EXEC_FIXED + i] = c->op.params[i];
	if (pg_query(app->pg, OP_EXEC_SQL, OP_EXEC_NPARAMS, params, op_on_result, c) < 0)
		app_reply_db_error(req, op->name, NULL);
}
