/*
 * apikey_cache.h - the Redis keys and values shared by identity (which invalidates them) and
 * the gateway (which caches API-key lookups under them and records nonces).
 *
 * fr:apikey:<key_prefix> holds one of
 *   - the JSON of identity's validate answer for a valid key PLUS "verifier", written by the
 *     gateway with EX APIKEY_CACHE_TTL_S and NX (so it never replaces a revocation marker):
 *       {"valid":true,"api_key_id":"<uuid>","tenant_id":"<uuid>","environment":"Live",
 *        "scopes":["users:read"],"allowed_ips":["203.0.113.0/24"],"rate_limit_rpm":60,
 *        "expires_at":null|"<RFC 3339>","verifier":"<hex SHA-256 of the key_hash>"}
 *     The key_hash itself is never cached: the gateway hashes the presented key, hashes that
 *     again and compares with "verifier" in constant time.
 *   - "none": identity does not know the prefix (EX APIKEY_CACHE_NONE_TTL_S, written by the
 *     gateway, NX). Identity DELetes the key when it creates a key with that prefix.
 *   - "revoked": written (plain SET, overwriting) by identity after it commits a revocation or
 *     a tenant suspension, and by every gateway replica when it consumes
 *     identity.api_key.revoked.v1, EX APIKEY_CACHE_REVOKED_TTL_S. Identity DELetes its tenant's
 *     keys when the tenant is reactivated.
 *   - {"valid":false,"reason":"expired"|"tenant_suspended"}: identity's refusal, EX
 *     APIKEY_CACHE_NONE_TTL_S, NX.
 * fr:nonce:<key_prefix>:<nonce> = "1", SET NX EX APIKEY_NONCE_TTL_S by the gateway's
 * rate-limit script: a second request with the same nonce is refused (nonce_replayed).
 */
#ifndef COMMON_APIKEY_CACHE_H
#define COMMON_APIKEY_CACHE_H

#define APIKEY_CACHE_KEY_FMT "fr:apikey:%s"   /* key_prefix */
#define APIKEY_NONCE_KEY_FMT "fr:nonce:%s:%s" /* key_prefix, nonce */
#define APIKEY_CACHE_TTL_S 300
#define APIKEY_CACHE_NONE_TTL_S 30
#define APIKEY_CACHE_REVOKED_TTL_S 300
/* A nonce must outlive every instant its timestamp is accepted. The window is +-300 s
 * inclusive on whole seconds and the clock is truncated to the second, so a request signed
 * with ts is accepted while now - ts <= 300 with now in whole seconds, i.e. until real time
 * ts + 301 (exclusive), starting as early as ts - 300: 601 s of real time. 602 adds a second
 * for the SET landing a moment after the check and for Redis' own expiry rounding. */
#define APIKEY_NONCE_TTL_S 602
#define APIKEY_CACHE_NONE "none"
#define APIKEY_CACHE_REVOKED "revoked"

#endif
