/*
 * test_throttle.c - login throttling: the verdict rule, the in-process counters (windows,
 * clearing, bounded size) and the memory fallback when there is no Redis.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "throttle.h"

static const struct throttle_limits LIM = {.window_s = 900, .max_account = 5, .max_ip = 100};

static void test_throttle_decide_allows_below_limits(void **state)
{
	(void)state;
	assert_int_equal(throttle_decide(&LIM, 0, -2, 0, -2), 0);
	assert_int_equal(throttle_decide(&LIM, 4, 800, 99, 800), 0);
}

static void test_throttle_decide_blocks_at_account_limit(void **state)
{
	(void)state;
	/* five failures recorded: the sixth attempt is refused for the rest of the window */
	assert_int_equal(throttle_decide(&LIM, 5, 321, 5, 321), 321);
	assert_int_equal(throttle_decide(&LIM, 9, 12, 0, -2), 12);
}

static void test_throttle_decide_blocks_at_ip_limit_and_takes_longest_wait(void **state)
{
	(void)state;
	assert_int_equal(throttle_decide(&LIM, 0, -2, 100, 44), 44);
	assert_int_equal(throttle_decide(&LIM, 5, 10, 100, 44), 44);
	assert_int_equal(throttle_decide(&LIM, 5, 50, 100, 44), 50);
}

static void test_throttle_decide_unknown_ttl_is_whole_window(void **state)
{
	(void)state;
	assert_int_equal(throttle_decide(&LIM, 5, -1, 0, -2), 900);
	assert_int_equal(throttle_decide(&LIM, 0, 0, 100, 0), 900);
}

static void test_throttle_mem_counts_within_window(void **state)
{
	struct throttle_mem *m = throttle_mem_new(16);
	long ttl = -1;

	(void)state;
	assert_int_equal(throttle_mem_get(m, "k", 1000, &ttl), 0);
	assert_int_equal(ttl, 0);
	throttle_mem_hit(m, "k", 60, 1000);
	throttle_mem_hit(m, "k", 60, 1010);
	throttle_mem_hit(m, "other", 60, 1010);
	assert_int_equal(throttle_mem_get(m, "k", 1020, &ttl), 2);
	assert_int_equal(ttl, 40); /* the window started with the first failure */
	assert_int_equal(throttle_mem_get(m, "other", 1020, &ttl), 1);
	assert_int_equal(throttle_mem_count(m), 2);
	throttle_mem_free(m);
}

static void test_throttle_mem_window_expires(void **state)
{
	struct throttle_mem *m = throttle_mem_new(16);
	long ttl;

	(void)state;
	throttle_mem_hit(m, "k", 60, 1000);
	throttle_mem_hit(m, "k", 60, 1001);
	assert_int_equal(throttle_mem_get(m, "k", 1059, &ttl), 2);
	assert_int_equal(throttle_mem_get(m, "k", 1060, &ttl), 0);
	assert_int_equal(throttle_mem_count(m), 0);
	throttle_mem_hit(m, "k", 60, 1061); /* a new window */
	assert_int_equal(throttle_mem_get(m, "k", 1062, &ttl), 1);
	assert_int_equal(ttl, 59);
	throttle_mem_free(m);
}

static void test_throttle_mem_clear_forgets_one_key(void **state)
{
	struct throttle_mem *m = throttle_mem_new(16);
	long ttl;

	(void)state;
	throttle_mem_hit(m, "a", 60, 1000);
	throttle_mem_hit(m, "b", 60, 1000);
	throttle_mem_clear(m, "a");
	throttle_mem_clear(m, "missing");
	assert_int_equal(throttle_mem_get(m, "a", 1001, &ttl), 0);
	assert_int_equal(throttle_mem_get(m, "b", 1001, &ttl), 1);
	throttle_mem_free(m);
}

static void test_throttle_mem_bounded_evicts_expired_then_oldest(void **state)
{
	struct throttle_mem *m = throttle_mem_new(3);
	long ttl;

	(void)state;
	throttle_mem_hit(m, "old", 10, 1000);  /* expires 1010 */
	throttle_mem_hit(m, "mid", 100, 1000); /* expires 1100 */
	throttle_mem_hit(m, "new", 200, 1000); /* expires 1200 */
	throttle_mem_hit(m, "x", 100, 1050);   /* full: "old" has expired and goes */
	assert_int_equal(throttle_mem_count(m), 3);
	assert_int_equal(throttle_mem_get(m, "mid", 1050, &ttl), 1);
	throttle_mem_hit(m, "y", 100, 1060); /* full, none expired: the soonest-ending goes */
	assert_int_equal(throttle_mem_count(m), 3);
	assert_int_equal(throttle_mem_get(m, "mid", 1060, &ttl), 0);
	assert_int_equal(throttle_mem_get(m, "new", 1060, &ttl), 1);
	assert_int_equal(throttle_mem_get(m, "y", 1060, &ttl), 1);
	throttle_mem_free(m);
}

