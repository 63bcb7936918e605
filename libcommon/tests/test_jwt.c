/*
 * test_jwt.c - ES256 JWT signing/verification, the classic JWT attacks, PEM keys and JWKS.
 *
 * Crafted tokens are built with an independent signer (raw OpenSSL over the key's PEM) so a
 * header or payload that jwt_sign would never produce still carries a valid signature: a
 * rejection then proves the check itself, not a signature failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/jwt.h"

#define NOW 1700000000L
#define ISS "flatrender-identity"
#define AUD "flatrender"

struct fx {
	struct jwt_key *key;
	struct jwt_keyset *ks;
	EVP_PKEY *raw; /* the same private key, loaded independently */
};

static const struct jwt_verify_opts opts = {.issuer = ISS, .audience = AUD, .leeway_s = 30, .now = NOW};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *pem;
	BIO *bio;

	assert_non_null(f);
	f->key = jwt_key_generate("k-0011223344556677");
	assert_non_null(f->key);
	f->ks = jwt_keyset_new();
	assert_non_null(f->ks);
	assert_int_equal(jwt_keyset_add(f->ks, f->key), 0);
	pem = jwt_key_to_pem(f->key);
	assert_non_null(pem);
	bio = BIO_new_mem_buf(pem, -1);
	f->raw = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	assert_non_null(f->raw);
	BIO_free(bio);
	free(pem);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	jwt_keyset_free(f->ks);
	jwt_key_free(f->key);
	EVP_PKEY_free(f->raw);
	free(f);
	return 0;
}

static json_object *claims_new(long iat, long exp)
{
	json_object *c = json_object_new_object();

	json_object_object_add(c, "iss", json_object_new_string(ISS));
	json_object_object_add(c, "aud", json_object_new_string(AUD));
	json_object_object_add(c, "sub", json_object_new_string("6f1c2a40-7d1e-4a53-9b44-0b7f2c1d9e10"));
	json_object_object_add(c, "iat", json_object_new_int64(iat));
	json_object_object_add(c, "nbf", json_object_new_int64(iat));
	json_object_object_add(c, "exp", json_object_new_int64(exp));
	return c;
}

static char *b64(const void *data, size_t n)
{
	size_t cap = (n + 2) / 3 * 4 + 1;
	char *out = malloc(cap);

	assert_non_null(out);
	assert_true(b64url_encode(data, n, out, cap) > 0 || n == 0);
	return out;
}

/* "b64(h).b64(p)." + sig_b64 (sig_b64 may be ""), caller frees. */
static char *assemble(const char *h, const char *p, const char *sig_b64)
{
	char *hb = b64(h, strlen(h)), *pb = b64(p, strlen(p)), *t;

	assert_true(asprintf(&t, "%s.%s.%s", hb, pb, sig_b64) > 0);
	free(hb);
	free(pb);
	return t;
}

/* An ES256 signature over input made without jwt.c, as base64url R||S. */
static char *raw_sign(EVP_PKEY *pkey, const char *input)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80], rs[64];
	const unsigned char *p = der;
	size_t dlen = sizeof(der);
	const BIGNUM *r, *s;
	ECDSA_SIG *sig;

	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey), 1);
	assert_int_equal(EVP_DigestSign(md, der, &dlen, (const unsigned char *)input, strlen(input)), 1);
	EVP_MD_CTX_free(md);
	sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
	assert_non_null(sig);
	ECDSA_SIG_get0(sig, &r, &s);
	assert_int_equal(BN_bn2binpad(r, rs, 32), 32);
	assert_int_equal(BN_bn2binpad(s, rs + 32, 32), 32);
	ECDSA_SIG_free(sig);
	return b64(rs, 64);
}

/* A token with arbitrary header and payload JSON, validly ES256-signed by pkey. */
static char *craft(EVP_PKEY *pkey, const char *h, const char *p)
{
	char *unsigned_tok = assemble(h, p, ""), *sig, *t;

	unsigned_tok[strlen(unsigned_tok) - 1] = '\0'; /* drop the trailing dot */
	sig = raw_sign(pkey, unsigned_tok);
	assert_true(asprintf(&t, "%s.%s", unsigned_tok, sig) > 0);
	free(unsigned_tok);
	free(sig);
	return t;
}

