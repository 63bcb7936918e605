/*
 * password.h - password hashing with Argon2id (libargon2), PHC string format.
 *
 * CPU- and memory-heavy by design: call only from a worker pool thread, never from an event
 * loop. Default cost: m = 19 MiB, t = 2, p = 1 (OWASP's Argon2id minimum).
 */
#ifndef COMMON_PASSWORD_H
#define COMMON_PASSWORD_H

#include <stdbool.h>
#include <stdint.h>

struct password_params {
	uint32_t m_kib;  /* memory in KiB */
	uint32_t t_cost; /* iterations */
	uint32_t lanes;  /* parallelism */
};
#define PASSWORD_PARAMS_DEFAULT ((struct password_params){.m_kib = 19456, .t_cost = 2, .lanes = 1})

/* "$argon2id$v=19$m=...,t=...,p=...$salt$hash", malloc'd; NULL on failure. */
char *password_hash(const char *password, const struct password_params *p);
/* True when password matches encoded (a PHC argon2id string). Constant-time compare. */
bool password_verify(const char *encoded, const char *password);
/* True when encoded was hashed with weaker parameters than p (rehash on next login). */
bool password_needs_rehash(const char *encoded, const struct password_params *p);

#endif
