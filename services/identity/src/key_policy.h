/*
 * key_policy.h - the time rules of signing-key rotation, as pure functions.
 *
 * A key signs from created_at until sign_until and is published (in the JWKS) until
 * publish_until = sign_until + access TTL + 60 s, so every token it signed can be verified.
 * A new key is created `lead` seconds before the newest one stops signing; it only takes over
 * signing after `settle` seconds, so other replicas and the gateway's JWKS cache have seen it
 * (unless no settled key can sign any more).
 */
#ifndef IDENTITY_KEY_POLICY_H
#define IDENTITY_KEY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct key_info {
	time_t created_at;
	time_t sign_until;
	time_t publish_until;
	bool can_sign; /* the private key is loaded (decrypted) in this process */
};

/* Seconds before the last key stops signing at which a new one is created. */
long key_policy_lead_s(long rotation_s);
/* Seconds a new key waits before it is preferred for signing. */
long key_policy_settle_s(long rotation_s);
/* Index of the key to sign with at now, or -1: among keys that can sign and whose sign_until
 * is after now, the newest settled one, else the newest one. */
int key_policy_signer(const struct key_info *k, size_t n, time_t now, long settle_s);
/* True while the key belongs in the JWKS. */
bool key_policy_published(const struct key_info *k, time_t now);
/* True when no key (loaded or not) still signs lead_s seconds from now. */
bool key_policy_rotation_due(const struct key_info *k, size_t n, time_t now, long lead_s);

#endif
