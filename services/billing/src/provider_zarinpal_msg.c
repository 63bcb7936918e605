/*
 * provider_zarinpal_msg.c - ZarinPal v4 request bodies and answer parsing (see
 * provider_zarinpal_msg.h).
 *
 * Owns nothing beyond the json-c trees it builds and puts before returning.
 */
#include "provider_zarinpal_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

bool zarinpal_currency_ok(const char *currency)
{
	return currency != NULL && (strcmp(currency, "IRR") == 0 || strcmp(currency, "IRT") == 0);
}

bool zarinpal_authority_valid(const char *a)
{
	size_t n = a != NULL ? strlen(a) : 0;

	if (n == 0 || n > ZARINPAL_AUTHORITY_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = a[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

/* Serialises o (taken) into a malloc'd string. */
static char *zp_serialise(json_object *o)
{
	char *s = NULL;

	if (o != NULL)
		s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

char *zarinpal_request_body(const char *merchant_id, int64_t amount, const char *currency,
			    const char *callback_url, const char *description,
			    const char *payment_id)
{
	json_object *o, *meta;

	if (merchant_id == NULL || merchant_id[0] == '\0' || amount < 1 ||
	    !zarinpal_currency_ok(currency) || callback_url == NULL || payment_id == NULL)
		return NULL;
	if ((o = json_object_new_object()) == NULL || (meta = json_object_new_object()) == NULL) {
		json_object_put(o);
		return NULL;
	}
	json_set_str(o, "merchant_id", merchant_id);
	json_set_int(o, "amount", amount);
	json_set_str(o, "currency", currency);
	json_set_str(o, "callback_url", callback_url);
	/* ZarinPal requires a description */
	json_set_str(o, "description", description != NULL && description[0] != '\0'
					       ? description
					       : "FlatRender payment");
	json_set_str(meta, "order_id", payment_id);
	json_object_object_add(o, "metadata", meta);
	return zp_serialise(o);
}

char *zarinpal_verify_body(const char *merchant_id, int64_t amount, const char *authority)
{
	json_object *o;

	if (merchant_id == NULL || merchant_id[0] == '\0' || amount < 1 ||
	    !zarinpal_authority_valid(authority))
		return NULL;
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_set_str(o, "merchant_id", merchant_id);
	json_set_int(o, "amount", amount);
	json_set_str(o, "authority", authority);
	return zp_serialise(o);
}

/* o[key] as an integer (a JSON integer only); false when absent or of another type. */
static bool zp_int(json_object *o, const char *key, long long *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = (long long)json_object_get_int64(v);
	return true;
}

static void zp_str(json_object *o, const char *key, char *out, size_t cap)
{
	json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(out, cap, "%s", json_object_get_string(v));
}

/* The common part: {"data":{code,..}} on success, {"errors":{code,message}} on failure.
 * Returns the object holding the code (borrowed from root), or NULL when unreadable. */
static json_object *zp_parse(json_object *root, struct zarinpal_reply *out)
{
	json_object *data = NULL, *errors = NULL, *from = NULL;
	long long code;

	if (json_object_object_get_ex(root, "data", &data) &&
	    json_object_is_type(data, json_type_object) && zp_int(data, "code", &code))
		from = data;
	else if (json_object_object_get_ex(root, "errors", &errors) &&
		 json_object_is_type(errors, json_type_object) && zp_int(errors, "code", &code))
		from = errors;
	if (from == NULL || code < -1000000 || code > 1000000)
		return NULL;
	out->code = (long)code;
	zp_str(from, "message", out->message, sizeof(out->message));
	return from;
}

static int zp_parse_answer(const char *body, size_t len, struct zarinpal_reply *out, bool request)
{
	json_object *root, *from;
	long long ref;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (body == NULL || (root = json_parse_strict(body, len, NULL)) == NULL)
		return -1;
	if (!json_object_is_type(root, json_type_object) || (from = zp_parse(root, out)) == NULL)
		goto out;
	if (request && out->code == 100) {
		zp_str(from, "authority", out->authority, sizeof(out->authority));
		if (!zarinpal_authority_valid(out->authority))
			goto out;
	}
	if (!request && (out->code == 100 || out->code == 101)) {
		if (!zp_int(from, "ref_id", &ref) || ref < 0)
			goto out; /* a verified payment without its reference is unreadable */
		out->ref_id = ref;
	}
	rc = 0;
out:
	json_object_put(root);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int zarinpal_parse_request(const char *body, size_t len, struct zarinpal_reply *out)
{
	return zp_parse_answer(body, len, out, true);
}

int zarinpal_parse_verify(const char *body, size_t len, struct zarinpal_reply *out)
{
	return zp_parse_answer(body, len, out, false);
}

bool zarinpal_request_ok(const struct zarinpal_reply *r)
{
	return r->code == 100;
}

bool zarinpal_verify_ok(const struct zarinpal_reply *r)
{
	return r->code == 100 || r->code == 101;
}

int zarinpal_start_url(const char *base, const char *authority, char *out, size_t cap)
{
	int n;

	if (base == NULL || !zarinpal_authority_valid(authority))
		return -1;
	n = snprintf(out, cap, "%s/pg/StartPay/%s", base, authority);
	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}
