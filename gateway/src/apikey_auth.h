/*
 * apikey_auth.h - the API-key surface of the gateway (the reseller API): a signed request is
 * authenticated, authorised and rate limited here, then proxied with the key's identity.
 *
 * Steps (contracts/README.md, "Request signing"; every refusal in the error envelope, 401s
 * with WWW-Authenticate: FR-Signature):
 *   1. the four headers (reqsig.h)      absent: 401 signature_missing; malformed key:
 *                                       401 api_key_invalid; other shapes: signature_invalid
 *   2. X-Timestamp within +-300 s       401 timestamp_out_of_window
 *   3. the TCP peer's limit             GATEWAY_RL_APIKEY_IP_RPM (0 = off), its own decision
 *                                       (no nonce): 429 rate_limited
 *      (2 and 3 come before the lookup: a stale or flooding request costs no Redis GET,
 *      identity call or SQL query)
 *   4. the key (apikey.h)               unknown or wrong secret (verifier, constant time):
 *                                       401 api_key_invalid; revoked: 401 api_key_revoked;
 *                                       expired: 401 api_key_expired; tenant suspended:
 *                                       403 tenant_suspended; no answer: 503 auth_unavailable
 *                                       (revoked / suspended / identity's "expired" are
 *                                       answered from the prefix alone, before the secret)
 *   5. X-Signature (constant time)      401 signature_invalid
 *   6. the route's scope                403 scope_denied (details.required_scope)
 *   7. the key's allowed IPs (TCP peer) 403 ip_not_allowed
 *   8. nonce + limits in one Redis script (ratelimit.h): fr:nonce:<prefix>:<nonce> NX EX 602,
 *      the key's rate_limit_rpm and its tenant's limit: 401 nonce_replayed, 429 rate_limited
 *   9. counted for the usage report, proxied with tenant_id, api_key_id and scopes (iauth.h)
 *      and an empty user and session.
 */
#ifndef GATEWAY_APIKEY_AUTH_H
#define GATEWAY_APIKEY_AUTH_H

#include "common/http.h"

struct gateway;
struct gw_route;
struct upstream;

/* Runs the pipeline for req (a GW_AUTH_APIKEY route to up) and answers it, now or later. */
void apikey_auth_start(struct gateway *gw, struct http_request *req, const struct gw_route *route,
		       struct upstream *up);

#endif
