/*
 * crypto.c - small cryptographic helpers over OpenSSL 3: random bytes, UUIDs, SHA-256,
 * HMAC-SHA256, hex, constant-time comparison, strict base64url and AES-256-GCM sealing.
 *
 * Owns one process-wide SHA-256 EVP_MD (fetched once) and, per thread, a digest context and a
 * small pool of random bytes for UUIDs (freed by a thread-exit destructor): OpenSSL 3 looks the
 * algorithm up on every implicit fetch, which cost more than the hash itself on the gateway's
 * per-request HMAC and request id. Every function is thread-safe.
 * The void digest helpers abort() when OpenSSL itself fails (out of memory, broken library):
 * there is no safe value to hand back, and a zero digest would make unequal inputs equal.
 */
#include "common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN 16

int crypto_random(void *buf, size_t n)
{
	if (n == 0)
		return 0;
	if (n > (size_t)INT32_MAX)
		return -1;
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

/* Per-thread state: a SHA-256 context and a pool of CSPRNG bytes. */
#define RAND_POOL_LEN 512
struct crypto_tls {
	EVP_MD_CTX *md_ctx;
	size_t pool_left;
	unsigned char pool[RAND_POOL_LEN];
};

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static pthread_key_t crypto_key;
static EVP_MD *crypto_sha256_md;

static void crypto_tls_free(void *p)
{
	struct crypto_tls *t = p;

	EVP_MD_CTX_free(t->md_ctx);
	OPENSSL_cleanse(t->pool, sizeof(t->pool));
	free(t);
}

static void crypto_init_once(void)
{
	crypto_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (crypto_sha256_md == NULL || pthread_key_create(&crypto_key, crypto_tls_free) != 0)
		abort();
}

static struct crypto_tls *crypto_tls(void)
{
	struct crypto_tls *t;

	pthread_once(&crypto_once, crypto_init_once);
	t = pthread_getspecific(crypto_key);
	if (t != NULL)
		return t;
	t = calloc(1, sizeof(*t));
	if (t == NULL || (t->md_ctx = EVP_MD_CTX_new()) == NULL ||
	    pthread_setspecific(crypto_key, t) != 0)
		abort();
	return t;
}

/* One SHA-256 over up to two parts with the thread's context and the pre-fetched digest. */
static void crypto_sha256_2(const void *a, size_t alen, const void *b, size_t blen,
			    unsigned char out[32])
{
	struct crypto_tls *t = crypto_tls();
	unsigned int len = 0;

	if (EVP_DigestInit_ex2(t->md_ctx, crypto_sha256_md, NULL) != 1 ||
	    (alen > 0 && EVP_DigestUpdate(t->md_ctx, a, alen) != 1) ||
	    (blen > 0 && EVP_DigestUpdate(t->md_ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(t->md_ctx, out, &len) != 1 || len != 32)
		abort();
}

void uuid_v4(char out[UUID_STR_LEN])
{
	struct crypto_tls *t = crypto_tls();
	unsigned char b[16];
	char hex[33];

	if (t->pool_left < sizeof(b)) {
		if (crypto_random(t->pool, sizeof(t->pool)) != 0)
			abort(); /* no entropy: an id we cannot trust is worse than stopping */
		t->pool_left = sizeof(t->pool);
	}
	memcpy(b, t->pool + sizeof(t->pool) - t->pool_left, sizeof(b));
	OPENSSL_cleanse(t->pool + sizeof(t->pool) - t->pool_left, sizeof(b));
	t->pool_left -= sizeof(b);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10xx */
	hex_encode(b, sizeof(b), hex);
	memcpy(out, hex, 8);
	out[8] = '-';
	memcpy(out + 9, hex + 8, 4);
	out[13] = '-';
	memcpy(out + 14, hex + 12, 4);
	out[18] = '-';
	memcpy(out + 19, hex + 16, 4);
	out[23] = '-';
	memcpy(out + 24, hex + 20, 12);
	out[36] = '\0';
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool uuid_valid(const char *s)
{
	if (s == NULL)
		return false;
	for (size_t i = 0; i < 36; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (hex_value(c) < 0) {
			return false; /* also stops at the NUL of a short string */
		}
	}
	return s[36] == '\0';
}

void sha256(const void *data, size_t n, unsigned char out[32])
{
	crypto_sha256_2(data, n, NULL, 0, out);
}

void sha256_hex(const void *data, size_t n, char out[65])
{
	unsigned char d[32];

	sha256(data, n, d);
	hex_encode(d, sizeof(d), out);
}

/* HMAC (RFC 2104) over SHA-256: H((K ^ opad) || H((K ^ ipad) || msg)), block size 64. */
void hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
	unsigned char k0[64], pad[64], inner[32];

	memset(k0, 0, sizeof(k0));
	if (klen > sizeof(k0))
		crypto_sha256_2(key, klen, NULL, 0, k0);
	else if (klen > 0)
		memcpy(k0, key, klen);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k0[i] ^ 0x36;
	crypto_sha256_2(pad, sizeof(pad), msg, msg != NULL ? mlen : 0, inner);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k0[i] ^ 0x5c;
	crypto_sha256_2(pad, sizeof(pad), inner, sizeof(inner), out);
	OPENSSL_cleanse(k0, sizeof(k0));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
}

void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

int hex_decode(const char *in, size_t inlen, unsigned char *out, size_t outlen)
{
	if (in == NULL || outlen > SIZE_MAX / 2 || inlen != 2 * outlen)
		return -1;
	for (size_t i = 0; i < outlen; i++) {
		int hi = hex_value((unsigned char)in[2 * i]);
		int lo = hex_value((unsigned char)in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

bool ct_equal(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return true;
	return CRYPTO_memcmp(a, b, n) == 0;
}

bool ct_streq(const char *a, const char *b)
{
	size_t la, lb;

	if (a == NULL || b == NULL)
		return false;
	la = strlen(a);
	lb = strlen(b);
	/* Only the lengths may leak; the contents are compared in full. */
	if (la != lb)
		return false;
	return ct_equal(a, b, la);
}

/* ---- base64url ------------------------------------------------------------------------- */

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t b64url_encode(const void *in, size_t n, char *out, size_t outcap)
{
	const unsigned char *p = in;
	size_t need, o = 0, i = 0;

	if (n > (SIZE_MAX - 3) / 4)
		return 0;
	need = n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
	if (out == NULL || outcap < need + 1)
		return 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
	}
	out[o] = '\0';
	return o;
}

ssize_t b64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap)
{
	size_t rem = n % 4, full = n / 4, need, o = 0;
	int v[4];

	if (in == NULL || rem == 1)
		return -1;
	need = full * 3 + (rem == 0 ? 0 : rem - 1);
	if (need > outcap || need > (size_t)SSIZE_MAX)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		size_t k = n - i < 4 ? n - i : 4;
		uint32_t acc = 0;
		for (size_t j = 0; j < k; j++) {
			v[j] = b64url_value((unsigned char)in[i + j]);
			if (v[j] < 0)
				return -1;
			acc |= (uint32_t)v[j] << (18 - 6 * j);
		}
		/* A short final group must have zero trailing bits, so each byte string has exactly
		 * one encoding (no malleable tokens). */
		if ((k == 2 && (v[1] & 0x0f) != 0) || (k == 3 && (v[2] & 0x03) != 0))
			return -1;
		out[o++] = (unsigned char)(acc >> 16);
		if (k >= 3)
			out[o++] = (unsigned char)(acc >> 8);
		if (k == 4)
			out[o++] = (unsigned char)acc;
	}
	return (ssize_t)o;
}

char *crypto_token(size_t nbytes)
{
	unsigned char *raw = NULL;
	char *out = NULL;
	size_t cap;

	if (nbytes == 0 || nbytes > 4096)
		return NULL;
	cap = (nbytes + 2) / 3 * 4 + 1;
	raw = malloc(nbytes);
	out = malloc(cap);
	if (raw == NULL || out == NULL || crypto_random(raw, nbytes) != 0 ||
	    b64url_encode(raw, nbytes, out, cap) == 0) {
		free(out);
		out = NULL;
	}
	if (raw != NULL)
		OPENSSL_cleanse(raw, nbytes);
	free(raw);
	return out;
}

/* ---- AES-256-GCM ----------------------------------------------------------------------- */

/* Runs one GCM operation; enc = 1 seals, 0 opens. nonce and tag point into the caller's
 * buffers; returns 0 on success, -1 on failure or tag mismatch. */
static int gcm_run(int enc, const unsigned char key[32], const unsigned char *nonce,
		   const char *aad, const unsigned char *in, size_t n, unsigned char *out,
		   unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len = 0, rc = -1;

	if (ctx == NULL || n > (size_t)INT32_MAX)
		goto out;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1)
		goto out;
	if (aad != NULL && aad[0] != '\0') {
		size_t alen = strlen(aad);
		if (alen > (size_t)INT32_MAX ||
		    EVP_CipherUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)alen) != 1)
			goto out;
	}
	if (n > 0 && EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + (n > 0 ? len : 0), &len) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

unsigned char *crypto_seal(const unsigned char key[32], const void *plain, size_t n,
			   const char *aad, size_t *outlen)
{
	unsigned char *buf = NULL;
	size_t total;

	if (key == NULL || (plain == NULL && n > 0) || n > (size_t)INT32_MAX - 64)
		return NULL;
	total = GCM_NONCE_LEN + n + GCM_TAG_LEN;
	buf = malloc(total);
	if (buf == NULL)
		return NULL;
	if (crypto_random(buf, GCM_NONCE_LEN) != 0 ||
	    gcm_run(1, key, buf, aad, plain, n, buf + GCM_NONCE_LEN,
		    buf + GCM_NONCE_LEN + n) != 0) {
		free(buf);
		return NULL;
	}
	if (outlen != NULL)
		*outlen = total;
	return buf;
}

unsigned char *crypto_open(const unsigned char key[32], const void *sealed, size_t n,
			   const char *aad, size_t *outlen)
{
	const unsigned char *s = sealed;
	unsigned char tag[GCM_TAG_LEN];
	unsigned char *plain = NULL;
	size_t plen;

	if (key == NULL || s == NULL || n < GCM_NONCE_LEN + GCM_TAG_LEN || n > (size_t)INT32_MAX)
		return NULL;
	plen = n - GCM_NONCE_LEN - GCM_TAG_LEN;
	memcpy(tag, s + GCM_NONCE_LEN + plen, GCM_TAG_LEN);
	plain = malloc(plen + 1);
	if (plain == NULL)
		return NULL;
	if (gcm_run(0, key, s, aad, s + GCM_NONCE_LEN, plen, plain, tag) != 0) {
		OPENSSL_cleanse(plain, plen + 1);
		free(plain);
		return NULL;
	}
	plain[plen] = '\0';
	if (outlen != NULL)
		*outlen = plen;
	return plain;
}
