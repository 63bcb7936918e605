/*
 * jwt.c - ES256 JSON Web Tokens and JWK Sets over OpenSSL 3 (see jwt.h for the contract).
 *
 * Owns the EVP_PKEY objects inside struct jwt_key and struct jwt_keyset. Both are read-only
 * after construction, and every sign/verify call makes its own EVP_MD_CTX, so one key or key
 * set may be used from several threads at once.
 *
 * Verification order: size and shape (exactly two dots, base64url parts), header (strict JSON
 * object, alg == "ES256", no crit, typ "JWT" if present, kid known), signature (64-byte R||S),
 * and only then the payload JSON and its claims. Nothing the token says chooses an algorithm.
 */
#include "common/jwt.h"

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

#define KID_MAX 127        /* kid buffers hold 128 bytes */
#define JWKS_MAX_KEYS 64   /* keys beyond this in one JWKS document are ignored */
#define SIG_B64_LEN 86     /* 64 bytes, base64url without padding */
#define CURVE_NAME "prime256v1"

struct jwt_key {
	char kid[KID_MAX + 1];
	EVP_PKEY *pkey; /* private P-256 key */
};

struct jwt_pub {
	char kid[KID_MAX + 1];
	EVP_PKEY *pkey; /* public P-256 key */
};

struct jwt_keyset {
	struct jwt_pub *keys;
	size_t n, cap;
};

struct jwt_parts {
	const char *h, *p, *s;
	size_t hn, pn, sn;
};

/* ---- EC key helpers ------------------------------------------------------------------- */

static bool kid_valid(const char *kid, size_t len)
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
	if (kid == NULL || !kid_valid(kid, strlen(kid)))
		return NULL;
	return key_wrap(kid, EVP_PKEY_Q_keygen(NULL, NULL, "EC", CURVE_NAME));
}

struct jwt_key *jwt_key_from_pem(const char *kid, const char *pem, size_t len)
{
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *priv = NULL;

	if (kid == NULL || !kid_valid(kid, strlen(kid)) || pem == NULL || len == 0 ||
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

/* ---- signatures ----------------------------------------------------------------------- */

/* DER ECDSA-Sig-Value -> JOSE R || S. */
static int sig_der_to_jose(const unsigned char *der, size_t n, unsigned char out[64])
{
	const unsigned char *p = der;
	const BIGNUM *r = NULL, *s = NULL;
	ECDSA_SIG *sig;
	int rc = -1;

	if (n > INT32_MAX)
		return -1;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)n);
	if (sig == NULL)
		return -1;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(s, out + 32, 32) == 32)
		rc = 0;
	ECDSA_SIG_free(sig);
	return rc;
}

/* JOSE R || S -> DER, allocated by OpenSSL (OPENSSL_free). */
static unsigned char *sig_jose_to_der(const unsigned char in[64], size_t *outlen)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(in, 32, NULL), *s = BN_bin2bn(in + 32, 32, NULL);
	unsigned char *der = NULL;
	int n;

	if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return NULL;
	}
	n = i2d_ECDSA_SIG(sig, &der); /* sig now owns r and s */
	ECDSA_SIG_free(sig);
	if (n <= 0)
		return NULL;
	*outlen = (size_t)n;
	return der;
}

static int es256_sign(EVP_PKEY *pkey, const char *msg, size_t n, unsigned char out[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80]; /* a P-256 DER signature is at most 72 bytes */
	size_t dlen = sizeof(der);
	int rc = -1;

	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestSign(md, der, &dlen, (const unsigned char *)msg, n) != 1)
		goto out;
	rc = sig_der_to_jose(der, dlen, out);
out:
	EVP_MD_CTX_free(md);
	return rc;
}

static bool es256_verify(EVP_PKEY *pkey, const char *msg, size_t n, const unsigned char sig[64])
{
	EVP_MD_CTX *md = NULL;
	unsigned char *der = NULL;
	size_t dlen = 0;
	bool ok = false;

	der = sig_jose_to_der(sig, &dlen);
	md = EVP_MD_CTX_new();
	if (der == NULL || md == NULL ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) != 1)
		goto out;
	ok = EVP_DigestVerify(md, der, dlen, (const unsigned char *)msg, n) == 1;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	return ok;
}

