/*
 * test_money_sql.c - the money functions of migrations/billing/0001_init.sql against a real
 * PostgreSQL (skipped unless FR_TEST_PG_URL is set): the reserve split (plan seconds first,
 * then balance at the plan's price, the default price without a plan, 402 with required /
 * available), the capture split (plan first, one ledger row, the rest released, usage
 * counted), release and expiry, ledger_append refusing to go negative or below what is held,
 * the low-balance rule firing once per crossing, plan activation (extend vs replace), and
 * op_exec (0003_op_exec.sql): one statement committing the effect, its outbox envelope and
 * the idempotency answer, replay / conflict, a refused call leaving nothing behind, and the
 * payment expiry of 0005_payment_expiry.sql (a late approval credits nothing).
 *
 * Each run migrates a throwaway schema billing_t_<random> and drops it at the end. The
 * statements run synchronously with libpq (a test, not the daemon's loop).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/migrate.h"

#define LOW 500
#define DEFAULT_PRICE 10

struct fixture {
	char schema[40];
	PGconn *conn;
	char user[37], tenant[37];
};

/* The single text value of a statement (a copy the caller frees), or NULL for SQL NULL. */
static char *q1(struct fixture *f, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(f->conn, sql, n, NULL, params, NULL, NULL, 0);
	char *v = NULL;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	assert_int_equal(PQntuples(r), 1);
	if (!PQgetisnull(r, 0, 0))
		v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static long long q1_int(struct fixture *f, const char *sql, int n, const char *const *params)
{
	char *v = q1(f, sql, n, params);
	long long x;

	assert_non_null(v);
	x = atoll(v);
	free(v);
	return x;
}

/* An op function's row: the status, and the body (caller puts). */
static int op(struct fixture *f, const char *sql, int n, const char *const *params,
	      json_object **body)
{
	PGresult *r = PQexecParams(f->conn, sql, n, NULL, params, NULL, NULL, 0);
	int status;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	status = atoi(PQgetvalue(r, 0, 0));
	*body = json_tokener_parse(PQgetvalue(r, 0, 1));
	assert_non_null(*body);
	PQclear(r);
	return status;
}

static long long jint(json_object *o, const char *path1, const char *path2)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, path1, &v));
	if (path2 != NULL)
		assert_true(json_object_object_get_ex(v, path2, &v));
	return json_object_get_int64(v);
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

static void new_ids(struct fixture *f)
{
	uuid_v4(f->user);
	uuid_v4(f->tenant);
}

static int setup(void **state)
{
	const char *url = getenv("FR_TEST_PG_URL");
	const char *dir = getenv("BILLING_MIGRATIONS_DIR");
	unsigned char rnd[6];
	char hex[13], err[512], sql[96];
	struct fixture *f;
	PGresult *r;

	if (url == NULL || url[0] == '\0') {
		*state = NULL;
		return 0;
	}
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(crypto_random(rnd, sizeof(rnd)), 0);
	hex_encode(rnd, sizeof(rnd), hex);
	snprintf(f->schema, sizeof(f->schema), "billing_t_%s", hex);
	if (migrate_run(url, f->schema, dir != NULL ? dir : "migrations/billing", err,
			sizeof(err)) < 1)
		fail_msg("migrate: %s", err);
	f->conn = PQconnectdb(url);
	assert_int_equal(PQstatus(f->conn), CONNECTION_OK);
	snprintf(sql, sizeof(sql), "SET search_path = %s", f->schema);
	r = PQexec(f->conn, sql);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char sql[96];

	if (f == NULL)
		return 0;
	snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", f->schema);
	PQclear(PQexec(f->conn, "SET client_min_messages = warning"));
	PQclear(PQexec(f->conn, sql));
	PQfinish(f->conn);
	free(f);
	return 0;
}

#define FIXTURE(state)                                                                             \
	struct fixture *f = *(state);                                                              \
	if (f == NULL)                                                                             \
		skip();                                                                            \
	new_ids(f)

/* A wallet for f->user credited with amount (one grant row). */
static void fund(struct fixture *f, long long amount)
{
	char a[24];
	const char *p[3] = {f->user, f->tenant, "USD"};
	const char *g[2] = {f->user, a};
	char *entry;

	free(q1(f, "SELECT user_id FROM wallet_lock($1, $2, $3)", 3, p));
	snprintf(a, sizeof(a), "%lld", amount);
	entry = q1(f, "SELECT entry FROM ledger_append($1, 'grant', $2, 0, NULL, NULL, NULL,"
		      " 'test', 0, 500)", 2, g);
	assert_non_null(entry);
	free(entry);
}

