/*
 * iauth.h - authenticated internal calls: the gateway (or a service) vouches for the caller.
 *
 * The gateway authenticates the end user, then forwards the request with identity headers
 * and an HMAC-SHA256 over them keyed by a shared secret (FR_INTERNAL_SECRET). A service trusts
 * X-FR-User-Id and friends only when the signature verifies and the timestamp is fresh, so a
 * client that reaches a service directly cannot claim to be anyone.
 *
 * Headers (all set by iauth_sign, all stripped by the gateway from client requests):
 *   X-FR-Caller      "gateway" or a service name
 *   X-FR-User-Id     user UUID or empty      X-FR-Tenant-Id  tenant UUID or empty
 *   X-FR-Session-Id  session UUID or empty   X-FR-Roles      "" | "admin" | "tenant_admin" |
 *                                                            "admin,tenant_admin"
 *   X-FR-Client-Ip   the end client's address as the gateway saw it
 *   X-FR-Api-Key-Id  API key UUID or empty (set when an API key authenticated the caller)
 *   X-FR-Scopes      that key's scopes, space-separated ("users:read users:write"), or empty
 *   X-FR-Auth-Ts     Unix seconds            X-FR-Auth-Sig   lower-case hex HMAC
 * The signed message is these lines joined by '\n':
 *   ts, caller, method (upper case), request target (path?query), request id, user, tenant,
 *   session, roles, client ip, api key id, scopes
 * A JWT caller has an empty api key id and scopes; an API-key caller has a tenant, an api key
 * id and scopes, and an empty user and session.
 */
#ifndef COMMON_IAUTH_H
#define COMMON_IAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define IAUTH_MAX_SKEW_S 60

struct iauth {
	char caller[32];
	char user_id[37];
	char tenant_id[37];
	char session_id[37];
	char client_ip[64];
	char api_key_id[37];
	char scopes[512]; /* space-separated scope names, [a-z0-9:_.-] each */
	bool is_admin;
	bool is_tenant_admin;
};

/* Computes the signature (65 bytes of lower-case hex incl. NUL) for the given fields. */
void iauth_sign(const char *secret, time_t ts, const char *method, const char *target,
		const char *request_id, const struct iauth *a, char sig_out[65]);

/* The roles header value for a ("", "admin", "tenant_admin" or "admin,tenant_admin"). */
const char *iauth_roles(const struct iauth *a);

/* True when a's space-separated scopes contain scope exactly (a NULL or empty scope: true). */
bool iauth_has_scope(const struct iauth *a, const char *scope);

enum iauth_result { IAUTH_NONE = 0, IAUTH_OK, IAUTH_BAD };

/* Checks the headers of an incoming request (see http.h): NONE when no X-FR-* header at all
 * was sent, BAD when X-FR-Auth-Sig is present but invalid/stale or when any other X-FR-*
 * identity header comes without a signature, OK (and *out filled) when it verifies. */
struct http_request;
enum iauth_result iauth_check(struct http_request *req, const char *secret, struct iauth *out);

/* The raw X-FR-* header values of one request; NULL = header absent. */
struct iauth_headers {
	const char *caller, *user_id, *tenant_id, *session_id, *roles, *client_ip;
	const char *ts, *sig;
	const char *api_key_id, *scopes;
};

/* The check behind iauth_check, without an HTTP request (other transports, tests): same
 * results. method, target and request_id are those of the request being checked; now is the
 * receiver's clock. On OK *out is filled, otherwise zeroed. */
enum iauth_result iauth_verify_headers(const char *secret, time_t now, const char *method,
				       const char *target, const char *request_id,
				       const struct iauth_headers *h, struct iauth *out);

#endif
