/*
 * validate_admin.c - request-body validation for the tenant administration, API-key and
 * reseller routes: TenantCreate, TenantUpdate (origins), ApiKeyCreate (scopes, CIDRs, expiry),
 * the gateway's validate and usage bodies, the reseller's user, pagination and ISO 8601.
 *
 * Pure functions over json-c objects and libcommon's jv_* validators; the PostgreSQL array
 * literals it builds are malloc'd and owned by the request structs (their *_free()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apikey.h"
#include "common/crypto.h"
#include "common/pg.h"
#include "validate.h"

/* ---- tenants ------------------------------------------------------------------------------ */

bool tenant_slug_valid(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n < 1 || n > SLUG_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* jv_email with the stored column's length bound. */
static const char *email_field(struct jv *v, json_object *body, const char *key,
			       enum jv_presence p)
{
	const char *e = jv_email(v, body, key, p);

	if (e != NULL && strlen(e) > EMAIL_MAX) {
		jv_fail(v, key, "is too long");
		return NULL;
	}
	return e;
}

static const char *const tenant_create_fields[] = {
	"slug",          "name",          "kind",        "contact_name", "contact_email",
	"contact_phone", "admin_email",   "admin_password", NULL};
static const char *const tenant_kinds[] = {"Reseller", "Enterprise", NULL};

int tenant_create_parse(json_object *body, struct tenant_create_req *r, struct jv *v)
{
	const char *admin;

	memset(r, 0, sizeof(*r));
	jv_no_unknown(v, body, tenant_create_fields);
	r->slug = jv_string(v, body, "slug", JV_REQUIRED, 1, SLUG_MAX);
	if (r->slug != NULL && !tenant_slug_valid(r->slug)) {
		jv_fail(v, "slug", "must be lower-case letters, digits and inner hyphens");
		r->slug = NULL;
	}
	r->name = jv_string(v, body, "name", JV_REQUIRED, 1, 200);
	r->kind = jv_enum(v, body, "kind", JV_OPTIONAL, tenant_kinds);
	if (r->kind == NULL)
		r->kind = "Reseller";
	r->contact_name = jv_string(v, body, "contact_name", JV_OPTIONAL, 0, 200);
	r->contact_email = email_field(v, body, "contact_email", JV_REQUIRED);
	r->contact_phone = jv_string(v, body, "contact_phone", JV_OPTIONAL, 0, 32);
	admin = email_field(v, body, "admin_email", JV_REQUIRED);
	r->admin_password = jv_string(v, body, "admin_password", JV_REQUIRED, 8, 128);
	validate_copy_lower(r->admin_email, sizeof(r->admin_email), admin);
	return jv_failed(v) ? -1 : 0;
}

/* Host of an origin: a DNS name ([A-Za-z0-9-] labels joined by dots) or a bracketed IPv6. */
static bool origin_host_valid(const char *h, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	if (h[0] == '[')
		return n > 2 && h[n - 1] == ']' && strspn(h + 1, "0123456789abcdefABCDEF:.") == n - 2;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && c != '-' && !(c == '.' && i > 0 && i + 1 < n && h[i - 1] != '.'))
			return false;
	}
	return true;
}

bool origin_valid(const char *s)
{
	const char *host, *end, *colon;
	size_t n;

	if (s == NULL || strlen(s) > 300)
		return false;
	if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		return false;
	end = host + strlen(host);
	colon = strrchr(host, ':');
	if (colon != NULL && strchr(colon, ']') == NULL) { /* a port, not inside an IPv6 host */
		size_t digits = strspn(colon + 1, "0123456789");
		long port = digits >= 1 && digits <= 5 ? strtol(colon + 1, NULL, 10) : 0;

		if (colon + 1 + digits != end || port < 1 || port > 65535)
			return false;
		end = colon;
	}
	n = (size_t)(end - host);
	return origin_host_valid(host, n);
}

#define ORIGINS_MAX 20

