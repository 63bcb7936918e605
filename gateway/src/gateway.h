/*
 * gateway.h - the gateway's wiring: one struct gateway built by main.c and handed to every
 * handler as the server's `app` pointer.
 *
 * Every member is owned by main.c (created at start-up, freed at exit in reverse order);
 * modules borrow what they need.
 */
#ifndef GATEWAY_GATEWAY_H
#define GATEWAY_GATEWAY_H

#include <event2/event.h>
#include <stdbool.h>

#include "common/jwt.h"
#include "cors.h"

struct gw_config;
struct metrics;
struct http_server;
struct upstreams;
struct upstream;
struct redis;
struct token_cache;
struct jwks;
struct session_check;
struct amqp;
struct consumer;
struct ratelimit;
struct apikey_cache;
struct svc_tokens;
struct http_client;

#define GW_JWT_LEEWAY_S 30

struct gateway {
	struct event_base *base;
	const struct gw_config *cfg;
	struct metrics *metrics;
	struct http_server *server;
	struct upstreams *ups;
	struct upstream *identity;
	struct redis *redis; /* may be NULL (then sessions skip Redis) */
	struct cors cors;
	struct token_cache *tokens;
	struct jwks *jwks;
	struct session_check *sessions;
	struct ratelimit *rl;          /* rate limits and nonces (ratelimit.h) */
	struct svc_tokens *svc_tokens;  /* service tokens for calls to services (svc_token.h) */
	struct http_client *identity_svc; /* identity (FR_IDENTITY_URL) for service calls only */
	struct apikey_cache *apikeys;  /* API-key lookups and usage counts (apikey.h) */
	struct amqp *amqp;             /* the broker bridge (revocation events only) */
	struct consumer *revocations;  /* identity.session.revoked.v1 (session_events.h) */
	struct jwt_verify_opts verify; /* issuer, audience, leeway */
	bool stopping;
};

#endif