static enum jwt_err verify(struct fx *f, const char *tok)
{
	return jwt_verify(f->ks, tok, strlen(tok), &opts, NULL, NULL);
}

#define HDR "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"k-0011223344556677\"}"
#define GOOD_CLAIMS "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"iat\":1700000000,\"exp\":1700000900}"

static void test_jwt_sign_verify_roundtrip(void **state)
{
	struct fx *f = *state;
	json_object *c = claims_new(NOW, NOW + 900), *out = NULL, *v = NULL;
	char kid[128];
	char *tok = jwt_sign(f->key, c);

	assert_non_null(tok);
	assert_int_equal(jwt_verify(f->ks, tok, strlen(tok), &opts, &out, kid), JWT_OK);
	assert_string_equal(kid, "k-0011223344556677");
	assert_non_null(out);
	assert_true(json_object_object_get_ex(out, "sub", &v));
	assert_string_equal(json_object_get_string(v), "6f1c2a40-7d1e-4a53-9b44-0b7f2c1d9e10");
	/* the independent signer agrees with jwt_sign's format */
	char *crafted = craft(f->raw, HDR, GOOD_CLAIMS);
	assert_int_equal(verify(f, crafted), JWT_OK);
	assert_int_equal(jwt_peek_kid(tok, strlen(tok), kid), 0);
	assert_string_equal(kid, "k-0011223344556677");
	assert_int_equal(jwt_peek_kid("garbage", 7, kid), -1);
	free(crafted);
	json_object_put(out);
	json_object_put(c);
	free(tok);
}

static void test_jwt_rejects_alg_none(void **state)
{
	struct fx *f = *state;
	char *t1 = assemble("{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k-0011223344556677\"}",
			    GOOD_CLAIMS, "");
	char *t2 = assemble("{\"alg\":\"none\"}", GOOD_CLAIMS, "");

	assert_int_equal(verify(f, t1), JWT_EALG);
	assert_int_equal(verify(f, t2), JWT_EALG);
	free(t1);
	free(t2);
}

/* The classic key-confusion attack: HS256 "signed" with the public key bytes as the secret. */
static void test_jwt_rejects_hs256_with_public_key_secret(void **state)
{
	struct fx *f = *state;
	const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k-0011223344556677\"}";
	json_object *jwk = jwt_key_public_jwk(f->key);
	const char *secrets[2];
	char pubpem[512] = "";
	BIO *bio = BIO_new(BIO_s_mem());

	assert_int_equal(PEM_write_bio_PUBKEY(bio, f->raw), 1);
	assert_true(BIO_read(bio, pubpem, sizeof(pubpem) - 1) > 0);
	BIO_free(bio);
	secrets[0] = pubpem;
	secrets[1] = json_object_to_json_string_ext(jwk, JSON_C_TO_STRING_PLAIN);
	for (int i = 0; i < 2; i++) {
		char *t = assemble(hdr, GOOD_CLAIMS, "");
		unsigned char mac[32];
		char *sig, *tok;
		t[strlen(t) - 1] = '\0';
		hmac_sha256(secrets[i], strlen(secrets[i]), t, strlen(t), mac);
		sig = b64(mac, sizeof(mac));
		assert_true(asprintf(&tok, "%s.%s", t, sig) > 0);
		assert_int_equal(verify(f, tok), JWT_EALG);
		free(t);
		free(sig);
		free(tok);
	}
	json_object_put(jwk);
}

static void test_jwt_rejects_other_algs(void **state)
{
	struct fx *f = *state;
	static const char *const hdrs[] = {
		"{\"alg\":\"RS256\",\"kid\":\"k-0011223344556677\"}",
		"{\"alg\":\"ES256 \",\"kid\":\"k-0011223344556677\"}",
		"{\"alg\":\"es256\",\"kid\":\"k-0011223344556677\"}",
		"{\"alg\":\"ES384\",\"kid\":\"k-0011223344556677\"}",
		"{\"alg\":[\"ES256\"],\"kid\":\"k-0011223344556677\"}",
		"{\"kid\":\"k-0011223344556677\"}",
	};

	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		char *t = craft(f->raw, hdrs[i], GOOD_CLAIMS); /* valid ES256 signature */
		assert_int_equal(verify(f, t), JWT_EALG);
		free(t);
	}
}