/* An active plan of `seconds` at `price` per balance second for f->user. */
static void give_plan(struct fixture *f, const char *seconds, const char *price)
{
	const char *pp[2] = {seconds, price};
	char *plan = q1(f, "INSERT INTO plans (code, name, price_minor, currency, billing_period,"
			   " seconds_charge, second_price_minor) VALUES ('t-' || md5(random()::text),"
			   " 't', 0, 'USD', 'Monthly', $1, $2) RETURNING id", 2, pp);
	const char *ap[3] = {f->user, f->tenant, plan};
	char *up = q1(f, "SELECT user_plan_activate($1, $2, $3, 0, 0, false)", 3, ap);

	assert_non_null(up);
	free(up);
	free(plan);
}

static int reserve(struct fixture *f, const char *seconds, json_object **body)
{
	const char *p[3] = {f->user, f->tenant, seconds};

	return op(f, "SELECT * FROM hold_reserve($1, $2, $3, 'render_job',"
		     " gen_random_uuid()::text, 3600, 'USD', 10)", 3, p, body);
}

static int capture(struct fixture *f, const char *hold, const char *seconds, json_object **body)
{
	const char *p[2] = {hold, seconds};

	return op(f, "SELECT * FROM hold_capture($1, $2, 500)", 2, p, body);
}

static long long wallet(struct fixture *f, const char *col)
{
	char sql[96];
	const char *p[1] = {f->user};

	snprintf(sql, sizeof(sql), "SELECT %s FROM wallets WHERE user_id = $1", col);
	return q1_int(f, sql, 1, p);
}

static void test_money_reserve_without_plan_uses_the_default_price(void **state)
{
	json_object *h;

	FIXTURE(state);
	fund(f, 1000);
	assert_int_equal(reserve(f, "30", &h), 201);
	assert_int_equal(jint(h, "plan_seconds", NULL), 0);
	assert_int_equal(jint(h, "amount_minor", NULL), 30 * DEFAULT_PRICE);
	assert_string_equal(jstr(h, "status"), "Held");
	json_object_put(h);
	assert_int_equal(wallet(f, "held_minor"), 300);
	assert_int_equal(reserve(f, "71", &h), 402);
	assert_string_equal(jstr(h, "code"), "insufficient_funds");
	assert_int_equal(jint(h, "details", "required"), 710);
	assert_int_equal(jint(h, "details", "available"), 700);
	json_object_put(h);
	assert_int_equal(reserve(f, "70", &h), 201); /* exactly what is left */
	json_object_put(h);
	assert_int_equal(wallet(f, "balance_minor - held_minor"), 0);
}

static void test_money_reserve_takes_plan_seconds_first(void **state)
{
	json_object *h;

	FIXTURE(state);
	fund(f, 1000);
	give_plan(f, "50", "7");
	assert_int_equal(reserve(f, "20", &h), 201); /* all from the plan */
	assert_int_equal(jint(h, "plan_seconds", NULL), 20);
	assert_int_equal(jint(h, "amount_minor", NULL), 0);
	json_object_put(h);
	assert_int_equal(reserve(f, "40", &h), 201); /* 30 left in the plan, 10 at 7 */
	assert_int_equal(jint(h, "plan_seconds", NULL), 30);
	assert_int_equal(jint(h, "amount_minor", NULL), 70);
	assert_int_equal(jint(h, "second_price_minor", NULL), 7);
	json_object_put(h);
	assert_int_equal(reserve(f, "200", &h), 402); /* the plan is fully held now */
	assert_int_equal(jint(h, "details", "required"), 1400);
	assert_int_equal(jint(h, "details", "available"), 930);
	assert_int_equal(jint(h, "details", "plan_seconds_available"), 0);
	json_object_put(h);
}

