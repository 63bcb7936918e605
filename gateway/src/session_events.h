/*
 * session_events.h - identity.session.revoked.v1, consumed so that every gateway replica drops
 * a revoked session at once instead of waiting for its caches to expire; on the same queue
 * identity.api_key.revoked.v1, identity.tenant.suspended.v1 and identity.tenant.updated.v1,
 * which change what API keys may do (apikey_events.h).
 *
 * Each replica consumes on its own private queue (exclusive, auto-delete, no retry or DLQ:
 * every replica must see every revocation), "gateway.session-revoked.<16 random hex>", bound
 * to those four types, without a database (the effects are idempotent). Per revocation:
 * the session is marked revoked in L1 (session_check_revoked) and fr:sess:<sid> is deleted
 * from Redis (best effort; identity deletes it too). An event that can never apply (wrong
 * type, no valid session_id) is poison: on a private queue it is logged and acked.
 *
 * Without the broker the gateway keeps serving; revocations then take effect through the
 * cache TTLs (L1 + Redis, see README.md).
 */
#ifndef GATEWAY_SESSION_EVENTS_H
#define GATEWAY_SESSION_EVENTS_H

#include <json-c/json.h>
#include <stddef.h>

#include "common/crypto.h"
#include "session_l1.h"

#define SESSION_EVENTS_TYPE "identity.session.revoked.v1"
#define SESSION_EVENTS_QUEUE_PREFIX "gateway.session-revoked."
/* prefix + 16 hex digits + NUL */
#define SESSION_EVENTS_QUEUE_MAX (sizeof(SESSION_EVENTS_QUEUE_PREFIX) + 16)

struct amqp;
struct consumer;
struct gateway;

/* What the gateway takes from an identity.session.revoked.v1 payload. */
struct session_revocation {
	char session_id[UUID_STR_LEN];   /* canonical, lower case */
	char reason[SESSION_REASON_MAX]; /* data.reason if a short [a-z0-9_] word, or "unknown" */
};

/* Reads the event's data object (borrowed; may be NULL). Only session_id is required (a UUID
 * string, either case); other members are ignored (tolerant reader), reason only feeds the
 * log. 0 with *out filled, or -1 with a static reason in *why (why may be NULL). Pure. */
int session_revocation_parse(json_object *data, struct session_revocation *out, const char **why)
	__attribute__((warn_unused_result));

/* Writes this replica's queue name, SESSION_EVENTS_QUEUE_PREFIX + 16 random hex digits, into
 * out (cap >= SESSION_EVENTS_QUEUE_MAX). 0, or -1 when cap is too small or no randomness. */
int session_events_queue_name(char *out, size_t cap) __attribute__((warn_unused_result));

/* Starts consuming revocations on a new private queue through a (copied) consumer; gw is
 * borrowed (sessions, redis, metrics) for the consumer's lifetime. NULL on failure. Stop with
 * consumer_free() and amqp_free() right after it (consumer.h), before gw's members go. */
struct consumer *session_events_start(struct amqp *a, struct gateway *gw);

#endif
