/*
 * fuzz_json.c - libFuzzer target for json_parse_strict() and the jv_* validators.
 *
 * Besides "no crash, no leak, no UB", it checks two properties: json-c never rejects a
 * document the strict pre-validator accepted (they must agree on the grammar), and the compact
 * serialisation of an accepted document has the same object-member count when re-parsed by
 * json-c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const known[] = {"email", "name", "n", "flag", "kind", NULL};
static const char *const kinds[] = {"a", "b", NULL};

static void fuzz_validate(json_object *o)
{
	struct jv v;
	json_object *d;

	jv_init(&v);
	(void)jv_string(&v, o, "name", JV_REQUIRED, 1, 64);
	(void)jv_email(&v, o, "email", JV_OPTIONAL);
	(void)jv_int(&v, o, "n", JV_OPTIONAL, -10, 10, 0);
	(void)jv_bool(&v, o, "flag", JV_OPTIONAL, false);
	(void)jv_enum(&v, o, "kind", JV_OPTIONAL, kinds);
	jv_no_unknown(&v, o, known);
	d = jv_take_details(&v);
	if (d != NULL)
		(void)json_compact(d, NULL);
	json_object_put(d);
	jv_clear(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	json_object *o = json_parse_strict((const char *)data, size, &why);
	json_object *again;
	const char *text;
	size_t len = 0;

	if (o == NULL) {
		if (why == NULL || strcmp(why, "malformed json") == 0)
			abort(); /* validator and json-c disagree, or no reason given */
		return 0;
	}
	fuzz_validate(o);
	text = json_compact(o, &len);
	again = json_tokener_parse(text);
	if (again == NULL && strcmp(text, "null") != 0)
		abort();
	if (json_object_is_type(o, json_type_object) &&
	    json_object_object_length(again) != json_object_object_length(o))
		abort();
	json_object_put(again);
	json_object_put(o);
	return 0;
}