/* Appends base64url(data) to buf at *pos; buf has cap bytes. */
static int b64_append(char *buf, size_t cap, size_t *pos, const void *data, size_t n)
{
	size_t w = b64url_encode(data, n, buf + *pos, cap - *pos);

	if (w == 0 && n > 0)
		return -1;
	*pos += w;
	return 0;
}

char *jwt_sign(const struct jwt_key *k, json_object *claims)
{
	const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
	json_object *hdr = NULL;
	const char *hs, *ps;
	unsigned char sig[64];
	char *tok = NULL;
	size_t hn, pn, cap, pos = 0;

	if (k == NULL || claims == NULL || !json_object_is_type(claims, json_type_object))
		return NULL;
	hdr = json_object_new_object();
	if (hdr == NULL)
		return NULL;
	json_object_object_add(hdr, "alg", json_object_new_string("ES256"));
	json_object_object_add(hdr, "typ", json_object_new_string("JWT"));
	json_object_object_add(hdr, "kid", json_object_new_string(k->kid));
	hs = json_object_to_json_string_ext(hdr, flags);
	ps = json_object_to_json_string_ext(claims, flags);
	if (hs == NULL || ps == NULL)
		goto fail;
	hn = strlen(hs);
	pn = strlen(ps);
	cap = (hn + 2) / 3 * 4 + (pn + 2) / 3 * 4 + SIG_B64_LEN + 4;
	tok = malloc(cap);
	if (tok == NULL || b64_append(tok, cap, &pos, hs, hn) != 0)
		goto fail;
	tok[pos++] = '.';
	if (b64_append(tok, cap, &pos, ps, pn) != 0 || es256_sign(k->pkey, tok, pos, sig) != 0)
		goto fail;
	tok[pos++] = '.';
	if (b64_append(tok, cap, &pos, sig, sizeof(sig)) != 0)
		goto fail;
	json_object_put(hdr);
	return tok;
fail:
	free(tok);
	json_object_put(hdr);
	return NULL;
}

/* ---- key sets ------------------------------------------------------------------------- */

struct jwt_keyset *jwt_keyset_new(void)
{
	return calloc(1, sizeof(struct jwt_keyset));
}

static EVP_PKEY *keyset_find(const struct jwt_keyset *ks, const char *kid)
{
	for (size_t i = 0; ks != NULL && kid != NULL && i < ks->n; i++)
		if (strcmp(ks->keys[i].kid, kid) == 0)
			return ks->keys[i].pkey;
	return NULL;
}

