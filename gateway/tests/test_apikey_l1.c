/*
 * test_apikey_l1.c - the gateway's small bounded maps (apikey_l1.h): deadlines, replacement,
 * oldest-first eviction, deletion by predicate, payload-less tombstone sets, alignment of the
 * stored payload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "apikey_l1.h"

struct item {
	int64_t n;
	char tag[8];
};

static void test_apikey_l1_deadline_and_replace(void **state)
{
	struct apikey_l1 *m = apikey_l1_new(4, sizeof(struct item));
	struct item a = {1, "a"}, b = {2, "b"};
	struct item *got;

	(void)state;
	assert_non_null(m);
	assert_null(apikey_l1_get(m, "k", 0));
	assert_int_equal(apikey_l1_put(m, "k", &a, 100), 0);
	got = apikey_l1_get(m, "k", 99);
	assert_non_null(got);
	assert_true(got->n == 1);
	assert_int_equal((uintptr_t)got % _Alignof(max_align_t), 0);
	got->n = 5; /* writable in place */
	assert_true(((struct item *)apikey_l1_get(m, "k", 99))->n == 5);
	assert_null(apikey_l1_get(m, "k", 100)); /* the deadline is exclusive, and drops it */
	assert_int_equal(apikey_l1_count(m), 0);
	assert_int_equal(apikey_l1_put(m, "k", &a, 100), 0);
	assert_int_equal(apikey_l1_put(m, "k", &b, 200), 0);
	assert_int_equal(apikey_l1_count(m), 1);
	assert_string_equal(((struct item *)apikey_l1_get(m, "k", 150))->tag, "b");
	apikey_l1_del(m, "k");
	assert_null(apikey_l1_get(m, "k", 0));
	apikey_l1_del(m, "absent");
	apikey_l1_free(m);
}

static void test_apikey_l1_bounded_oldest_first(void **state)
{
	struct apikey_l1 *m = apikey_l1_new(3, sizeof(struct item));
	struct item it = {0, ""};
	char key[16];

	(void)state;
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		it.n = i;
		assert_int_equal(apikey_l1_put(m, key, &it, APIKEY_L1_FOREVER), 0);
	}
	assert_int_equal(apikey_l1_count(m), 3);
	assert_null(apikey_l1_get(m, "k0", 0));
	assert_null(apikey_l1_get(m, "k1", 0));
	for (int i = 2; i < 5; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_non_null(apikey_l1_get(m, key, 0));
	}
	/* a key longer than a UUID is refused */
	assert_int_equal(apikey_l1_put(m, "0123456789012345678901234567890123456", &it, 1), -1);
	apikey_l1_free(m);
}

static bool is_even(const void *payload, void *arg)
{
	(void)arg;
	return ((const struct item *)payload)->n % 2 == 0;
}

static void test_apikey_l1_del_if(void **state)
{
	struct apikey_l1 *m = apikey_l1_new(16, sizeof(struct item));
	struct item it = {0, ""};
	char key[16];

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		it.n = i;
		assert_int_equal(apikey_l1_put(m, key, &it, APIKEY_L1_FOREVER), 0);
	}
	assert_int_equal(apikey_l1_del_if(m, is_even, NULL), 5);
	assert_int_equal(apikey_l1_count(m), 5);
	assert_null(apikey_l1_get(m, "k4", 0));
	assert_non_null(apikey_l1_get(m, "k5", 0));
	apikey_l1_free(m);
}

static void test_apikey_l1_tombstones(void **state)
{
	struct apikey_l1 *m = apikey_l1_new(2, 0);

	(void)state;
	assert_int_equal(apikey_l1_put(m, "fr_live_AAAAAAAA", NULL, 1000), 0);
	assert_non_null(apikey_l1_get(m, "fr_live_AAAAAAAA", 999));
	assert_null(apikey_l1_get(m, "fr_live_BBBBBBBB", 0));
	assert_null(apikey_l1_get(m, "fr_live_AAAAAAAA", 1000));
	apikey_l1_free(m);
	assert_null(apikey_l1_new(0, 0));
	apikey_l1_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apikey_l1_deadline_and_replace),
		cmocka_unit_test(test_apikey_l1_bounded_oldest_first),
		cmocka_unit_test(test_apikey_l1_del_if),
		cmocka_unit_test(test_apikey_l1_tombstones),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
