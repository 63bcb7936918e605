/*
 * validate.h - request bodies of identity's routes, checked field by field (api.md).
 *
 * Each *_parse() reads a parsed JSON object, records every problem in v (one 422 names them
 * all) and returns 0 when the body is valid, -1 otherwise. Strings are borrowed from the
 * body object unless the struct holds a buffer (lower-cased copies).
 */
#ifndef IDENTITY_VALIDATE_H
#define IDENTITY_VALIDATE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/json.h"

#define SLUG_MAX 63
#define EMAIL_MAX 254

struct register_req {
	char tenant_slug[SLUG_MAX + 1]; /* lower-cased */
	char email[EMAIL_MAX + 1];      /* lower-cased */
	const char *password;
	const char *full_name; /* NULL when absent */
	const char *phone_number;
	const char *affiliate_code;
	bool accept_terms;
};
int register_req_parse(json_object *body, struct register_req *r, struct jv *v);

struct login_req {
	char tenant_slug[SLUG_MAX + 1]; /* lower-cased */
	char email[EMAIL_MAX + 1];      /* lower-cased */
	const char *password;
	const char *device_id; /* NULL when absent */
	const char *device_name;
};
int login_req_parse(json_object *body, struct login_req *r, struct jv *v);

struct refresh_req {
	const char *refresh_token;
};
int refresh_req_parse(json_object *body, struct refresh_req *r, struct jv *v);

/* PATCH /v1/users/me: the columns to set, in table order. value NULL = set SQL NULL (the
 * field was sent as JSON null); booleans are "true"/"false". */
#define USER_PATCH_MAX 16
struct user_patch {
	size_t n;
	struct user_patch_set {
		const char *column;
		const char *value;
	} set[USER_PATCH_MAX];
};
/* now: today's date (UTC) bounds birth_date. */
int user_patch_parse(json_object *body, time_t now, struct user_patch *p, struct jv *v);

/* True when s is "YYYY-MM-DD", a real calendar date (leap years included), year >= 1, and
 * not after the UTC date of now. */
bool birth_date_valid(const char *s, time_t now);

#endif