/* Takes pkey on success (0); -1 on a duplicate kid or no memory, pkey untouched. */
static int keyset_push(struct jwt_keyset *ks, const char *kid, EVP_PKEY *pkey)
{
	if (keyset_find(ks, kid) != NULL)
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
	return keyset_find(ks, kid) != NULL;
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
static const char *obj_str(json_object *o, const char *key, size_t *len)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	if (len != NULL)
		*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

static bool obj_str_is(json_object *o, const char *key, const char *want)
{
	size_t n = 0;
	const char *s = obj_str(o, key, &n);

	return s != NULL && n == strlen(want) && memcmp(s, want, n) == 0;
}

static bool b64_coord(json_object *jwk, const char *key, unsigned char out[32])
{
	size_t n = 0;
	const char *s = obj_str(jwk, key, &n);

	return s != NULL && b64url_decode(s, n, out, 32) == 32;
}

/* Adds one JWK when it is an EC P-256 ES256 signing key; -1 (skipped) otherwise. */
static int jwk_import_one(struct jwt_keyset *ks, json_object *jwk)
{
	unsigned char x[32], y[32];
	const char *kid;
	size_t kidlen = 0;
	EVP_PKEY *pkey;

	if (!json_object_is_type(jwk, json_type_object) || !obj_str_is(jwk, "kty", "EC") ||
	    !obj_str_is(jwk, "crv", "P-256"))
		return -1;
	if ((json_object_object_get_ex(jwk, "alg", NULL) && !obj_str_is(jwk, "alg", "ES256")) ||
	    (json_object_object_get_ex(jwk, "use", NULL) && !obj_str_is(jwk, "use", "sig")))
		return -1;
	kid = obj_str(jwk, "kid", &kidlen);
	if (!kid_valid(kid, kidlen) || !b64_coord(jwk, "x", x) || !b64_coord(jwk, "y", y))
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

/* ---- verification --------------------------------------------------------------------- */

const char *jwt_strerror(enum jwt_err e)
{
	switch (e) {
	case JWT_OK: return "ok";
	case JWT_EMALFORMED: return "malformed token";
	case JWT_EALG: return "unsupported algorithm";
	case JWT_EKID: return "unknown key id";
	case JWT_ESIG: return "bad signature";
	case JWT_EEXPIRED: return "token expired";
	case JWT_ENOTYET: return "token not yet valid";
	case JWT_EISS: return "wrong issuer";
	case JWT_EAUD: return "wrong audience";
	case JWT_ECLAIMS: return "bad claims";
	}
	return "unknown error";
}

/* header.payload.signature: exactly two dots, a bounded length, no NUL. */
static int split(const char *tok, size_t len, struct jwt_parts *pt)
{
	const char *d1, *d2;

	if (tok == NULL || len == 0 || len > JWT_MAX_LEN || memchr(tok, '\0', len) != NULL)
		return -1;
	d1 = memchr(tok, '.', len);
	if (d1 == NULL)
		return -1;
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
	if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
		return -1;
	pt->h = tok;
	pt->hn = (size_t)(d1 - tok);
	pt->p = d1 + 1;
	pt->pn = (size_t)(d2 - pt->p);
	pt->s = d2 + 1;
	pt->sn = len - (size_t)(pt->s - tok);
	return pt->hn > 0 && pt->pn > 0 ? 0 : -1;
}

/* Decodes a base64url part into a new NUL-terminated buffer (caller frees). */
static char *part_decode(const char *p, size_t n, size_t *outlen)
{
	size_t cap = n / 4 * 3 + 3;
	char *buf = malloc(cap + 1);
	ssize_t r;

	if (buf == NULL)
		return NULL;
	r = b64url_decode(p, n, (unsigned char *)buf, cap);
	if (r <= 0) {
		free(buf);
		return NULL;
	}
	buf[r] = '\0';
	*outlen = (size_t)r;
	return buf;
}

/* A strict JSON object from a base64url part, or NULL. */
static json_object *part_json(const char *p, size_t n)
{
	size_t len = 0;
	char *raw = part_decode(p, n, &len);
	const char *why = NULL;
	json_object *o;

	if (raw == NULL)
		return NULL;
	o = json_parse_strict(raw, len, &why);
	free(raw);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* Copies the header kid into kid (128 bytes) when it is a usable string; -1 otherwise. */
static int header_kid(json_object *hdr, char kid[KID_MAX + 1])
{
	size_t n = 0;
	const char *s = obj_str(hdr, "kid", &n);

	if (!kid_valid(s, n))
		return -1;
	memcpy(kid, s, n);
	kid[n] = '\0';
	return 0;
}

static enum jwt_err header_check(json_object *hdr, char kid[KID_MAX + 1])
{
	if (!obj_str_is(hdr, "alg", "ES256"))
		return JWT_EALG;
	if (json_object_object_get_ex(hdr, "crit", NULL))
		return JWT_EMALFORMED; /* we understand no extensions */
	if (json_object_object_get_ex(hdr, "typ", NULL) && !obj_str_is(hdr, "typ", "JWT"))
		return JWT_EMALFORMED;
	return header_kid(hdr, kid) == 0 ? JWT_OK : JWT_EKID;
}

/* A NumericDate claim: 1 present (*out set), 0 absent, -1 present with a wrong type. */
static int claim_time(json_object *c, const char *key, int64_t *out)
{
	json_object *v = NULL;
	double d;

	if (!json_object_object_get_ex(c, key, &v))
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v); /* saturates beyond int64 */
		return 1;
	}
	if (!json_object_is_type(v, json_type_double))
		return -1;
	d = json_object_get_double(v);
	if (!isfinite(d))
		return -1;
	if (d >= 9.2e18)
		*out = INT64_MAX;
	else if (d <= -9.2e18)
		*out = INT64_MIN;
	else
		*out = (int64_t)floor(d);
	return 1;
}

static enum jwt_err aud_check(json_object *c, const char *want)
{
	json_object *aud = NULL;
	size_t n;

	if (!json_object_object_get_ex(c, "aud", &aud))
		return JWT_EAUD;
	if (json_object_is_type(aud, json_type_string))
		return obj_str_is(c, "aud", want) ? JWT_OK : JWT_EAUD;
	if (!json_object_is_type(aud, json_type_array))
		return JWT_ECLAIMS;
	n = json_object_array_length(aud);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(aud, i);
		if (!json_object_is_type(e, json_type_string))
			return JWT_ECLAIMS;
		if ((size_t)json_object_get_string_len(e) == strlen(want) &&
		    memcmp(json_object_get_string(e), want, strlen(want)) == 0)
			return JWT_OK;
	}
	return JWT_EAUD;
}

