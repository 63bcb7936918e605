/*
 * test_reqsig_vectors.c - the published signing test vectors (contracts/signing-test-
 * vectors.json) against common/reqsig.h: key hash, canonical query, string to sign and
 * signature of every vector, and reqsig_verify accepting exactly the published signature.
 *
 * The file is read from FR_SIGNING_VECTORS, else contracts/signing-test-vectors.json relative
 * to the working directory (the repository root, as scripts/test.sh runs the unit tests).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/reqsig.h"

#define VECTORS_DEFAULT "contracts/signing-test-vectors.json"
#define MIN_VECTORS 8

static const char *field(json_object *v, const char *name)
{
	json_object *f;

	if (!json_object_object_get_ex(v, name, &f) || !json_object_is_type(f, json_type_string))
		fail_msg("vector lacks string field %s", name);
	return json_object_get_string(f);
}

static json_object *load_vectors(void)
{
	const char *path = getenv("FR_SIGNING_VECTORS");
	json_object *doc, *arr;

	doc = json_object_from_file(path != NULL ? path : VECTORS_DEFAULT);
	if (doc == NULL)
		fail_msg("cannot read %s (run from the repository root)",
			 path != NULL ? path : VECTORS_DEFAULT);
	if (!json_object_object_get_ex(doc, "vectors", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		fail_msg("no \"vectors\" array");
	return doc;
}

/* Checks one vector: every intermediate value and the final signature. */
static void check_vector(json_object *v)
{
	const char *name = field(v, "name"), *key = field(v, "api_key"), *ts = field(v, "timestamp");
	const char *nonce = field(v, "nonce"), *method = field(v, "method"), *path = field(v, "path");
	const char *query = field(v, "query"), *body = field(v, "body");
	char key_hash[65], body_hash[65], canon[1024], sig[65], *msg, *target = NULL;
	struct reqsig_headers h = {key, ts, nonce, field(v, "signature")};
	struct reqsig_parsed p;
	size_t len = 0;

	sha256_hex(key, strlen(key), key_hash);
	if (strcmp(key_hash, field(v, "key_hash")) != 0)
		fail_msg("%s: key_hash differs", name);
	assert_true(strlen(query) < sizeof(canon));
	assert_int_equal(reqsig_canonical_query(query, strlen(query), canon),
			 (long)strlen(field(v, "canonical_query")));
	if (strcmp(canon, field(v, "canonical_query")) != 0)
		fail_msg("%s: canonical query '%s'", name, canon);
	sha256_hex(body, strlen(body), body_hash);
	if (strcmp(body_hash, field(v, "body_sha256")) != 0)
		fail_msg("%s: body hash differs", name);
	msg = reqsig_message(ts, nonce, method, path, strlen(path), query, strlen(query), body,
			     strlen(body), &len);
	assert_non_null(msg);
	if (strcmp(msg, field(v, "string_to_sign")) != 0)
		fail_msg("%s: string to sign differs:\n%s", name, msg);
	reqsig_sign(key_hash, msg, len, sig);
	free(msg);
	if (strcmp(sig, field(v, "signature")) != 0)
		fail_msg("%s: signature %s", name, sig);
	/* the whole check, as the gateway runs it on a request target */
	assert_int_equal(reqsig_parse(&h, &p), REQSIG_OK);
	assert_true(asprintf(&target, "%s%s%s", path, query[0] != '\0' ? "?" : "", query) > 0);
	if (!reqsig_verify(&p, method, target, body, strlen(body)))
		fail_msg("%s: reqsig_verify refused the published signature", name);
	free(target);
}

static void test_reqsig_vectors_all(void **state)
{
	json_object *doc = load_vectors(), *arr;
	size_t n;

	(void)state;
	json_object_object_get_ex(doc, "vectors", &arr);
	n = json_object_array_length(arr);
	if (n < MIN_VECTORS)
		fail_msg("only %zu vectors (at least %d are published)", n, MIN_VECTORS);
	for (size_t i = 0; i < n; i++)
		check_vector(json_object_array_get_idx(arr, i));
	json_object_put(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reqsig_vectors_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
