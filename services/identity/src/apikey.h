/*
 * apikey.h - the rules of an API key, without I/O: generating a key (format, prefix, last4,
 * stored hash), recognising a presented prefix and hash, the scope enum, and the CIDR /
 * address literals of an allow-list.
 *
 * Full key: "fr_live_" or "fr_test_" + 8 base62 characters (the lookup id) + 32 base62
 * characters (the secret), 48 characters. key_prefix = its first 16 characters, last4 = its
 * last 4, key_hash = lower-case hex SHA-256 of the whole key (all that is stored).
 */
#ifndef IDENTITY_APIKEY_H
#define IDENTITY_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#define MUST_CHECK __attribute__((warn_unused_result))

#define APIKEY_LEN 48
#define APIKEY_PREFIX_LEN 16
#define APIKEY_LAST4_LEN 4
#define APIKEY_HASH_LEN 64
#define APIKEY_CIDR_MAX 50 /* INET6_ADDRSTRLEN + "/128" */

/* A freshly generated key. key is the secret: wipe the struct (explicit_bzero) once sent. */
struct apikey_secret {
	char key[APIKEY_LEN + 1];
	char prefix[APIKEY_PREFIX_LEN + 1];
	char last4[APIKEY_LAST4_LEN + 1];
	char hash[APIKEY_HASH_LEN + 1];
};

/* A new key for environment "Live" or "Test" from the CSPRNG. 0, or -1 (bad environment, no
 * entropy; out is wiped). */
int apikey_generate(const char *environment, struct apikey_secret *out) MUST_CHECK;
/* Overwrites every byte of s (the key, its prefix, last4 and hash). */
void apikey_secret_wipe(struct apikey_secret *s);
/* True when s is exactly "fr_live_" / "fr_test_" followed by 8 base62 characters. */
bool apikey_prefix_valid(const char *s);
/* True when s is 64 lower-case hex digits. */
bool apikey_hash_valid(const char *s);

/* The scope enum of the seed's ApiKeyCreate, NULL-terminated. */
extern const char *const apikey_scopes[];
bool apikey_scope_known(const char *s);

/* Parses an allow-list entry: "a.b.c.d/n" (0..32), an IPv6 "addr/n" (0..128), or a bare
 * address (= /32, /128). The host bits beyond the mask must be zero (PostgreSQL's cidr rule).
 * An IPv4-mapped IPv6 entry "::ffff:a.b.c.d/n" is stored as "a.b.c.d/(n-96)" (the gateway
 * matches peers in their IPv4 form); n < 96 is refused.
 * Writes the canonical form "addr/n" into out (cap >= APIKEY_CIDR_MAX) and returns 0, or
 * returns -1 with *why set to a short reason. */
int apikey_cidr_parse(const char *s, char *out, size_t cap, const char **why) MUST_CHECK;
/* True when s is an IPv4 or IPv6 address literal (no mask). */
bool apikey_ip_valid(const char *s);

#endif
