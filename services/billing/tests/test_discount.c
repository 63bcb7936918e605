/*
 * test_discount.c - promo code rules: every kind's effect, the validity window, max uses, the
 * per-user limit, the plan restriction, plan-only kinds on a top-up, and the check order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "discount.h"

#define NOW ((time_t)1800000000)

static struct discount code(enum discount_kind k, int64_t value)
{
	struct discount d = {0};

	d.kind = k;
	d.value = value;
	return d;
}

static void test_discount_percentage(void **state)
{
	struct discount d = code(DISCOUNT_PERCENTAGE, 15);
	struct discount_effect e;

	(void)state;
	assert_int_equal(discount_check(&d, NOW, true), DISCOUNT_OK);
	assert_int_equal(discount_check(&d, NOW, false), DISCOUNT_OK);
	e = discount_apply(&d, 999);
	assert_int_equal(e.discount_minor, 149); /* 149.85 rounded down */
	assert_int_equal(e.final_amount_minor, 850);
	d.value = 100;
	e = discount_apply(&d, 999);
	assert_int_equal(e.discount_minor, 999);
	assert_int_equal(e.final_amount_minor, 0);
	e = discount_apply(&d, INT64_MAX);
	assert_true(e.final_amount_minor >= 0);
}

static void test_discount_fixed_amount(void **state)
{
	struct discount d = code(DISCOUNT_FIXED_AMOUNT, 300);
	struct discount_effect e;

	(void)state;
	e = discount_apply(&d, 1000);
	assert_int_equal(e.discount_minor, 300);
	assert_int_equal(e.final_amount_minor, 700);
	e = discount_apply(&d, 200); /* never below zero */
	assert_int_equal(e.discount_minor, 200);
	assert_int_equal(e.final_amount_minor, 0);
	e = discount_apply(&d, 0);
	assert_int_equal(e.discount_minor, 0);
}

static void test_discount_free_months_and_credits(void **state)
{
	struct discount m = code(DISCOUNT_FREE_MONTHS, 2);
	struct discount c = code(DISCOUNT_RENDER_CREDITS, 600);
	struct discount_effect e;

	(void)state;
	e = discount_apply(&m, 1000);
	assert_int_equal(e.discount_minor, 0);
	assert_int_equal(e.final_amount_minor, 1000);
	assert_int_equal(e.free_months, 2);
	e = discount_apply(&c, 1000);
	assert_int_equal(e.final_amount_minor, 1000);
	assert_int_equal(e.render_seconds, 600);
	/* both only make sense with a plan */
	assert_int_equal(discount_check(&m, NOW, true), DISCOUNT_OK);
	assert_int_equal(discount_check(&m, NOW, false), DISCOUNT_NOT_APPLICABLE);
	assert_int_equal(discount_check(&c, NOW, false), DISCOUNT_NOT_APPLICABLE);
}

static void test_discount_window(void **state)
{
	struct discount d = code(DISCOUNT_PERCENTAGE, 10);

	(void)state;
	d.starts_at = NOW + 1;
	assert_int_equal(discount_check(&d, NOW, true), DISCOUNT_NOT_STARTED);
	d.starts_at = NOW;
	assert_int_equal(discount_check(&d, NOW, true), DISCOUNT_OK);
	d.expires_at = NOW;
	assert_int_equal(discount_check(&d, NOW, true), DISCOUNT_EXPIRED);
	d.expires_at = NOW + 1;
	assert_int_equal(discount_check(&d, NOW, true), DISCOUNT_OK);
}

static void test_discount_max_uses_and_user_limit(void **state)
{
	struct discount d = code(DISCOUNT_FIXED_AMOUNT, 10);

	(void)state;
	d.max_uses = 3;
	d.uses = 2;
	assert_int_equal(discount_check(&d, NOW, true), DISCOUNT_OK);
	d.uses = 3;
	assert_int_equal(discount_check(&d, NOW, true), DISCOUNT_EXHAUSTED);
	d.uses = 0;
	d.per_user_limit = 1;
	d.user_uses = 1;
	assert_int_equal(discount_check(&d, NOW, true), DISCOUNT_USER_LIMIT);
	d.user_uses = 0;
	assert_int_equal(discount_check(&d, NOW, true), DISCOUNT_OK);
}

static void test_discount_plan_restriction(void **state)
{
	struct discount d = code(DISCOUNT_PERCENTAGE, 10);

	(void)state;
	d.plan_restricted = true;
	d.plan_listed = false;
	assert_int_equal(discount_check(&d, NOW, true), DISCOUNT_WRONG_PLAN);
	assert_int_equal(discount_check(&d, NOW, false), DISCOUNT_WRONG_PLAN); /* a top-up */
	d.plan_listed = true;
	assert_int_equal(discount_check(&d, NOW, true), DISCOUNT_OK);
}

static void test_discount_check_order(void **state)
{
	struct discount d = code(DISCOUNT_FREE_MONTHS, 1);

	(void)state;
	/* everything wrong at once: the window is reported first */
	d.expires_at = NOW - 1;
	d.max_uses = 1;
	d.uses = 1;
	d.plan_restricted = true;
	d.per_user_limit = 1;
	d.user_uses = 1;
	assert_int_equal(discount_check(&d, NOW, false), DISCOUNT_EXPIRED);
	d.expires_at = 0;
	assert_int_equal(discount_check(&d, NOW, false), DISCOUNT_EXHAUSTED);
	d.uses = 0;
	assert_int_equal(discount_check(&d, NOW, false), DISCOUNT_WRONG_PLAN);
	d.plan_restricted = false;
	assert_int_equal(discount_check(&d, NOW, false), DISCOUNT_NOT_APPLICABLE);
	assert_int_equal(discount_check(&d, NOW, true), DISCOUNT_USER_LIMIT);
}

static void test_discount_names_and_values(void **state)
{
	enum discount_kind k;

	(void)state;
	for (size_t i = 0; discount_kind_names[i] != NULL; i++) {
		assert_int_equal(discount_kind_parse(discount_kind_names[i], &k), 0);
		assert_string_equal(discount_kind_str(k), discount_kind_names[i]);
	}
	assert_int_equal(discount_kind_parse("percentage", &k), -1);
	assert_null(discount_reason_str(DISCOUNT_OK));
	assert_string_equal(discount_reason_str(DISCOUNT_NOT_FOUND), "not_found");
	assert_string_equal(discount_reason_str(DISCOUNT_USER_LIMIT), "user_limit");
	assert_true(discount_value_ok(DISCOUNT_PERCENTAGE, 100));
	assert_false(discount_value_ok(DISCOUNT_PERCENTAGE, 101));
	assert_false(discount_value_ok(DISCOUNT_FIXED_AMOUNT, 0));
	assert_false(discount_value_ok(DISCOUNT_FREE_MONTHS, 37));
	assert_true(discount_value_ok(DISCOUNT_RENDER_CREDITS, 3600));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discount_percentage),
		cmocka_unit_test(test_discount_fixed_amount),
		cmocka_unit_test(test_discount_free_months_and_credits),
		cmocka_unit_test(test_discount_window),
		cmocka_unit_test(test_discount_max_uses_and_user_limit),
		cmocka_unit_test(test_discount_plan_restriction),
		cmocka_unit_test(test_discount_check_order),
		cmocka_unit_test(test_discount_names_and_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
