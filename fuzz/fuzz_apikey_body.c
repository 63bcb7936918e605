/*
 * fuzz_apikey_body.c - libFuzzer target for identity's parsers of the tenant, API-key and
 * reseller request bodies (services/identity/src/validate_admin.c) and the literals they rest on
 * (apikey.c: CIDR and address literals; ISO 8601 date-times), all untrusted bytes.
 *
 * The fuzz build links libcommon only, so the identity files are compiled in here.
 * Besides "no crash, no leak, no UB": every accepted CIDR must re-parse to itself
 * (canonical), an accepted ApiKeyCreate carries its array literals, and a rejected body
 * leaves nothing allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../services/identity/src/apikey.c"
#include "../services/identity/src/validate.c"
#include "../services/identity/src/validate_admin.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_literals(const char *s)
{
	char out[APIKEY_CIDR_MAX], again[APIKEY_CIDR_MAX];
	const char *why;
	time_t t;

	if (apikey_cidr_parse(s, out, sizeof(out), &why) == 0) {
		if (apikey_cidr_parse(out, again, sizeof(again), &why) != 0 || strcmp(out, again) != 0)
			abort();
	} else if (why == NULL) {
		abort();
	}
	(void)apikey_ip_valid(s);
	(void)iso8601_parse(s, &t);
	(void)origin_valid(s);
	(void)tenant_slug_valid(s);
	(void)apikey_prefix_valid(s);
}

static void fuzz_bodies(json_object *body)
{
	struct tenant_create_req tc;
	struct tenant_patch tp;
	struct apikey_create_req ac;
	struct apikey_validate_req av;
	struct apikey_usage_req au;
	struct reseller_user_req ru;
	struct jv v;

	jv_init(&v);
	(void)tenant_create_parse(body, &tc, &v);
	jv_clear(&v);
	if (tenant_patch_parse(body, &tp, &v) == 0)
		tenant_patch_free(&tp);
	else if (tp.origins != NULL)
		abort();
	jv_clear(&v);
	if (apikey_create_parse(body, 1779876900, &ac, &v) == 0) {
		if (ac.scopes == NULL || ac.allowed_ips == NULL)
			abort();
		apikey_create_free(&ac);
	} else if (ac.scopes != NULL || ac.allowed_ips != NULL) {
		abort();
	}
	jv_clear(&v);
	(void)apikey_validate_parse(body, &av, &v);
	jv_clear(&v);
	if (apikey_usage_parse(body, &au, &v) == 0)
		apikey_usage_free(&au);
	else if (au.ids != NULL)
		abort();
	jv_clear(&v);
	(void)reseller_user_parse(body, &ru, &v);
	jv_clear(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	json_object *body;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_literals(s);
	body = json_parse_strict((const char *)data, size, NULL);
	if (body != NULL && json_object_is_type(body, json_type_object))
		fuzz_bodies(body);
	json_object_put(body);
	free(s);
	return 0;
}
