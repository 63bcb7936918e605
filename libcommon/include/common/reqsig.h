/*
 * reqsig.h - the request-signing contract of API-key callers (contracts/README.md, "Request
 * signing"): header parsing and validation, the canonical query, the signed message and the
 * constant-time signature check.
 *
 * Pure functions (no I/O, no globals, thread-safe). A signed request carries
 *   X-API-Key    the full key: "fr_live_" or "fr_test_" + 8 base62 (lookup id) + 32 base62
 *   X-Timestamp  Unix seconds, canonical decimal
 *   X-Nonce      16..64 characters of [A-Za-z0-9_-]
 *   X-Signature  lower-case hex HMAC-SHA256(key = hex SHA-256(full key), message)
 * and the message is these six lines joined by '\n':
 *   timestamp, nonce, METHOD, path, canonical query, hex SHA-256(body)
 * where the canonical query is the raw query string's non-empty '&'-separated pairs sorted
 * bytewise (memcmp, shorter first on a tie) and joined by '&', without decoding or
 * re-encoding anything.
 */
#ifndef COMMON_REQSIG_H
#define COMMON_REQSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REQSIG_WINDOW_S 300 /* |now - X-Timestamp| must not exceed this */
#define REQSIG_NONCE_MIN 16
#define REQSIG_NONCE_MAX 64
#define REQSIG_KEY_LEN 48    /* "fr_live_" + 8 + 32 */
#define REQSIG_PREFIX_LEN 16 /* "fr_live_" + the 8-character lookup id */
#define REQSIG_TS_MAX_DIGITS 12

/* Why a request's signing headers were refused before any lookup. */
enum reqsig_status {
	REQSIG_OK = 0,
	REQSIG_MISSING,       /* one of the four headers is absent: signature_missing */
	REQSIG_KEY_MALFORMED, /* X-API-Key is not a well-formed key: api_key_invalid */
	REQSIG_BAD_TIMESTAMP, /* X-Timestamp is not canonical decimal seconds: signature_invalid */
	REQSIG_BAD_NONCE,     /* X-Nonce has the wrong length or characters: signature_invalid */
	REQSIG_BAD_SIGNATURE, /* X-Signature is not 64 lower-case hex digits: signature_invalid */
};

/* The raw header values; NULL = absent. */
struct reqsig_headers {
	const char *api_key, *timestamp, *nonce, *signature;
};

/* A request's signing headers, validated. */
struct reqsig_parsed {
	char key_prefix[REQSIG_PREFIX_LEN + 1]; /* "fr_live_XXXXXXXX" */
	char key_hash[65]; /* hex SHA-256 of the full key: the HMAC key and what identity stores */
	char timestamp[REQSIG_TS_MAX_DIGITS + 1];
	int64_t ts;
	char nonce[REQSIG_NONCE_MAX + 1];
	char signature[65];
	bool live; /* fr_live_ (else fr_test_) */
};

/* Checks the four headers; on REQSIG_OK fills *out (else zeroes it). */
enum reqsig_status reqsig_parse(const struct reqsig_headers *h, struct reqsig_parsed *out);

/* The error code of a status ("signature_missing", "api_key_invalid", "signature_invalid"),
 * NULL for REQSIG_OK. */
const char *reqsig_status_code(enum reqsig_status s);

/* True when the full key has the documented shape (prefix, length, base62). */
bool reqsig_key_valid(const char *key);

/* True when ts is within REQSIG_WINDOW_S of now (both ends inclusive). */
bool reqsig_ts_in_window(int64_t ts, int64_t now);

/* Writes the canonical form of the raw query q (qlen bytes, no '?') into out, which must hold
 * qlen + 1 bytes (the canonical form is never longer); returns its length, or -1 on OOM. */
long reqsig_canonical_query(const char *q, size_t qlen, char *out);

/* The message to sign, malloc'd (NUL-terminated, caller frees), *len its length. path and
 * query are raw bytes (query without '?', may be empty); NULL on OOM. */
char *reqsig_message(const char *timestamp, const char *nonce, const char *method, const char *path,
		     size_t path_len, const char *query, size_t query_len, const void *body,
		     size_t body_len, size_t *len);

/* The lower-case hex signature of a message under the key's hash (hex SHA-256 of the key). */
void reqsig_sign(const char key_hash[65], const char *msg, size_t len, char out[65]);

/* Verifies p->signature over the request in constant time; false also on OOM. target is the
 * raw request target (path?query). */
bool reqsig_verify(const struct reqsig_parsed *p, const char *method, const char *target,
		   const void *body, size_t body_len);

/* hex SHA-256 of key_hash (64 hex digits): the verifier the gateway caches instead of the
 * key hash itself. */
void reqsig_verifier(const char key_hash[65], char out[65]);

#endif
