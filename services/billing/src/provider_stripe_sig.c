/*
 * provider_stripe_sig.c - Stripe-Signature parsing and verification (see
 * provider_stripe_sig.h).
 *
 * Owns nothing beyond one temporary copy of "<t>.<body>" while a MAC is computed.
 */
#include "provider_stripe_sig.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"

/* A decimal timestamp of 1..18 digits (no sign, no leading '+'); -1 otherwise. */
static int sig_parse_t(const char *v, size_t n, int64_t *out)
{
	int64_t t = 0;

	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		t = t * 10 + (v[i] - '0');
	}
	*out = t;
	return 0;
}

/* One "key=value" item of the header. */
static int sig_item(const char *item, size_t n, struct stripe_sig *out, bool *have_t)
{
	const char *eq = memchr(item, '=', n);
	size_t klen, vlen;
	const char *v;

	if (eq == NULL)
		return 0; /* tolerated and ignored, like an unknown key */
	klen = (size_t)(eq - item);
	v = eq + 1;
	vlen = n - klen - 1;
	if (klen == 1 && item[0] == 't') {
		if (*have_t || sig_parse_t(v, vlen, &out->t) < 0)
			return -1; /* a second or a bad t is malformed */
		*have_t = true;
	} else if (klen == 2 && item[0] == 'v' && item[1] == '1' && vlen == 64 &&
		   out->nv1 < STRIPE_SIG_MAX_V1) {
		if (hex_decode(v, vlen, out->v1[out->nv1], 32) == 0)
			out->nv1++;
	}
	return 0;
}

int stripe_sig_parse(const char *hdr, size_t len, struct stripe_sig *out)
{
	bool have_t = false;
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	if (hdr == NULL || len == 0 || len > STRIPE_SIG_MAX_HEADER)
		return -1;
	while (i <= len) {
		const char *start = hdr + i;
		const char *comma = memchr(start, ',', len - i);
		size_t n = comma != NULL ? (size_t)(comma - start) : len - i;

		/* items may carry spaces around them ("t=1, v1=..."): trim them */
		while (n > 0 && start[0] == ' ') {
			start++;
			n--;
		}
		while (n > 0 && start[n - 1] == ' ')
			n--;
		if (sig_item(start, n, out, &have_t) < 0)
			goto bad;
		if (comma == NULL)
			break;
		i = (size_t)(comma - hdr) + 1;
	}
	if (!have_t || out->nv1 == 0)
		goto bad;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -1;
}

static void sig_mac(const char *secret, int64_t t, const void *body, size_t body_len,
		    unsigned char mac[32])
{
	char prefix[32];
	int plen = snprintf(prefix, sizeof(prefix), "%" PRId64 ".", t);
	unsigned char *msg = malloc((size_t)plen + body_len + 1);

	if (msg == NULL) { /* no MAC can match then: a random one stands in */
		if (crypto_random(mac, 32) < 0)
			memset(mac, 0xa5, 32);
		return;
	}
	memcpy(msg, prefix, (size_t)plen);
	if (body_len > 0)
		memcpy(msg + plen, body, body_len);
	hmac_sha256(secret, strlen(secret), msg, (size_t)plen + body_len, mac);
	free(msg);
}

void stripe_sig_mac_hex(const char *secret, int64_t t, const void *body, size_t body_len,
			char out[65])
{
	unsigned char mac[32];

	sig_mac(secret, t, body, body_len, mac);
	hex_encode(mac, sizeof(mac), out);
}

enum stripe_sig_result stripe_sig_verify(const char *hdr, size_t hdr_len, const char *secret,
					 const void *body, size_t body_len, time_t now,
					 long tolerance_s)
{
	struct stripe_sig s;
	unsigned char mac[32];
	bool match = false;
	int64_t age;

	if (stripe_sig_parse(hdr, hdr_len, &s) < 0)
		return STRIPE_SIG_MALFORMED;
	sig_mac(secret, s.t, body, body_len, mac);
	/* every candidate is compared, so the time does not tell which one matched */
	for (size_t i = 0; i < s.nv1; i++)
		match |= ct_equal(mac, s.v1[i], sizeof(mac));
	if (!match)
		return STRIPE_SIG_MISMATCH;
	age = (int64_t)now - s.t;
	if (age > tolerance_s || age < -tolerance_s)
		return STRIPE_SIG_STALE;
	return STRIPE_SIG_OK;
}

const char *stripe_sig_error_code(enum stripe_sig_result r)
{
	switch (r) {
	case STRIPE_SIG_OK: return NULL;
	case STRIPE_SIG_MALFORMED:
	case STRIPE_SIG_MISMATCH: return "signature_invalid";
	case STRIPE_SIG_STALE: return "timestamp_out_of_window";
	}
	return "signature_invalid";
}