static void test_jwt_rejects_bad_kid(void **state)
{
	struct fx *f = *state;
	char kid[128] = "x";
	char *wrong = craft(f->raw, "{\"alg\":\"ES256\",\"kid\":\"k-ffffffffffffffff\"}", GOOD_CLAIMS);
	char *missing = craft(f->raw, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}", GOOD_CLAIMS);
	char *number = craft(f->raw, "{\"alg\":\"ES256\",\"kid\":7}", GOOD_CLAIMS);

	assert_int_equal(jwt_verify(f->ks, wrong, strlen(wrong), &opts, NULL, kid), JWT_EKID);
	assert_string_equal(kid, "k-ffffffffffffffff"); /* so the caller can refresh its JWKS */
	assert_int_equal(jwt_verify(f->ks, missing, strlen(missing), &opts, NULL, kid), JWT_EKID);
	assert_string_equal(kid, "");
	assert_int_equal(verify(f, number), JWT_EKID);
	free(wrong);
	free(missing);
	free(number);
}

static void test_jwt_rejects_bad_header(void **state)
{
	struct fx *f = *state;
	static const char *const hdrs[] = {
		"[\"ES256\"]",
		"\"ES256\"",
		"{\"alg\":\"ES256\",\"alg\":\"ES256\",\"kid\":\"k-0011223344556677\"}",
		"{\"alg\":\"ES256\",\"kid\":\"k-0011223344556677\",\"alg\":\"none\"}",
		"{\"alg\":\"ES256\",\"kid\":\"k-0011223344556677\",\"crit\":[\"exp\"]}",
		"{\"alg\":\"ES256\",\"kid\":\"k-0011223344556677\",\"typ\":\"JWE\"}",
		"{\"alg\":\"ES256\",\"kid\":\"k-0011223344556677\"",
		"{\"alg\":\"ES256\",\"kid\":\"k-0011223344556677\"} x",
	};

	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		char *t = craft(f->raw, hdrs[i], GOOD_CLAIMS);
		assert_int_equal(verify(f, t), JWT_EMALFORMED);
		free(t);
	}
}

static void test_jwt_rejects_tampered_payload(void **state)
{
	struct fx *f = *state;
	char *tok = craft(f->raw, HDR, GOOD_CLAIMS);
	char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
	char *claims = strdup(GOOD_CLAIMS), *pb, *forged;

	claims[strlen(claims) - 3] = '9'; /* exp 1700000900 -> 1700000990 */
	pb = b64(claims, strlen(claims));
	*d1 = '\0';
	assert_true(asprintf(&forged, "%s.%s%s", tok, pb, d2) > 0);
	assert_int_equal(verify(f, forged), JWT_ESIG);
	free(claims);
	free(pb);
	free(forged);
	free(tok);
}

static void test_jwt_rejects_tampered_signature(void **state)
{
	struct fx *f = *state;
	char *tok = craft(f->raw, HDR, GOOD_CLAIMS);
	char *sig = strrchr(tok, '.') + 1;
	char *zero = b64((unsigned char[64]){0}, 64), *t2;
	struct jwt_key *other = jwt_key_generate("k-0011223344556677");
	json_object *c = claims_new(NOW, NOW + 900);
	char *foreign = jwt_sign(other, c);

	sig[0] = sig[0] == 'A' ? 'B' : 'A';
	assert_int_equal(verify(f, tok), JWT_ESIG);
	*strrchr(tok, '.') = '\0';
	assert_true(asprintf(&t2, "%s.%s", tok, zero) > 0); /* R = S = 0 */
	assert_int_equal(verify(f, t2), JWT_ESIG);
	assert_int_equal(verify(f, foreign), JWT_ESIG); /* same kid, another key */
	free(t2);
	free(zero);
	free(tok);
	free(foreign);
	json_object_put(c);
	jwt_key_free(other);
}

