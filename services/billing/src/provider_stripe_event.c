/*
 * provider_stripe_event.c - parsing a Stripe-style webhook body (see provider_stripe_event.h).
 *
 * Owns nothing beyond the json-c tree it parses and puts before returning.
 */
#include "provider_stripe_event.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "common/json.h"

/* o[key] when it is of type t, else NULL (borrowed). */
static json_object *ev_get(json_object *o, const char *key, json_type t)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
		return NULL;
	return v;
}

static bool ev_printable(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static bool ev_snake(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* Copies src into dst (cap bytes), cut at a UTF-8 character boundary. */
static void ev_copy_utf8(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--; /* src[n] continues a character: cut before its lead byte */
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void ev_failure(json_object *obj, struct stripe_event *out)
{
	json_object *err = ev_get(obj, "last_payment_error", json_type_object);
	json_object *code = ev_get(err, "code", json_type_string);
	json_object *msg = ev_get(err, "message", json_type_string);

	snprintf(out->failure_code, sizeof(out->failure_code), "%s",
		 code != NULL && ev_snake(json_object_get_string(code))
			 ? json_object_get_string(code)
			 : "declined");
	if (msg != NULL) /* json_parse_strict guarantees valid UTF-8 */
		ev_copy_utf8(out->failure_message, sizeof(out->failure_message),
			     json_object_get_string(msg));
}

/* data.object of a payment_intent event: payment_id, id, amount, currency. */
static int ev_object(json_object *obj, struct stripe_event *out)
{
	json_object *meta = ev_get(obj, "metadata", json_type_object);
	json_object *pid = ev_get(meta, "payment_id", json_type_string);
	json_object *id = ev_get(obj, "id", json_type_string);
	json_object *amount, *cur;

	if (pid == NULL || !uuid_valid(json_object_get_string(pid)))
		return -1;
	snprintf(out->payment_id, sizeof(out->payment_id), "%s", json_object_get_string(pid));
	for (char *p = out->payment_id; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (id != NULL) {
		if (!ev_printable(json_object_get_string(id), sizeof(out->object_id) - 1))
			return -1;
		snprintf(out->object_id, sizeof(out->object_id), "%s", json_object_get_string(id));
	}
	if (json_object_object_get_ex(obj, "amount", &amount)) {
		if (!json_object_is_type(amount, json_type_int) || json_object_get_int64(amount) < 0)
			return -1;
		out->has_amount = true;
		out->amount = json_object_get_int64(amount);
	}
	if ((cur = ev_get(obj, "currency", json_type_string)) != NULL) {
		const char *c = json_object_get_string(cur);
		if (strlen(c) != 3)
			return -1;
		for (int i = 0; i < 3; i++) {
			if (!isalpha((unsigned char)c[i]))
				return -1;
			out->currency[i] = (char)toupper((unsigned char)c[i]);
		}
	}
	if (out->kind == STRIPE_EV_FAILED)
		ev_failure(obj, out);
	return 0;
}

int stripe_event_parse(const char *body, size_t len, struct stripe_event *out)
{
	json_object *root, *id, *type, *data;
	const char *t;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (body == NULL || (root = json_parse_strict(body, len, NULL)) == NULL)
		return -1;
	id = ev_get(root, "id", json_type_string);
	type = ev_get(root, "type", json_type_string);
	if (id == NULL || type == NULL || !ev_printable(json_object_get_string(id), STRIPE_EVENT_ID_MAX))
		goto out;
	snprintf(out->id, sizeof(out->id), "%s", json_object_get_string(id));
	t = json_object_get_string(type);
	if (strcmp(t, "payment_intent.succeeded") == 0)
		out->kind = STRIPE_EV_SUCCEEDED;
	else if (strcmp(t, "payment_intent.payment_failed") == 0)
		out->kind = STRIPE_EV_FAILED;
	else
		out->kind = STRIPE_EV_OTHER;
	if (out->kind != STRIPE_EV_OTHER) {
		data = ev_get(root, "data", json_type_object);
		if (ev_object(ev_get(data, "object", json_type_object), out) < 0)
			goto out;
	}
	rc = 0;
out:
	json_object_put(root);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}
