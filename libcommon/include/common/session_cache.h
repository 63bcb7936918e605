/*
 * session_cache.h - the Redis key shared by identity (which invalidates it) and the gateway
 * (which caches session validity under it).
 *
 * Value: "active|<user_id>|<tenant_id>|<roles>" or "revoked|<reason>", short TTL. Identity
 * deletes the key when it revokes a session, bans a user or suspends a tenant's sessions, so
 * the gateway's next lookup goes back to identity.
 */
#ifndef COMMON_SESSION_CACHE_H
#define COMMON_SESSION_CACHE_H

#define SESSION_CACHE_KEY_FMT "fr:sess:%s"

#endif
