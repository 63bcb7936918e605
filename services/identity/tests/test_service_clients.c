/*
 * test_service_clients.c - IDENTITY_SERVICE_CLIENTS parsing, the local defaults (derived
 * secrets), the credential check, the audience list and the failure throttle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/config_common.h"
#include "common/crypto.h"
#include "service_clients.h"

static struct service_clients *parse(const char *spec, char *err, size_t errlen)
{
	return service_clients_new(spec, false, FR_LOCAL_INTERNAL_SECRET, err, errlen);
}

static void test_service_clients_parse_list(void **state)
{
	char h1[65], h2[65], spec[256], err[256] = "";
	struct service_clients *sc;

	(void)state;
	sha256_hex("billing-secret", 14, h1);
	sha256_hex("render-secret", 13, h2);
	snprintf(spec, sizeof(spec), "billing:%s, render:%s", h1, h2);
	sc = parse(spec, err, sizeof(err));
	assert_non_null(sc);
	assert_int_equal(service_clients_count(sc), 2);
	assert_true(service_clients_verify(sc, "billing", "billing-secret"));
	assert_true(service_clients_verify(sc, "render", "render-secret"));
	assert_false(service_clients_verify(sc, "billing", "render-secret"));
	assert_false(service_clients_verify(sc, "billing", "billing-secreT"));
	assert_false(service_clients_verify(sc, "billing", ""));
	assert_false(service_clients_verify(sc, "file", "billing-secret"));
	/* the hash itself is not the secret */
	assert_false(service_clients_verify(sc, "billing", h1));
	service_clients_free(sc);

	/* upper-case hex is accepted */
	for (char *p = h1; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	snprintf(spec, sizeof(spec), "billing:%s", h1);
	sc = parse(spec, err, sizeof(err));
	assert_non_null(sc);
	assert_true(service_clients_verify(sc, "billing", "billing-secret"));
	service_clients_free(sc);
}

static void test_service_clients_parse_refusals(void **state)
{
	static const char *const bad[] = {
		"billing",                                   /* no hash */
		"billing:abcd",                              /* short hash */
		"Billing:0000000000000000000000000000000000000000000000000000000000000000",
		":0000000000000000000000000000000000000000000000000000000000000000",
		"billing:zz00000000000000000000000000000000000000000000000000000000000000",
		"billing:0000000000000000000000000000000000000000000000000000000000000000,",
		"billing:0000000000000000000000000000000000000000000000000000000000000000,"
		"billing:1111111111111111111111111111111111111111111111111111111111111111",
		NULL};
	char err[256];

	(void)state;
	for (size_t i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		assert_null(parse(bad[i], err, sizeof(err)));
		assert_non_null(strstr(err, "IDENTITY_SERVICE_CLIENTS"));
		assert_null(strstr(err, "0000000000")); /* never echoes a hash */
	}
	/* empty: refused unless the local defaults are allowed */
	assert_null(parse("", err, sizeof(err)));
	assert_non_null(strstr(err, "IDENTITY_SERVICE_CLIENTS"));
}

static void test_service_clients_local_defaults(void **state)
{
	char err[256] = "", secret[65];
	struct service_clients *sc =
		service_clients_new("", true, FR_LOCAL_INTERNAL_SECRET, err, sizeof(err));
	static const char *const names[] = {"gateway", "billing", "render", "file",
					    "notification"};

	(void)state;
	assert_non_null(sc);
	assert_int_equal(service_clients_count(sc), 5);
	for (size_t i = 0; i < 5; i++) {
		fr_common_derive_service_secret(FR_LOCAL_INTERNAL_SECRET, names[i], secret);
		assert_true(service_clients_verify(sc, names[i], secret));
		fr_common_derive_service_secret("another-internal-secret", names[i], secret);
		assert_false(service_clients_verify(sc, names[i], secret));
	}
	fr_common_derive_service_secret(FR_LOCAL_INTERNAL_SECRET, "identity", secret);
	assert_false(service_clients_verify(sc, "identity", secret)); /* not a default client */
	service_clients_free(sc);
}

static void test_service_clients_audiences(void **state)
{
	(void)state;
	assert_true(service_audience_known("identity"));
	assert_true(service_audience_known("billing"));
	assert_true(service_audience_known("notification"));
	assert_false(service_audience_known("flatrender")); /* the users' audience */
	assert_false(service_audience_known("bill"));
	assert_false(service_audience_known("billingx"));
	assert_false(service_audience_known(""));
}

static void test_service_clients_failure_throttle(void **state)
{
	char err[256] = "";
	struct service_clients *sc =
		service_clients_new("", true, FR_LOCAL_INTERNAL_SECRET, err, sizeof(err));
	time_t now = 1700000000;

	(void)state;
	for (int i = 0; i < SERVICE_CLIENTS_MAX_FAILS; i++) {
		assert_int_equal(service_clients_blocked(sc, "billing", "10.0.0.9", now), 0);
		service_clients_failed(sc, "billing", "10.0.0.9", now);
	}
	assert_true(service_clients_blocked(sc, "billing", "10.0.0.9", now) > 0);
	assert_true(service_clients_blocked(sc, "billing", "10.0.0.9", now) <=
		    SERVICE_CLIENTS_WINDOW_S);
	assert_int_equal(service_clients_blocked(sc, "render", "10.0.0.9", now), 0); /* per client */
	/* per address: the failures of 10.0.0.9 do not lock billing out from its own address */
	assert_int_equal(service_clients_blocked(sc, "billing", "10.0.0.2", now), 0);
	assert_int_equal(service_clients_blocked(sc, "billing", "10.0.0.9",
						 now + SERVICE_CLIENTS_WINDOW_S),
			 0);
	service_clients_free(sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_clients_parse_list),
		cmocka_unit_test(test_service_clients_parse_refusals),
		cmocka_unit_test(test_service_clients_local_defaults),
		cmocka_unit_test(test_service_clients_audiences),
		cmocka_unit_test(test_service_clients_failure_throttle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