static void test_money_capture_splits_plan_then_balance(void **state)
{
	json_object *h, *c;
	char id[37];

	FIXTURE(state);
	fund(f, 1000);
	give_plan(f, "50", "7");
	assert_int_equal(reserve(f, "80", &h), 201); /* plan 50, balance 30 * 7 = 210 */
	snprintf(id, sizeof(id), "%s", jstr(h, "id"));
	json_object_put(h);
	assert_int_equal(capture(f, id, "81", &c), 422);
	json_object_put(c);
	assert_int_equal(capture(f, id, "60", &c), 200);
	assert_string_equal(jstr(c, "status"), "Captured");
	assert_int_equal(jint(c, "captured_plan_seconds", NULL), 50);
	assert_int_equal(jint(c, "captured_amount_minor", NULL), 70);
	json_object_put(c);
	assert_int_equal(wallet(f, "balance_minor"), 930);
	assert_int_equal(wallet(f, "held_minor"), 0);
	{
		const char *q[2] = {f->user, id};

		assert_int_equal(q1_int(f, "SELECT count(*) FROM ledger_entries WHERE user_id = $1"
					   " AND kind = 'hold_capture' AND reference_id = $2"
					   " AND amount_minor = -70 AND seconds = -50"
					   " AND balance_after = 930", 2, q), 1);
		assert_int_equal(q1_int(f, "SELECT remain_charge_sec * 1000 + held_seconds FROM"
					   " user_plans WHERE user_id = $1", 1, q), 0);
		assert_int_equal(q1_int(f, "SELECT sum(render_seconds) FROM usage_daily WHERE"
					   " tenant_id = (SELECT tenant_id FROM wallets WHERE"
					   " user_id = $1)", 1, q), 60);
	}
	assert_int_equal(capture(f, id, "60", &c), 409); /* once */
	assert_string_equal(jstr(c, "code"), "hold_not_held");
	json_object_put(c);
}

static void test_money_release_and_expiry_give_everything_back(void **state)
{
	json_object *h, *r;
	char id[37];
	const char *p[1];

	FIXTURE(state);
	fund(f, 1000);
	give_plan(f, "10", "5");
	assert_int_equal(reserve(f, "30", &h), 201);
	snprintf(id, sizeof(id), "%s", jstr(h, "id"));
	json_object_put(h);
	p[0] = id;
	assert_int_equal(op(f, "SELECT * FROM hold_release($1, 'Expired')", 1, p, &r), 200);
	assert_string_equal(jstr(r, "status"), "Expired");
	json_object_put(r);
	assert_int_equal(wallet(f, "held_minor"), 0);
	assert_int_equal(wallet(f, "balance_minor"), 1000);
	assert_int_equal(op(f, "SELECT * FROM hold_release($1, 'Released')", 1, p, &r), 409);
	json_object_put(r);
	{
		const char *q[1] = {f->user};

		assert_int_equal(q1_int(f, "SELECT held_seconds FROM user_plans WHERE user_id = $1",
					1, q),
				 0);
		assert_int_equal(q1_int(f, "SELECT count(*) FROM ledger_entries WHERE user_id = $1",
					1, q),
				 1);
	}
}

static void test_money_ledger_never_negative_nor_below_held(void **state)
{
	json_object *h;
	const char *p[1];
	char *e;

	FIXTURE(state);
	fund(f, 100);
	p[0] = f->user;
	e = q1(f, "SELECT entry FROM ledger_append($1, 'clawback', -101, 0, NULL, NULL, NULL, '',"
		  " 0, 500)", 1, p);
	assert_null(e);
	assert_int_equal(reserve(f, "6", &h), 201); /* 60 held */
	json_object_put(h);
	e = q1(f, "SELECT entry FROM ledger_append($1, 'clawback', -41, 0, NULL, NULL, NULL, '',"
		  " 0, 500)", 1, p);
	assert_null(e);
	e = q1(f, "SELECT entry FROM ledger_append($1, 'clawback', -40, 0, NULL, NULL, NULL, '',"
		  " 0, 500)", 1, p);
	assert_non_null(e);
	free(e);
	assert_int_equal(wallet(f, "balance_minor"), 60);
	assert_int_equal(q1_int(f, "SELECT sum(amount_minor) FROM ledger_entries WHERE"
				   " user_id = $1", 1, p), 60);
}

/* One debit of amount; true when it reported the low-balance event. */
static bool debit_reports_low(struct fixture *f, const char *amount)
{
	const char *p[2] = {f->user, amount};
	char *low = q1(f, "SELECT low FROM ledger_append($1, 'clawback', $2, 0, NULL, NULL, NULL,"
			  " '', 0, 500)", 2, p);
	bool fired = low != NULL;

	if (low != NULL) {
		json_object *o = json_tokener_parse(low);

		assert_string_equal(jstr(o, "type"), "billing.balance.low.v1");
		json_object_put(o);
	}
	free(low);
	return fired;
}

