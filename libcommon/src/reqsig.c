/*
 * reqsig.c - signed API-key requests: header checks, canonical query, message, HMAC (see
 * reqsig.h and contracts/README.md, "Request signing").
 *
 * Owns nothing global; thread-safe. Every comparison of secret-derived bytes (signature,
 * verifier) is constant time.
 */
#include "common/reqsig.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static const char nonce_chars[] =
	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-";
static const char hex_lower[] = "0123456789abcdef";

bool reqsig_key_valid(const char *key)
{
	size_t n = key != NULL ? strlen(key) : 0;

	return n == REQSIG_KEY_LEN &&
	       (strncmp(key, "fr_live_", 8) == 0 || strncmp(key, "fr_test_", 8) == 0) &&
	       strspn(key + 8, base62) == REQSIG_KEY_LEN - 8;
}

/* Canonical decimal (no sign, no leading zero, at most REQSIG_TS_MAX_DIGITS digits). */
static bool ts_parse(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	int64_t v = 0;

	if (n == 0 || n > REQSIG_TS_MAX_DIGITS || strspn(s, "0123456789") != n ||
	    (s[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	*out = v;
	return true;
}

static bool nonce_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= REQSIG_NONCE_MIN && n <= REQSIG_NONCE_MAX && strspn(s, nonce_chars) == n;
}

static bool sig_shape_valid(const char *s)
{
	return strlen(s) == 64 && strspn(s, hex_lower) == 64;
}

enum reqsig_status reqsig_parse(const struct reqsig_headers *h, struct reqsig_parsed *out)
{
	memset(out, 0, sizeof(*out));
	if (h->api_key == NULL || h->timestamp == NULL || h->nonce == NULL || h->signature == NULL)
		return REQSIG_MISSING;
	if (!reqsig_key_valid(h->api_key))
		return REQSIG_KEY_MALFORMED;
	if (!ts_parse(h->timestamp, &out->ts)) {
		out->ts = 0;
		return REQSIG_BAD_TIMESTAMP;
	}
	if (!nonce_valid(h->nonce)) {
		out->ts = 0;
		return REQSIG_BAD_NONCE;
	}
	if (!sig_shape_valid(h->signature)) {
		out->ts = 0;
		return REQSIG_BAD_SIGNATURE;
	}
	memcpy(out->key_prefix, h->api_key, REQSIG_PREFIX_LEN);
	sha256_hex(h->api_key, REQSIG_KEY_LEN, out->key_hash);
	memcpy(out->timestamp, h->timestamp, strlen(h->timestamp) + 1);
	memcpy(out->nonce, h->nonce, strlen(h->nonce) + 1);
	memcpy(out->signature, h->signature, 65);
	out->live = h->api_key[3] == 'l';
	return REQSIG_OK;
}

const char *reqsig_status_code(enum reqsig_status s)
{
	switch (s) {
	case REQSIG_OK: return NULL;
	case REQSIG_MISSING: return "signature_missing";
	case REQSIG_KEY_MALFORMED: return "api_key_invalid";
	case REQSIG_BAD_TIMESTAMP:
	case REQSIG_BAD_NONCE:
	case REQSIG_BAD_SIGNATURE: return "signature_invalid";
	}
	return "signature_invalid";
}

bool reqsig_ts_in_window(int64_t ts, int64_t now)
{
	return ts >= now - REQSIG_WINDOW_S && ts <= now + REQSIG_WINDOW_S;
}

/* ---- canonical query ------------------------------------------------------------------ */

struct qpair {
	const char *p;
	size_t n;
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	size_t n = x->n < y->n ? x->n : y->n;
	int c = memcmp(x->p, y->p, n);

	if (c != 0)
		return c;
	return x->n < y->n ? -1 : x->n > y->n ? 1 : 0;
}

long reqsig_canonical_query(const char *q, size_t qlen, char *out)
{
	size_t npairs = 0, k = 0, o = 0;
	struct qpair *v;

	for (size_t i = 0; i < qlen; i++)
		npairs += q[i] == '&';
	v = malloc((npairs + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	for (size_t s = 0; s <= qlen;) {
		const char *amp = memchr(q + s, '&', qlen - s);
		size_t e = amp != NULL ? (size_t)(amp - q) : qlen;

		if (e > s)
			v[k++] = (struct qpair){q + s, e - s};
		s = e + 1;
	}
	qsort(v, k, sizeof(*v), qpair_cmp);
	for (size_t i = 0; i < k; i++) {
		if (i > 0)
			out[o++] = '&';
		memcpy(out + o, v[i].p, v[i].n);
		o += v[i].n;
	}
	out[o] = '\0';
	free(v);
	return (long)o;
}

/* ---- message and signature ------------------------------------------------------------ */

char *reqsig_message(const char *timestamp, const char *nonce, const char *method, const char *path,
		     size_t path_len, const char *query, size_t query_len, const void *body,
		     size_t body_len, size_t *len)
{
	size_t tl = strlen(timestamp), nl = strlen(nonce), ml = strlen(method), o = 0;
	size_t cap = tl + nl + ml + path_len + query_len + 64 + 6;
	char *msg = malloc(cap), body_hex[65];
	long ql;

	if (msg == NULL)
		return NULL;
	memcpy(msg + o, timestamp, tl);
	o += tl;
	msg[o++] = '\n';
	memcpy(msg + o, nonce, nl);
	o += nl;
	msg[o++] = '\n';
	for (size_t i = 0; i < ml; i++)
		msg[o++] = (char)toupper((unsigned char)method[i]);
	msg[o++] = '\n';
	memcpy(msg + o, path, path_len);
	o += path_len;
	msg[o++] = '\n';
	if ((ql = reqsig_canonical_query(query, query_len, msg + o)) < 0) {
		free(msg);
		return NULL;
	}
	o += (size_t)ql;
	msg[o++] = '\n';
	sha256_hex(body_len > 0 ? body : "", body_len, body_hex);
	memcpy(msg + o, body_hex, 64);
	o += 64;
	msg[o] = '\0';
	*len = o;
	return msg;
}

void reqsig_sign(const char key_hash[65], const char *msg, size_t len, char out[65])
{
	unsigned char mac[32];

	hmac_sha256(key_hash, 64, msg, len, mac);
	hex_encode(mac, sizeof(mac), out);
}

bool reqsig_verify(const struct reqsig_parsed *p, const char *method, const char *target,
		   const void *body, size_t body_len)
{
	const char *qm = strchr(target, '?');
	size_t plen = qm != NULL ? (size_t)(qm - target) : strlen(target);
	const char *query = qm != NULL ? qm + 1 : "";
	size_t len = 0;
	char want[65], *msg;

	msg = reqsig_message(p->timestamp, p->nonce, method, target, plen, query, strlen(query),
			     body, body_len, &len);
	if (msg == NULL)
		return false;
	reqsig_sign(p->key_hash, msg, len, want);
	free(msg);
	return ct_equal(want, p->signature, 64);
}

void reqsig_verifier(const char key_hash[65], char out[65])
{
	sha256_hex(key_hash, 64, out);
}
