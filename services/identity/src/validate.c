/*
 * validate.c - request-body validation for register, login, refresh and PATCH users/me.
 *
 * Pure functions over json-c objects and libcommon's jv_* validators; owns nothing.
 */
#include "validate.h"

#include <stdio.h>
#include <string.h>

void validate_copy_lower(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src != NULL && src[i] != '\0' && i + 1 < cap; i++) {
		char c = src[i];
		dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	dst[i] = '\0';
}

static const char *const register_fields[] = {
	"tenant_slug",  "email",        "password",       "full_name",
	"phone_number", "accept_terms", "affiliate_code", NULL};

int register_req_parse(json_object *body, struct register_req *r, struct jv *v)
{
	const char *slug, *email;

	memset(r, 0, sizeof(*r));
	jv_no_unknown(v, body, register_fields);
	slug = jv_string(v, body, "tenant_slug", JV_REQUIRED, 1, SLUG_MAX);
	email = jv_email(v, body, "email", JV_REQUIRED);
	if (email != NULL && strlen(email) > EMAIL_MAX) {
		jv_fail(v, "email", "is too long");
		email = NULL;
	}
	r->password = jv_string(v, body, "password", JV_REQUIRED, 8, 128);
	r->full_name = jv_string(v, body, "full_name", JV_OPTIONAL, 0, 200);
	r->phone_number = jv_string(v, body, "phone_number", JV_OPTIONAL, 0, 32);
	r->affiliate_code = jv_string(v, body, "affiliate_code", JV_OPTIONAL, 0, 64);
	r->accept_terms = jv_bool(v, body, "accept_terms", JV_OPTIONAL, false);
	validate_copy_lower(r->tenant_slug, sizeof(r->tenant_slug), slug);
	validate_copy_lower(r->email, sizeof(r->email), email);
	return jv_failed(v) ? -1 : 0;
}

static const char *const login_fields[] = {"tenant_slug", "email",       "password",
					   "device_id",   "device_name", NULL};

int login_req_parse(json_object *body, struct login_req *r, struct jv *v)
{
	const char *slug, *email;

	memset(r, 0, sizeof(*r));
	jv_no_unknown(v, body, login_fields);
	slug = jv_string(v, body, "tenant_slug", JV_REQUIRED, 1, SLUG_MAX);
	email = jv_string(v, body, "email", JV_REQUIRED, 1, EMAIL_MAX);
	r->password = jv_string(v, body, "password", JV_REQUIRED, 1, 1024);
	r->device_id = jv_string(v, body, "device_id", JV_OPTIONAL, 0, 200);
	r->device_name = jv_string(v, body, "device_name", JV_OPTIONAL, 0, 200);
	validate_copy_lower(r->tenant_slug, sizeof(r->tenant_slug), slug);
	validate_copy_lower(r->email, sizeof(r->email), email);
	return jv_failed(v) ? -1 : 0;
}

static const char *const refresh_fields[] = {"refresh_token", NULL};

int refresh_req_parse(json_object *body, struct refresh_req *r, struct jv *v)
{
	memset(r, 0, sizeof(*r));
	jv_no_unknown(v, body, refresh_fields);
	r->refresh_token = jv_string(v, body, "refresh_token", JV_REQUIRED, 1, 1024);
	return jv_failed(v) ? -1 : 0;
}

/* ---- PATCH /v1/users/me ------------------------------------------------------------------ */

enum patch_kind { PATCH_TEXT, PATCH_DATE, PATCH_GENDER, PATCH_BOOL };

struct patch_field {
	const char *name; /* JSON field = column name */
	enum patch_kind kind;
	size_t max_len;
};

static const struct patch_field patch_fields[] = {
	{"full_name", PATCH_TEXT, 200},      {"slogan", PATCH_TEXT, 200},
	{"about_me", PATCH_TEXT, 2000},      {"company_name", PATCH_TEXT, 200},
	{"website_name", PATCH_TEXT, 200},   {"birth_date", PATCH_DATE, 10},
	{"gender", PATCH_GENDER, 0},         {"email_tell_me", PATCH_BOOL, 0},
	{"sms_tell_me", PATCH_BOOL, 0},      {"push_tell_me", PATCH_BOOL, 0},
	{"telegram_tell_me", PATCH_BOOL, 0},
};
#define NPATCH_FIELDS (sizeof(patch_fields) / sizeof(patch_fields[0]))

static const char *const patch_names[] = {"full_name",    "slogan",           "about_me",
					  "company_name", "website_name",     "birth_date",
					  "gender",       "email_tell_me",    "sms_tell_me",
					  "push_tell_me", "telegram_tell_me", NULL};
static const char *const genders[] = {"Male", "Female", "Other", "PreferNotToSay", NULL};

/* The new value of one present, non-null field; a problem is recorded in v when invalid. */
static const char *patch_value(const struct patch_field *f, json_object *body, time_t now,
			       struct jv *v)
{
	const char *s;

	switch (f->kind) {
	case PATCH_TEXT: return jv_string(v, body, f->name, JV_REQUIRED, 0, f->max_len);
	case PATCH_DATE:
		s = jv_string(v, body, f->name, JV_REQUIRED, 10, 10);
		if (s != NULL && !birth_date_valid(s, now)) {
			jv_fail(v, f->name, "must be a past calendar date YYYY-MM-DD");
			return NULL;
		}
		return s;
	case PATCH_GENDER: return jv_enum(v, body, f->name, JV_REQUIRED, genders);
	case PATCH_BOOL: return jv_bool(v, body, f->name, JV_REQUIRED, false) ? "true" : "false";
	}
	return NULL;
}

size_t validate_problems(const struct jv *v)
{
	return v->details != NULL ? json_object_array_length(v->details) : 0;
}

int user_patch_parse(json_object *body, time_t now, struct user_patch *p, struct jv *v)
{
	memset(p, 0, sizeof(*p));
	jv_no_unknown(v, body, patch_names);
	for (size_t i = 0; i < NPATCH_FIELDS; i++) {
		const struct patch_field *f = &patch_fields[i];
		json_object *val = NULL;
		const char *s = NULL;
		size_t before = validate_problems(v);

		if (!json_object_object_get_ex(body, f->name, &val))
			continue;
		if (val == NULL && f->kind == PATCH_BOOL) {
			jv_fail(v, f->name, "must be a boolean");
			continue;
		}
		if (val != NULL) /* an explicit null clears a nullable column: s stays NULL */
			s = patch_value(f, body, now, v);
		if (validate_problems(v) != before)
			continue;
		p->set[p->n].column = f->name;
		p->set[p->n].value = s;
		p->n++;
	}
	return jv_failed(v) ? -1 : 0;
}

bool validate_is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool birth_date_valid(const char *s, time_t now)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d, dim;
	struct tm today;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	dim = mdays[m - 1] + (m == 2 && validate_is_leap(y) ? 1 : 0);
	if (d > dim)
		return false;
	if (gmtime_r(&now, &today) == NULL)
		return false;
	return (long)y * 10000 + m * 100 + d <=
	       (long)(today.tm_year + 1900) * 10000 + (today.tm_mon + 1) * 100 + today.tm_mday;
}