static void test_money_low_balance_fires_once_per_crossing(void **state)
{
	const char *p[1];

	FIXTURE(state);
	fund(f, 700);
	p[0] = f->user;
	assert_false(debit_reports_low(f, "-100")); /* 600: still above */
	assert_true(debit_reports_low(f, "-150"));  /* 450: crossed */
	assert_false(debit_reports_low(f, "-50"));  /* 400: already below */
	free(q1(f, "SELECT entry FROM ledger_append($1, 'grant', 100, 0, NULL, NULL, NULL, '', 0,"
		   " 500)", 1, p));                 /* back to 500 */
	assert_true(debit_reports_low(f, "-1"));    /* crossed again */
}

static void test_money_plan_activation_extends_or_replaces(void **state)
{
	const char *p[1];

	FIXTURE(state);
	fund(f, 0);
	p[0] = f->user;
	give_plan(f, "100", "5");
	{
		char *plan = q1(f, "SELECT plan_id FROM user_plans WHERE user_id = $1", 1, p);
		const char *ap[3] = {f->user, f->tenant, plan};

		free(q1(f, "SELECT user_plan_activate($1, $2, $3, 20, 0, true)", 3, ap));
		free(plan);
	}
	assert_int_equal(q1_int(f, "SELECT remain_charge_sec FROM user_plans WHERE user_id = $1"
				   " AND status = 'Active'", 1, p), 220);
	give_plan(f, "30", "5"); /* another plan replaces it */
	assert_int_equal(q1_int(f, "SELECT count(*) FROM user_plans WHERE user_id = $1", 1, p), 2);
	assert_int_equal(q1_int(f, "SELECT remain_charge_sec FROM user_plans WHERE user_id = $1"
				   " AND status = 'Active'", 1, p), 30);
}

/* ---- op_exec (0003): idempotency, the op, its outbox rows, all in one statement -------- */

struct op_exec_row {
	char outcome[16];
	int status;
	json_object *body; /* caller puts; NULL for conflict */
	long events;
};

/* One op_exec() statement in autocommit (as op.c sends it): hold_reserve of seconds for
 * user/tenant under (scope "hold.reserve:test", key, hash). */
