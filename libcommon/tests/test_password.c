/*
 * test_password.c - Argon2id hashing: verify good/bad, tampering, rehash policy, work bounds.
 * Small parameters (m = 256 KiB, t = 1) keep the suite fast; one test uses the defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/password.h"

static const struct password_params small = {.m_kib = 256, .t_cost = 1, .lanes = 1};

static void test_password_hash_verify(void **state)
{
	char *h1 = password_hash("correct horse battery staple", &small);
	char *h2 = password_hash("correct horse battery staple", &small);

	(void)state;
	assert_non_null(h1);
	assert_non_null(h2);
	assert_true(strncmp(h1, "$argon2id$v=19$m=256,t=1,p=1$", 29) == 0);
	assert_string_not_equal(h1, h2); /* random salt */
	assert_true(password_verify(h1, "correct horse battery staple"));
	assert_true(password_verify(h2, "correct horse battery staple"));
	assert_false(password_verify(h1, "correct horse battery stapl"));
	assert_false(password_verify(h1, "Correct horse battery staple"));
	assert_false(password_verify(h1, ""));
	assert_false(password_verify(h1, NULL));
	free(h1);
	free(h2);
}

static void test_password_empty_password(void **state)
{
	char *h = password_hash("", &small);

	(void)state;
	assert_non_null(h);
	assert_true(password_verify(h, ""));
	assert_false(password_verify(h, " "));
	free(h);
}

static void test_password_rejects_tampered_hash(void **state)
{
	char *h = password_hash("s3cret-passw0rd", &small);
	char *t;
	size_t n;

	(void)state;
	assert_non_null(h);
	n = strlen(h);
	t = strdup(h);
	t[n - 1] = t[n - 1] == 'A' ? 'B' : 'A'; /* last character of the hash */
	assert_false(password_verify(t, "s3cret-passw0rd"));
	strcpy(t, h);
	t[n - 20] = t[n - 20] == 'A' ? 'B' : 'A'; /* inside the hash */
	assert_false(password_verify(t, "s3cret-passw0rd"));
	strcpy(t, h);
	t[35] = t[35] == 'A' ? 'B' : 'A'; /* inside the salt */
	assert_false(password_verify(t, "s3cret-passw0rd"));
	strcpy(t, h);
	memcpy(t, "$argon2id$v=19$m=512", 20); /* cost parameter changed */
	assert_false(password_verify(t, "s3cret-passw0rd"));
	strcpy(t, h);
	t[n - 5] = '\0'; /* truncated */
	assert_false(password_verify(t, "s3cret-passw0rd"));
	strcpy(t, h);
	memcpy(t, "$argon2i$", 9); /* argon2i is refused, whatever follows */
	assert_false(password_verify(t, "s3cret-passw0rd"));
	assert_false(password_verify("", "s3cret-passw0rd"));
	assert_false(password_verify(NULL, "s3cret-passw0rd"));
	assert_false(password_verify("plaintext", "plaintext"));
	assert_true(password_verify(h, "s3cret-passw0rd")); /* the original still verifies */
	free(t);
	free(h);
}

static void test_password_refuses_excessive_cost(void **state)
{
	char *h = password_hash("pw", &small), *t = NULL;

	(void)state;
	assert_non_null(h);
	/* a planted row asking for 4 GiB must be refused without being run */
	assert_true(asprintf(&t, "$argon2id$v=19$m=4194304,t=1,p=1%s", strchr(h + 20, '$')) > 0);
	assert_false(password_verify(t, "pw"));
	free(t);
	assert_true(asprintf(&t, "$argon2id$v=19$m=256,t=100000,p=1%s", strchr(h + 20, '$')) > 0);
	assert_false(password_verify(t, "pw"));
	free(t);
	assert_true(asprintf(&t, "$argon2id$v=19$m=256,t=1,p=0%s", strchr(h + 20, '$')) > 0);
	assert_false(password_verify(t, "pw"));
	free(t);
	free(h);
}

static void test_password_long_password_refused(void **state)
{
	char *pw = malloc(1026);
	char *h, *h_max;

	(void)state;
	memset(pw, 'p', 1025);
	pw[1025] = '\0';
	assert_null(password_hash(pw, &small)); /* 1025 bytes */
	pw[1024] = '\0';
	h_max = password_hash(pw, &small); /* exactly 1024 is fine */
	assert_non_null(h_max);
	assert_true(password_verify(h_max, pw));
	pw[1024] = 'p';
	assert_false(password_verify(h_max, pw)); /* longer input refused, not truncated */
	h = password_hash("short", &small);
	assert_false(password_verify(h, pw));
	free(h);
	free(h_max);
	free(pw);
}

static void test_password_bad_params(void **state)
{
	(void)state;
	assert_null(password_hash(NULL, &small));
	assert_null(password_hash("pw", &(struct password_params){.m_kib = 256, .t_cost = 0, .lanes = 1}));
	assert_null(password_hash("pw", &(struct password_params){.m_kib = 256, .t_cost = 1, .lanes = 0}));
	assert_null(password_hash("pw", &(struct password_params){.m_kib = 4, .t_cost = 1, .lanes = 1}));
}

static void test_password_needs_rehash(void **state)
{
	const struct password_params def = PASSWORD_PARAMS_DEFAULT;
	char *h = password_hash("pw", &small);

	(void)state;
	assert_non_null(h);
	assert_false(password_needs_rehash(h, &small));
	assert_true(password_needs_rehash(h, &def));
	assert_true(password_needs_rehash(h, &(struct password_params){.m_kib = 512, .t_cost = 1, .lanes = 1}));
	assert_true(password_needs_rehash(h, &(struct password_params){.m_kib = 256, .t_cost = 2, .lanes = 1}));
	assert_false(password_needs_rehash(h, &(struct password_params){.m_kib = 128, .t_cost = 1, .lanes = 1}));
	assert_true(password_needs_rehash("$argon2id$v=16$m=65536,t=3,p=1$c2FsdA$aGFzaA", &def));
	assert_false(password_needs_rehash("$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA", &def));
	assert_true(password_needs_rehash("$argon2i$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA", &def));
	assert_true(password_needs_rehash("$2b$12$abcdefghijklmnopqrstuv", &def)); /* bcrypt */
	assert_true(password_needs_rehash("garbage", &def));
	assert_true(password_needs_rehash(NULL, &def));
	free(h);
}

static void test_password_default_params(void **state)
{
	const struct password_params def = PASSWORD_PARAMS_DEFAULT;
	char *h = password_hash("flatrender-admin", &def);

	(void)state;
	assert_non_null(h);
	assert_true(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
	assert_true(password_verify(h, "flatrender-admin"));
	assert_false(password_verify(h, "flatrender-admin "));
	assert_false(password_needs_rehash(h, &def));
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_hash_verify),
		cmocka_unit_test(test_password_empty_password),
		cmocka_unit_test(test_password_rejects_tampered_hash),
		cmocka_unit_test(test_password_refuses_excessive_cost),
		cmocka_unit_test(test_password_long_password_refused),
		cmocka_unit_test(test_password_bad_params),
		cmocka_unit_test(test_password_needs_rehash),
		cmocka_unit_test(test_password_default_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
