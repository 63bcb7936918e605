/*
 * test_json.c - cmocka tests of json.c: what json_parse_strict() accepts and rejects, and the
 * jv_* field validators' results and details entries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

static json_object *parse(const char *s, const char **why)
{
	return json_parse_strict(s, strlen(s), why);
}

static void assert_rejects(const char *s, size_t len)
{
	const char *why = NULL;
	json_object *o = json_parse_strict(s, len, &why);

	if (o != NULL)
		fail_msg("accepted: %.*s", (int)len, s);
	assert_non_null(why);
}

#define REJECT(lit) assert_rejects((lit), sizeof(lit) - 1)

static void assert_accepts(const char *s)
{
	const char *why = NULL;
	json_object *o = parse(s, &why);

	if (o == NULL)
		fail_msg("rejected (%s): %s", why, s);
	assert_null(why);
	json_object_put(o);
}

static void test_json_accepts_valid_documents(void **state)
{
	assert_accepts("{}");
	assert_accepts("  {\"a\":1,\"b\":[true,false,null,\"x\",-0.5e+3,0]}\r\n\t ");
	assert_accepts("123");
	assert_accepts("-0");
	assert_accepts("\"str\"");
	assert_accepts("[null]");
	assert_accepts("\"caf\xc3\xa9 \xf0\x9f\x98\x80 \\ud83d\\ude00 \\u00e9 \\/\"");
	assert_accepts("{\"a\":{\"a\":{\"a\":1}},\"b\":{\"a\":2}}"); /* same key, other objects */
	assert_accepts("[{\"k\":1},{\"k\":2}]");
}

static void test_json_rejects_trailing_data(void **state)
{
	REJECT("{} x");
	REJECT("{}{}");
	REJECT("1 2");
	REJECT("[1]]");
	REJECT("{}\f");
	REJECT("\"a\" ,");
}

static void test_json_rejects_empty_and_nul(void **state)
{
	const char *why = NULL;

	assert_null(json_parse_strict("", 0, &why));
	assert_string_equal(why, "empty body");
	assert_null(json_parse_strict(NULL, 0, &why));
	REJECT("   \n");
	REJECT("{\"a\":\"b\0c\"}");
	REJECT("{}\0");
	REJECT("\0{}");
	REJECT("\"\\u0000\"");
	/* json-c has no object for a bare null, so it cannot be returned */
	assert_null(parse(" null ", &why));
	assert_string_equal(why, "top-level null");
}

static void test_json_rejects_duplicate_keys(void **state)
{
	const char *why = NULL;

	assert_null(parse("{\"a\":1,\"a\":2}", &why));
	assert_string_equal(why, "duplicate key");
	REJECT("{\"a\":1,\"b\":{\"x\":1,\"y\":[{\"z\":1,\"z\":{}}]}}");
	REJECT("{\"a\":1,\"\\u0061\":2}");
	REJECT("{\"a\":{\"b\":{\"c\":1}},\"a\":{\"b\":{\"c\":1}}}");
	REJECT("[[[{\"k\":1,\"q\":2,\"k\":3}]]]");
}

static void test_json_rejects_bad_utf8(void **state)
{
	REJECT("\"\xff\"");
	REJECT("\"\xc0\xaf\"");         /* overlong '/' */
	REJECT("\"\xe0\x80\xaf\"");     /* overlong */
	REJECT("\"\xed\xa0\x80\"");     /* UTF-16 surrogate */
	REJECT("\"\xf4\x90\x80\x80\""); /* above U+10FFFF */
	REJECT("\"\xc3\"");             /* cut short */
	REJECT("\"\\ud800\"");          /* lone high surrogate escape */
	REJECT("\"\\udc00x\"");         /* lone low surrogate escape */
	REJECT("{\"\xff\":1}");
	REJECT("\xef\xbb\xbf{}");       /* BOM is not whitespace */
}

static void test_json_rejects_lenient_syntax(void **state)
{
	REJECT("NaN");
	REJECT("[Infinity]");
	REJECT("1.");
	REJECT("01");
	REJECT(".5");
	REJECT("[1,]");
	REJECT("{\"a\":1,}");
	REJECT("{'a':1}");
	REJECT("{a:1}");
	REJECT("\"tab\there\"");
	REJECT("\"\\x41\"");
	REJECT("[1 2]");
	REJECT("/* c */ {}");
	REJECT("tru");
	REJECT("{\"a\" 1}");
	REJECT("\"unterminated");
	REJECT("[");
}

