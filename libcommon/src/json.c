/*
 * json.c - strict JSON parsing of untrusted bytes and request-field validation over json-c.
 *
 * json-c's tokener, even in strict mode, accepts NaN, "1.", raw control characters in
 * strings, lone surrogates, \f as whitespace, and silently keeps the last of duplicate keys.
 * So json_parse_strict() first runs its own RFC 8259 validator over the bytes (grammar,
 * UTF-8, depth, NUL, counting object members), lets json-c build the tree, and then rejects
 * the document when the tree holds fewer members than the text did (a duplicate key).
 * Owns nothing global.
 */
#include "common/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct jscan {
	const unsigned char *p;
	const unsigned char *end;
	size_t members; /* object members seen in the text */
	const char *why;
};

static int js_value(struct jscan *s, int depth);

static int js_fail(struct jscan *s, const char *why)
{
	if (s->why == NULL)
		s->why = why;
	return -1;
}

static void js_ws(struct jscan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* Consumes one UTF-8 sequence (first byte >= 0x80); rejects overlongs, surrogates, > U+10FFFF. */
static int js_utf8(struct jscan *s)
{
	const unsigned char *p = s->p;
	size_t need, avail = (size_t)(s->end - p);
	uint32_t cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 2;
		cp = p[0] & 0x1fu;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 3;
		cp = p[0] & 0x0fu;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 4;
		cp = p[0] & 0x07u;
	} else {
		return js_fail(s, "invalid utf-8");
	}
	if (avail < need)
		return js_fail(s, "invalid utf-8");
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return js_fail(s, "invalid utf-8");
		cp = (cp << 6) | (p[i] & 0x3fu);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return js_fail(s, "invalid utf-8");
	s->p += need;
	return 0;
}

/* Reads the 4 hex digits after "\u"; -1 when malformed. */
static long js_hex4(struct jscan *s)
{
	long v = 0;

	if (s->end - s->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int c = s->p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	s->p += 4;
	return v;
}

/* After the backslash: one escape. \u0000 and unpaired surrogates are refused. */
static int js_escape(struct jscan *s)
{
	long cp, lo;

	if (s->p >= s->end)
		return js_fail(s, "bad string escape");
	switch (*s->p++) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': return 0;
	case 'u': break;
	default: return js_fail(s, "bad string escape");
	}
	cp = js_hex4(s);
	if (cp < 0)
		return js_fail(s, "bad string escape");
	if (cp == 0)
		return js_fail(s, "nul character");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return js_fail(s, "unpaired surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
			return js_fail(s, "unpaired surrogate");
		s->p += 2;
		lo = js_hex4(s);
		if (lo < 0xdc00 || lo > 0xdfff)
			return js_fail(s, "unpaired surrogate");
	}
	return 0;
}

/* At the opening quote. */
static int js_string(struct jscan *s)
{
	s->p++;
	while (s->p < s->end) {
		unsigned char c = *s->p;

		if (c == '"') {
			s->p++;
			return 0;
		}
		if (c == '\\') {
			s->p++;
			if (js_escape(s) < 0)
				return -1;
		} else if (c < 0x20) {
			return js_fail(s, "control character in string");
		} else if (c >= 0x80) {
			if (js_utf8(s) < 0)
				return -1;
		} else {
			s->p++;
		}
	}
	return js_fail(s, "unterminated string");
}

static int js_digits(struct jscan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start ? 0 : -1;
}

static int js_number(struct jscan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (js_digits(s) < 0)
		return js_fail(s, "bad number");
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (js_digits(s) < 0)
			return js_fail(s, "bad number");
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (js_digits(s) < 0)
			return js_fail(s, "bad number");
	}
	return 0;
}

static int js_literal(struct jscan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return js_fail(s, "syntax error");
	s->p += n;
	return 0;
}

