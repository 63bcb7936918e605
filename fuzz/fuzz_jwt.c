/*
 * fuzz_jwt.c - libFuzzer target for the JWT parsers of untrusted bytes: jwt_verify and
 * jwt_peek_kid against a fixed key set, and jwt_keyset_from_jwks.
 *
 * The first input byte picks the target (even: a token, odd: a JWKS document); the rest is
 * the input. The key below is a throwaway fuzzing fixture, used nowhere else, so a corpus
 * may hold tokens it really signed (kid "fuzz") and reach the claim checks.
 *
 *   make fuzz && build/fuzz/fuzz_jwt -max_len=9000 -runs=200000
 */
#include "common/jwt.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgyEbvP5tcmT4PaCf0\n"
	"mKbYm9uGY47RrESM8KfLVmIKbu+hRANCAAT2x0176LEOu1TEo5hu9kTFjf9ATzWl\n"
	"3w4r7W+QMjVYJ0DZixD3qXvAnmU18no6CIyV++rbnQrxXz5Tz9VouMqK\n"
	"-----END PRIVATE KEY-----\n";

static struct jwt_keyset *fuzz_keyset(void)
{
	static struct jwt_keyset *ks;
	struct jwt_key *k;

	if (ks != NULL)
		return ks;
	k = jwt_key_from_pem("fuzz", fuzz_key_pem, sizeof(fuzz_key_pem) - 1);
	ks = jwt_keyset_new();
	if (k == NULL || ks == NULL || jwt_keyset_add(ks, k) != 0)
		abort();
	jwt_key_free(k);
	return ks; /* lives for the whole run */
}

static void fuzz_token(const char *tok, size_t len)
{
	const struct jwt_verify_opts o = {
		.issuer = "flatrender-identity",
		.audience = "flatrender",
		.leeway_s = 30,
		.now = 1700000000,
	};
	json_object *claims = NULL;
	char kid[128];

	if (jwt_verify(fuzz_keyset(), tok, len, &o, &claims, kid) == JWT_OK && claims == NULL)
		abort(); /* OK must hand back the claims */
	json_object_put(claims);
	if (jwt_peek_kid(tok, len, kid) == 0 && kid[0] == '\0')
		abort(); /* a peeked kid is never empty */
}

static void fuzz_jwks(const char *doc, size_t len)
{
	char err[128];
	struct jwt_keyset *ks = jwt_keyset_from_jwks(doc, len, err, sizeof(err));

	if (ks != NULL && jwt_keyset_count(ks) == 0)
		abort(); /* a returned set always holds a key */
	jwt_keyset_free(ks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;

	if (size < 1)
		return 0;
	/* a private copy so reads past the input are caught, and no terminator is implied */
	buf = malloc(size - 1 ? size - 1 : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	if (data[0] % 2 == 0)
		fuzz_token(buf, size - 1);
	else
		fuzz_jwks(buf, size - 1);
	free(buf);
	return 0;
}
