/*
 * svc_token.h - service tokens on the calling side: a daemon's client credentials, the
 * short-lived tokens identity mints for them (one per target audience), and a send helper
 * that attaches them.
 *
 * identity's POST /internal/v1/service-tokens trades {client_id, client_secret, audience} for
 * an ES256 JWT with sub "svc:<client_id>", aud <audience>, token_use "service" (see
 * contracts/README.md, "Service tokens"). svc_send() fetches a token for the audience when
 * there is none (one fetch in flight per audience, however many requests wait on it),
 * refreshes it once 80% of its life has passed, adds "Authorization: Bearer <token>" to the
 * request and, when the target answers 401, fetches a fresh token and sends once more.
 * Neither the secret nor any token is ever logged. Everything runs on the loop thread.
 */
#ifndef COMMON_SVC_TOKEN_H
#define COMMON_SVC_TOKEN_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/http_client.h"

#define MUST_CHECK __attribute__((warn_unused_result))

#define SVC_TOKEN_PATH "/internal/v1/service-tokens"
#define SVC_TOKEN_USE "service"     /* the token_use claim of every service token */
#define SVC_TOKEN_SUB_PREFIX "svc:" /* sub = "svc:<client_id>" */
#define SVC_CLIENT_ID_MAX 63        /* longest client id (and audience) */
#define SVC_MAX_WAITERS 1024        /* requests waiting on one audience's fetch; more fail */

struct svc_tokens; /* a daemon's token source: client id/secret + identity http_client */

/* identity (borrowed; must outlive the result) is the client the tokens are fetched through;
 * client_id and client_secret are copied. NULL on failure. */
struct svc_tokens *svc_tokens_new(struct event_base *base, struct http_client *identity,
				  const char *client_id, const char *client_secret);
/* Fails every request still waiting for a token (their cb gets HC_ESHUTDOWN), wipes the
 * secret and the tokens, frees. Requests already handed to a client are that client's (their
 * cb still runs once, without a retry). Never call it from inside a svc_send callback. */
void svc_tokens_free(struct svc_tokens *t);

/* Sends r through c with "Authorization: Bearer <token for audience>" added: fetches or
 * refreshes the token first when needed (refresh at 80% of its life, single flight), retries
 * once with a fresh token when the target answers 401. cb as http_client_send (exactly once,
 * never from inside this call). A token that cannot be obtained is reported to cb as
 * HC_ECONNECT (identity unreachable or refusing). Returns -1 (cb not called) when r cannot
 * even be queued. */
int svc_send(struct svc_tokens *t, struct http_client *c, const char *audience,
	     const struct http_client_request *r, http_client_cb cb, void *arg) MUST_CHECK;

/* True when a token for audience is cached and not yet due for refresh (for tests, /readyz). */
bool svc_tokens_have(const struct svc_tokens *t, const char *audience);

#endif
