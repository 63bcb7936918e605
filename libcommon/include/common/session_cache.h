/*
 * session_cache.h - the Redis key shared by identity (which invalidates it) and the gateway
 * (which caches session validity under it).
 *
 * Value: "active|<user_id>|<tenant_id>|<roles>" or "revoked|<reason>". The write protocol
 * keeps a revocation from being undone by a lookup that was already in flight:
 *   - whoever learns of a revocation (identity when it commits one, each gateway replica when
 *     it consumes identity.session.revoked.v1) SETs "revoked|<reason>" with
 *     EX SESSION_CACHE_REVOKED_TTL_S, overwriting whatever was there;
 *   - the gateway caches identity's answers with EX GATEWAY_SESSION_REDIS_TTL_S, an "active"
 *     answer only with NX, so it never replaces a revocation marker.
 * Revocation is final, so a marker that expires only costs one more lookup at identity.
 */
#ifndef COMMON_SESSION_CACHE_H
#define COMMON_SESSION_CACHE_H

#define SESSION_CACHE_KEY_FMT "fr:sess:%s"
#define SESSION_CACHE_REVOKED_TTL_S 60

#endif