/* allowed_origins: an array of distinct origins; the literal into p->origins. */
static void origins_field(json_object *val, struct tenant_patch *p, struct jv *v)
{
	const char *items[ORIGINS_MAX];
	size_t n;

	if (!json_object_is_type(val, json_type_array)) {
		jv_fail(v, "allowed_origins", "must be an array of origins");
		return;
	}
	n = json_object_array_length(val);
	if (n > ORIGINS_MAX) {
		jv_fail(v, "allowed_origins", "has more than 20 entries");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(val, i);

		items[i] = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
		if (!origin_valid(items[i])) {
			jv_fail(v, "allowed_origins", "every entry must be an origin http(s)://host[:port]");
			return;
		}
	}
	if ((p->origins = pg_array_literal(items, n)) == NULL)
		jv_fail(v, "allowed_origins", "could not be stored");
}

enum tpatch_kind { TPATCH_TEXT, TPATCH_NULLABLE, TPATCH_EMAIL, TPATCH_NULLABLE_EMAIL };
static const struct {
	const char *name;
	enum tpatch_kind kind;
	size_t max_len;
} tpatch_fields[] = {
	{"name", TPATCH_TEXT, 200},          {"contact_name", TPATCH_NULLABLE, 200},
	{"contact_email", TPATCH_EMAIL, 0},  {"contact_phone", TPATCH_NULLABLE, 32},
	{"billing_email", TPATCH_NULLABLE_EMAIL, 0},
};
static const char *const tpatch_names[] = {"name",          "contact_name",    "contact_email",
					   "contact_phone", "billing_email",   "allowed_origins",
					   "status",        NULL};
static const char *const tenant_statuses[] = {"Active", "Trial", "Suspended", "Cancelled", NULL};

static void tpatch_add(struct tenant_patch *p, const char *column, const char *value)
{
	p->set[p->n].column = column;
	p->set[p->n].value = value;
	p->n++;
}

/* One text field of tpatch_fields when present. */
static void tpatch_text(json_object *body, size_t i, struct tenant_patch *p, struct jv *v)
{
	const char *name = tpatch_fields[i].name;
	enum tpatch_kind k = tpatch_fields[i].kind;
	json_object *val = NULL;
	size_t before = validate_problems(v);
	const char *s;

	if (!json_object_object_get_ex(body, name, &val))
		return;
	if (val == NULL) {
		if (k == TPATCH_NULLABLE || k == TPATCH_NULLABLE_EMAIL)
			tpatch_add(p, name, NULL);
		else
			jv_fail(v, name, "must not be null");
		return;
	}
	if (k == TPATCH_EMAIL || k == TPATCH_NULLABLE_EMAIL)
		s = email_field(v, body, name, JV_REQUIRED);
	else
		s = jv_string(v, body, name, JV_REQUIRED, k == TPATCH_TEXT ? 1 : 0,
			      tpatch_fields[i].max_len);
	if (validate_problems(v) == before)
		tpatch_add(p, name, s);
}

int tenant_patch_parse(json_object *body, struct tenant_patch *p, struct jv *v)
{
	json_object *val = NULL;

	memset(p, 0, sizeof(*p));
	jv_no_unknown(v, body, tpatch_names);
	for (size_t i = 0; i < sizeof(tpatch_fields) / sizeof(tpatch_fields[0]); i++)
		tpatch_text(body, i, p, v);
	if (json_object_object_get_ex(body, "allowed_origins", &val)) {
		origins_field(val, p, v);
		if (p->origins != NULL)
			tpatch_add(p, "allowed_origins", p->origins);
	}
	if (json_object_object_get_ex(body, "status", &val)) {
		if (val == NULL)
			jv_fail(v, "status", "must not be null");
		else if ((p->status = jv_enum(v, body, "status", JV_REQUIRED, tenant_statuses)) != NULL)
			tpatch_add(p, "status", p->status);
	}
	if (jv_failed(v)) {
		tenant_patch_free(p);
		return -1;
	}
	return 0;
}

