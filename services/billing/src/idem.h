/*
 * idem.h - idempotency records: the key limit and the request hash.
 *
 * A money call carries a key (the `idempotency_key` body field of internal calls, the
 * `Idempotency-Key` header of admin and user calls). The first call's result is stored in
 * billing.idempotency_keys (scope, key, request_hash, status_code, response) in the SAME
 * transaction as its effect, so either both exist or neither does. op_run() does it through
 * op_exec() (migrations/billing/0003_op_exec.sql):
 *
 *   lock the key -> no record:          do the work -> store key + answer -> COMMIT -> reply
 *                -> record, same hash:  reply the stored status + body (nothing done)
 *                -> record, other hash: 409 idempotency_conflict
 *
 * The lock is a transaction-level advisory lock on (scope, key): a concurrent duplicate waits
 * until the first transaction ends, then sees its committed record (replay) -- or, if the
 * first stored nothing, does the work itself. Only successful answers (< 400) are stored: a
 * refused call changed nothing, and its retry is evaluated afresh.
 */
#ifndef BILLING_IDEM_H
#define BILLING_IDEM_H

#define IDEM_KEY_MAX 200

/* out = lower-case hex SHA-256 of the printf-formatted canonical parameters (write every
 * parameter that changes the effect, in a fixed order, e.g. "user=%s\nseconds=%lld"). */
void idem_hash(char out[65], const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
