/*
 * test_validate.c - request bodies of register, login, refresh and PATCH /v1/users/me:
 * required fields, bounds, unknown fields, lower-casing, nulls, and birth dates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "validate.h"

#define NOW ((time_t)1779876900) /* 2026-05-27T10:15:00Z */

static json_object *parse(const char *s)
{
	const char *why = NULL;
	json_object *o = json_parse_strict(s, strlen(s), &why);

	if (o == NULL)
		fail_msg("bad test JSON (%s): %s", why, s);
	return o;
}

/* True when v recorded a problem for field. */
static bool has_issue(struct jv *v, const char *field)
{
	for (size_t i = 0; v->details != NULL && i < json_object_array_length(v->details); i++) {
		json_object *d = json_object_array_get_idx(v->details, i);
		if (strcmp(json_object_get_string(json_object_object_get(d, "field")), field) == 0)
			return true;
	}
	return false;
}

static size_t issues(struct jv *v)
{
	return v->details != NULL ? json_object_array_length(v->details) : 0;
}

static void test_validate_register_ok_lowercases(void **state)
{
	json_object *b = parse("{\"tenant_slug\":\"Default\",\"email\":\"Ada@Example.COM\","
			       "\"password\":\"correct horse\",\"full_name\":\"Ada\","
			       "\"accept_terms\":true}");
	struct register_req r;
	struct jv v;

	(void)state;
	jv_init(&v);
	assert_int_equal(register_req_parse(b, &r, &v), 0);
	assert_string_equal(r.tenant_slug, "default");
	assert_string_equal(r.email, "ada@example.com");
	assert_string_equal(r.password, "correct horse");
	assert_string_equal(r.full_name, "Ada");
	assert_null(r.phone_number);
	assert_true(r.accept_terms);
	jv_clear(&v);
	json_object_put(b);
}

static void test_validate_register_reports_every_problem(void **state)
{
	json_object *b = parse("{\"email\":\"not-an-email\",\"password\":\"short\","
			       "\"phone_number\":\"012345678901234567890123456789012\","
			       "\"is_admin\":true}");
	struct register_req r;
	struct jv v;

	(void)state;
	jv_init(&v);
	assert_int_equal(register_req_parse(b, &r, &v), -1);
	assert_true(has_issue(&v, "tenant_slug"));
	assert_true(has_issue(&v, "email"));
	assert_true(has_issue(&v, "password"));
	assert_true(has_issue(&v, "phone_number"));
	assert_true(has_issue(&v, "is_admin")); /* unknown fields are refused */
	assert_int_equal(issues(&v), 5);
	jv_clear(&v);
	json_object_put(b);
}

static void test_validate_register_password_bounds(void **state)
{
	char body[512], pw[130];
	struct register_req r;
	struct jv v;
	json_object *b;

	(void)state;
	memset(pw, 'x', 128);
	pw[128] = '\0';
	snprintf(body, sizeof(body),
		 "{\"tenant_slug\":\"d\",\"email\":\"a@b.co\",\"password\":\"%s\"}", pw);
	b = parse(body);
	jv_init(&v);
	assert_int_equal(register_req_parse(b, &r, &v), 0); /* 128 bytes: accepted */
	json_object_put(b);
	pw[128] = 'x';
	pw[129] = '\0';
	snprintf(body, sizeof(body),
		 "{\"tenant_slug\":\"d\",\"email\":\"a@b.co\",\"password\":\"%s\"}", pw);
	b = parse(body);
	assert_int_equal(register_req_parse(b, &r, &v), -1); /* 129 bytes: refused */
	assert_true(has_issue(&v, "password"));
	jv_clear(&v);
	json_object_put(b);
}

static void test_validate_login_requires_fields_and_rejects_unknown(void **state)
{
	json_object *b = parse("{\"tenant_slug\":\"default\",\"password\":\"\",\"mfa\":1}");
	struct login_req r;
	struct jv v;

	(void)state;
	jv_init(&v);
	assert_int_equal(login_req_parse(b, &r, &v), -1);
	assert_true(has_issue(&v, "email"));
	assert_true(has_issue(&v, "password"));
	assert_true(has_issue(&v, "mfa"));
	assert_false(has_issue(&v, "tenant_slug"));
	jv_clear(&v);
	json_object_put(b);
}

static void test_validate_login_accepts_any_email_text(void **state)
{
	/* a malformed e-mail cannot match an account: 401 later, not 422 */
	json_object *b = parse("{\"tenant_slug\":\"DEFAULT\",\"email\":\"Not An Email\","
			       "\"password\":\"x\",\"device_name\":\"laptop\"}");
	struct login_req r;
	struct jv v;

	(void)state;
	jv_init(&v);
	assert_int_equal(login_req_parse(b, &r, &v), 0);
	assert_string_equal(r.tenant_slug, "default");
	assert_string_equal(r.email, "not an email");
	assert_string_equal(r.device_name, "laptop");
	assert_null(r.device_id);
	jv_clear(&v);
	json_object_put(b);
}

