/*
 * test_apikey_usage.c - the API-key usage counters (apikey_usage.h): counting, reports of at
 * most APIKEY_USAGE_BATCH keys that fit identity's 64 KiB limit, failed reports put back
 * without ever making a later report longer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apikey_usage.h"

#define IDENTITY_USAGE_MAX_BYTES 65536 /* identity: 413 beyond */

static void key_id(unsigned i, char out[UUID_STR_LEN])
{
	snprintf(out, UUID_STR_LEN, "00000000-0000-4000-8000-%012u", i);
}

static long batch_total(const struct apikey_usage_batch *b)
{
	long n = 0;

	for (size_t i = 0; i < b->n; i++)
		n += b->v[i].count;
	return n;
}

static void test_apikey_usage_counts(void **state)
{
	struct apikey_usage *u = apikey_usage_new(16);
	struct apikey_usage_batch *b = malloc(sizeof(*b));
	char *body;
	json_object *o, *arr, *e, *v;

	(void)state;
	assert_non_null(u);
	assert_non_null(b);
	assert_int_equal(apikey_usage_add(u, "00000000-0000-4000-8000-000000000001", 1, 100), 0);
	assert_int_equal(apikey_usage_add(u, "00000000-0000-4000-8000-000000000001", 2, 50), 0);
	assert_int_equal(apikey_usage_add(u, "too-long-0000000000000000000000000000000", 1, 1), -1);
	assert_int_equal(apikey_usage_keys(u), 1);
	apikey_usage_take(u, b);
	assert_int_equal(b->n, 1);
	assert_int_equal(b->v[0].count, 3);
	assert_int_equal(b->v[0].last_used, 100); /* the later use wins */
	assert_int_equal(apikey_usage_keys(u), 0);
	body = apikey_usage_body(b);
	assert_non_null(body);
	o = json_tokener_parse(body);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "usage", &arr));
	assert_int_equal(json_object_array_length(arr), 1);
	e = json_object_array_get_idx(arr, 0);
	assert_true(json_object_object_get_ex(e, "api_key_id", &v));
	assert_string_equal(json_object_get_string(v), "00000000-0000-4000-8000-000000000001");
	assert_true(json_object_object_get_ex(e, "count", &v));
	assert_int_equal(json_object_get_int64(v), 3);
	assert_true(json_object_object_get_ex(e, "last_used_at", &v));
	assert_string_equal(json_object_get_string(v), "1970-01-01T00:01:40Z");
	json_object_put(o);
	free(body);
	free(b);
	apikey_usage_free(u);
}

/* 1 200 keys: three reports of 500, 500 and 200 keys, every one under identity's 64 KiB even
 * with the longest counts and times, and every count reported exactly once. */
static void test_apikey_usage_batches(void **state)
{
	struct apikey_usage *u = apikey_usage_new(4096);
	struct apikey_usage_batch *b = malloc(sizeof(*b));
	size_t sizes[3] = {0}, reports = 0;
	long total = 0;
	char id[UUID_STR_LEN];

	(void)state;
	assert_non_null(u);
	assert_non_null(b);
	for (unsigned i = 0; i < 1200; i++) {
		key_id(i, id);
		assert_int_equal(apikey_usage_add(u, id, LONG_MAX / 2, 253402300799), 0);
		assert_int_equal(apikey_usage_add(u, id, 1, 1), 0);
	}
	while (apikey_usage_keys(u) > 0) {
		char *body;

		apikey_usage_take(u, b);
		assert_true(reports < 3);
		sizes[reports++] = b->n;
		body = apikey_usage_body(b);
		assert_non_null(body);
		assert_true(strlen(body) < IDENTITY_USAGE_MAX_BYTES);
		for (size_t i = 0; i < b->n; i++)
			assert_int_equal(b->v[i].count, LONG_MAX / 2 + 1);
		total += (long)b->n;
		free(body);
	}
	assert_int_equal(reports, 3);
	assert_int_equal(sizes[0], APIKEY_USAGE_BATCH);
	assert_int_equal(sizes[1], APIKEY_USAGE_BATCH);
	assert_int_equal(sizes[2], 200);
	assert_int_equal(total, 1200);
	free(b);
	apikey_usage_free(u);
}

/* A failing identity: each failed report goes back, new keys keep arriving, and the next
 * report is still at most APIKEY_USAGE_BATCH keys; nothing is lost once reports succeed. */
static void test_apikey_usage_failures_never_grow(void **state)
{
	struct apikey_usage *u = apikey_usage_new(65536);
	struct apikey_usage_batch *b = malloc(sizeof(*b));
	char id[UUID_STR_LEN];
	unsigned next = 0;
	long sent = 0;

	(void)state;
	assert_non_null(u);
	assert_non_null(b);
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 300; i++, next++) {
			key_id(next, id);
			assert_int_equal(apikey_usage_add(u, id, 2, next), 0);
		}
		apikey_usage_take(u, b);
		assert_int_equal(b->n, next < APIKEY_USAGE_BATCH ? next : APIKEY_USAGE_BATCH);
		assert_int_equal(apikey_usage_restore(u, b), 0); /* the report failed */
	}
	assert_int_equal(apikey_usage_keys(u), next);
	while (apikey_usage_keys(u) > 0) {
		apikey_usage_take(u, b);
		assert_true(b->n <= APIKEY_USAGE_BATCH);
		sent += batch_total(b);
	}
	assert_int_equal(sent, 2L * next);
	free(b);
	apikey_usage_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apikey_usage_counts),
		cmocka_unit_test(test_apikey_usage_batches),
		cmocka_unit_test(test_apikey_usage_failures_never_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
