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

/* ---- helpers shared by validate.c and validate_admin.c ---- */

/* Copies src (NULL = "") into dst (cap bytes incl. NUL) with ASCII letters lower-cased. */
void validate_copy_lower(char *dst, size_t cap, const char *src);
/* Problems recorded in v so far (to tell whether one field added any). */
size_t validate_problems(const struct jv *v);
bool validate_is_leap(int y);

/* ---- tenants, API keys, the reseller API (validate_admin.c) ---- */

/* POST /v1/tenants: the seed's TenantCreate plus the first tenant admin. */
struct tenant_create_req {
	const char *slug; /* exactly ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ */
	const char *name;
	const char *kind; /* Reseller (default) | Enterprise */
	const char *contact_name;
	const char *contact_email;
	const char *contact_phone;
	char admin_email[EMAIL_MAX + 1]; /* lower-cased */
	const char *admin_password;
};
int tenant_create_parse(json_object *body, struct tenant_create_req *r, struct jv *v);
bool tenant_slug_valid(const char *s);

/* PATCH /v1/tenants/{id}: the columns to set (like user_patch). allowed_origins is a
 * PostgreSQL array literal owned by the patch (tenant_patch_free). */
#define TENANT_PATCH_MAX 8
struct tenant_patch {
	size_t n;
	struct tenant_patch_set {
		const char *column;
		const char *value;
	} set[TENANT_PATCH_MAX];
	const char *status; /* the new status when sent (platform admins only), else NULL */
	char *origins;      /* malloc'd array literal, or NULL */
};
int tenant_patch_parse(json_object *body, struct tenant_patch *p, struct jv *v);
void tenant_patch_free(struct tenant_patch *p);
/* True when s is an origin "http(s)://host[:port]" without path, query or userinfo. */
bool origin_valid(const char *s);

/* POST /v1/tenants/{id}/api-keys (ApiKeyCreate). scopes and allowed_ips are PostgreSQL
 * array literals owned by the request (apikey_create_free); CIDRs in canonical form. */
struct apikey_create_req {
	const char *name;
	const char *environment; /* Live (default) | Test */
	char *scopes;            /* malloc'd literal, at least one known scope, no duplicates */
	char *allowed_ips;       /* malloc'd literal, "{}" for none */
	long rate_limit_rpm;     /* 1..100000, default 60 */
	const char *expires_at;  /* ISO 8601 in the future, or NULL */
};
/* now bounds expires_at. */
int apikey_create_parse(json_object *body, time_t now, struct apikey_create_req *r, struct jv *v);
void apikey_create_free(struct apikey_create_req *r);

/* POST /v1/api-keys/validate. */
struct apikey_validate_req {
	const char *key_prefix;
	const char *key_hash;
	const char *ip_address; /* NULL when absent */
};
int apikey_validate_parse(json_object *body, struct apikey_validate_req *r, struct jv *v);

/* POST /internal/v1/api-keys/usage: three parallel PostgreSQL array literals (malloc'd,
 * apikey_usage_free). At most APIKEY_USAGE_MAX entries. */
#define APIKEY_USAGE_MAX 10000
struct apikey_usage_req {
	size_t n;
	char *ids;
	char *counts;
	char *last_used;
};
int apikey_usage_parse(json_object *body, struct apikey_usage_req *r, struct jv *v);
void apikey_usage_free(struct apikey_usage_req *r);

/* POST /v1/reseller/users. */
struct reseller_user_req {
	char email[EMAIL_MAX + 1]; /* lower-cased */
	const char *password;
	const char *full_name;
	const char *phone_number;
};
int reseller_user_parse(json_object *body, struct reseller_user_req *r, struct jv *v);

/* ?page (>= 1, default 1) & page_size (1..100, default 20); NULL = absent. */
#define PAGE_SIZE_DEFAULT 20
#define PAGE_SIZE_MAX 100
struct page {
	long page;
	long size;
};
int page_parse(const char *page, const char *size, struct page *p, struct jv *v);

/* ISO 8601 date-time with a zone ("2026-05-27T10:15:00Z", optional fraction, "+02:00");
 * *out = its Unix time. False when malformed or not a real calendar time. */
bool iso8601_parse(const char *s, time_t *out);

/* True when s is "YYYY-MM-DD", a real calendar date (leap years included), year >= 1, and
 * not after the UTC date of now. */
bool birth_date_valid(const char *s, time_t now);

#endif