static void test_jwt_rejects_malformed_shapes(void **state)
{
	struct fx *f = *state;
	char *tok = craft(f->raw, HDR, GOOD_CLAIMS);
	size_t n = strlen(tok);
	char *t;

	assert_int_equal(jwt_verify(f->ks, tok, n - 1, &opts, NULL, NULL), JWT_EMALFORMED);
	assert_int_equal(jwt_verify(f->ks, tok, n - 2, &opts, NULL, NULL), JWT_EMALFORMED);
	assert_int_equal(jwt_verify(f->ks, tok, strchr(tok, '.') - tok, &opts, NULL, NULL),
			 JWT_EMALFORMED);
	assert_true(asprintf(&t, "%s.", tok) > 0); /* extra dot */
	assert_int_equal(verify(f, t), JWT_EMALFORMED);
	free(t);
	assert_true(asprintf(&t, "%s.AAAA", tok) > 0); /* four parts */
	assert_int_equal(verify(f, t), JWT_EMALFORMED);
	free(t);
	assert_true(asprintf(&t, "%s==", tok) > 0); /* padded signature */
	assert_int_equal(verify(f, t), JWT_EMALFORMED);
	free(t);
	t = strdup(tok);
	t[3] = '+'; /* standard-base64 character in the header */
	assert_int_equal(verify(f, t), JWT_EMALFORMED);
	strcpy(t, tok);
	t[strchr(t, '.') - t + 2] = '/'; /* in the payload */
	assert_int_equal(verify(f, t), JWT_EMALFORMED);
	strcpy(t, tok);
	t[n - 1] = '+'; /* in the signature */
	assert_int_equal(verify(f, t), JWT_EMALFORMED);
	strcpy(t, tok);
	t[5] = '\0'; /* NUL inside the claimed length */
	assert_int_equal(jwt_verify(f->ks, t, n, &opts, NULL, NULL), JWT_EMALFORMED);
	free(t);
	assert_int_equal(verify(f, ""), JWT_EMALFORMED);
	assert_int_equal(verify(f, ".."), JWT_EMALFORMED);
	assert_int_equal(jwt_verify(f->ks, NULL, 0, &opts, NULL, NULL), JWT_EMALFORMED);
	free(tok);
}

static void test_jwt_rejects_oversized(void **state)
{
	struct fx *f = *state;
	json_object *c = claims_new(NOW, NOW + 900);
	char *pad = malloc(JWT_MAX_LEN);
	char *tok;

	memset(pad, 'a', JWT_MAX_LEN - 1);
	pad[JWT_MAX_LEN - 1] = '\0';
	json_object_object_add(c, "pad", json_object_new_string(pad));
	tok = jwt_sign(f->key, c); /* signs fine, but is too long to accept */
	assert_non_null(tok);
	assert_true(strlen(tok) > JWT_MAX_LEN);
	assert_int_equal(verify(f, tok), JWT_EMALFORMED);
	free(tok);
	free(pad);
	json_object_put(c);
}

static void test_jwt_time_claims(void **state)
{
	struct fx *f = *state;
	struct {
		const char *claims;
		enum jwt_err want;
	} cases[] = {
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1699999000}", JWT_EEXPIRED},
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1699999970}", JWT_EEXPIRED}, /* == now-leeway */
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1699999990}", JWT_OK},       /* in leeway */
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}", JWT_EEXPIRED},                    /* no exp */
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":\"1700000900\"}", JWT_ECLAIMS},
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":true}", JWT_ECLAIMS},
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1700000900.5}", JWT_OK},
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1700000900,\"nbf\":1700000100}", JWT_ENOTYET},
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1700000900,\"nbf\":1700000020}", JWT_OK},
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1700000900,\"nbf\":null}", JWT_ECLAIMS},
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1700000900,\"iat\":1700000031}", JWT_ENOTYET},
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1700000900,\"iat\":1700000030}", JWT_OK},
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1e999}", JWT_ECLAIMS},
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1e300}", JWT_OK},
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":-1e300}", JWT_EEXPIRED},
		{"{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":99999999999999999999}", JWT_OK},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = craft(f->raw, HDR, cases[i].claims);
		enum jwt_err got = verify(f, t);
		if (got != cases[i].want)
			fail_msg("case %zu: %s -> %s", i, cases[i].claims, jwt_strerror(got));
		free(t);
	}
}

