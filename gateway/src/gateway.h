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
	struct amqp *amqp;             /* the broker bridge (revocation events only) */
	struct consumer *revocations;  /* identity.session.revoked.v1 (session_events.h) */
	struct jwt_verify_opts verify; /* issuer, audience, leeway */
	bool stopping;
};

#endif
