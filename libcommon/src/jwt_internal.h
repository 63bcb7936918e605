/*
 * jwt_internal.h - what jwt.c (tokens) and jwk.c (keys, PEM, JWKS) share; private to libcommon.
 */
#ifndef COMMON_JWT_INTERNAL_H
#define COMMON_JWT_INTERNAL_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/jwt.h"

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

/* True for a kid of 1..KID_MAX bytes with no NUL inside. */
bool jwt_kid_valid(const char *kid, size_t len);
/* The public key for kid in ks (borrowed), or NULL. */
EVP_PKEY *jwt_keyset_find(const struct jwt_keyset *ks, const char *kid);
/* The string member key of o (and its length in *len when len != NULL), or NULL when absent
 * or not a string. */
const char *jwt_obj_str(json_object *o, const char *key, size_t *len);
/* True when member key of o is the string want. */
bool jwt_obj_str_is(json_object *o, const char *key, const char *want);

#endif
