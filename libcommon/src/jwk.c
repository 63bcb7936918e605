/*
 * jwk.c - ES256 keys for jwt.c: P-256 private keys (generate, PKCS#8 PEM in and out), their
 * public JWKs, and key sets built from JWKS documents (see jwt.h for the contract).
 *
 * Owns the EVP_PKEY objects inside struct jwt_key and struct jwt_keyset. Both are read-only
 * after construction, so one key or key set may be used from several threads at once. A JWKS
 * key is accepted only as an EC P-256 point that is on the curve.
 */
#include "common/jwt.h"
#include "jwt_internal.h"

#include "common/crypto.h"
#include "common/json.h"

#include <math.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- EC key helpers ------------------------------------------------------------------- */

bool jwt_kid_valid(const char *kid, size_t len)
{
	return kid != NULL && len >= 1 && len <= KID_MAX && memchr(kid, '\0', len) == NULL;
}

static bool pkey_is_p256(const EVP_PKEY *pkey)
{
	char name[64];
	size_t len = 0;

	if (pkey == NULL || !EVP_PKEY_is_a(pkey, "EC"))
		return false;
	if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len) != 1)
		return false;
	return strcmp(name, CURVE_NAME) == 0;
}

/* The affine coordinates of the public point, 32 bytes each, big-endian. */
static int pkey_pub_xy(const EVP_PKEY *pkey, unsigned char x[32], unsigned char y[32])
{
	BIGNUM *bx = NULL, *by = NULL;
	int rc = -1;

	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1)
		goto out;
	if (BN_bn2binpad(bx, x, 32) != 32 || BN_bn2binpad(by, y, 32) != 32)
		goto out;
	rc = 0;
out:
	BN_free(bx);
	BN_free(by);
	return rc;
}

/* A public P-256 key from its coordinates; NULL unless the point is a valid curve point. */
static EVP_PKEY *pkey_from_xy(const unsigned char x[32], const unsigned char y[32])
{
	unsigned char point[65];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	EVP_PKEY *pkey = NULL;

	point[0] = 0x04; /* uncompressed */
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, CURVE_NAME, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) != 1)
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (chk == NULL || EVP_PKEY_public_check(chk) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
out:
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static struct jwt_key *key_wrap(const char *kid, EVP_PKEY *pkey)
{
	struct jwt_key *k;

	if (!pkey_is_p256(pkey)) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (k == NULL) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	memcpy(k->kid, kid, strlen(kid) + 1);
	k->pkey = pkey;
	return k;
}

/* ---- private keys --------------------------------------------------------------------- */

/* Encrypted PEM is not supported: fail instead of letting OpenSSL prompt on a terminal. */
static int pem_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

struct jwt_key *jwt_key_generate(const char *kid)
{
	if (kid == NULL || !jwt_kid_valid(kid, strlen(kid)))
		return NULL;
	return key_wrap(kid, EVP_PKEY_Q_keygen(NULL, NULL, "EC", CURVE_NAME));
}

struct jwt_key *jwt_key_from_pem(const char *kid, const char *pem, size_t len)
{
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *priv = NULL;

	if (kid == NULL || !jwt_kid_valid(kid, strlen(kid)) || pem == NULL || len == 0 ||
	    len > INT32_MAX)
		return NULL;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return NULL;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, pem_no_passphrase, NULL);
	BIO_free(bio);
	/* must really hold the private scalar, not just a public key */
	if (pkey != NULL && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	BN_clear_free(priv);
	return pkey != NULL ? key_wrap(kid, pkey) : NULL;
}

char *jwt_key_to_pem(const struct jwt_key *k)
{
	BIO *bio = NULL;
	char *data = NULL, *out = NULL;
	long n;

	if (k == NULL)
		return NULL;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL ||
	    PEM_write_bio_PKCS8PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || (out = malloc((size_t)n + 1)) == NULL)
		goto out;
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
out:
	if (bio != NULL)
		(void)BIO_reset(bio); /* memory BIOs clear their buffer on free too; be explicit */
	BIO_free(bio);
	return out;
}

const char *jwt_key_kid(const struct jwt_key *k)
{
	return k != NULL ? k->kid : NULL;
}

static int b64_json_set(json_object *o, const char *key, const unsigned char *b, size_t n)
{
	char enc[64];

	if (b64url_encode(b, n, enc, sizeof(enc)) == 0)
		return -1;
	json_object_object_add(o, key, json_object_new_string(enc));
	return 0;
}

json_object *jwt_key_public_jwk(const struct jwt_key *k)
{
	unsigned char x[32], y[32];
	json_object *o;

	if (k == NULL || pkey_pub_xy(k->pkey, x, y) != 0)
		return NULL;
	o = json_object_new_object();
	if (o == NULL)
		return NULL;
	json_object_object_add(o, "kty", json_object_new_string("EC"));
	json_object_object_add(o, "crv", json_object_new_string("P-256"));
	if (b64_json_set(o, "x", x, 32) != 0 || b64_json_set(o, "y", y, 32) != 0) {
		json_object_put(o);
		return NULL;
	}
	json_object_object_add(o, "kid", json_object_new_string(k->kid));
	json_object_object_add(o, "alg", json_object_new_string("ES256"));
	json_object_object_add(o, "use", json_object_new_string("sig"));
	return o;
}

