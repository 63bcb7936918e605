/*
 * pg_tx.c - transactions on the pool: pg_tx_begin() queues like a query and hands out a
 * connection with BEGIN done; pg_tx_query() runs on it; pg_tx_commit()/pg_tx_rollback() end
 * it and give the connection back.
 *
 * Owns nothing beyond the pg_tx handles, which the pool lists so that pg_pool_free() can free
 * the ones still held. A transaction whose connection is lost keeps its handle: the next
 * callback reports the error and the connection itself is already being replaced.
 */
#include "pg_internal.h"

#include <stdlib.h>
#include <string.h>

void pg_tx_free(struct pg_tx *tx)
{
	if (!tx)
		return;
	LIST_REMOVE(tx, link);
	if (tx->conn && tx->conn->tx == tx)
		tx->conn->tx = NULL;
	pg_op_free(tx->end_op);
	pg_op_free(tx->spare);
	free(tx);
}

/* What the end op of a transaction without a connection reports. ROLLBACK succeeds: a
 * transaction whose session is gone was rolled back by the server. */
static const char *tx_lost_err(const struct pg_pool *p, enum pg_op_kind kind)
{
	if (kind == PG_OP_ROLLBACK)
		return NULL;
	return p->closing ? "shutdown" : "connection lost";
}

void pg_tx_lost(struct pg_tx *tx)
{
	struct pg_op *op = tx->end_op;

	tx->conn = NULL;
	tx->end_op = NULL;
	if (op)
		pg_pool_fail_later(tx->pool, op, tx_lost_err(tx->pool, op->kind));
}

void pg_tx_op_done(struct pg_conn *c, struct pg_op *op, bool ok, bool broken)
{
	struct pg_tx *tx = op->tx;
	struct pg_op *end;

	switch (op->kind) {
	case PG_OP_BEGIN:
		if (ok && !broken)
			pg_conn_set_tx(c, tx);
		else
			pg_conn_release(c, broken);
		break;
	case PG_OP_TX_QUERY:
		if (broken)
			pg_conn_drop(c, "connection lost"); /* fails a pending end op too */
		else
			pg_conn_set_tx(c, tx);
		tx->busy = false;
		if (tx->end_op && tx->conn) {
			end = tx->end_op;
			tx->end_op = NULL;
			pg_conn_start(tx->conn, end);
		}
		break;
	case PG_OP_COMMIT:
	case PG_OP_ROLLBACK:
		c->tx = NULL;
		tx->conn = NULL;
		pg_conn_release(c, broken);
		break;
	case PG_OP_QUERY:
	case PG_OP_SETUP:
		break;
	}
}

int pg_tx_begin(struct pg_pool *p, pg_tx_cb cb, void *arg)
{
	struct pg_op *op = NULL;
	struct pg_tx *tx;

	if (!p || !cb || p->closing)
		return -1;
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return -1;
	tx->pool = p;
	LIST_INSERT_HEAD(&p->txs, tx, link);
	tx->spare = pg_op_new(PG_OP_ROLLBACK, "ROLLBACK", 0, NULL);
	op = pg_op_new(PG_OP_BEGIN, "BEGIN", 0, NULL);
	if (!tx->spare || !op) {
		pg_op_free(op);
		pg_tx_free(tx);
		return -1;
	}
	op->cb.tx = cb;
	op->arg = arg;
	op->tx = tx;
	if (pg_pool_submit(p, op)) {
		pg_tx_free(tx);
		return -1;
	}
	return 0;
}

int pg_tx_query(struct pg_tx *tx, const char *sql, int n, const char *const *params,
		pg_result_cb cb, void *arg)
{
	struct pg_op *op;

	if (!tx || !sql || n < 0 || n > PG_MAX_PARAMS || (n > 0 && !params))
		return -1;
	if (tx->pool->closing || tx->busy || tx->ending)
		return -1;
	op = pg_op_new(PG_OP_TX_QUERY, sql, n, params);
	if (!op)
		return -1;
	op->cb.result = cb;
	op->arg = arg;
	op->tx = tx;
	tx->busy = true;
	if (!tx->conn)
		pg_pool_fail_later(tx->pool, op, "connection lost");
	else
		pg_conn_start(tx->conn, op);
	return 0;
}

static void tx_end(struct pg_tx *tx, enum pg_op_kind kind, pg_done_cb cb, void *arg)
{
	struct pg_op *op;

	if (!tx || tx->ending)
		return;
	tx->ending = true;
	op = tx->spare; /* allocated with "ROLLBACK", room for "COMMIT" */
	tx->spare = NULL;
	if (kind == PG_OP_COMMIT) {
		op->kind = PG_OP_COMMIT;
		memcpy(op->sql, "COMMIT", sizeof("COMMIT"));
	}
	op->cb.done = cb;
	op->arg = arg;
	op->tx = tx;
	if (!tx->conn)
		pg_pool_fail_later(tx->pool, op, tx_lost_err(tx->pool, kind));
	else if (tx->busy)
		tx->end_op = op;
	else
		pg_conn_start(tx->conn, op);
}

void pg_tx_commit(struct pg_tx *tx, pg_done_cb cb, void *arg)
{
	tx_end(tx, PG_OP_COMMIT, cb, arg);
}

void pg_tx_rollback(struct pg_tx *tx, pg_done_cb cb, void *arg)
{
	tx_end(tx, PG_OP_ROLLBACK, cb, arg);
}
