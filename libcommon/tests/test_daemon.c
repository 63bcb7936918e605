/*
 * test_daemon.c - cmocka tests of daemon.c: the shared command line (daemon_cli) and the
 * graceful drain of an HTTP daemon (daemon_drain) on a real signal and a real server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "common/config.h"
#include "common/daemon.h"
#include "common/http.h"

static FILE *usage_out;
static FILE *routes_out;

static void fake_usage(FILE *out)
{
	usage_out = out;
}

static void fake_routes(FILE *out)
{
	routes_out = out;
}

static int run_cli(int argc, char *arg1, char *arg2)
{
	char *argv[] = {"daemon", arg1, arg2, NULL};

	usage_out = routes_out = NULL;
	return daemon_cli(argc, argv, fake_usage, fake_routes, NULL, 0);
}

static void test_daemon_cli_no_argument_goes_on(void **state)
{
	assert_int_equal(run_cli(1, NULL, NULL), -1);
	assert_null(usage_out);
	assert_null(routes_out);
}

static void test_daemon_cli_help_on_stdout(void **state)
{
	assert_int_equal(run_cli(2, "--help", NULL), 0);
	assert_ptr_equal(usage_out, stdout);
	assert_int_equal(run_cli(2, "-h", NULL), 0);
	assert_ptr_equal(usage_out, stdout);
}

static void test_daemon_cli_routes_and_config_table(void **state)
{
	assert_int_equal(run_cli(2, "--routes", NULL), 0);
	assert_ptr_equal(routes_out, stdout);
	assert_null(usage_out);
	assert_int_equal(run_cli(2, "--config-table", NULL), 0);
	assert_null(usage_out);
	assert_null(routes_out);
}

static void test_daemon_cli_bad_arguments_exit_2(void **state)
{
	assert_int_equal(run_cli(2, "--nope", NULL), 2);
	assert_ptr_equal(usage_out, stderr);
	assert_int_equal(run_cli(3, "--routes", "--help"), 2);
	assert_ptr_equal(usage_out, stderr);
	assert_null(routes_out);
}

static void on_ok(struct http_request *req, void *arg)
{
	http_reply_empty(req, 204);
}

static void on_stop_count(void *arg)
{
	(*(int *)arg)++;
}

static void send_sigterm(evutil_socket_t fd, short what, void *arg)
{
	kill(getpid(), SIGTERM);
}

/* drain_timeout_ms 0 arms no timer: only the drain itself can end the loop. */
static void test_daemon_drain_stops_loop_when_idle(void **state)
{
	static const struct http_route routes[] = {{HTTP_GET, "/x", on_ok, 0, NULL}};
	struct event_base *base = event_base_new();
	struct http_server_opts o;
	struct http_server *srv;
	struct daemon_drain *d;
	struct timeval tv = {0, 1000};
	int stops = 0;

	assert_non_null(base);
	http_server_opts_default(&o, "test");
	o.bind_addr = "127.0.0.1";
	o.port = 0;
	srv = http_server_new(base, &o, routes, 1, NULL);
	assert_non_null(srv);
	assert_int_equal(http_server_listen(srv), 0);
	d = daemon_drain_new(base, srv, on_stop_count, &stops, 0);
	assert_non_null(d);
	assert_int_equal(event_base_once(base, -1, EV_TIMEOUT, send_sigterm, NULL, &tv), 0);
	assert_int_equal(event_base_dispatch(base), 0);
	assert_int_equal(stops, 1);
	assert_int_equal(http_server_inflight(srv), 0);
	daemon_drain_free(d);
	http_server_free(srv);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_cli_no_argument_goes_on),
		cmocka_unit_test(test_daemon_cli_help_on_stdout),
		cmocka_unit_test(test_daemon_cli_routes_and_config_table),
		cmocka_unit_test(test_daemon_cli_bad_arguments_exit_2),
		cmocka_unit_test(test_daemon_drain_stops_loop_when_idle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
