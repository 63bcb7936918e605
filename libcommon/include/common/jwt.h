/*
 * jwt.h - JSON Web Tokens signed with ES256 (ECDSA P-256 / SHA-256) and JWK Sets, over OpenSSL.
 *
 * Identity holds private keys (struct jwt_key) and signs; the gateway and services hold only
 * a public key set (struct jwt_keyset) built from identity's JWKS document and verify.
 * Only ES256 is accepted: "none", HS* and every other alg are rejected before any key is used,
 * so a token "signed" with the public key as an HMAC secret can never verify.
 *
 * Signatures are the JOSE form (R || S, 64 bytes), not DER.
 */
#ifndef COMMON_JWT_H
#define COMMON_JWT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define MUST_CHECK __attribute__((warn_unused_result))
#define JWT_MAX_LEN 8192 /* longer tokens are rejected as malformed */

struct jwt_key; /* a private signing key with its kid */

/* New random P-256 key. NULL on failure. */
struct jwt_key *jwt_key_generate(const char *kid);
/* From a PKCS#8 PEM private key. NULL on failure. */
struct jwt_key *jwt_key_from_pem(const char *kid, const char *pem, size_t len);
/* PKCS#8 PEM of the private key, malloc'd, NUL-terminated; caller frees. */
char *jwt_key_to_pem(const struct jwt_key *k);
const char *jwt_key_kid(const struct jwt_key *k);
/* The public JWK {kty:"EC",crv:"P-256",x,y,kid,alg:"ES256",use:"sig"}; caller puts it. */
json_object *jwt_key_public_jwk(const struct jwt_key *k);
void jwt_key_free(struct jwt_key *k);

/* Signs claims (borrowed) into a compact JWS with header {alg:"ES256",typ:"JWT",kid}.
 * Returns a malloc'd token or NULL. */
char *jwt_sign(const struct jwt_key *k, json_object *claims);

struct jwt_keyset; /* kid -> public key */

/* From a JWKS document {"keys":[...]}; keys that are not EC P-256 ES256 signing keys are
 * skipped. NULL (and a reason in err) when the document is malformed or holds no usable key. */
struct jwt_keyset *jwt_keyset_from_jwks(const char *json, size_t len, char *err, size_t errlen);
/* An empty set to which jwt_keyset_add adds public halves of private keys (identity, tests). */
struct jwt_keyset *jwt_keyset_new(void);
int jwt_keyset_add(struct jwt_keyset *ks, const struct jwt_key *k) MUST_CHECK;
bool jwt_keyset_has(const struct jwt_keyset *ks, const char *kid);
size_t jwt_keyset_count(const struct jwt_keyset *ks);
void jwt_keyset_free(struct jwt_keyset *ks);

enum jwt_err {
	JWT_OK = 0,
	JWT_EMALFORMED,   /* not three base64url parts of JSON, too long, bad header */
	JWT_EALG,         /* alg is not ES256 (none, HS256, RS256, ...) */
	JWT_EKID,         /* kid missing or not in the key set */
	JWT_ESIG,         /* signature does not verify */
	JWT_EEXPIRED,     /* exp <= now - leeway, or exp missing */
	JWT_ENOTYET,      /* nbf or iat in the future beyond leeway */
	JWT_EISS,         /* iss differs */
	JWT_EAUD,         /* aud (string or array) does not contain the expected audience */
	JWT_ECLAIMS,      /* a required claim is missing or has the wrong type */
};
const char *jwt_strerror(enum jwt_err e);

struct jwt_verify_opts {
	const char *issuer;   /* required iss; NULL = not checked */
	const char *audience; /* required aud; NULL = not checked */
	long leeway_s;        /* clock skew allowed on exp/nbf/iat */
	time_t now;           /* 0 = time(NULL) */
};

/* Verifies a compact token. On JWT_OK and claims != NULL, *claims is the payload object
 * (caller puts it). *kid_out (optional, may be NULL) receives the header kid for JWT_EKID, so
 * the caller can refresh its key set; it must hold 128 bytes. */
enum jwt_err jwt_verify(const struct jwt_keyset *ks, const char *token, size_t len,
			const struct jwt_verify_opts *o, json_object **claims, char *kid_out);

/* Reads the header kid without verifying anything (for cache keys and refresh decisions).
 * Returns 0 and fills kid (128 bytes), or -1. */
int jwt_peek_kid(const char *token, size_t len, char *kid) MUST_CHECK;

#endif