static void test_jwt_iss_aud_claims(void **state)
{
	struct fx *f = *state;
	struct {
		const char *claims;
		enum jwt_err want;
	} cases[] = {
		{"{\"iss\":\"evil\",\"aud\":\"" AUD "\",\"exp\":1700000900}", JWT_EISS},
		{"{\"aud\":\"" AUD "\",\"exp\":1700000900}", JWT_EISS},
		{"{\"iss\":7,\"aud\":\"" AUD "\",\"exp\":1700000900}", JWT_ECLAIMS},
		{"{\"iss\":\"" ISS "\",\"aud\":\"other\",\"exp\":1700000900}", JWT_EAUD},
		{"{\"iss\":\"" ISS "\",\"aud\":\"flatrender2\",\"exp\":1700000900}", JWT_EAUD},
		{"{\"iss\":\"" ISS "\",\"exp\":1700000900}", JWT_EAUD},
		{"{\"iss\":\"" ISS "\",\"aud\":[\"x\",\"" AUD "\"],\"exp\":1700000900}", JWT_OK},
		{"{\"iss\":\"" ISS "\",\"aud\":[\"x\",\"y\"],\"exp\":1700000900}", JWT_EAUD},
		{"{\"iss\":\"" ISS "\",\"aud\":[],\"exp\":1700000900}", JWT_EAUD},
		{"{\"iss\":\"" ISS "\",\"aud\":[1,\"" AUD "\"],\"exp\":1700000900}", JWT_ECLAIMS},
		{"{\"iss\":\"" ISS "\",\"aud\":{\"a\":1},\"exp\":1700000900}", JWT_ECLAIMS},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = craft(f->raw, HDR, cases[i].claims);
		enum jwt_err got = verify(f, t);
		if (got != cases[i].want)
			fail_msg("case %zu: %s -> %s", i, cases[i].claims, jwt_strerror(got));
		free(t);
	}
}

static void test_jwt_rejects_bad_payload_json(void **state)
{
	struct fx *f = *state;
	static const char *const bodies[] = {
		"[1,2]",
		"{\"exp\":1700000900,\"exp\":1800000000,\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}",
		"{\"exp\":1700000900",
		"not json",
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char *t = craft(f->raw, HDR, bodies[i]);
		assert_int_equal(verify(f, t), JWT_EMALFORMED);
		free(t);
	}
}

static void test_jwt_pem_roundtrip(void **state)
{
	struct fx *f = *state;
	char *pem = jwt_key_to_pem(f->key);
	struct jwt_key *k2;
	json_object *c = claims_new(NOW, NOW + 60);
	char *tok;
	EVP_PKEY *p384;
	BIO *bio;
	char buf[1024] = "";

	assert_non_null(pem);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----")); /* PKCS#8 */
	k2 = jwt_key_from_pem("k-0011223344556677", pem, strlen(pem));
	assert_non_null(k2);
	assert_string_equal(jwt_key_kid(k2), "k-0011223344556677");
	tok = jwt_sign(k2, c);
	assert_int_equal(verify(f, tok), JWT_OK); /* same key, original key set */
	assert_null(jwt_key_from_pem("k1", "-----BEGIN PRIVATE KEY-----\nAAAA\n", 32));
	assert_null(jwt_key_from_pem("k1", pem, 10));
	assert_null(jwt_key_from_pem("", pem, strlen(pem)));
	/* a valid PKCS#8 key on the wrong curve */
	p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp384r1");
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, p384, NULL, NULL, 0, NULL, NULL), 1);
	assert_true(BIO_read(bio, buf, sizeof(buf) - 1) > 0);
	assert_null(jwt_key_from_pem("k1", buf, strlen(buf)));
	BIO_free(bio);
	EVP_PKEY_free(p384);
	json_object_put(c);
	free(tok);
	free(pem);
	jwt_key_free(k2);
}