static void test_throttle_keys_hash_account_and_keep_ip(void **state)
{
	char a1[THROTTLE_KEY_MAX], a2[THROTTLE_KEY_MAX], ip[THROTTLE_KEY_MAX];

	(void)state;
	throttle_account_key("default", "ada@example.com", a1);
	throttle_account_key("default", "bob@example.com", a2);
	assert_int_equal(strlen(a1), strlen("fr:login:acct:") + 64);
	assert_memory_equal(a1, "fr:login:acct:", 14);
	assert_string_not_equal(a1, a2);
	assert_null(strstr(a1, "ada")); /* no e-mail in Redis keys */
	throttle_ip_key("203.0.113.9", ip);
	assert_string_equal(ip, "fr:login:ip:203.0.113.9");
}

struct verdict {
	int calls;
	long retry_after;
};

static void on_verdict(long retry_after_s, void *arg)
{
	struct verdict *v = arg;

	v->calls++;
	v->retry_after = retry_after_s;
}

static void test_throttle_without_redis_counts_in_memory(void **state)
{
	struct throttle *t = throttle_new(NULL, &LIM);
	struct throttle_req q;
	struct verdict v = {0, -1};

	(void)state;
	for (int i = 0; i < 5; i++) {
		throttle_check(t, &q, "default", "ada@example.com", "10.0.0.1", on_verdict, &v);
		assert_int_equal(v.retry_after, 0);
		throttle_failed(t, "default", "ada@example.com", "10.0.0.1");
	}
	throttle_check(t, &q, "default", "ada@example.com", "10.0.0.1", on_verdict, &v);
	assert_int_equal(v.calls, 6); /* called exactly once per check, before returning */
	assert_in_range(v.retry_after, 899, 900);
	/* another account from the same address is not blocked (5 < 100 for the address) */
	throttle_check(t, &q, "default", "bob@example.com", "10.0.0.1", on_verdict, &v);
	assert_int_equal(v.retry_after, 0);
	/* a success clears the account */
	throttle_succeeded(t, "default", "ada@example.com");
	throttle_check(t, &q, "default", "ada@example.com", "10.0.0.1", on_verdict, &v);
	assert_int_equal(v.retry_after, 0);
	throttle_free(t);
}

static void test_throttle_without_redis_blocks_address(void **state)
{
	struct throttle_limits lim = {.window_s = 60, .max_account = 1000, .max_ip = 3};
	struct throttle *t = throttle_new(NULL, &lim);
	struct throttle_req q;
	struct verdict v = {0, -1};
	char email[32];

	(void)state;
	for (int i = 0; i < 3; i++) {
		snprintf(email, sizeof(email), "u%d@example.com", i);
		throttle_failed(t, "default", email, "10.0.0.2");
	}
	throttle_check(t, &q, "default", "fresh@example.com", "10.0.0.2", on_verdict, &v);
	assert_in_range(v.retry_after, 59, 60);
	throttle_check(t, &q, "default", "fresh@example.com", "10.0.0.3", on_verdict, &v);
	assert_int_equal(v.retry_after, 0);
	throttle_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_throttle_decide_allows_below_limits),
		cmocka_unit_test(test_throttle_decide_blocks_at_account_limit),
		cmocka_unit_test(test_throttle_decide_blocks_at_ip_limit_and_takes_longest_wait),
		cmocka_unit_test(test_throttle_decide_unknown_ttl_is_whole_window),
		cmocka_unit_test(test_throttle_mem_counts_within_window),
		cmocka_unit_test(test_throttle_mem_window_expires),
		cmocka_unit_test(test_throttle_mem_clear_forgets_one_key),
		cmocka_unit_test(test_throttle_mem_bounded_evicts_expired_then_oldest),
		cmocka_unit_test(test_throttle_keys_hash_account_and_keep_ip),
		cmocka_unit_test(test_throttle_without_redis_counts_in_memory),
		cmocka_unit_test(test_throttle_without_redis_blocks_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