void tenant_patch_free(struct tenant_patch *p)
{
	free(p->origins);
	p->origins = NULL;
}

/* ---- API keys ----------------------------------------------------------------------------- */

static const char *const apikey_create_fields[] = {
	"name", "environment", "scopes", "allowed_ips", "rate_limit_rpm", "expires_at", NULL};
static const char *const environments[] = {"Live", "Test", NULL};

/* scopes: a non-empty array of distinct known scopes; the literal into r->scopes. */
static void scopes_field(json_object *body, struct apikey_create_req *r, struct jv *v)
{
	const char *items[16];
	json_object *val = NULL;
	size_t n;

	if (!json_object_object_get_ex(body, "scopes", &val) || val == NULL) {
		jv_fail(v, "scopes", "is required");
		return;
	}
	if (!json_object_is_type(val, json_type_array) || (n = json_object_array_length(val)) == 0 ||
	    n > sizeof(items) / sizeof(items[0])) {
		jv_fail(v, "scopes", "must be a non-empty array of scopes");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(val, i);

		items[i] = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
		if (!apikey_scope_known(items[i])) {
			jv_fail(v, "scopes", "contains an unknown scope");
			return;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(items[i], items[j]) == 0) {
				jv_fail(v, "scopes", "contains a scope twice");
				return;
			}
	}
	if ((r->scopes = pg_array_literal(items, n)) == NULL)
		jv_fail(v, "scopes", "could not be stored");
}

#define ALLOWED_IPS_MAX 50

/* allowed_ips: CIDRs (IPv4 / IPv6), canonicalised; the literal into r->allowed_ips. */
static void allowed_ips_field(json_object *body, struct apikey_create_req *r, struct jv *v)
{
	char cidr[ALLOWED_IPS_MAX][APIKEY_CIDR_MAX];
	const char *items[ALLOWED_IPS_MAX];
	json_object *val = NULL;
	const char *why;
	size_t n = 0;

	if (json_object_object_get_ex(body, "allowed_ips", &val) && val != NULL) {
		if (!json_object_is_type(val, json_type_array) ||
		    (n = json_object_array_length(val)) > ALLOWED_IPS_MAX) {
			jv_fail(v, "allowed_ips", "must be an array of at most 50 CIDR blocks");
			return;
		}
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(val, i);
		const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e)
									 : NULL;

		if (apikey_cidr_parse(s, cidr[i], sizeof(cidr[i]), &why) < 0) {
			jv_fail(v, "allowed_ips", why);
			return;
		}
		items[i] = cidr[i];
	}
	if ((r->allowed_ips = pg_array_literal(items, n)) == NULL)
		jv_fail(v, "allowed_ips", "could not be stored");
}

/* expires_at: null / absent, or a date-time after now. */
static const char *expires_field(json_object *body, time_t now, struct jv *v)
{
	const char *s = jv_string(v, body, "expires_at", JV_OPTIONAL, 1, 64);
	time_t t;

	if (s == NULL)
		return NULL;
	if (!iso8601_parse(s, &t)) {
		jv_fail(v, "expires_at", "must be an ISO 8601 date-time with a zone");
		return NULL;
	}
	if (t <= now) {
		jv_fail(v, "expires_at", "must be in the future");
		return NULL;
	}
	return s;
}

int apikey_create_parse(json_object *body, time_t now, struct apikey_create_req *r, struct jv *v)
{
	memset(r, 0, sizeof(*r));
	jv_no_unknown(v, body, apikey_create_fields);
	r->name = jv_string(v, body, "name", JV_REQUIRED, 1, 100);
	r->environment = jv_enum(v, body, "environment", JV_OPTIONAL, environments);
	if (r->environment == NULL)
		r->environment = "Live";
	scopes_field(body, r, v);
	allowed_ips_field(body, r, v);
	r->rate_limit_rpm = (long)jv_int(v, body, "rate_limit_rpm", JV_OPTIONAL, 1, 100000, 60);
	r->expires_at = expires_field(body, now, v);
	if (jv_failed(v)) {
		apikey_create_free(r);
		return -1;
	}
	return 0;
}