static char *jwks_of(json_object *jwk1, json_object *jwk2)
{
	json_object *doc = json_object_new_object(), *keys = json_object_new_array();
	char *s;

	json_object_array_add(keys, jwk1);
	if (jwk2 != NULL)
		json_object_array_add(keys, jwk2);
	json_object_object_add(doc, "keys", keys);
	s = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
	json_object_put(doc);
	return s;
}

static void test_jwt_jwks_roundtrip(void **state)
{
	struct fx *f = *state;
	struct jwt_key *k2 = jwt_key_generate("k-2");
	char *doc = jwks_of(jwt_key_public_jwk(f->key), jwt_key_public_jwk(k2));
	char err[128];
	struct jwt_keyset *ks = jwt_keyset_from_jwks(doc, strlen(doc), err, sizeof(err));
	json_object *c = claims_new(NOW, NOW + 60), *jwk = jwt_key_public_jwk(f->key), *v;
	char *t1 = jwt_sign(f->key, c), *t2 = jwt_sign(k2, c);

	assert_non_null(ks);
	assert_int_equal(jwt_keyset_count(ks), 2);
	assert_true(jwt_keyset_has(ks, "k-2"));
	assert_false(jwt_keyset_has(ks, "k-3"));
	assert_int_equal(jwt_verify(ks, t1, strlen(t1), &opts, NULL, NULL), JWT_OK);
	assert_int_equal(jwt_verify(ks, t2, strlen(t2), &opts, NULL, NULL), JWT_OK);
	assert_int_equal(verify(f, t2), JWT_EKID); /* the fixture's set lacks k-2 */
	assert_true(json_object_object_get_ex(jwk, "x", &v));
	assert_int_equal(json_object_get_string_len(v), 43);
	assert_true(json_object_object_get_ex(jwk, "kty", &v));
	assert_string_equal(json_object_get_string(v), "EC");
	assert_false(json_object_object_get_ex(jwk, "d", NULL)); /* no private part */
	assert_int_equal(jwt_keyset_add(ks, k2), -1);           /* duplicate kid */
	json_object_put(jwk);
	json_object_put(c);
	free(t1);
	free(t2);
	free(doc);
	jwt_keyset_free(ks);
	jwt_key_free(k2);
}

/* Replaces member key of the JWK with a base64url of 32 bytes. */
static void jwk_set_coord(json_object *jwk, const char *key, const unsigned char v[32])
{
	char *s = b64(v, 32);

	json_object_object_add(jwk, key, json_object_new_string(s));
	free(s);
}

static void test_jwt_jwks_rejects_off_curve_point(void **state)
{
	struct fx *f = *state;
	json_object *good = jwt_key_public_jwk(f->key), *bad = jwt_key_public_jwk(f->key), *y;
	unsigned char yb[32];
	char err[128] = "";
	char *doc;
	struct jwt_keyset *ks;

	assert_true(json_object_object_get_ex(bad, "y", &y));
	assert_int_equal(b64url_decode(json_object_get_string(y), 43, yb, 32), 32);
	yb[31] ^= 0x01; /* (x, y') is not on P-256 */
	jwk_set_coord(bad, "y", yb);
	json_object_object_add(bad, "kid", json_object_new_string("k-bad"));
	json_object_get(bad);
	doc = jwks_of(bad, NULL);
	assert_null(jwt_keyset_from_jwks(doc, strlen(doc), err, sizeof(err)));
	assert_true(strlen(err) > 0);
	free(doc);
	doc = jwks_of(bad, good); /* skipped, the good key stays usable */
	ks = jwt_keyset_from_jwks(doc, strlen(doc), err, sizeof(err));
	assert_non_null(ks);
	assert_int_equal(jwt_keyset_count(ks), 1);
	assert_false(jwt_keyset_has(ks, "k-bad"));
	jwt_keyset_free(ks);
	free(doc);
}

