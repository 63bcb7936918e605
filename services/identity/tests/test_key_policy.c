/*
 * test_key_policy.c - the signing-key rotation rules: which key signs, which are published,
 * when a new key is due.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "key_policy.h"

#define WEEK 604800L
#define T0 ((time_t)1800000000)

static struct key_info key(time_t created, long rotation, long ttl, bool can_sign)
{
	return (struct key_info){created, created + rotation, created + rotation + ttl + 60,
				 can_sign};
}

static void test_key_policy_lead_and_settle_bounded(void **state)
{
	(void)state;
	assert_int_equal(key_policy_lead_s(WEEK), 180);
	assert_int_equal(key_policy_settle_s(WEEK), 70);
	assert_int_equal(key_policy_lead_s(60), 15);
	assert_int_equal(key_policy_settle_s(60), 7);
	assert_true(key_policy_settle_s(WEEK) < key_policy_lead_s(WEEK));
}

static void test_key_policy_no_keys_no_signer_and_rotation_due(void **state)
{
	(void)state;
	assert_int_equal(key_policy_signer(NULL, 0, T0, 70), -1);
	assert_true(key_policy_rotation_due(NULL, 0, T0, 180));
}

static void test_key_policy_single_fresh_key_signs_at_once(void **state)
{
	struct key_info k[1] = {key(T0, WEEK, 900, true)};

	(void)state;
	/* no settled key exists, so the brand-new one signs immediately */
	assert_int_equal(key_policy_signer(k, 1, T0 + 1, 70), 0);
	assert_false(key_policy_rotation_due(k, 1, T0 + 1, 180));
}

static void test_key_policy_rotation_due_within_lead(void **state)
{
	struct key_info k[1] = {key(T0, WEEK, 900, true)};

	(void)state;
	assert_false(key_policy_rotation_due(k, 1, T0 + WEEK - 181, 180));
	assert_true(key_policy_rotation_due(k, 1, T0 + WEEK - 180, 180));
	assert_true(key_policy_rotation_due(k, 1, T0 + WEEK + 5, 180));
}

static void test_key_policy_new_key_waits_to_settle(void **state)
{
	time_t created2 = T0 + WEEK - 180;
	struct key_info k[2] = {key(T0, WEEK, 900, true), key(created2, WEEK, 900, true)};

	(void)state;
	/* the old key keeps signing while the new one settles */
	assert_int_equal(key_policy_signer(k, 2, created2 + 10, 70), 0);
	/* once settled, the new key takes over although the old one could still sign */
	assert_int_equal(key_policy_signer(k, 2, created2 + 70, 70), 1);
	/* the old key stops signing at sign_until */
	assert_int_equal(key_policy_signer(k, 2, T0 + WEEK, 70), 1);
}

static void test_key_policy_unsettled_key_signs_when_old_expired(void **state)
{
	time_t created2 = T0 + WEEK + 100; /* created late: the old key no longer signs */
	struct key_info k[2] = {key(T0, WEEK, 900, true), key(created2, WEEK, 900, true)};

	(void)state;
	assert_int_equal(key_policy_signer(k, 2, created2 + 1, 70), 1);
}

static void test_key_policy_skips_keys_it_cannot_open(void **state)
{
	struct key_info k[2] = {key(T0, WEEK, 900, true), key(T0 + 1000, WEEK, 900, false)};

	(void)state;
	assert_int_equal(key_policy_signer(k, 2, T0 + 5000, 70), 0);
	k[0].can_sign = false;
	assert_int_equal(key_policy_signer(k, 2, T0 + 5000, 70), -1);
	/* an unopenable key still counts for rotation: another replica can sign with it */
	assert_false(key_policy_rotation_due(k, 2, T0 + 5000, 180));
}

static void test_key_policy_published_until_last_token_expires(void **state)
{
	struct key_info k = key(T0, WEEK, 900, true);

	(void)state;
	assert_true(key_policy_published(&k, T0 + WEEK + 900 + 59));
	assert_false(key_policy_published(&k, T0 + WEEK + 900 + 60));
	/* no longer signing, still published */
	assert_int_equal(key_policy_signer(&k, 1, T0 + WEEK + 10, 70), -1);
	assert_true(key_policy_published(&k, T0 + WEEK + 10));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_policy_lead_and_settle_bounded),
		cmocka_unit_test(test_key_policy_no_keys_no_signer_and_rotation_due),
		cmocka_unit_test(test_key_policy_single_fresh_key_signs_at_once),
		cmocka_unit_test(test_key_policy_rotation_due_within_lead),
		cmocka_unit_test(test_key_policy_new_key_waits_to_settle),
		cmocka_unit_test(test_key_policy_unsettled_key_signs_when_old_expired),
		cmocka_unit_test(test_key_policy_skips_keys_it_cannot_open),
		cmocka_unit_test(test_key_policy_published_until_last_token_expires),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
