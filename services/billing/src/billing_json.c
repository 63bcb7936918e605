/*
 * billing_json.c - reading PostgreSQL-rendered JSON (see billing_json.h).
 *
 * Owns nothing: every object it returns is the caller's.
 */
#include "billing_json.h"

#include <stdlib.h>
#include <string.h>

#include "common/http.h"
#include "common/pg.h"

json_object *billing_json_col(const PGresult *res, int col)
{
	const char *text;

	if (res == NULL || PQntuples(res) < 1 || col >= PQnfields(res))
		return NULL;
	text = pg_val(res, 0, col);
	return text != NULL ? json_tokener_parse(text) : NULL;
}

const char *billing_json_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

void billing_json_reply(struct http_request *req, int status, json_object *body)
{
	json_object *details = NULL;
	const char *code, *message;

	if (status < 400) {
		http_reply_json(req, status, body);
		return;
	}
	code = billing_json_str(body, "code");
	message = billing_json_str(body, "message");
	if (json_object_object_get_ex(body, "details", &details))
		details = json_object_get(details);
	http_reply_error(req, status, code != NULL ? code : "internal_error",
			 message != NULL ? message : "An internal error occurred.", details);
	json_object_put(body);
}