static enum jwt_err claims_check(json_object *c, const struct jwt_verify_opts *o)
{
	int64_t now = o != NULL && o->now != 0 ? (int64_t)o->now : (int64_t)time(NULL);
	int64_t leeway = o != NULL ? o->leeway_s : 0;
	int64_t exp = 0, nbf = 0, iat = 0;
	int r;

	if (leeway < 0)
		leeway = 0;
	if (leeway > 86400)
		leeway = 86400;
	r = claim_time(c, "exp", &exp);
	if (r < 0)
		return JWT_ECLAIMS;
	if (r == 0 || exp <= now - leeway)
		return JWT_EEXPIRED;
	r = claim_time(c, "nbf", &nbf);
	if (r < 0)
		return JWT_ECLAIMS;
	if (r == 1 && nbf > now + leeway)
		return JWT_ENOTYET;
	r = claim_time(c, "iat", &iat);
	if (r < 0)
		return JWT_ECLAIMS;
	if (r == 1 && iat > now + leeway)
		return JWT_ENOTYET;
	if (o != NULL && o->issuer != NULL) {
		json_object *iss = NULL;
		if (json_object_object_get_ex(c, "iss", &iss) &&
		    !json_object_is_type(iss, json_type_string))
			return JWT_ECLAIMS;
		if (!obj_str_is(c, "iss", o->issuer))
			return JWT_EISS;
	}
	if (o != NULL && o->audience != NULL)
		return aud_check(c, o->audience);
	return JWT_OK;
}

enum jwt_err jwt_verify(const struct jwt_keyset *ks, const char *token, size_t len,
			const struct jwt_verify_opts *o, json_object **claims, char *kid_out)
{
	struct jwt_parts pt;
	json_object *hdr = NULL, *payload = NULL;
	unsigned char sig[64];
	char kid[KID_MAX + 1] = "", *body = NULL;
	const char *why = NULL;
	size_t blen = 0;
	EVP_PKEY *pkey;
	enum jwt_err e = JWT_EMALFORMED;

	if (claims != NULL)
		*claims = NULL;
	if (kid_out != NULL)
		kid_out[0] = '\0';
	if (split(token, len, &pt) != 0 || (hdr = part_json(pt.h, pt.hn)) == NULL)
		goto out;
	e = header_check(hdr, kid);
	if (kid_out != NULL && e != JWT_EALG)
		memcpy(kid_out, kid, sizeof(kid));
	if (e != JWT_OK)
		goto out;
	pkey = keyset_find(ks, kid);
	if (pkey == NULL) {
		e = JWT_EKID;
		goto out;
	}
	e = JWT_EMALFORMED;
	if (pt.sn != SIG_B64_LEN || b64url_decode(pt.s, pt.sn, sig, sizeof(sig)) != 64 ||
	    (body = part_decode(pt.p, pt.pn, &blen)) == NULL)
		goto out;
	if (!es256_verify(pkey, token, pt.hn + 1 + pt.pn, sig)) {
		e = JWT_ESIG;
		goto out;
	}
	payload = json_parse_strict(body, blen, &why);
	if (payload == NULL || !json_object_is_type(payload, json_type_object))
		goto out;
	e = claims_check(payload, o);
	if (e == JWT_OK && claims != NULL) {
		*claims = payload;
		payload = NULL;
	}
out:
	json_object_put(payload);
	json_object_put(hdr);
	free(body);
	return e;
}

int jwt_peek_kid(const char *token, size_t len, char *kid)
{
	struct jwt_parts pt;
	json_object *hdr = NULL;
	int rc = -1;

	if (kid == NULL)
		return -1;
	kid[0] = '\0';
	if (split(token, len, &pt) != 0 || (hdr = part_json(pt.h, pt.hn)) == NULL)
		return -1;
	rc = header_kid(hdr, kid);
	json_object_put(hdr);
	return rc;
}