void apikey_create_free(struct apikey_create_req *r)
{
	free(r->scopes);
	free(r->allowed_ips);
	r->scopes = r->allowed_ips = NULL;
}

static const char *const validate_fields[] = {"key_prefix", "key_hash", "ip_address", NULL};

int apikey_validate_parse(json_object *body, struct apikey_validate_req *r, struct jv *v)
{
	memset(r, 0, sizeof(*r));
	jv_no_unknown(v, body, validate_fields);
	/* a well-formed prefix that matches no key is answered valid:false, not 422 */
	r->key_prefix = jv_string(v, body, "key_prefix", JV_REQUIRED, 1, 64);
	r->key_hash = jv_string(v, body, "key_hash", JV_REQUIRED, 1, 128);
	if (r->key_hash != NULL && !apikey_hash_valid(r->key_hash)) {
		jv_fail(v, "key_hash", "must be 64 lower-case hex digits");
		r->key_hash = NULL;
	}
	r->ip_address = jv_string(v, body, "ip_address", JV_OPTIONAL, 1, 64);
	if (r->ip_address != NULL && !apikey_ip_valid(r->ip_address)) {
		jv_fail(v, "ip_address", "must be an IPv4 or IPv6 address");
		r->ip_address = NULL;
	}
	return jv_failed(v) ? -1 : 0;
}

static const char *const usage_fields[] = {"usage", NULL};
static const char *const usage_item_fields[] = {"api_key_id", "count", "last_used_at", NULL};

/* One usage entry into ids[i] / counts[i] / ats[i]; false (after jv_fail) when invalid. */
static bool usage_item(json_object *e, size_t i, const char **id, char count[24], const char **at,
		       struct jv *v)
{
	char field[48];
	struct jv inner;
	time_t t;
	int64_t n;

	snprintf(field, sizeof(field), "usage[%zu]", i);
	if (!json_object_is_type(e, json_type_object)) {
		jv_fail(v, field, "must be an object");
		return false;
	}
	jv_init(&inner);
	jv_no_unknown(&inner, e, usage_item_fields);
	*id = jv_string(&inner, e, "api_key_id", JV_REQUIRED, 36, 36);
	n = jv_int(&inner, e, "count", JV_REQUIRED, 1, 1000000000, 0);
	*at = jv_string(&inner, e, "last_used_at", JV_REQUIRED, 1, 64);
	if (jv_failed(&inner) || !uuid_valid(*id) || !iso8601_parse(*at, &t)) {
		jv_clear(&inner);
		jv_fail(v, field, "must be {api_key_id: uuid, count: 1.., last_used_at: date-time}");
		return false;
	}
	snprintf(count, 24, "%lld", (long long)n);
	return true;
}

/* The three literals of the n entries of arr; false when one could not be built. */
static bool usage_literals(json_object *arr, size_t n, struct apikey_usage_req *r, struct jv *v)
{
	const char **ids = calloc(n + 1, sizeof(*ids));
	const char **ats = calloc(n + 1, sizeof(*ats));
	const char **cps = calloc(n + 1, sizeof(*cps));
	char(*counts)[24] = calloc(n + 1, sizeof(*counts));
	bool ok = ids != NULL && ats != NULL && cps != NULL && counts != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		ok = usage_item(json_object_array_get_idx(arr, i), i, &ids[i], counts[i], &ats[i], v);
		cps[i] = counts[i];
	}
	if (ok) {
		r->ids = pg_array_literal(ids, n);
		r->counts = pg_array_literal(cps, n);
		r->last_used = pg_array_literal(ats, n);
		ok = r->ids != NULL && r->counts != NULL && r->last_used != NULL;
	}
	free(ids);
	free(ats);
	free(cps);
	free(counts);
	return ok;
}

