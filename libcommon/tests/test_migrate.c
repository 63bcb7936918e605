/*
 * test_migrate.c - migrate_run() against a real server (FR_TEST_PG_URL; server tests skip when
 * unset): order, idempotence, changed files, failing files, and two concurrent runs. Each test
 * gets its own schema and temporary directory, removed in its teardown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/crypto.h"
#include "common/migrate.h"

#include <dirent.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct m {
	const char *url;
	char schema[64];
	char dir[64];
	char err[512];
};

static int m_setup(void **state)
{
	static int seq;
	struct m *m = calloc(1, sizeof(*m));

	if (!m)
		return -1;
	m->url = getenv("FR_TEST_PG_URL");
	if (m->url && !*m->url)
		m->url = NULL;
	snprintf(m->schema, sizeof(m->schema), "fr_test_mig_%ld_%ld_%d", (long)getpid(),
		 (long)time(NULL), ++seq);
	snprintf(m->dir, sizeof(m->dir), "/tmp/fr_test_mig_XXXXXX");
	if (!mkdtemp(m->dir)) {
		free(m);
		return -1;
	}
	*state = m;
	return 0;
}

static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* First value of a one-row query, or "" / "ERROR"; blocking, for checks only. */
static void pq_value(const struct m *m, const char *sql, char *out, size_t len)
{
	PGconn *c = PQconnectdb(m->url);
	PGresult *r;

	PQsetNoticeProcessor(c, quiet_notice, NULL);
	r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
	else if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
		snprintf(out, len, "%s", "");
	else
		snprintf(out, len, "%s", "ERROR");
	PQclear(r);
	PQfinish(c);
}

static int m_teardown(void **state)
{
	struct m *m = *state;
	char path[512], sql[256], out[64];
	struct dirent *e;
	DIR *d = opendir(m->dir);

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", m->dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(m->dir);
	if (m->url) {
		snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", m->schema);
		pq_value(m, sql, out, sizeof(out));
	}
	free(m);
	return 0;
}

static void m_need_server(const struct m *m)
{
	if (!m->url)
		skip();
}

static void m_write(const struct m *m, const char *name, const char *body)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", m->dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(body, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int m_run(struct m *m)
{
	return migrate_run(m->url, m->schema, m->dir, m->err, sizeof(m->err));
}

/* Runs a check query whose literal fmt names the schema with one %s. */
#define m_q(m, fmt, out, len)                                                                 \
	do {                                                                                  \
		char sql_[512];                                                               \
		snprintf(sql_, sizeof(sql_), fmt, (m)->schema);                               \
		pq_value((m), sql_, (out), (len));                                            \
	} while (0)

static void test_migrate_applies_in_order(void **state)
{
	struct m *m = *state;
	const char *first = "CREATE TABLE log (n serial PRIMARY KEY, v text);\n"
			    "INSERT INTO log (v) VALUES ('a');\n";
	char out[256], sha[65];

	m_need_server(m);
	m_write(m, "0002_second.sql", "INSERT INTO log (v) VALUES ('b');");
	m_write(m, "0001_first.sql", first);
	m_write(m, "0003_third.sql", "INSERT INTO log (v) VALUES ('c');");
	m_write(m, "README.md", "not a migration");
	m_write(m, "0004_Upper.sql", "SELECT broken syntax here");
	m_write(m, "04_short.sql", "SELECT broken syntax here");
	m_write(m, "0005_x.sql.bak", "SELECT broken syntax here");
	assert_int_equal(m_run(m), 3);
	assert_string_equal(m->err, "");
	m_q(m, "SELECT string_agg(v, ',' ORDER BY n) FROM %s.log", out, sizeof(out));
	assert_string_equal(out, "a,b,c");
	m_q(m, "SELECT string_agg(version || ':' || name, ',' ORDER BY version) FROM "
	       "%s.schema_migrations", out, sizeof(out));
	assert_string_equal(out, "0001:first,0002:second,0003:third");
	sha256_hex(first, strlen(first), sha);
	m_q(m, "SELECT sha256 FROM %s.schema_migrations WHERE version = '0001'", out, sizeof(out));
	assert_string_equal(out, sha);
}

static void test_migrate_second_run_applies_nothing(void **state)
{
	struct m *m = *state;
	char out[64];

	m_need_server(m);
	m_write(m, "0001_t.sql", "CREATE TABLE t (v int);");
	m_write(m, "0002_row.sql", "INSERT INTO t VALUES (1);");
	assert_int_equal(m_run(m), 2);
	assert_int_equal(m_run(m), 0);
	m_write(m, "0003_row.sql", "INSERT INTO t VALUES (2);");
	assert_int_equal(m_run(m), 1);
	assert_int_equal(m_run(m), 0);
	m_q(m, "SELECT count(*) FROM %s.t", out, sizeof(out));
	assert_string_equal(out, "2");
}