/* At '[' or '{'. */
static int js_container(struct jscan *s, int depth)
{
	bool obj = *s->p == '{';
	char close = obj ? '}' : ']';

	if (depth >= JSON_MAX_DEPTH)
		return js_fail(s, "nesting too deep");
	s->p++;
	js_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 0;
	}
	for (;;) {
		if (obj) {
			if (s->p >= s->end || *s->p != '"' || js_string(s) < 0)
				return js_fail(s, "expected object key");
			js_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return js_fail(s, "expected ':'");
			s->p++;
			s->members++;
		}
		if (js_value(s, depth + 1) < 0)
			return -1;
		js_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			js_ws(s);
			continue;
		}
		if (s->p < s->end && *s->p == close) {
			s->p++;
			return 0;
		}
		return js_fail(s, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

/* Skips leading whitespace, then one value; depth = containers already open. */
static int js_value(struct jscan *s, int depth)
{
	js_ws(s);
	if (s->p >= s->end)
		return js_fail(s, "unexpected end of input");
	switch (*s->p) {
	case '{':
	case '[': return js_container(s, depth);
	case '"': return js_string(s);
	case 't': return js_literal(s, "true");
	case 'f': return js_literal(s, "false");
	case 'n': return js_literal(s, "null");
	default: break;
	}
	if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
		return js_number(s);
	return js_fail(s, "syntax error");
}

/* Object members in the built tree (recursively). */
static size_t json_count_members(json_object *o)
{
	size_t n = 0;

	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			n += 1 + json_count_members(v);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		size_t len = json_object_array_length(o);

		for (size_t i = 0; i < len; i++)
			n += json_count_members(json_object_array_get_idx(o, i));
	}
	return n;
}

/* Builds the tree of text that js_value() already accepted. */
static json_object *json_build(const char *buf, size_t len, const char **why)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH + 1);
	json_object *obj = NULL;

	if (tok == NULL) {
		*why = "out of memory";
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	/* A bare top-level number or literal waits for a terminator. */
	if (obj == NULL && json_tokener_get_error(tok) == json_tokener_continue)
		obj = json_tokener_parse_ex(tok, " ", 1);
	if (obj == NULL)
		*why = json_tokener_get_error(tok) == json_tokener_success
			       ? "top-level null" /* json-c represents null as NULL */
			       : "malformed json";
	json_tokener_free(tok);
	return obj;
}

json_object *json_parse_strict(const char *buf, size_t len, const char **why)
{
	const char *dummy;
	struct jscan s = {0};
	json_object *obj = NULL;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (buf == NULL || len == 0 || len > INT32_MAX) {
		*why = len == 0 || buf == NULL ? "empty body" : "body too large";
		return NULL;
	}
	if (memchr(buf, '\0', len) != NULL) {
		*why = "nul byte";
		return NULL;
	}
	s.p = (const unsigned char *)buf;
	s.end = s.p + len;
	js_ws(&s);
	if (s.p == s.end) {
		*why = "empty body";
		return NULL;
	}
	if (js_value(&s, 0) < 0) {
		*why = s.why;
		return NULL;
	}
	js_ws(&s);
	if (s.p != s.end) {
		*why = "trailing data";
		return NULL;
	}
	obj = json_build(buf, len, why);
	if (obj != NULL && json_count_members(obj) != s.members) {
		json_object_put(obj);
		*why = "duplicate key";
		return NULL;
	}
	return obj;
}

const char *json_compact(json_object *obj, size_t *len)
{
	size_t dummy;

	return json_object_to_json_string_length(
		obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len != NULL ? len : &dummy);
}

void json_set_str(json_object *o, const char *key, const char *val)
{
	json_object_object_add(o, key, val != NULL ? json_object_new_string(val) : NULL);
}

void json_set_int(json_object *o, const char *key, int64_t val)
{
	json_object_object_add(o, key, json_object_new_int64(val));
}

void json_set_bool(json_object *o, const char *key, bool val)
{
	json_object_object_add(o, key, json_object_new_boolean(val));
}

/* ---- field validation ------------------------------------------------------------------- */

void jv_init(struct jv *v)
{
	v->details = NULL;
}

bool jv_failed(const struct jv *v)
{
	return v->details != NULL && json_object_array_length(v->details) > 0;
}

void jv_fail(struct jv *v, const char *field, const char *issue)
{
	json_object *d = json_object_new_object();

	if (d == NULL)
		return;
	if (v->details == NULL && (v->details = json_object_new_array()) == NULL) {
		json_object_put(d);
		return;
	}
	json_set_str(d, "field", field);
	json_set_str(d, "issue", issue);
	if (json_object_array_add(v->details, d) != 0)
		json_object_put(d);
}

json_object *jv_take_details(struct jv *v)
{
	json_object *d = v->details;

	v->details = NULL;
	return d;
}

void jv_clear(struct jv *v)
{
	json_object_put(v->details);
	v->details = NULL;
}

/* The field's value, or NULL when o is not an object or the field is absent or null. Records
 * "is required" for an absent required field. */
