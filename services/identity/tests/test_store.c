/*
 * test_store.c - identity's SQL against a real PostgreSQL (skipped unless FR_TEST_PG_URL is
 * set): migrations, the default tenant created once, registration and the unique e-mail, the
 * login lookup, a session with refresh-token rotation and reuse detection, listing and
 * revocation (each answering the row it changed, or none), events committed and rolled back
 * with their change in one transaction, the profile update, and two keyrings (replicas)
 * sharing one signing key.
 *
 * Each run migrates a throwaway schema identity_t_<random> and drops it at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "common/migrate.h"
#include "common/pg.h"
#include "identity_events.h"
#include "key_store.h"
#include "keyring.h"
#include "session_store.h"
#include "tenant_store.h"
#include "tokens.h"
#include "user_store.h"
#include "validate.h"

struct fixture {
	char schema[40];
	const char *url;
	struct event_base *base;
	struct pg_pool *pg;
	char tenant_id[37];
	char user_id[37];
};

/* One statement's outcome, copied out of its callback. */
struct waiter {
	bool done;
	PGresult *res;
	char err[256];
	char sqlstate[8];
	struct pg_tx *tx;
};

static void on_result(const struct pg_result *r, void *arg)
{
	struct waiter *w = arg;

	w->done = true;
	if (r->err != NULL) {
		snprintf(w->err, sizeof(w->err), "%s", r->err);
		snprintf(w->sqlstate, sizeof(w->sqlstate), "%s",
			 r->sqlstate != NULL ? r->sqlstate : "");
		return;
	}
	w->res = PQcopyResult(r->res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
}

static void on_begin(struct pg_tx *tx, const char *err, void *arg)
{
	struct waiter *w = arg;

	w->done = true;
	w->tx = tx;
	if (err != NULL)
		snprintf(w->err, sizeof(w->err), "%s", err);
}

static void on_done(const char *err, void *arg)
{
	struct waiter *w = arg;

	w->done = true;
	if (err != NULL)
		snprintf(w->err, sizeof(w->err), "%s", err);
}

static void run_until(struct fixture *f, const bool *flag)
{
	for (int i = 0; i < 20000 && !*flag; i++)
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	for (int i = 0; i < 1000 && !*flag; i++) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(f->base, &tv);
		event_base_dispatch(f->base);
	}
	assert_true(*flag);
}

/* Waits for w and asserts success. */
static PGresult *wait_ok(struct fixture *f, struct waiter *w)
{
	run_until(f, &w->done);
	if (w->err[0] != '\0')
		fail_msg("statement failed: %s", w->err);
	return w->res;
}

static void waiter_reset(struct waiter *w)
{
	if (w->res != NULL)
		PQclear(w->res);
	memset(w, 0, sizeof(*w));
}

static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static int sql_admin(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *r;
	int rc;

	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return -1;
	}
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	r = PQexec(c, sql);
	rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	PQclear(r);
	PQfinish(c);
	return rc;
}