static void op_exec_reserve(struct fixture *f, const char *key, const char *hash,
			    const char *seconds, struct op_exec_row *out)
{
	const char *p[9] = {"hold.reserve:test", key, hash, "billing", "trace-1",
			    "SELECT status, body, events FROM hold_reserve($1::uuid, $2::uuid,"
			    " $3::bigint, 'render_job', gen_random_uuid()::text, 3600, 'USD', 10)",
			    f->user, f->tenant, seconds};
	PGresult *r = PQexecParams(f->conn,
				   "SELECT outcome, status, body, events FROM op_exec($1, $2, $3, $4,"
				   " $5, $6, $7, $8, $9, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
				   " NULL, NULL, NULL, NULL, NULL, NULL)",
				   9, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("op_exec: %s", PQresultErrorMessage(r));
	assert_int_equal(PQntuples(r), 1);
	snprintf(out->outcome, sizeof(out->outcome), "%s", PQgetvalue(r, 0, 0));
	out->status = atoi(PQgetvalue(r, 0, 1));
	out->body = PQgetisnull(r, 0, 2) ? NULL : json_tokener_parse(PQgetvalue(r, 0, 2));
	out->events = atol(PQgetvalue(r, 0, 3));
	PQclear(r);
}

static long long count_for_user(struct fixture *f, const char *table)
{
	char sql[96];
	const char *p[1] = {f->user};

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE user_id = $1", table);
	return q1_int(f, sql, 1, p);
}

static void test_money_op_exec_commits_effect_events_and_answer_once(void **state)
{
	struct op_exec_row a, b, c;
	char key[37], *payload, *stored;
	const char *hash = "1111111111111111111111111111111111111111111111111111111111111111";
	json_object *env, *data;

	FIXTURE(state);
	fund(f, 1000);
	uuid_v4(key);
	op_exec_reserve(f, key, hash, "30", &a);
	assert_string_equal(a.outcome, "done");
	assert_int_equal(a.status, 201);
	assert_int_equal(a.events, 1);
	assert_int_equal(jint(a.body, "amount_minor", NULL), 300);
	/* the outbox row: the envelope of common/event.h around the op's event */
	{
		const char *p[1] = {jstr(a.body, "id")};

		payload = q1(f, "SELECT payload FROM outbox WHERE aggregate_id = $1"
			     " AND event_type = 'billing.hold.created.v1'", 1, p);
	}
	assert_non_null(payload);
	env = json_tokener_parse(payload);
	assert_non_null(env);
	assert_string_equal(jstr(env, "producer"), "billing");
	assert_string_equal(jstr(env, "event_type"), "billing.hold.created.v1");
	assert_string_equal(jstr(env, "tenant_id"), f->tenant);
	assert_string_equal(jstr(env, "trace_id"), "trace-1");
	assert_int_equal(strlen(jstr(env, "occurred_at")), 24);
	assert_true(json_object_object_get_ex(env, "data", &data));
	assert_string_equal(jstr(data, "hold_id"), jstr(a.body, "id"));
	json_object_put(env);
	free(payload);
	{
		const char *p[1] = {key};

		stored = q1(f, "SELECT status_code || ' ' || (response->>'id') FROM idempotency_keys"
			       " WHERE scope = 'hold.reserve:test' AND key = $1", 1, p);
	}
	assert_non_null(stored);
	assert_int_equal(strncmp(stored, "201 ", 4), 0);
	assert_string_equal(stored + 4, jstr(a.body, "id"));
	free(stored);

	op_exec_reserve(f, key, hash, "30", &b); /* the same call again: the stored answer */
	assert_string_equal(b.outcome, "replay");
	assert_int_equal(b.status, 201);
	assert_string_equal(jstr(b.body, "id"), jstr(a.body, "id"));
	op_exec_reserve(f, key, "2222222222222222222222222222222222222222222222222222222222222222",
			"31", &c); /* the same key, other parameters */
	assert_string_equal(c.outcome, "conflict");
	assert_null(c.body);
	assert_int_equal(count_for_user(f, "holds"), 1);
	assert_int_equal(wallet(f, "held_minor"), 300);
	{
		const char *p[1] = {jstr(a.body, "id")};

		assert_int_equal(q1_int(f, "SELECT count(*) FROM outbox WHERE aggregate_id = $1", 1,
					p), 1);
	}
	json_object_put(a.body);
	json_object_put(b.body);
}

/* 0004: usage_daily's shard is hashtext(id) & 15 (abs() raised on INT_MIN), for every sign. */
static void test_money_capture_shard_is_hash_and_15(void **state)
{
	json_object *h, *c;
	char id[37];

	FIXTURE(state);
	fund(f, 100000);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(reserve(f, "1", &h), 201);
		snprintf(id, sizeof(id), "%s", jstr(h, "id"));
		json_object_put(h);
		assert_int_equal(capture(f, id, "1", &c), 200);
		json_object_put(c);
	}
	{
		const char *q[1] = {f->user};

		/* renders per shard = this tenant's holds per (hashtext & 15); with 8 ids some
		 * hash negative, where abs() % 16 picks another shard */
		assert_int_equal(q1_int(f, "SELECT count(*) FROM (SELECT hashtext(id::text) & 15"
					   " AS shard, count(*) AS n FROM holds WHERE user_id = $1"
					   " GROUP BY 1) h FULL JOIN (SELECT shard, renders FROM"
					   " usage_daily WHERE tenant_id = (SELECT tenant_id FROM wallets"
					   " WHERE user_id = $1)) u USING (shard)"
					   " WHERE h.n IS DISTINCT FROM u.renders", 1, q), 0);
		assert_int_equal(q1_int(f, "SELECT sum(renders) FROM usage_daily WHERE tenant_id ="
					   " (SELECT tenant_id FROM wallets WHERE user_id = $1)", 1, q), 8);
	}
}

/* 0004: a provider reference is set once; a second start gets the first one back. */
static void test_money_provider_ref_set_once(void **state)
{
	char *pid, *ref;

	FIXTURE(state);
	fund(f, 0);
	{
		const char *p[2] = {f->user, f->tenant};

		pid = q1(f, "INSERT INTO payments (user_id, tenant_id, gateway, action, amount_minor,"
			    " original_amount_minor, currency, title) VALUES ($1, $2, 'ZarinPal',"
			    " 'TopUp', 500, 500, 'USD', 't') RETURNING id", 2, p);
	}
	{
		const char *a[2] = {pid, "AUTH1"}, *b[2] = {pid, "AUTH2"}, *q[1] = {pid};

		ref = q1(f, "SELECT payment_claim_provider_ref($1, $2)", 2, a);
		assert_string_equal(ref, "AUTH1");
		free(ref);
		ref = q1(f, "SELECT payment_claim_provider_ref($1, $2)", 2, b);
		assert_string_equal(ref, "AUTH1");
		free(ref);
		free(q1(f, "SELECT payment_set_provider_ref($1, $2)::text", 2, b));
		ref = q1(f, "SELECT provider_ref FROM payments WHERE id = $1", 1, q);
		assert_string_equal(ref, "AUTH1");
		free(ref);
	}
	free(pid);
}