static void test_validate_refresh_body(void **state)
{
	json_object *ok = parse("{\"refresh_token\":\"frt_abc\"}");
	json_object *bad = parse("{\"refresh_token\":7,\"x\":1}");
	struct refresh_req r;
	struct jv v;

	(void)state;
	jv_init(&v);
	assert_int_equal(refresh_req_parse(ok, &r, &v), 0);
	assert_string_equal(r.refresh_token, "frt_abc");
	assert_int_equal(refresh_req_parse(bad, &r, &v), -1);
	assert_true(has_issue(&v, "refresh_token"));
	assert_true(has_issue(&v, "x"));
	jv_clear(&v);
	json_object_put(ok);
	json_object_put(bad);
}

static void test_validate_patch_sets_only_given_fields(void **state)
{
	json_object *b = parse(
		"{\"gender\":\"PreferNotToSay\",\"full_name\":\"Ada L\","
		"\"sms_tell_me\":true,\"slogan\":null,\"birth_date\":\"2000-02-29\"}");
	struct user_patch p;
	struct jv v;

	(void)state;
	jv_init(&v);
	assert_int_equal(user_patch_parse(b, NOW, &p, &v), 0);
	assert_int_equal(p.n, 5);
	/* in table order, so the SQL is stable */
	assert_string_equal(p.set[0].column, "full_name");
	assert_string_equal(p.set[0].value, "Ada L");
	assert_string_equal(p.set[1].column, "slogan");
	assert_null(p.set[1].value); /* explicit null clears */
	assert_string_equal(p.set[2].column, "birth_date");
	assert_string_equal(p.set[3].column, "gender");
	assert_string_equal(p.set[4].column, "sms_tell_me");
	assert_string_equal(p.set[4].value, "true");
	jv_clear(&v);
	json_object_put(b);
}

static void test_validate_patch_rejects_bad_values(void **state)
{
	char big[2100];
	char body[2300];
	json_object *b;
	struct user_patch p;
	struct jv v;

	(void)state;
	memset(big, 'a', 2001);
	big[2001] = '\0';
	snprintf(body, sizeof(body),
		 "{\"gender\":\"male\",\"birth_date\":\"2023-02-29\",\"email_tell_me\":\"yes\","
		 "\"push_tell_me\":null,\"about_me\":\"%s\",\"email\":\"x@y.z\",\"is_admin\":true}",
		 big);
	b = parse(body);
	jv_init(&v);
	assert_int_equal(user_patch_parse(b, NOW, &p, &v), -1);
	assert_true(has_issue(&v, "gender"));
	assert_true(has_issue(&v, "birth_date"));
	assert_true(has_issue(&v, "email_tell_me"));
	assert_true(has_issue(&v, "push_tell_me")); /* booleans cannot be null */
	assert_true(has_issue(&v, "about_me"));
	assert_true(has_issue(&v, "email"));
	assert_true(has_issue(&v, "is_admin"));
	assert_int_equal(issues(&v), 7);
	jv_clear(&v);
	json_object_put(b);
}

static void test_validate_patch_empty_body_changes_nothing(void **state)
{
	json_object *b = parse("{}");
	struct user_patch p;
	struct jv v;

	(void)state;
	jv_init(&v);
	assert_int_equal(user_patch_parse(b, NOW, &p, &v), 0);
	assert_int_equal(p.n, 0);
	jv_clear(&v);
	json_object_put(b);
}

static void test_validate_birth_date_calendar(void **state)
{
	(void)state;
	assert_true(birth_date_valid("2000-02-29", NOW));  /* leap year (divisible by 400) */
	assert_false(birth_date_valid("1900-02-29", NOW)); /* not a leap year */
	assert_true(birth_date_valid("2024-02-29", NOW));
	assert_false(birth_date_valid("2023-02-29", NOW));
	assert_false(birth_date_valid("2021-04-31", NOW));
	assert_true(birth_date_valid("2021-12-31", NOW));
	assert_false(birth_date_valid("2021-13-01", NOW));
	assert_false(birth_date_valid("2021-00-10", NOW));
	assert_false(birth_date_valid("2021-01-00", NOW));
	assert_false(birth_date_valid("0000-01-01", NOW));
	assert_false(birth_date_valid("2021-1-01", NOW));
	assert_false(birth_date_valid("2021/01/01", NOW));
	assert_false(birth_date_valid("2021-01-01T00:00:00Z", NOW));
	assert_false(birth_date_valid("", NOW));
	assert_false(birth_date_valid(NULL, NOW));
}

static void test_validate_birth_date_not_in_future(void **state)
{
	(void)state;
	assert_true(birth_date_valid("2026-05-27", NOW)); /* today is fine */
	assert_false(birth_date_valid("2026-05-28", NOW));
	assert_false(birth_date_valid("2999-01-01", NOW));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_register_ok_lowercases),
		cmocka_unit_test(test_validate_register_reports_every_problem),
		cmocka_unit_test(test_validate_register_password_bounds),
		cmocka_unit_test(test_validate_login_requires_fields_and_rejects_unknown),
		cmocka_unit_test(test_validate_login_accepts_any_email_text),
		cmocka_unit_test(test_validate_refresh_body),
		cmocka_unit_test(test_validate_patch_sets_only_given_fields),
		cmocka_unit_test(test_validate_patch_rejects_bad_values),
		cmocka_unit_test(test_validate_patch_empty_body_changes_nothing),
		cmocka_unit_test(test_validate_birth_date_calendar),
		cmocka_unit_test(test_validate_birth_date_not_in_future),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
