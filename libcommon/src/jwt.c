/*
 * jwt.c - ES256 JSON Web Tokens over OpenSSL 3: signing and verification (see jwt.h for the
 * contract; keys and key sets live in jwk.c).
 *
 * Owns nothing long-lived. Every sign/verify call makes its own EVP_MD_CTX, so one key or key
 * set may be used from several threads at once.
 *
 * Verification order: size and shape (exactly two dots, base64url parts), header (strict JSON
 * object, alg == "ES256", no crit, typ "JWT" if present, kid known), signature (64-byte R||S),
 * and only then the payload JSON and its claims. Nothing the token says chooses an algorithm.
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

struct jwt_parts {
	const char *h, *p, *s;
	size_t hn, pn, sn;
};

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
	const char *s = jwt_obj_str(hdr, "kid", &n);

	if (!jwt_kid_valid(s, n))
		return -1;
	memcpy(kid, s, n);
	kid[n] = '\0';
	return 0;
}

static enum jwt_err header_check(json_object *hdr, char kid[KID_MAX + 1])
{
	if (!jwt_obj_str_is(hdr, "alg", "ES256"))
		return JWT_EALG;
	if (json_object_object_get_ex(hdr, "crit", NULL))
		return JWT_EMALFORMED; /* we understand no extensions */
	if (json_object_object_get_ex(hdr, "typ", NULL) && !jwt_obj_str_is(hdr, "typ", "JWT"))
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
		return jwt_obj_str_is(c, "aud", want) ? JWT_OK : JWT_EAUD;
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
		if (!jwt_obj_str_is(c, "iss", o->issuer))
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
	pkey = jwt_keyset_find(ks, kid);
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
