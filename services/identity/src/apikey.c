/*
 * apikey.c - API key format, generation, scopes and allow-list literals (see apikey.h).
 *
 * Pure apart from the random bytes of a new key; owns nothing.
 */
#include "apikey.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const char *const apikey_scopes[] = {
	"renders:create", "renders:read", "renders:cancel",   "projects:read",
	"projects:write", "templates:read", "exports:read",    "exports:download",
	"users:read",     "users:write",  "webhooks:manage", NULL};

/* Fills out[0..n) with uniform base62 characters (rejection sampling: bytes >= 248 are
 * dropped, so every character has probability exactly 1/62). */
static int base62_random(char *out, size_t n)
{
	unsigned char buf[64];
	size_t o = 0;

	while (o < n) {
		if (crypto_random(buf, sizeof(buf)) != 0)
			return -1;
		for (size_t i = 0; i < sizeof(buf) && o < n; i++)
			if (buf[i] < 248)
				out[o++] = base62[buf[i] % 62];
	}
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

int apikey_generate(const char *environment, struct apikey_secret *out)
{
	const char *head;

	apikey_secret_wipe(out);
	if (environment != NULL && strcmp(environment, "Live") == 0)
		head = "fr_live_";
	else if (environment != NULL && strcmp(environment, "Test") == 0)
		head = "fr_test_";
	else
		return -1;
	memcpy(out->key, head, 8);
	if (base62_random(out->key + 8, APIKEY_LEN - 8) < 0) {
		apikey_secret_wipe(out);
		return -1;
	}
	out->key[APIKEY_LEN] = '\0';
	memcpy(out->prefix, out->key, APIKEY_PREFIX_LEN);
	memcpy(out->last4, out->key + APIKEY_LEN - APIKEY_LAST4_LEN, APIKEY_LAST4_LEN);
	sha256_hex(out->key, APIKEY_LEN, out->hash);
	return 0;
}

void apikey_secret_wipe(struct apikey_secret *s)
{
	explicit_bzero(s, sizeof(*s));
}

static bool is_base62(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool apikey_prefix_valid(const char *s)
{
	if (s == NULL || strlen(s) != APIKEY_PREFIX_LEN ||
	    (strncmp(s, "fr_live_", 8) != 0 && strncmp(s, "fr_test_", 8) != 0))
		return false;
	for (size_t i = 8; i < APIKEY_PREFIX_LEN; i++)
		if (!is_base62(s[i]))
			return false;
	return true;
}

bool apikey_hash_valid(const char *s)
{
	if (s == NULL || strlen(s) != APIKEY_HASH_LEN)
		return false;
	for (size_t i = 0; i < APIKEY_HASH_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool apikey_scope_known(const char *s)
{
	for (size_t i = 0; s != NULL && apikey_scopes[i] != NULL; i++)
		if (strcmp(s, apikey_scopes[i]) == 0)
			return true;
	return false;
}

/* The decimal mask length of "/n" text: 0..max, no sign, no leading zero; -1 otherwise. */
static int cidr_bits(const char *s, int max)
{
	int v = 0;

	if (s[0] == '\0' || strlen(s) > 3 || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v <= max ? v : -1;
}

/* True when every bit of addr (len bytes) after the first bits is zero. */
static bool host_bits_zero(const unsigned char *addr, size_t len, int bits)
{
	for (size_t i = 0; i < len; i++) {
		int keep = bits - (int)i * 8; /* bits of this byte inside the mask */
		unsigned char mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));

		if ((addr[i] & (unsigned char)~mask) != 0)
			return false;
	}
	return true;
}

/* The first 12 bytes of an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* ::ffff:a.b.c.d/n -> a.b.c.d/(n-96) in place: the gateway matches peers in their IPv4 form,
 * so a mapped entry kept as IPv6 would never match. -1 with *why when n < 96. */
static int unmap_v4(unsigned char addr[16], int *bits, const char **why)
{
	if (*bits < 96) {
		*why = "is an IPv4-mapped block with a prefix length below 96";
		return -1;
	}
	memmove(addr, addr + 12, 4);
	*bits -= 96;
	return 0;
}

int apikey_cidr_parse(const char *s, char *out, size_t cap, const char **why)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char addr[16];
	const char *slash;
	size_t hlen;
	int family, bits, max;

	*why = "must be an IPv4 or IPv6 address or CIDR block";
	if (s == NULL || cap < APIKEY_CIDR_MAX)
		return -1;
	slash = strchr(s, '/');
	hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, addr) == 1)
		family = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, host, addr) == 1)
		family = AF_INET6, max = 128;
	else
		return -1;
	bits = slash != NULL ? cidr_bits(slash + 1, max) : max;
	if (bits < 0) {
		*why = "has an invalid prefix length";
		return -1;
	}
	if (family == AF_INET6 && memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
		if (unmap_v4(addr, &bits, why) < 0)
			return -1;
		family = AF_INET;
	}
	if (!host_bits_zero(addr, family == AF_INET ? 4 : 16, bits)) {
		*why = "has bits set to the right of the mask";
		return -1;
	}
	if (inet_ntop(family, addr, host, sizeof(host)) == NULL)
		return -1;
	snprintf(out, cap, "%s/%d", host, bits);
	*why = NULL;
	return 0;
}

bool apikey_ip_valid(const char *s)
{
	unsigned char addr[16];

	return s != NULL && (inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1);
}
