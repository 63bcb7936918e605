/*
 * json.h - strict JSON parsing of untrusted bodies and field validation over json-c.
 *
 * json_parse_strict() accepts exactly one JSON value filling the whole buffer (whitespace
 * around it allowed), nesting at most JSON_MAX_DEPTH, valid UTF-8, no duplicate object keys,
 * no NUL bytes. The jv_* validators collect every field problem of a request body into one
 * `details` array so a 422 names all of them at once:
 *
 *   struct jv v; jv_init(&v);
 *   const char *email = jv_string(&v, body, "email", JV_REQUIRED, 3, 254);
 *   const char *name  = jv_string(&v, body, "full_name", JV_OPTIONAL, 1, 200);
 *   if (jv_failed(&v)) return http_reply_validation(req, &v);   // 422, takes v's details
 */
#ifndef COMMON_JSON_H
#define COMMON_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32

/* Returns a new value (caller puts it) or NULL; on NULL *why is a static reason string.
 * A bare top-level `null` is rejected too (json-c has no object for it), as are \u0000 and
 * unpaired surrogate escapes. why may be NULL. */
json_object *json_parse_strict(const char *buf, size_t len, const char **why);

/* Serialises compactly; returns a string owned by obj (valid until obj changes or is put). */
const char *json_compact(json_object *obj, size_t *len);

/* Adds key -> value helpers that tolerate a NULL string (stored as JSON null). */
void json_set_str(json_object *o, const char *key, const char *val);
void json_set_int(json_object *o, const char *key, int64_t val);
void json_set_bool(json_object *o, const char *key, bool val);

enum jv_presence { JV_OPTIONAL = 0, JV_REQUIRED = 1 };

struct jv {
	json_object *details; /* array of {"field","issue"}; NULL until the first failure */
};

void jv_init(struct jv *v);
bool jv_failed(const struct jv *v);
/* Records a problem with one field (issue: short lower-case text, e.g. "is required"). */
void jv_fail(struct jv *v, const char *field, const char *issue);
/* Hands the details array to the caller (who then owns it); v is empty afterwards. */
json_object *jv_take_details(struct jv *v);
void jv_clear(struct jv *v);

/* Each getter returns the value when present and valid; otherwise NULL / the default, having
 * recorded a problem when the field is required but absent or present with a wrong type or
 * out of bounds. An explicit JSON null counts as absent. String lengths are in bytes. */
const char *jv_string(struct jv *v, json_object *o, const char *key, enum jv_presence p,
		      size_t min_len, size_t max_len);
/* Like jv_string, and the value must be a plausible e-mail address (local@domain.tld). */
const char *jv_email(struct jv *v, json_object *o, const char *key, enum jv_presence p);
bool jv_bool(struct jv *v, json_object *o, const char *key, enum jv_presence p, bool def);
int64_t jv_int(struct jv *v, json_object *o, const char *key, enum jv_presence p, int64_t min,
	       int64_t max, int64_t def);
/* The value must be one of the NULL-terminated list `allowed`. */
const char *jv_enum(struct jv *v, json_object *o, const char *key, enum jv_presence p,
		    const char *const *allowed);
/* Records "unknown field" for every key of o not in the NULL-terminated list `known`. */
void jv_no_unknown(struct jv *v, json_object *o, const char *const *known);

#endif
