/*
 * password.c - Argon2id password hashing and verification (libargon2), PHC string format.
 *
 * Owns nothing global; thread-safe. CPU- and memory-heavy: worker threads only. Work is
 * bounded on both sides: passwords longer than PASSWORD_MAX_LEN bytes are refused, and an
 * encoded hash asking for more than PASSWORD_MAX_M_KIB / _T / _LANES is refused instead of
 * being run, so a corrupted or planted row cannot make one login allocate gigabytes.
 */
#include "common/password.h"

#include "common/crypto.h"

#include <argon2.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PASSWORD_MAX_LEN 1024
#define PASSWORD_SALT_LEN 16
#define PASSWORD_HASH_LEN 32
#define PASSWORD_MAX_ENCODED 256
#define PASSWORD_MAX_M_KIB (1024u * 1024u) /* 1 GiB */
#define PASSWORD_MAX_T 64
#define PASSWORD_MAX_LANES 16

/* Argon2 allocates its whole memory cost (19 MiB by default) per hash. glibc serves the first
 * such block with mmap, then raises its mmap threshold to that size, so every later hash is
 * carved from a worker thread's heap arena and stays resident after it is freed (identity
 * idled at ~32 MB instead of ~12 MB). A fixed threshold keeps blocks of 1 MiB and more on
 * mmap, returned to the kernel on free. Set once, before the first hash. */
#define PASSWORD_MMAP_THRESHOLD (1024 * 1024)

static pthread_once_t password_malloc_once = PTHREAD_ONCE_INIT;

static void password_malloc_setup(void)
{
	mallopt(M_MMAP_THRESHOLD, PASSWORD_MMAP_THRESHOLD);
}

struct phc_params {
	uint32_t version, m_kib, t_cost, lanes;
};

/* Reads a decimal uint32 without sign or leading zeros at *s, advancing *s. */
static int parse_u32(const char **s, uint32_t *out)
{
	const char *p = *s;
	uint64_t v = 0;

	if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*out = (uint32_t)v;
	*s = p;
	return 0;
}

static int expect(const char **s, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*s, lit, n) != 0)
		return -1;
	*s += n;
	return 0;
}

/* Parses "$argon2id$v=V$m=M,t=T,p=P$..." (argon2id only); 0 on success. */
static int phc_parse(const char *enc, struct phc_params *pp)
{
	const char *s = enc;

	if (enc == NULL || strnlen(enc, PASSWORD_MAX_ENCODED + 1) > PASSWORD_MAX_ENCODED)
		return -1;
	if (expect(&s, "$argon2id$v=") != 0 || parse_u32(&s, &pp->version) != 0 ||
	    expect(&s, "$m=") != 0 || parse_u32(&s, &pp->m_kib) != 0 ||
	    expect(&s, ",t=") != 0 || parse_u32(&s, &pp->t_cost) != 0 ||
	    expect(&s, ",p=") != 0 || parse_u32(&s, &pp->lanes) != 0 || *s != '$')
		return -1;
	return 0;
}

char *password_hash(const char *password, const struct password_params *p)
{
	const struct password_params def = PASSWORD_PARAMS_DEFAULT;
	unsigned char salt[PASSWORD_SALT_LEN];
	size_t pwlen, enclen;
	char *enc;

	if (p == NULL)
		p = &def;
	if (password == NULL || p->lanes == 0 || p->lanes > PASSWORD_MAX_LANES ||
	    p->t_cost == 0 || p->t_cost > PASSWORD_MAX_T || p->m_kib > PASSWORD_MAX_M_KIB)
		return NULL;
	pthread_once(&password_malloc_once, password_malloc_setup);
	pwlen = strnlen(password, PASSWORD_MAX_LEN + 1);
	if (pwlen > PASSWORD_MAX_LEN || crypto_random(salt, sizeof(salt)) != 0)
		return NULL;
	enclen = argon2_encodedlen(p->t_cost, p->m_kib, p->lanes, PASSWORD_SALT_LEN,
				   PASSWORD_HASH_LEN, Argon2_id);
	enc = malloc(enclen);
	if (enc == NULL)
		return NULL;
	if (argon2id_hash_encoded(p->t_cost, p->m_kib, p->lanes, password, pwlen, salt,
				  sizeof(salt), PASSWORD_HASH_LEN, enc, enclen) != ARGON2_OK) {
		free(enc);
		return NULL;
	}
	return enc;
}

bool password_verify(const char *encoded, const char *password)
{
	struct phc_params pp;
	size_t pwlen;

	if (password == NULL || phc_parse(encoded, &pp) != 0)
		return false;
	if (pp.m_kib > PASSWORD_MAX_M_KIB || pp.t_cost > PASSWORD_MAX_T ||
	    pp.lanes == 0 || pp.lanes > PASSWORD_MAX_LANES)
		return false;
	pwlen = strnlen(password, PASSWORD_MAX_LEN + 1);
	if (pwlen > PASSWORD_MAX_LEN)
		return false;
	pthread_once(&password_malloc_once, password_malloc_setup);
	/* argon2id_verify recomputes the hash and compares it in constant time */
	return argon2id_verify(encoded, password, pwlen) == ARGON2_OK;
}

bool password_needs_rehash(const char *encoded, const struct password_params *p)
{
	const struct password_params def = PASSWORD_PARAMS_DEFAULT;
	struct phc_params pp;

	if (p == NULL)
		p = &def;
	if (phc_parse(encoded, &pp) != 0)
		return true; /* not ours or unreadable: replace it on the next good login */
	return pp.version != ARGON2_VERSION_13 || pp.m_kib < p->m_kib || pp.t_cost < p->t_cost ||
	       pp.lanes < p->lanes;
}