static void test_migrate_changed_file_fails(void **state)
{
	struct m *m = *state;

	m_need_server(m);
	m_write(m, "0001_t.sql", "CREATE TABLE t (v int);");
	assert_int_equal(m_run(m), 1);
	m_write(m, "0001_t.sql", "CREATE TABLE t (v bigint);");
	m_write(m, "0002_more.sql", "CREATE TABLE u (v int);");
	assert_int_equal(m_run(m), -1);
	assert_non_null(strstr(m->err, "0001_t.sql"));
	assert_non_null(strstr(m->err, "changed"));
}

static void test_migrate_failing_file_rolls_back(void **state)
{
	struct m *m = *state;
	char out[64];

	m_need_server(m);
	m_write(m, "0001_ok.sql", "CREATE TABLE ok (v int);");
	m_write(m, "0002_bad.sql", "CREATE TABLE half (v int);\nINSERT INTO missing VALUES (1);\n");
	m_write(m, "0003_later.sql", "CREATE TABLE later (v int);");
	assert_int_equal(m_run(m), -1);
	assert_non_null(strstr(m->err, "0002_bad.sql"));
	m_q(m, "SELECT to_regclass('%s.half') IS NULL", out, sizeof(out));
	assert_string_equal(out, "t"); /* the first statement of the bad file was rolled back */
	m_q(m, "SELECT to_regclass('%s.later') IS NULL", out, sizeof(out));
	assert_string_equal(out, "t"); /* nothing after the failure ran */
	m_q(m, "SELECT string_agg(version, ',' ORDER BY version) FROM %s.schema_migrations", out,
	    sizeof(out));
	assert_string_equal(out, "0001");
	/* fixed file: it was never recorded, so it runs now */
	m_write(m, "0002_bad.sql", "CREATE TABLE half (v int);\n");
	assert_int_equal(m_run(m), 2);
}

struct conc {
	struct m *m;
	int rc;
	char err[512];
};

static void *conc_main(void *arg)
{
	struct conc *c = arg;

	c->rc = migrate_run(c->m->url, c->m->schema, c->m->dir, c->err, sizeof(c->err));
	return NULL;
}

static void test_migrate_concurrent_runs_apply_once(void **state)
{
	struct m *m = *state;
	struct conc a = {.m = m}, b = {.m = m};
	pthread_t ta, tb;
	char out[64];

	m_need_server(m);
	m_write(m, "0001_counter.sql", "CREATE TABLE counter (v int); SELECT pg_sleep(0.3);");
	m_write(m, "0002_one.sql", "INSERT INTO counter VALUES (1);");
	m_write(m, "0003_two.sql", "INSERT INTO counter VALUES (2);");
	assert_int_equal(pthread_create(&ta, NULL, conc_main, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, conc_main, &b), 0);
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tb, NULL), 0);
	assert_true(a.rc >= 0);
	assert_true(b.rc >= 0);
	assert_int_equal(a.rc + b.rc, 3);
	m_q(m, "SELECT count(*) FROM %s.counter", out, sizeof(out));
	assert_string_equal(out, "2");
	m_q(m, "SELECT count(*) FROM %s.schema_migrations", out, sizeof(out));
	assert_string_equal(out, "3");
}

static void test_migrate_bad_dir_and_names(void **state)
{
	struct m *m = *state;
	char err[256];

	/* no server needed: these fail before connecting */
	assert_int_equal(migrate_run("host=127.0.0.1 port=1", "s", "/nonexistent/fr_mig", err,
				     sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "/nonexistent/fr_mig"));
	m_write(m, "0001_a.sql", "SELECT 1;");
	m_write(m, "0001_b.sql", "SELECT 1;");
	assert_int_equal(migrate_run("host=127.0.0.1 port=1", "s", m->dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "0001"));
	assert_int_equal(migrate_run(NULL, "s", m->dir, err, sizeof(err)), -1);
	assert_int_equal(migrate_run("x", "", m->dir, err, sizeof(err)), -1);
	assert_int_equal(migrate_run("x", "s", m->dir, NULL, 0), -1);
}

static void test_migrate_unreachable_server(void **state)
{
	struct m *m = *state;
	char err[256];

	m_write(m, "0001_a.sql", "SELECT 1;");
	assert_int_equal(migrate_run("host=127.0.0.1 port=1 connect_timeout=2", "s", m->dir, err,
				     sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "cannot connect"));
}

static void test_migrate_empty_dir_creates_table(void **state)
{
	struct m *m = *state;
	char out[64];

	m_need_server(m);
	assert_int_equal(m_run(m), 0);
	m_q(m, "SELECT count(*) FROM %s.schema_migrations", out, sizeof(out));
	assert_string_equal(out, "0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_bad_dir_and_names, m_setup, m_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_unreachable_server, m_setup, m_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_applies_in_order, m_setup, m_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_second_run_applies_nothing, m_setup,
						m_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_changed_file_fails, m_setup, m_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_failing_file_rolls_back, m_setup,
						m_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_concurrent_runs_apply_once, m_setup,
						m_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_empty_dir_creates_table, m_setup,
						m_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