static int setup(void **state)
{
	struct fixture *f;
	const char *url = getenv("FR_TEST_PG_URL");
	const char *dir = getenv("IDENTITY_MIGRATIONS_DIR");
	unsigned char rnd[6];
	char hex[13], err[512];
	struct pg_pool_opts o;

	if (url == NULL || url[0] == '\0') {
		*state = NULL;
		return 0;
	}
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(crypto_random(rnd, sizeof(rnd)), 0);
	hex_encode(rnd, sizeof(rnd), hex);
	snprintf(f->schema, sizeof(f->schema), "identity_t_%s", hex);
	f->url = url;
	if (migrate_run(url, f->schema, dir != NULL ? dir : "migrations/identity", err,
			sizeof(err)) < 2) /* 0001_init, 0002_events, ... */
		fail_msg("migrate: %s", err);
	f->base = event_base_new();
	pg_pool_opts_default(&o);
	o.conninfo = url;
	o.size = 2;
	o.search_path = f->schema;
	f->pg = pg_pool_new(f->base, &o);
	assert_non_null(f->pg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char sql[128];

	if (f == NULL)
		return 0;
	pg_pool_free(f->pg);
	event_base_free(f->base);
	snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", f->schema);
	assert_int_equal(sql_admin(f->url, sql), 0);
	free(f);
	return 0;
}

#define NEED_PG(f)                                                                                 \
	do {                                                                                       \
		if ((f) == NULL)                                                                   \
			skip();                                                                    \
	} while (0)

static struct pg_tx *begin(struct fixture *f)
{
	struct waiter w = {0};

	assert_int_equal(pg_tx_begin(f->pg, on_begin, &w), 0);
	run_until(f, &w.done);
	if (w.tx == NULL)
		fail_msg("begin: %s", w.err);
	return w.tx;
}

static void commit(struct fixture *f, struct pg_tx *tx)
{
	struct waiter w = {0};

	pg_tx_commit(tx, on_done, &w);
	wait_ok(f, &w);
}

static void rollback(struct fixture *f, struct pg_tx *tx)
{
	struct waiter w = {0};

	pg_tx_rollback(tx, on_done, &w);
	wait_ok(f, &w);
}

/* One statement of tx: waits and asserts success; the result is w's (waiter_reset it). */
#define TX_OK(f, w, call)                                                                          \
	do {                                                                                       \
		assert_int_equal((call), 0);                                                       \
		wait_ok((f), (w));                                                                 \
	} while (0)

/* Ensures tenant "default" in its own transaction; fills f->tenant_id, returns whether this
 * call created it. check: also assert the row's other columns. */
static bool ensure_default(struct fixture *f, bool check)
{
	struct waiter w = {0};
	struct pg_tx *tx = begin(f);
	struct tenant t;
	bool created;

	TX_OK(f, &w, tenant_store_ensure_default(tx, "admin@example.com", on_result, &w));
	assert_int_equal(PQntuples(w.res), 1);
	created = tenant_created_from_row(w.res, 0, &t);
	snprintf(f->tenant_id, sizeof(f->tenant_id), "%s", t.id);
	if (check) {
		assert_true(uuid_valid(t.id));
		assert_string_equal(t.slug, "default");
		assert_string_equal(t.name, "Default");
		assert_string_equal(t.kind, "Internal");
		assert_string_equal(t.status, "Active");
		assert_int_equal(strlen(t.created_at), strlen("2026-05-27T10:15:00.123Z"));
		assert_int_equal(t.created_at[23], 'Z');
	}
	waiter_reset(&w);
	commit(f, tx);
	return created;
}

/* Inserts a user in tx; fills f->user_id (and u's strings, valid until w is reset). */
static void insert_user(struct fixture *f, struct pg_tx *tx, struct waiter *w, const char *email,
			struct user *u)
{
	struct user_new n = {.tenant_id = f->tenant_id,
			     .email = email,
			     .password_hash = "$argon2id$fake",
			     .full_name = "Ada",
			     .accept_terms = true};

	TX_OK(f, w, user_store_create(tx, &n, on_result, w));
	assert_int_equal(PQntuples(w->res), 1);
	user_from_row(w->res, 0, 0, u, NULL);
	u->register_date = pg_val(w->res, 0, USER_COL_CREATED_MS);
	snprintf(f->user_id, sizeof(f->user_id), "%s", u->id);
}

/* Tenant "default" and one user; fills f->tenant_id and f->user_id. */
static void make_user(struct fixture *f, const char *email)
{
	struct waiter w = {0};
	struct pg_tx *tx;
	struct user u;

	(void)ensure_default(f, false);
	tx = begin(f);
	insert_user(f, tx, &w, email, &u);
	waiter_reset(&w);
	commit(f, tx);
}

/* Rows of a query on the pool (the caller PQclears). */
static PGresult *query(struct fixture *f, const char *sql, const char *param)
{
	struct waiter w = {0};

	assert_int_equal(pg_query(f->pg, sql, param != NULL ? 1 : 0,
				  param != NULL ? (const char *const[]){param} : NULL, on_result,
				  &w),
			 0);
	return wait_ok(f, &w);
}

static void test_store_register_unique_email_and_lookup(void **state)
{
	struct fixture *f = *state;
	struct user_new n = {
		.tenant_id = f->tenant_id, .email = "ADA@example.com", .password_hash = "h"};
	struct waiter w = {0};
	struct tenant t;
	struct user u;
	struct pg_tx *tx;
	PGresult *res;
	char first[37];

	NEED_PG(f);
	/* the default tenant is created once: the first call says so, the second finds it */
	assert_true(ensure_default(f, true));
	snprintf(first, sizeof(first), "%s", f->tenant_id);
	assert_false(ensure_default(f, true));
	assert_string_equal(f->tenant_id, first);
	make_user(f, "ada@example.com");
	/* same e-mail, other case: unique violation */
	tx = begin(f);
	assert_int_equal(user_store_create(tx, &n, on_result, &w), 0);
	run_until(f, &w.done);
	assert_string_equal(w.sqlstate, "23505");
	waiter_reset(&w);
	rollback(f, tx);
	/* login lookup, case-insensitive */
	assert_int_equal(
		user_store_login_lookup(f->pg, "default", "Ada@Example.com", on_result, &w), 0);
	res = wait_ok(f, &w);
	assert_int_equal(PQntuples(res), 1);
	tenant_from_row(res, 0, 0, &t, NULL);
	user_from_row(res, 0, LOGIN_COL_USER, &u, NULL);
	assert_string_equal(t.slug, "default");
	assert_string_equal(t.kind, "Internal");
	assert_string_equal(u.id, f->user_id);
	assert_string_equal(u.email, "ada@example.com");
	assert_string_equal(u.full_name, "Ada");
	assert_string_equal(u.status, "Active");
	assert_string_equal(PQgetvalue(res, 0, LOGIN_COL_HASH), "$argon2id$fake");
	assert_non_null(strchr(u.register_date, 'T'));
	waiter_reset(&w);
	/* unknown e-mail: the tenant row with NULL user columns */
	assert_int_equal(
		user_store_login_lookup(f->pg, "default", "bob@example.com", on_result, &w), 0);
	res = wait_ok(f, &w);
	assert_int_equal(PQntuples(res), 1);
	assert_true(PQgetisnull(res, 0, LOGIN_COL_USER));
	waiter_reset(&w);
}

static void create_session(struct fixture *f, const char *sid, const char *hash)
{
	struct waiter w = {0};
	char rid[37];
	struct session_new s = {.id = sid,
				.user_id = f->user_id,
				.tenant_id = f->tenant_id,
				.device_name = "laptop",
				.ip_address = "10.0.0.1",
				.refresh_id = rid,
				.refresh_hash = hash,
				.ttl_s = 3600};

	uuid_v4(rid);
	assert_int_equal(session_store_create(f->pg, &s, on_result, &w), 0);
	assert_int_equal(PQntuples(wait_ok(f, &w)), 1);
	waiter_reset(&w);
}

/* Runs the locking SELECT for hash in a new transaction; returns the result, w holds tx. */
static PGresult *lock_token(struct fixture *f, struct waiter *tw, const char *hash)
{
	struct waiter w = {0};
	PGresult *res;

	assert_int_equal(pg_tx_begin(f->pg, on_begin, tw), 0);
	run_until(f, &tw->done);
	assert_non_null(tw->tx);
	assert_int_equal(session_store_refresh_lock(tw->tx, hash, on_result, &w), 0);
	res = wait_ok(f, &w);
	w.res = NULL;
	return res;
}

static void test_store_refresh_rotation_and_reuse(void **state)
{
	struct fixture *f = *state;
	char sid[37], tok1[48], h1[65], tok2[48], h2[65], id2[37];
	struct waiter tw = {0}, w = {0};
	PGresult *res;

	NEED_PG(f);
	make_user(f, "rot@example.com");
	uuid_v4(sid);
	assert_int_equal(refresh_token_new(tok1, h1), 0);
	create_session(f, sid, h1);
	/* first use: valid, not used */
	res = lock_token(f, &tw, h1);
	assert_int_equal(PQntuples(res), 1);
	assert_string_equal(PQgetvalue(res, 0, REFRESH_COL_SESSION_ID), sid);
	assert_false(pg_bool(res, 0, REFRESH_COL_USED));
	assert_false(pg_bool(res, 0, REFRESH_COL_REVOKED));
	assert_false(pg_bool(res, 0, REFRESH_COL_TOKEN_EXPIRED));
	assert_string_equal(PQgetvalue(res, 0, REFRESH_COL_TENANT + 1), "default");
	assert_string_equal(PQgetvalue(res, 0, REFRESH_COL_TENANT + TENANT_NCOLS), f->user_id);
	assert_int_equal(refresh_token_new(tok2, h2), 0);
	uuid_v4(id2);
	assert_int_equal(session_store_refresh_rotate(tw.tx,
						      PQgetvalue(res, 0, REFRESH_COL_TOKEN_ID), sid,
						      id2, h2, 3600, on_result, &w),
			 0);
	wait_ok(f, &w);
	waiter_reset(&w);
	PQclear(res);
	commit(f, tw.tx);
	memset(&tw, 0, sizeof(tw));
	/* the old token is now used; the new one is fresh */
	res = lock_token(f, &tw, h1);
	assert_true(pg_bool(res, 0, REFRESH_COL_USED));
	PQclear(res);
	TX_OK(f, &w,
	      session_store_revoke_reused(tw.tx, sid, "refresh_token_reused", on_result, &w));
	assert_int_equal(PQntuples(w.res), 1); /* revoked now */
	assert_string_equal(PQgetvalue(w.res, 0, 0), sid);
	waiter_reset(&w);
	TX_OK(f, &w,
	      session_store_revoke_reused(tw.tx, sid, "refresh_token_reused", on_result, &w));
	assert_int_equal(PQntuples(w.res), 0); /* already revoked: nothing changed, no event */
	waiter_reset(&w);
	commit(f, tw.tx);
	memset(&tw, 0, sizeof(tw));
	res = lock_token(f, &tw, h2);
	assert_false(pg_bool(res, 0, REFRESH_COL_USED));
	assert_true(pg_bool(res, 0, REFRESH_COL_REVOKED)); /* the whole family is revoked */
	PQclear(res);
	pg_tx_rollback(tw.tx, NULL, NULL);
	/* an unknown hash finds nothing */
	memset(&tw, 0, sizeof(tw));
	refresh_token_hash("frt_unknown", h1);
	res = lock_token(f, &tw, h1);
	assert_int_equal(PQntuples(res), 0);
	PQclear(res);
	pg_tx_rollback(tw.tx, NULL, NULL);
}

static void test_store_sessions_list_revoke_state(void **state)
{
	struct fixture *f = *state;
	char s1[37], s2[37], h[65], tok[48];
	struct waiter w = {0};
	struct session_state st;
	struct session_view v;
	struct revoked_session rs;
	struct pg_tx *tx;
	PGresult *res;

	NEED_PG(f);
	make_user(f, "list@example.com");
	uuid_v4(s1);
	uuid_v4(s2);
	assert_int_equal(refresh_token_new(tok, h), 0);
	create_session(f, s1, h);
	assert_int_equal(refresh_token_new(tok, h), 0);
	create_session(f, s2, h);
	assert_int_equal(session_store_list_active(f->pg, f->user_id, on_result, &w), 0);
	res = wait_ok(f, &w);
	assert_int_equal(PQntuples(res), 2);
	session_view_from_row(res, 0, &v);
	assert_string_equal(v.device_name, "laptop");
	assert_string_equal(v.ip_address, "10.0.0.1");
	assert_null(v.user_agent);
	waiter_reset(&w);
	/* another user cannot revoke it */
	tx = begin(f);
	TX_OK(f, &w, session_store_revoke_active(tx, s1, s2, "user_revoked", on_result, &w));
	assert_int_equal(PQntuples(w.res), 0);
	waiter_reset(&w);
	TX_OK(f, &w,
	      session_store_revoke_active(tx, s1, f->user_id, "user_revoked", on_result, &w));
	assert_int_equal(PQntuples(w.res), 1);
	revoked_session_from_row(w.res, 0, &rs);
	assert_string_equal(rs.session_id, s1);
	assert_string_equal(rs.user_id, f->user_id);
	assert_string_equal(rs.tenant_id, f->tenant_id);
	assert_non_null(strchr(rs.revoked_at, '.'));
	waiter_reset(&w);
	TX_OK(f, &w,
	      session_store_revoke_active(tx, s1, f->user_id, "user_revoked", on_result, &w));
	assert_int_equal(PQntuples(w.res), 0); /* already revoked */
	waiter_reset(&w);
	/* logout: the caller's session unless already revoked */
	TX_OK(f, &w, session_store_revoke(tx, s1, f->user_id, "logout", on_result, &w));
	assert_int_equal(PQntuples(w.res), 0);
	waiter_reset(&w);
	commit(f, tx);
	assert_int_equal(session_store_state(f->pg, s1, on_result, &w), 0);
	res = wait_ok(f, &w);
	session_state_from_row(res, 0, &st);
	assert_int_equal(session_state_reason(&st), SESSION_REVOKED);
	waiter_reset(&w);
	assert_int_equal(session_store_state(f->pg, s2, on_result, &w), 0);
	res = wait_ok(f, &w);
	session_state_from_row(res, 0, &st);
	assert_int_equal(session_state_reason(&st), SESSION_ACTIVE);
	assert_string_equal(st.user_id, f->user_id);
	waiter_reset(&w);
	assert_int_equal(session_store_list_active(f->pg, f->user_id, on_result, &w), 0);
	assert_int_equal(PQntuples(wait_ok(f, &w)), 1);
	waiter_reset(&w);
}

static void test_store_profile_update(void **state)
{
	struct fixture *f = *state;
	struct user_patch p = {.n = 3,
			       .set = {{"full_name", NULL},
				       {"birth_date", "1815-12-10"},
				       {"sms_tell_me", "true"}}};
	struct waiter w = {0};
	struct user u;
	PGresult *res;

	NEED_PG(f);
	make_user(f, "patch@example.com");
	assert_int_equal(user_store_update(f->pg, f->user_id, &p, on_result, &w), 0);
	res = wait_ok(f, &w);
	assert_int_equal(PQntuples(res), 1);
	user_from_row(res, 0, 0, &u, NULL);
	assert_null(u.full_name);
	assert_string_equal(u.birth_date, "1815-12-10");
	assert_true(u.sms_tell_me);
	assert_true(u.email_tell_me); /* untouched */
	waiter_reset(&w);
}

/* Registers email with its event in one transaction, ended with commit or rollback. */
static void register_with_event(struct fixture *f, const char *email, const char *trace_id,
				bool keep)
{
	struct waiter w = {0}, e = {0};
	struct pg_tx *tx = begin(f);
	struct user u;

	insert_user(f, tx, &w, email, &u);
	TX_OK(f, &e,
	      identity_event_add(tx, f->schema, EV_USER_REGISTERED, trace_id,
				 user_registered_data(&u, false), u.id, on_result, &e));
	waiter_reset(&e);
	waiter_reset(&w);
	if (keep)
		commit(f, tx);
	else
		rollback(f, tx);
}

static const char *str_at(json_object *o, const char *key)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

static void test_store_event_commits_with_its_change(void **state)
{
	struct fixture *f = *state;
	json_object *env, *data = NULL;
	PGresult *res;

	NEED_PG(f);
	(void)ensure_default(f, false);
	register_with_event(f, "Event.Commit@Example.com", "req-commit-1", true);
	res = query(f,
		    "SELECT event_type, aggregate_id, payload, sent_at IS NULL FROM outbox"
		    " WHERE aggregate_id = $1",
		    f->user_id);
	assert_int_equal(PQntuples(res), 1);
	assert_string_equal(PQgetvalue(res, 0, 0), EV_USER_REGISTERED);
	assert_string_equal(PQgetvalue(res, 0, 1), f->user_id);
	assert_true(pg_bool(res, 0, 3)); /* waits for the relay */
	env = json_parse_strict(PQgetvalue(res, 0, 2), strlen(PQgetvalue(res, 0, 2)), NULL);
	assert_non_null(env);
	assert_string_equal(str_at(env, "event_type"), EV_USER_REGISTERED);
	assert_string_equal(str_at(env, "producer"), "identity");
	assert_string_equal(str_at(env, "tenant_id"), f->tenant_id);
	assert_string_equal(str_at(env, "trace_id"), "req-commit-1");
	assert_true(json_object_object_get_ex(env, "data", &data));
	assert_string_equal(str_at(data, "user_id"), f->user_id);
	assert_string_equal(str_at(data, "tenant_id"), f->tenant_id);
	assert_string_equal(str_at(data, "email"), "event.commit@example.com"); /* as stored */
	assert_string_equal(str_at(data, "full_name"), "Ada");
	assert_string_equal(str_at(data, "register_mode"), "Email");
	assert_int_equal(str_at(data, "registered_at")[23], 'Z');
	json_object_put(env);
	PQclear(res);
}

static void test_store_event_rolls_back_with_its_change(void **state)
{
	struct fixture *f = *state;
	PGresult *res;

	NEED_PG(f);
	(void)ensure_default(f, false);
	register_with_event(f, "event.rollback@example.com", "req-rollback-1", false);
	res = query(f, "SELECT count(*) FROM users WHERE email_lower = $1",
		    "event.rollback@example.com");
	assert_string_equal(PQgetvalue(res, 0, 0), "0");
	PQclear(res);
	res = query(f, "SELECT count(*) FROM outbox WHERE aggregate_id = $1", f->user_id);
	assert_string_equal(PQgetvalue(res, 0, 0), "0");
	PQclear(res);
}

static void test_store_keyrings_share_one_key(void **state)
{
	struct fixture *f = *state;
	unsigned char kek[32] = {1, 2, 3};
	struct keyring_opts o = {f != NULL ? f->base : NULL, f != NULL ? f->pg : NULL, kek, 3600,
				 900};
	struct keyring *a, *b;
	struct waiter w = {0};
	bool ready = false;
	size_t len = 0;

	NEED_PG(f);
	a = keyring_new(&o);
	b = keyring_new(&o);
	keyring_start(a);
	for (int i = 0; i < 500 && !ready; i++) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(f->base, &tv);
		event_base_dispatch(f->base);
		ready = keyring_ready(a);
	}
	assert_true(ready);
	keyring_start(b);
	ready = false;
	for (int i = 0; i < 500 && !ready; i++) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(f->base, &tv);
		event_base_dispatch(f->base);
		ready = keyring_ready(b);
	}
	assert_true(ready);
	assert_string_equal(jwt_key_kid(keyring_signer(a, time(NULL))),
			    jwt_key_kid(keyring_signer(b, time(NULL))));
	assert_non_null(keyring_jwks(b, &len));
	assert_int_equal(jwt_keyset_count(keyring_keyset(b)), 1);
	assert_int_equal(key_store_load(f->pg, on_result, &w), 0);
	assert_int_equal(PQntuples(wait_ok(f, &w)), 1);
	waiter_reset(&w);
	keyring_stop(a);
	keyring_stop(b);
	keyring_free(a);
	keyring_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_register_unique_email_and_lookup),
		cmocka_unit_test(test_store_refresh_rotation_and_reuse),
		cmocka_unit_test(test_store_sessions_list_revoke_state),
		cmocka_unit_test(test_store_profile_update),
		cmocka_unit_test(test_store_event_commits_with_its_change),
		cmocka_unit_test(test_store_event_rolls_back_with_its_change),
		cmocka_unit_test(test_store_keyrings_share_one_key),
	};
	log_init("test_store", LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