static void test_jwt_jwks_skips_unusable_keys(void **state)
{
	struct fx *f = *state;
	json_object *jwk = jwt_key_public_jwk(f->key), *x;
	const char *xs, *ys;
	char doc[2048], err[128];
	struct jwt_keyset *ks;

	assert_true(json_object_object_get_ex(jwk, "x", &x));
	xs = json_object_get_string(x);
	assert_true(json_object_object_get_ex(jwk, "y", &x));
	ys = json_object_get_string(x);
	snprintf(doc, sizeof(doc),
		 "{\"keys\":["
		 "{\"kty\":\"RSA\",\"kid\":\"r1\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
		 "{\"kty\":\"oct\",\"kid\":\"o1\",\"k\":\"c2VjcmV0\"},"
		 "{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"e1\",\"x\":\"%s\",\"y\":\"%s\"},"
		 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"e2\",\"alg\":\"ES384\",\"x\":\"%s\",\"y\":\"%s\"},"
		 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"e3\",\"use\":\"enc\",\"x\":\"%s\",\"y\":\"%s\"},"
		 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"e4\",\"x\":\"%.42s\",\"y\":\"%s\"},"
		 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
		 "\"junk\",7,"
		 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ok\",\"x\":\"%s\",\"y\":\"%s\"}]}",
		 xs, ys, xs, ys, xs, ys, xs, ys, xs, ys, xs, ys);
	ks = jwt_keyset_from_jwks(doc, strlen(doc), err, sizeof(err));
	assert_non_null(ks);
	assert_int_equal(jwt_keyset_count(ks), 1);
	assert_true(jwt_keyset_has(ks, "ok"));
	jwt_keyset_free(ks);
	json_object_put(jwk);
}

static void test_jwt_jwks_rejects_empty_and_malformed(void **state)
{
	static const char *const docs[] = {
		"{\"keys\":[]}", "{}", "{\"keys\":{}}", "[]", "not json", "",
		"{\"keys\":[{\"kty\":\"RSA\"}]}",
	};
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		err[0] = '\0';
		assert_null(jwt_keyset_from_jwks(docs[i], strlen(docs[i]), err, sizeof(err)));
		assert_true(strlen(err) > 0);
	}
	assert_null(jwt_keyset_from_jwks(NULL, 0, NULL, 0));
}

struct thread_arg {
	struct fx *f;
	int ok;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;

	for (int i = 0; i < 50; i++) {
		json_object *c = claims_new(NOW, NOW + 60);
		char *t = jwt_sign(a->f->key, c);
		if (t != NULL && verify(a->f, t) == JWT_OK)
			a->ok++;
		free(t);
		json_object_put(c);
	}
	return NULL;
}

static void test_jwt_concurrent_sign_verify(void **state)
{
	struct thread_arg args[4];
	pthread_t th[4];

	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){.f = *state};
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].ok, 50);
	}
}

static void test_jwt_key_generate_rejects_bad_kid(void **state)
{
	char longkid[200];

	(void)state;
	memset(longkid, 'k', sizeof(longkid) - 1);
	longkid[sizeof(longkid) - 1] = '\0';
	assert_null(jwt_key_generate(NULL));
	assert_null(jwt_key_generate(""));
	assert_null(jwt_key_generate(longkid));
	assert_string_equal(jwt_strerror(JWT_EALG), "unsupported algorithm");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_jwt_sign_verify_roundtrip),
		T(test_jwt_rejects_alg_none),
		T(test_jwt_rejects_hs256_with_public_key_secret),
		T(test_jwt_rejects_other_algs),
		T(test_jwt_rejects_bad_kid),
		T(test_jwt_rejects_bad_header),
		T(test_jwt_rejects_tampered_payload),
		T(test_jwt_rejects_tampered_signature),
		T(test_jwt_rejects_malformed_shapes),
		T(test_jwt_rejects_oversized),
		T(test_jwt_time_claims),
		T(test_jwt_iss_aud_claims),
		T(test_jwt_rejects_bad_payload_json),
		T(test_jwt_pem_roundtrip),
		T(test_jwt_jwks_roundtrip),
		T(test_jwt_jwks_rejects_off_curve_point),
		T(test_jwt_jwks_skips_unusable_keys),
		T(test_jwt_jwks_rejects_empty_and_malformed),
		T(test_jwt_concurrent_sign_verify),
		cmocka_unit_test(test_jwt_key_generate_rejects_bad_kid),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
