/*
 * model.c - small rules over identity's domain objects (model.h): why a session stopped
 * working, and which tenant states lock users out.
 *
 * Pure functions; owns nothing.
 */
#include "model.h"

#include <stddef.h>
#include <string.h>

enum session_reason session_state_reason(const struct session_state *s)
{
	if (s->revoked)
		return SESSION_REVOKED;
	if (s->expired)
		return SESSION_EXPIRED;
	if (s->user_banned)
		return SESSION_USER_BANNED;
	if (s->tenant_suspended)
		return SESSION_TENANT_SUSPENDED;
	return SESSION_ACTIVE;
}

const char *session_reason_str(enum session_reason r)
{
	switch (r) {
	case SESSION_ACTIVE: return NULL;
	case SESSION_REVOKED: return "revoked";
	case SESSION_EXPIRED: return "expired";
	case SESSION_USER_BANNED: return "user_banned";
	case SESSION_TENANT_SUSPENDED: return "tenant_suspended";
	}
	return NULL;
}

bool tenant_status_blocks(const char *status)
{
	return status != NULL &&
	       (strcmp(status, "Suspended") == 0 || strcmp(status, "Cancelled") == 0);
}