/* 0005: payment_expire fails only a Pending payment past the TTL; a later approval of it
 * credits nothing. */
static void test_money_payment_expiry_then_late_approval(void **state)
{
	json_object *body;
	char *pid;

	FIXTURE(state);
	fund(f, 0);
	{
		const char *p[2] = {f->user, f->tenant};

		pid = q1(f, "INSERT INTO payments (user_id, tenant_id, gateway, action, amount_minor,"
			    " original_amount_minor, currency, title) VALUES ($1, $2, 'Sandbox',"
			    " 'TopUp', 500, 500, 'USD', 't') RETURNING id", 2, p);
	}
	{
		const char *q[1] = {pid};

		assert_int_equal(op(f, "SELECT status, body FROM payment_expire($1, 3600)", 1, q,
				    &body), 409);
		json_object_put(body);
		free(q1(f, "UPDATE payments SET created_at = now() - interval '2 hours'"
			   " WHERE id = $1 RETURNING id", 1, q));
		assert_int_equal(op(f, "SELECT status, body FROM payment_expire($1, 3600)", 1, q,
				    &body), 200);
		assert_string_equal(jstr(body, "status"), "Failed");
		json_object_put(body);
		assert_int_equal(q1_int(f, "SELECT count(*) FROM payments WHERE id = $1 AND"
					   " failure_code = 'expired'", 1, q), 1);
		assert_int_equal(op(f, "SELECT status, body FROM payment_verdict($1, 'Sandbox', true,"
				       " NULL, NULL, NULL, NULL, NULL, 500)", 1, q, &body), 200);
		assert_string_equal(jstr(body, "status"), "Failed");
		json_object_put(body);
		assert_int_equal(q1_int(f, "SELECT count(*) FROM ledger_entries WHERE"
					   " reference_id = $1::text", 1, q), 0);
		assert_int_equal(op(f, "SELECT status, body FROM payment_expire($1, 3600)", 1, q,
				    &body), 409);
		json_object_put(body);
	}
	free(pid);
}

static void test_money_op_exec_refused_leaves_nothing(void **state)
{
	struct op_exec_row a, b;
	char key[37];
	const char *hash = "3333333333333333333333333333333333333333333333333333333333333333";
	const char *p[1] = {key};

	FIXTURE(state); /* a user without a wallet: hold_reserve opens one, then refuses */
	uuid_v4(key);
	op_exec_reserve(f, key, hash, "5", &a);
	assert_string_equal(a.outcome, "refused");
	assert_int_equal(a.status, 402);
	assert_string_equal(jstr(a.body, "code"), "insufficient_funds");
	assert_int_equal(a.events, 0);
	assert_int_equal(count_for_user(f, "wallets"), 0); /* the opened wallet is undone */
	assert_int_equal(q1_int(f, "SELECT count(*) FROM idempotency_keys WHERE key = $1", 1, p), 0);
	json_object_put(a.body);
	fund(f, 100); /* the same key is evaluated afresh afterwards */
	op_exec_reserve(f, key, hash, "5", &b);
	assert_string_equal(b.outcome, "done");
	assert_int_equal(b.status, 201);
	json_object_put(b.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_money_reserve_without_plan_uses_the_default_price),
		cmocka_unit_test(test_money_reserve_takes_plan_seconds_first),
		cmocka_unit_test(test_money_capture_splits_plan_then_balance),
		cmocka_unit_test(test_money_release_and_expiry_give_everything_back),
		cmocka_unit_test(test_money_ledger_never_negative_nor_below_held),
		cmocka_unit_test(test_money_low_balance_fires_once_per_crossing),
		cmocka_unit_test(test_money_plan_activation_extends_or_replaces),
		cmocka_unit_test(test_money_op_exec_commits_effect_events_and_answer_once),
		cmocka_unit_test(test_money_op_exec_refused_leaves_nothing),
		cmocka_unit_test(test_money_capture_shard_is_hash_and_15),
		cmocka_unit_test(test_money_provider_ref_set_once),
		cmocka_unit_test(test_money_payment_expiry_then_late_approval),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