static json_object *jv_get(struct jv *v, json_object *o, const char *key, enum jv_presence p)
{
	json_object *val = NULL;

	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &val) || val == NULL) {
		if (p == JV_REQUIRED)
			jv_fail(v, key, "is required");
		return NULL;
	}
	return val;
}

const char *jv_string(struct jv *v, json_object *o, const char *key, enum jv_presence p,
		      size_t min_len, size_t max_len)
{
	json_object *val = jv_get(v, o, key, p);
	char issue[64];
	size_t len;

	if (val == NULL)
		return NULL;
	if (!json_object_is_type(val, json_type_string)) {
		jv_fail(v, key, "must be a string");
		return NULL;
	}
	len = (size_t)json_object_get_string_len(val);
	if (len < min_len || len > max_len) {
		if (len < min_len)
			snprintf(issue, sizeof(issue), "must be at least %zu bytes", min_len);
		else
			snprintf(issue, sizeof(issue), "must be at most %zu bytes", max_len);
		jv_fail(v, key, issue);
		return NULL;
	}
	return json_object_get_string(val);
}

/* local@domain.tld: one '@', non-empty local part, a dot inside the domain, no space or
 * control character, at most 254 bytes. */
static bool jv_email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t len = strlen(s);
	const char *dot;

	if (len > 254 || at == NULL || at == s || strchr(at + 1, '@') != NULL)
		return false;
	for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++)
		if (*c <= 0x20 || *c == 0x7f)
			return false;
	dot = strrchr(at + 1, '.');
	/* the domain needs a dot with a label on each side */
	return dot != NULL && dot > at + 1 && dot[1] != '\0' && at[1] != '.' &&
	       strstr(at + 1, "..") == NULL;
}

const char *jv_email(struct jv *v, json_object *o, const char *key, enum jv_presence p)
{
	const char *s = jv_string(v, o, key, p, 0, 254);

	if (s == NULL)
		return NULL;
	if (!jv_email_ok(s)) {
		jv_fail(v, key, "must be a valid email address");
		return NULL;
	}
	return s;
}

bool jv_bool(struct jv *v, json_object *o, const char *key, enum jv_presence p, bool def)
{
	json_object *val = jv_get(v, o, key, p);

	if (val == NULL)
		return def;
	if (!json_object_is_type(val, json_type_boolean)) {
		jv_fail(v, key, "must be a boolean");
		return def;
	}
	return json_object_get_boolean(val);
}

int64_t jv_int(struct jv *v, json_object *o, const char *key, enum jv_presence p, int64_t min,
	       int64_t max, int64_t def)
{
	json_object *val = jv_get(v, o, key, p);
	char issue[64];
	bool overflow;
	int64_t n;

	if (val == NULL)
		return def;
	if (!json_object_is_type(val, json_type_int)) {
		jv_fail(v, key, "must be an integer");
		return def;
	}
	n = json_object_get_int64(val);
	/* json-c keeps integers above INT64_MAX as uint64; get_int64 saturates them */
	overflow = n == INT64_MAX && json_object_get_uint64(val) > (uint64_t)INT64_MAX;
	if (overflow || n < min || n > max) {
		snprintf(issue, sizeof(issue), "must be between %" PRId64 " and %" PRId64, min, max);
		jv_fail(v, key, issue);
		return def;
	}
	return n;
}

const char *jv_enum(struct jv *v, json_object *o, const char *key, enum jv_presence p,
		    const char *const *allowed)
{
	const char *s = jv_string(v, o, key, p, 0, SIZE_MAX);
	char issue[256];
	size_t off;

	if (s == NULL)
		return NULL;
	for (size_t i = 0; allowed != NULL && allowed[i] != NULL; i++)
		if (strcmp(s, allowed[i]) == 0)
			return allowed[i];
	off = (size_t)snprintf(issue, sizeof(issue), "must be one of:");
	for (size_t i = 0; allowed != NULL && allowed[i] != NULL && off < sizeof(issue); i++)
		off += (size_t)snprintf(issue + off, sizeof(issue) - off, "%s %s", i ? "," : "",
					allowed[i]);
	jv_fail(v, key, issue);
	return NULL;
}

void jv_no_unknown(struct jv *v, json_object *o, const char *const *known)
{
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, k, val)
	{
		bool found = false;

		(void)val;
		for (size_t i = 0; known != NULL && known[i] != NULL && !found; i++)
			found = strcmp(k, known[i]) == 0;
		if (!found)
			jv_fail(v, k, "unknown field");
	}
}
