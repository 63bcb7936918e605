/*
 * crypto.h - small cryptographic helpers over OpenSSL: randomness, ids, digests, MACs,
 * constant-time comparison, base64url, and authenticated encryption of secrets at rest.
 */
#ifndef COMMON_CRYPTO_H
#define COMMON_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MUST_CHECK __attribute__((warn_unused_result))
#define UUID_STR_LEN 37 /* 36 characters + NUL */

/* Cryptographically secure random bytes; 0 on success, -1 on failure. */
int crypto_random(void *buf, size_t n) MUST_CHECK;
/* Random version-4 UUID, lower-case canonical form. */
void uuid_v4(char out[UUID_STR_LEN]);
/* True when s is a canonical UUID (any version, either case, exactly 36 characters). */
bool uuid_valid(const char *s);

void sha256(const void *data, size_t n, unsigned char out[32]);
/* Lower-case hex SHA-256 of data. */
void sha256_hex(const void *data, size_t n, char out[65]);
void hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32]);
void hex_encode(const unsigned char *in, size_t n, char *out /* 2n+1 */);
/* Decodes exactly 2*outlen hex digits (either case); -1 on a bad digit or length. */
int hex_decode(const char *in, size_t inlen, unsigned char *out, size_t outlen) MUST_CHECK;

/* Constant-time comparisons: time depends only on the lengths, never on the contents. */
bool ct_equal(const void *a, const void *b, size_t n);
bool ct_streq(const char *a, const char *b);

/* base64url without padding. encode: returns the length written (NUL-terminated), or 0 when
 * outcap is too small (needs 4*ceil(n/3)+1). decode: accepts no padding and no other
 * characters; returns the decoded length or -1. */
size_t b64url_encode(const void *in, size_t n, char *out, size_t outcap);
ssize_t b64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap);

/* A new random token of nbytes random bytes, base64url-encoded; caller frees. NULL on failure. */
char *crypto_token(size_t nbytes);

/* AES-256-GCM sealing of small secrets at rest (e.g. signing keys in the database).
 * key is 32 bytes. seal: out = nonce(12) | ciphertext | tag(16), returns malloc'd buffer and
 * sets *outlen; open: returns malloc'd plaintext (NUL-terminated for convenience) or NULL
 * when the data was tampered with or the key is wrong. aad may be NULL. */
unsigned char *crypto_seal(const unsigned char key[32], const void *plain, size_t n,
			   const char *aad, size_t *outlen);
unsigned char *crypto_open(const unsigned char key[32], const void *sealed, size_t n,
			   const char *aad, size_t *outlen);

#endif