int apikey_usage_parse(json_object *body, struct apikey_usage_req *r, struct jv *v)
{
	json_object *arr = NULL;

	memset(r, 0, sizeof(*r));
	jv_no_unknown(v, body, usage_fields);
	if (!json_object_object_get_ex(body, "usage", &arr) ||
	    !json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) > APIKEY_USAGE_MAX) {
		jv_fail(v, "usage", "must be an array of at most 10000 entries");
		return -1;
	}
	r->n = json_object_array_length(arr);
	if (jv_failed(v) || !usage_literals(arr, r->n, r, v)) {
		if (!jv_failed(v))
			jv_fail(v, "usage", "could not be stored");
		apikey_usage_free(r);
		return -1;
	}
	return 0;
}

void apikey_usage_free(struct apikey_usage_req *r)
{
	free(r->ids);
	free(r->counts);
	free(r->last_used);
	r->ids = r->counts = r->last_used = NULL;
}

/* ---- the reseller API, pagination, timestamps ---------------------------------------------- */

static const char *const reseller_user_fields[] = {"email", "password", "full_name",
						   "phone_number", NULL};

int reseller_user_parse(json_object *body, struct reseller_user_req *r, struct jv *v)
{
	const char *email;

	memset(r, 0, sizeof(*r));
	jv_no_unknown(v, body, reseller_user_fields);
	email = email_field(v, body, "email", JV_REQUIRED);
	r->password = jv_string(v, body, "password", JV_REQUIRED, 8, 128);
	r->full_name = jv_string(v, body, "full_name", JV_OPTIONAL, 0, 200);
	r->phone_number = jv_string(v, body, "phone_number", JV_OPTIONAL, 0, 32);
	validate_copy_lower(r->email, sizeof(r->email), email);
	return jv_failed(v) ? -1 : 0;
}

/* A decimal number of 1..7 digits without sign or leading zero in [min, max]; else -1. */
static long small_number(const char *s, long min, long max)
{
	size_t n = strlen(s);
	long v = 0;

	if (n == 0 || n > 7 || (s[0] == '0' && n > 1) || strspn(s, "0123456789") != n)
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v >= min && v <= max ? v : -1;
}

int page_parse(const char *page, const char *size, struct page *p, struct jv *v)
{
	p->page = 1;
	p->size = PAGE_SIZE_DEFAULT;
	if (page != NULL && (p->page = small_number(page, 1, 1000000)) < 0)
		jv_fail(v, "page", "must be an integer from 1 to 1000000");
	if (size != NULL && (p->size = small_number(size, 1, PAGE_SIZE_MAX)) < 0)
		jv_fail(v, "page_size", "must be an integer from 1 to 100");
	return jv_failed(v) ? -1 : 0;
}

/* n digits at s as a number; -1 when one is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* The zone suffix at s: "Z" or "+HH:MM" / "-HH:MM" -> seconds east of UTC; false if bad. */
static bool iso8601_zone(const char *s, long *off)
{
	int hh, mm;

	if (strcmp(s, "Z") == 0) {
		*off = 0;
		return true;
	}
	if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':' ||
	    (hh = digits(s + 1, 2)) < 0 || (mm = digits(s + 4, 2)) < 0 || hh > 23 || mm > 59)
		return false;
	*off = (s[0] == '+' ? 1 : -1) * (hh * 3600L + mm * 60L);
	return true;
}

bool iso8601_parse(const char *s, time_t *out)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	struct tm tm = {0};
	int y, mo, d, h, mi, sec;
	const char *p;
	long off;

	if (s == NULL || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':')
		return false;
	y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    sec < 0 || sec > 59)
		return false;
	if (d > mdays[mo - 1] + (mo == 2 && validate_is_leap(y) ? 1 : 0))
		return false;
	p = s + 19;
	if (*p == '.') {
		size_t f = strspn(p + 1, "0123456789");

		if (f < 1 || f > 9)
			return false;
		p += 1 + f;
	}
	if (!iso8601_zone(p, &off))
		return false;
	tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
	tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
	*out = timegm(&tm) - off;
	return true;
}
