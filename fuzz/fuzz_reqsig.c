/*
 * fuzz_reqsig.c - libFuzzer target for the request-signing parser of untrusted bytes
 * (common/reqsig.h): the four headers, the canonical query, and the signature check.
 *
 * The input is split at '\n' into X-API-Key, X-Timestamp, X-Nonce, X-Signature, the method
 * and the request target; the rest is the body. Invariants checked:
 *   - a parsed request's prefix is the key's first 16 characters and its hash 64 hex digits;
 *   - the canonical query is never longer than the query, and canonicalising it again
 *     changes nothing;
 *   - a request signed with the parsed key's own hash always verifies, and the same request
 *     with one signature digit changed never does.
 *
 *   make fuzz && build/fuzz/fuzz_reqsig -max_len=4096 -runs=200000
 */
#include "common/reqsig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Splits buf (NUL-terminated copy) into up to 6 '\n'-terminated fields and the body. */
static int fuzz_split(char *buf, size_t n, char *f[6], char **body, size_t *blen)
{
	char *p = buf, *end = buf + n;

	for (int i = 0; i < 6; i++) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			return -1;
		*nl = '\0';
		f[i] = p;
		p = nl + 1;
	}
	*body = p;
	*blen = (size_t)(end - p);
	return 0;
}

static void fuzz_canonical(const char *q, size_t qlen)
{
	char *a = malloc(qlen + 1), *b = malloc(qlen + 1);
	long na, nb;

	if (a == NULL || b == NULL)
		goto out;
	na = reqsig_canonical_query(q, qlen, a);
	if (na < 0)
		goto out;
	if ((size_t)na > qlen)
		abort();
	nb = reqsig_canonical_query(a, (size_t)na, b);
	if (nb != na || memcmp(a, b, (size_t)na) != 0)
		abort(); /* canonical form is a fixed point */
out:
	free(a);
	free(b);
}

/* A request signed with the parsed key verifies; one changed digit does not. */
static void fuzz_roundtrip(struct reqsig_parsed *p, const char *method, const char *target,
			   const char *body, size_t blen)
{
	const char *qm = strchr(target, '?');
	size_t plen = qm != NULL ? (size_t)(qm - target) : strlen(target), len = 0;
	const char *q = qm != NULL ? qm + 1 : "";
	char *msg = reqsig_message(p->timestamp, p->nonce, method, target, plen, q, strlen(q), body,
				   blen, &len);

	if (msg == NULL)
		return;
	reqsig_sign(p->key_hash, msg, len, p->signature);
	free(msg);
	if (!reqsig_verify(p, method, target, body, blen))
		abort();
	p->signature[0] = p->signature[0] == '0' ? '1' : '0';
	if (reqsig_verify(p, method, target, body, blen))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *f[6], *body = NULL;
	struct reqsig_parsed p;
	struct reqsig_headers h;
	size_t blen = 0;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (fuzz_split(buf, size, f, &body, &blen) < 0)
		goto out;
	h = (struct reqsig_headers){f[0], f[1], f[2], f[3]};
	fuzz_canonical(f[5], strlen(f[5]));
	if (reqsig_parse(&h, &p) != REQSIG_OK)
		goto out;
	if (strncmp(p.key_prefix, f[0], REQSIG_PREFIX_LEN) != 0 || strlen(p.key_hash) != 64)
		abort();
	(void)reqsig_ts_in_window(p.ts, 1700000000);
	(void)reqsig_verify(&p, f[4], f[5], body, blen);
	fuzz_roundtrip(&p, f[4], f[5], body, blen);
out:
	free(buf);
	return 0;
}
