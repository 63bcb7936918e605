/*
 * test_metrics.c - cmocka tests of metrics.c: the exact exposition text of a small registry,
 * histogram buckets, gauge functions, type mismatches and label escaping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"

static double read_depth(void *arg)
{
	return (double)*(int *)arg;
}

static void test_metrics_render_exact_text(void **state)
{
	struct metrics *m = metrics_new();
	int depth = 3;
	size_t len = 0;
	char *txt;

	assert_non_null(m);
	metrics_declare(m, "http_requests_total", METRIC_COUNTER, "HTTP requests served.");
	metrics_declare(m, "queue_depth", METRIC_GAUGE, "Jobs waiting.");
	metrics_declare(m, "http_request_duration_seconds", METRIC_HISTOGRAM, "Request latency.");
	metrics_declare(m, "http_requests_total", METRIC_GAUGE, "ignored second declaration");
	metrics_declare(m, "unused_total", METRIC_COUNTER, "Never touched.");

	metrics_inc(m, "http_requests_total", "method=\"GET\",status=\"200\"", 1);
	metrics_inc(m, "http_requests_total", "method=\"POST\",status=\"201\"", 2);
	metrics_inc(m, "http_requests_total", "method=\"GET\",status=\"200\"", 1);
	metrics_inc(m, "http_requests_total", "method=\"GET\",status=\"200\"", -5); /* ignored */
	metrics_gauge_fn(m, "queue_depth", NULL, read_depth, &depth);
	metrics_observe(m, "http_request_duration_seconds", "route=\"/x\"", 0.003);
	metrics_observe(m, "http_request_duration_seconds", "route=\"/x\"", 0.01);
	metrics_observe(m, "http_request_duration_seconds", "route=\"/x\"", 0.7);
	metrics_observe(m, "http_request_duration_seconds", "route=\"/x\"", 42);
	metrics_observe(m, "http_request_duration_seconds", NULL, 0.25);
	/* wrong types are ignored */
	metrics_observe(m, "http_requests_total", NULL, 1);
	metrics_set(m, "http_request_duration_seconds", NULL, 1);
	depth = 7; /* read at render time */

	txt = metrics_render(m, &len);
	assert_non_null(txt);
	assert_string_equal(txt,
		"# HELP http_requests_total HTTP requests served.\n"
		"# TYPE http_requests_total counter\n"
		"http_requests_total{method=\"GET\",status=\"200\"} 2\n"
		"http_requests_total{method=\"POST\",status=\"201\"} 2\n"
		"# HELP queue_depth Jobs waiting.\n"
		"# TYPE queue_depth gauge\n"
		"queue_depth 7\n"
		"# HELP http_request_duration_seconds Request latency.\n"
		"# TYPE http_request_duration_seconds histogram\n"
		"http_request_duration_seconds_bucket{route=\"/x\",le=\"0.005\"} 1\n"
		"http_request_duration_seconds_bucket{route=\"/x\",le=\"0.01\"} 2\n"
		"http_request_duration_seconds_bucket{route=\"/x\",le=\"0.025\"} 2\n"
		"http_request_duration_seconds_bucket{route=\"/x\",le=\"0.05\"} 2\n"
		"http_request_duration_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
		"http_request_duration_seconds_bucket{route=\"/x\",le=\"0.25\"} 2\n"
		"http_request_duration_seconds_bucket{route=\"/x\",le=\"0.5\"} 2\n"
		"http_request_duration_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
		"http_request_duration_seconds_bucket{route=\"/x\",le=\"2.5\"} 3\n"
		"http_request_duration_seconds_bucket{route=\"/x\",le=\"5\"} 3\n"
		"http_request_duration_seconds_bucket{route=\"/x\",le=\"10\"} 3\n"
		"http_request_duration_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
		"http_request_duration_seconds_sum{route=\"/x\"} 42.713\n"
		"http_request_duration_seconds_count{route=\"/x\"} 4\n"
		"http_request_duration_seconds_bucket{le=\"0.005\"} 0\n"
		"http_request_duration_seconds_bucket{le=\"0.01\"} 0\n"
		"http_request_duration_seconds_bucket{le=\"0.025\"} 0\n"
		"http_request_duration_seconds_bucket{le=\"0.05\"} 0\n"
		"http_request_duration_seconds_bucket{le=\"0.1\"} 0\n"
		"http_request_duration_seconds_bucket{le=\"0.25\"} 1\n"
		"http_request_duration_seconds_bucket{le=\"0.5\"} 1\n"
		"http_request_duration_seconds_bucket{le=\"1\"} 1\n"
		"http_request_duration_seconds_bucket{le=\"2.5\"} 1\n"
		"http_request_duration_seconds_bucket{le=\"5\"} 1\n"
		"http_request_duration_seconds_bucket{le=\"10\"} 1\n"
		"http_request_duration_seconds_bucket{le=\"+Inf\"} 1\n"
		"http_request_duration_seconds_sum 0.25\n"
		"http_request_duration_seconds_count 1\n"
		"# HELP unused_total Never touched.\n"
		"# TYPE unused_total counter\n");
	assert_int_equal(len, strlen(txt));
	free(txt);
	metrics_free(m);
}

static void test_metrics_gauges_and_undeclared(void **state)
{
	struct metrics *m = metrics_new();
	char *txt;

	metrics_declare(m, "conns", METRIC_GAUGE, "Open connections.");
	metrics_set(m, "conns", "pool=\"a\"", 5);
	metrics_inc(m, "conns", "pool=\"a\"", -2); /* gauges may go down */
	metrics_set(m, "conns", "pool=\"b\"", 0.5);
	metrics_inc(m, "implicit_total", "", 1); /* undeclared: a counter without HELP */
	txt = metrics_render(m, NULL);
	assert_non_null(txt);
	assert_string_equal(txt, "# HELP conns Open connections.\n"
				 "# TYPE conns gauge\n"
				 "conns{pool=\"a\"} 3\n"
				 "conns{pool=\"b\"} 0.5\n"
				 "# TYPE implicit_total counter\n"
				 "implicit_total 1\n");
	free(txt);
	metrics_free(m);
}

static void test_metrics_many_series(void **state)
{
	struct metrics *m = metrics_new();
	char labels[64], *txt, *p;
	size_t lines = 0;

	metrics_declare(m, "hits_total", METRIC_COUNTER, "Hits.");
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 1000; i++) {
			snprintf(labels, sizeof(labels), "id=\"%d\"", i);
			metrics_inc(m, "hits_total", labels, 1);
		}
	txt = metrics_render(m, NULL);
	assert_non_null(txt);
	for (p = txt; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	assert_int_equal(lines, 1002);
	assert_non_null(strstr(txt, "\nhits_total{id=\"0\"} 3\nhits_total{id=\"1\"} 3\n"));
	assert_non_null(strstr(txt, "\nhits_total{id=\"999\"} 3\n"));
	free(txt);
	metrics_free(m);
}

static void test_metrics_escape(void **state)
{
	char out[16];

	metrics_escape("a\"b\\c\nd", out, sizeof(out));
	assert_string_equal(out, "a\\\"b\\\\c\\nd");
	metrics_escape("abc\"", out, 5); /* the escape does not fit: cut before it */
	assert_string_equal(out, "abc");
	metrics_escape("abcdef", out, 4);
	assert_string_equal(out, "abc");
	metrics_escape(NULL, out, sizeof(out));
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_render_exact_text),
		cmocka_unit_test(test_metrics_gauges_and_undeclared),
		cmocka_unit_test(test_metrics_many_series),
		cmocka_unit_test(test_metrics_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