static void test_json_depth_limit(void **state)
{
	char buf[2 * (JSON_MAX_DEPTH + 1) + 1];
	json_object *o;
	const char *why = NULL;

	memset(buf, '[', JSON_MAX_DEPTH);
	memset(buf + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
	o = json_parse_strict(buf, 2 * JSON_MAX_DEPTH, &why);
	assert_non_null(o);
	json_object_put(o);

	memset(buf, '[', JSON_MAX_DEPTH + 1);
	memset(buf + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
	assert_null(json_parse_strict(buf, 2 * (JSON_MAX_DEPTH + 1), &why));
	assert_string_equal(why, "nesting too deep");
}

static void test_json_compact_and_setters(void **state)
{
	json_object *o = json_object_new_object();
	const char *s;
	size_t len = 0;

	json_set_str(o, "url", "https://x/y");
	json_set_str(o, "none", NULL);
	json_set_int(o, "n", -9007199254740993LL);
	json_set_bool(o, "ok", true);
	s = json_compact(o, &len);
	assert_string_equal(s, "{\"url\":\"https://x/y\",\"none\":null,\"n\":-9007199254740993,\"ok\":true}");
	assert_int_equal(len, strlen(s));
	json_object_put(o);
}

/* Returns the issue recorded for field, or NULL. */
static const char *issue_for(struct jv *v, const char *field)
{
	size_t n = v->details != NULL ? json_object_array_length(v->details) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(v->details, i), *f, *is;

		assert_true(json_object_object_get_ex(d, "field", &f));
		assert_true(json_object_object_get_ex(d, "issue", &is));
		assert_int_equal(json_object_object_length(d), 2);
		if (strcmp(json_object_get_string(f), field) == 0)
			return json_object_get_string(is);
	}
	return NULL;
}

static size_t n_details(struct jv *v)
{
	return v->details != NULL ? json_object_array_length(v->details) : 0;
}

static void test_json_jv_string(void **state)
{
	json_object *o = parse("{\"name\":\"bob\",\"num\":5,\"nul\":null,\"long\":\"abcdef\"}", NULL);
	struct jv v;

	assert_non_null(o);
	jv_init(&v);
	assert_false(jv_failed(&v));
	assert_string_equal(jv_string(&v, o, "name", JV_REQUIRED, 1, 10), "bob");
	assert_false(jv_failed(&v));
	assert_null(jv_string(&v, o, "absent", JV_OPTIONAL, 1, 10));
	assert_null(jv_string(&v, o, "nul", JV_OPTIONAL, 1, 10));
	assert_false(jv_failed(&v));
	assert_null(jv_string(&v, o, "missing", JV_REQUIRED, 1, 10));
	assert_null(jv_string(&v, o, "nul", JV_REQUIRED, 1, 10));
	assert_null(jv_string(&v, o, "num", JV_OPTIONAL, 1, 10));
	assert_null(jv_string(&v, o, "long", JV_OPTIONAL, 1, 5));
	assert_null(jv_string(&v, o, "name", JV_OPTIONAL, 4, 10));
	assert_true(jv_failed(&v));
	assert_int_equal(n_details(&v), 5);
	assert_string_equal(issue_for(&v, "missing"), "is required");
	assert_string_equal(issue_for(&v, "nul"), "is required");
	assert_string_equal(issue_for(&v, "num"), "must be a string");
	assert_string_equal(issue_for(&v, "long"), "must be at most 5 bytes");
	assert_string_equal(issue_for(&v, "name"), "must be at least 4 bytes");
	jv_clear(&v);
	assert_false(jv_failed(&v));
	json_object_put(o);
}

static void test_json_jv_email(void **state)
{
	static const char *const good[] = {"a@b.co", "first.last+tag@sub.example.org", NULL};
	static const char *const bad[] = {"", "plain", "@b.co", "a@b", "a@@b.co", "a@b@c.co",
					  "a b@c.co", "a@b.co\t", "a@.co", "a@b.", "a@b..co",
					  "a\x01@b.co", NULL};
	char body[512];

	for (int i = 0; good[i] != NULL; i++) {
		struct jv v;
		json_object *o;

		snprintf(body, sizeof(body), "{\"email\":\"%s\"}", good[i]);
		o = parse(body, NULL);
		assert_non_null(o);
		jv_init(&v);
		assert_non_null(jv_email(&v, o, "email", JV_REQUIRED));
		assert_false(jv_failed(&v));
		json_object_put(o);
	}
	for (int i = 0; bad[i] != NULL; i++) {
		struct jv v;
		json_object *o = json_object_new_object();

		json_set_str(o, "email", bad[i]);
		jv_init(&v);
		if (jv_email(&v, o, "email", JV_OPTIONAL) != NULL)
			fail_msg("accepted e-mail '%s'", bad[i]);
		assert_int_equal(n_details(&v), 1);
		assert_string_equal(issue_for(&v, "email"), "must be a valid email address");
		jv_clear(&v);
		json_object_put(o);
	}
	{
		/* 255 bytes is too long even when well-formed */
		char addr[300];
		struct jv v;
		json_object *o = json_object_new_object();

		memset(addr, 'a', 250);
		memcpy(addr + 250, "@b.co", 6);
		json_set_str(o, "email", addr);
		jv_init(&v);
		assert_null(jv_email(&v, o, "email", JV_OPTIONAL));
		assert_true(jv_failed(&v));
		jv_clear(&v);
		json_object_put(o);
	}
}

static void test_json_jv_int_bool_enum(void **state)
{
	json_object *o = parse("{\"n\":10,\"neg\":-5,\"f\":1.5,\"s\":\"7\",\"huge\":99999999999999999999,"
			       "\"b\":true,\"bs\":\"true\",\"e\":\"b\",\"ebad\":\"z\"}", NULL);
	static const char *const allowed[] = {"a", "b", NULL};
	struct jv v;

	assert_non_null(o);
	jv_init(&v);
	assert_int_equal(jv_int(&v, o, "n", JV_REQUIRED, 1, 10, -1), 10);
	assert_int_equal(jv_int(&v, o, "neg", JV_REQUIRED, -5, 0, -1), -5);
	assert_int_equal(jv_int(&v, o, "absent", JV_OPTIONAL, 1, 10, 3), 3);
	assert_true(jv_bool(&v, o, "b", JV_REQUIRED, false));
	assert_true(jv_bool(&v, o, "absent", JV_OPTIONAL, true));
	assert_string_equal(jv_enum(&v, o, "e", JV_REQUIRED, allowed), "b");
	assert_false(jv_failed(&v));

	assert_int_equal(jv_int(&v, o, "n", JV_REQUIRED, 1, 9, -1), -1);
	assert_int_equal(jv_int(&v, o, "f", JV_REQUIRED, 0, 10, -1), -1);
	assert_int_equal(jv_int(&v, o, "s", JV_REQUIRED, 0, 10, -1), -1);
	assert_int_equal(jv_int(&v, o, "huge", JV_REQUIRED, 0, INT64_MAX, -1), -1);
	assert_false(jv_bool(&v, o, "bs", JV_REQUIRED, false));
	assert_null(jv_enum(&v, o, "ebad", JV_REQUIRED, allowed));
	assert_int_equal(jv_int(&v, o, "gone", JV_REQUIRED, 0, 1, 0), 0);
	assert_int_equal(n_details(&v), 7);
	assert_string_equal(issue_for(&v, "n"), "must be between 1 and 9");
	assert_string_equal(issue_for(&v, "f"), "must be an integer");
	assert_string_equal(issue_for(&v, "s"), "must be an integer");
	assert_string_equal(issue_for(&v, "huge"), "must be between 0 and 9223372036854775807");
	assert_string_equal(issue_for(&v, "bs"), "must be a boolean");
	assert_string_equal(issue_for(&v, "ebad"), "must be one of: a, b");
	assert_string_equal(issue_for(&v, "gone"), "is required");
	jv_clear(&v);
	json_object_put(o);
}

static void test_json_jv_unknown_fields_and_take(void **state)
{
	json_object *o = parse("{\"email\":\"a@b.co\",\"admin\":true,\"x\":1}", NULL);
	static const char *const known[] = {"email", "password", NULL};
	json_object *details;
	struct jv v;

	assert_non_null(o);
	jv_init(&v);
	jv_no_unknown(&v, o, known);
	assert_int_equal(n_details(&v), 2);
	assert_string_equal(issue_for(&v, "admin"), "unknown field");
	assert_string_equal(issue_for(&v, "x"), "unknown field");
	assert_null(issue_for(&v, "email"));
	details = jv_take_details(&v);
	assert_non_null(details);
	assert_false(jv_failed(&v));
	assert_null(v.details);
	assert_string_equal(json_compact(details, NULL),
			    "[{\"field\":\"admin\",\"issue\":\"unknown field\"},"
			    "{\"field\":\"x\",\"issue\":\"unknown field\"}]");
	json_object_put(details);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_accepts_valid_documents),
		cmocka_unit_test(test_json_rejects_trailing_data),
		cmocka_unit_test(test_json_rejects_empty_and_nul),
		cmocka_unit_test(test_json_rejects_duplicate_keys),
		cmocka_unit_test(test_json_rejects_bad_utf8),
		cmocka_unit_test(test_json_rejects_lenient_syntax),
		cmocka_unit_test(test_json_depth_limit),
		cmocka_unit_test(test_json_compact_and_setters),
		cmocka_unit_test(test_json_jv_string),
		cmocka_unit_test(test_json_jv_email),
		cmocka_unit_test(test_json_jv_int_bool_enum),
		cmocka_unit_test(test_json_jv_unknown_fields_and_take),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
