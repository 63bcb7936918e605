/*
 * apikey_entry.h - one API key as the gateway knows it, and the wire forms it comes from:
 * identity's validate answer and the Redis value of fr:apikey:<key_prefix>
 * (common/apikey_cache.h). Also the allow-list check (CIDR) and RFC 3339 times.
 *
 * Pure code, no I/O, no globals.
 */
#ifndef GATEWAY_APIKEY_ENTRY_H
#define GATEWAY_APIKEY_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"

#define APIKEY_MAX_IPS 64     /* allow-list entries kept per key; more = unusable answer */
#define APIKEY_SCOPES_MAX 512 /* space-separated scopes incl. NUL (as struct iauth) */

enum apikey_state {
	APIKEY_VALID = 0,        /* the key of `verifier` is valid (expiry still to be checked) */
	APIKEY_UNKNOWN,          /* identity knows no key with this prefix and `verifier` */
	APIKEY_REVOKED,          /* the prefix's key is revoked */
	APIKEY_EXPIRED,          /* the prefix's key has expired */
	APIKEY_TENANT_SUSPENDED, /* the prefix's key belongs to a suspended tenant */
};

struct apikey_cidr {
	int family; /* AF_INET or AF_INET6 */
	int bits;
	unsigned char addr[16];
};

struct apikey_entry {
	enum apikey_state state;
	char verifier[65]; /* VALID / UNKNOWN: hex SHA-256 of the key hash the answer is about */
	char api_key_id[UUID_STR_LEN];
	char tenant_id[UUID_STR_LEN];
	bool live;
	char scopes[APIKEY_SCOPES_MAX];
	long rate_limit_rpm;
	int64_t expires_at; /* Unix seconds, 0 = never */
	size_t nips;        /* 0 = any address */
	struct apikey_cidr ips[APIKEY_MAX_IPS];
};

/* Parses identity's POST /v1/api-keys/validate answer about the key whose verifier is
 * verifier. On 0 *out is filled and *cache_value (malloc'd, caller frees) is what goes into
 * Redis: the answer + "verifier" for a valid key, "revoked", "none:<verifier>" or the refusal
 * JSON. -1 when the answer is malformed (the caller fails closed). */
int apikey_entry_from_validate(const char *json, size_t n, const char verifier[65],
			       struct apikey_entry *out, char **cache_value);

/* Parses a Redis value written by apikey_entry_from_validate or by identity ("revoked");
 * 0, or -1 when it is none of them (treated as a miss). */
int apikey_entry_from_cache(const char *v, size_t n, struct apikey_entry *out);

/* True when the entry's allow-list is empty or one of its networks holds ip (an IPv4 or
 * IPv6 literal; IPv4-mapped IPv6 counts as IPv4). */
bool apikey_entry_ip_allowed(const struct apikey_entry *e, const char *ip);

/* True when the space-separated scopes of e contain scope (NULL: true). */
bool apikey_entry_has_scope(const struct apikey_entry *e, const char *scope);

/* Parses "a.b.c.d[/n]" or "v6[/n]" (bare = host route); 0 or -1. */
int apikey_cidr_parse(const char *s, struct apikey_cidr *out);

/* Parses an RFC 3339 date-time ("2030-01-02T03:04:05Z", fractions and +hh:mm offsets
 * allowed) into Unix seconds; 0 or -1. */
int apikey_time_parse(const char *s, int64_t *out);

#endif