void jwt_key_free(struct jwt_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

/* ---- key sets ------------------------------------------------------------------------- */

struct jwt_keyset *jwt_keyset_new(void)
{
	return calloc(1, sizeof(struct jwt_keyset));
}

EVP_PKEY *jwt_keyset_find(const struct jwt_keyset *ks, const char *kid)
{
	for (size_t i = 0; ks != NULL && kid != NULL && i < ks->n; i++)
		if (strcmp(ks->keys[i].kid, kid) == 0)
			return ks->keys[i].pkey;
	return NULL;
}

/* Takes pkey on success (0); -1 on a duplicate kid or no memory, pkey untouched. */
static int keyset_push(struct jwt_keyset *ks, const char *kid, EVP_PKEY *pkey)
{
	if (jwt_keyset_find(ks, kid) != NULL)
		return -1;
	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? ks->cap * 2 : 4;
		struct jwt_pub *keys = realloc(ks->keys, cap * sizeof(*keys));
		if (keys == NULL)
			return -1;
		ks->keys = keys;
		ks->cap = cap;
	}
	memcpy(ks->keys[ks->n].kid, kid, strlen(kid) + 1);
	ks->keys[ks->n].pkey = pkey;
	ks->n++;
	return 0;
}

int jwt_keyset_add(struct jwt_keyset *ks, const struct jwt_key *k)
{
	unsigned char x[32], y[32];
	EVP_PKEY *pub;

	if (ks == NULL || k == NULL || pkey_pub_xy(k->pkey, x, y) != 0)
		return -1;
	pub = pkey_from_xy(x, y);
	if (pub == NULL)
		return -1;
	if (keyset_push(ks, k->kid, pub) != 0) {
		EVP_PKEY_free(pub);
		return -1;
	}
	return 0;
}

bool jwt_keyset_has(const struct jwt_keyset *ks, const char *kid)
{
	return jwt_keyset_find(ks, kid) != NULL;
}

size_t jwt_keyset_count(const struct jwt_keyset *ks)
{
	return ks != NULL ? ks->n : 0;
}

void jwt_keyset_free(struct jwt_keyset *ks)
{
	if (ks == NULL)
		return;
	for (size_t i = 0; i < ks->n; i++)
		EVP_PKEY_free(ks->keys[i].pkey);
	free(ks->keys);
	free(ks);
}

/* The string member key of o, or NULL when absent or not a string; *len gets its length. */
const char *jwt_obj_str(json_object *o, const char *key, size_t *len)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	if (len != NULL)
		*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

bool jwt_obj_str_is(json_object *o, const char *key, const char *want)
{
	size_t n = 0;
	const char *s = jwt_obj_str(o, key, &n);

	return s != NULL && n == strlen(want) && memcmp(s, want, n) == 0;
}

static bool b64_coord(json_object *jwk, const char *key, unsigned char out[32])
{
	size_t n = 0;
	const char *s = jwt_obj_str(jwk, key, &n);

	return s != NULL && b64url_decode(s, n, out, 32) == 32;
}

/* Adds one JWK when it is an EC P-256 ES256 signing key; -1 (skipped) otherwise. */
static int jwk_import_one(struct jwt_keyset *ks, json_object *jwk)
{
	unsigned char x[32], y[32];
	const char *kid;
	size_t kidlen = 0;
	EVP_PKEY *pkey;

	if (!json_object_is_type(jwk, json_type_object) || !jwt_obj_str_is(jwk, "kty", "EC") ||
	    !jwt_obj_str_is(jwk, "crv", "P-256"))
		return -1;
	if ((json_object_object_get_ex(jwk, "alg", NULL) && !jwt_obj_str_is(jwk, "alg", "ES256")) ||
	    (json_object_object_get_ex(jwk, "use", NULL) && !jwt_obj_str_is(jwk, "use", "sig")))
		return -1;
	kid = jwt_obj_str(jwk, "kid", &kidlen);
	if (!jwt_kid_valid(kid, kidlen) || !b64_coord(jwk, "x", x) || !b64_coord(jwk, "y", y))
		return -1;
	pkey = pkey_from_xy(x, y);
	if (pkey == NULL)
		return -1;
	if (keyset_push(ks, kid, pkey) != 0) {
		EVP_PKEY_free(pkey);
		return -1;
	}
	return 0;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

struct jwt_keyset *jwt_keyset_from_jwks(const char *json, size_t len, char *err, size_t errlen)
{
	const char *why = NULL;
	json_object *doc = NULL, *keys = NULL;
	struct jwt_keyset *ks = NULL;
	size_t n;

	set_err(err, errlen, "");
	doc = json != NULL ? json_parse_strict(json, len, &why) : NULL;
	if (doc == NULL || !json_object_is_type(doc, json_type_object) ||
	    !json_object_object_get_ex(doc, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array)) {
		set_err(err, errlen, "jwks is not a JSON object with a keys array");
		goto out;
	}
	ks = jwt_keyset_new();
	if (ks == NULL) {
		set_err(err, errlen, "out of memory");
		goto out;
	}
	n = json_object_array_length(keys);
	for (size_t i = 0; i < n && ks->n < JWKS_MAX_KEYS; i++)
		(void)jwk_import_one(ks, json_object_array_get_idx(keys, i));
	if (ks->n == 0) {
		set_err(err, errlen, "jwks holds no usable ES256 P-256 signing key");
		jwt_keyset_free(ks);
		ks = NULL;
	}
out:
	json_object_put(doc);
	return ks;
}

