/*
 * handler.c - the request pipeline of the gateway (see handler.h).
 *
 * Owns nothing between requests. Per request: struct gw_ctx in request memory, freed with
 * the request once it is answered. The state machine:
 *
 *   START -> AUTH -> (KEYS -> AUTH) -> SESSION -> LIMIT -> PROXY
 *   START -> LIMIT -> PROXY (auth none, route limited per client IP)
 *   START -> PROXY (auth none, not limited)
 *   any state but PROXY -> DONE (answered by the gateway: an error or 429)
 */
#include "handler.h"

#include <assert.h>
#include <string.h>

#include "apikey_auth.h"
#include "authn.h"
#include "config.h"
#include "cors.h"
#include "gateway.h"
#include "jwks.h"
#include "proxy.h"
#include "ratelimit.h"
#include "routes.h"
#include "session_check.h"
#include "token_cache.h"
#include "upstreams.h"

enum gw_state {
	GW_ST_START = 0, /* routed; nothing checked yet */
	GW_ST_AUTH,      /* verifying the bearer token */
	GW_ST_KEYS,      /* parked on a JWKS re-fetch (unknown kid) */
	GW_ST_SESSION,   /* waiting for the session validity lookup */
	GW_ST_LIMIT,     /* waiting for the rate-limit decision (ratelimit.h) */
	GW_ST_PROXY,     /* forwarded; waiting for the upstream */
	GW_ST_DONE,      /* answered by the gateway itself */
};

struct gw_ctx {
	struct http_request *req;
	struct gateway *gw;
	const struct gw_route *route;
	struct upstream *up;
	enum gw_state state;
	struct gw_claims claims;
	struct gw_session sess;
	struct jwks_waiter kw;
	struct session_waiter sw;
	struct iauth who;      /* GW_ST_LIMIT: the caller to forward once allowed */
	unsigned proxy_flags;  /* GW_ST_LIMIT: proxy_forward flags */
};

/* Asserts that the pipeline only moves forward along the documented edges. */
static void gw_set_state(struct gw_ctx *c, enum gw_state to)
{
	static const unsigned legal[] = {
		[GW_ST_START] = 1u << GW_ST_AUTH | 1u << GW_ST_LIMIT | 1u << GW_ST_PROXY |
				1u << GW_ST_DONE,
		[GW_ST_AUTH] = 1u << GW_ST_KEYS | 1u << GW_ST_SESSION | 1u << GW_ST_DONE,
		[GW_ST_KEYS] = 1u << GW_ST_AUTH,
		[GW_ST_SESSION] = 1u << GW_ST_LIMIT | 1u << GW_ST_DONE,
		[GW_ST_LIMIT] = 1u << GW_ST_PROXY | 1u << GW_ST_DONE,
		[GW_ST_PROXY] = 0,
		[GW_ST_DONE] = 0,
	};

	assert((legal[c->state] & (1u << to)) != 0);
	c->state = to;
}

bool gw_session_matches(const struct gw_claims *c, const struct gw_session *s)
{
	return strcmp(c->sub, s->user_id) == 0 && strcmp(c->tid, s->tenant_id) == 0;
}

static void gw_proxy(struct gw_ctx *c, const struct iauth *who, unsigned flags)
{
	gw_set_state(c, GW_ST_PROXY);
	proxy_forward(c->gw, c->req, c->up, who, flags);
}

static void gw_on_limit(void *arg, const struct rl_decision *d)
{
	struct gw_ctx *c = arg;

	if (!d->allowed) {
		gw_set_state(c, GW_ST_DONE);
		ratelimit_reply_429(c->req, d);
		return;
	}
	ratelimit_headers(c->req, d);
	gw_proxy(c, &c->who, c->proxy_flags);
}

/* Counts the request against limits[] (copied), then forwards it as who (copied) or answers
 * 429. */
static void gw_limit(struct gw_ctx *c, const struct rl_limit *limits, size_t n,
		     const struct iauth *who, unsigned flags)
{
	c->who = *who;
	c->proxy_flags = flags;
	gw_set_state(c, GW_ST_LIMIT);
	ratelimit_check(c->gw->rl, limits, n, NULL, 0, http_request_id(c->req), gw_on_limit, c);
}

/* The session answered: forward with the verified caller, or refuse. */
static void gw_session_verdict(struct gw_ctx *c, enum session_verdict v)
{
	struct rl_limit limits[2];
	struct iauth who;

	if (v == SESSION_UNAVAILABLE) {
		gw_set_state(c, GW_ST_DONE);
		authn_reply_unavailable(c->gw, c->req);
		return;
	}
	if (v != SESSION_ACTIVE || !gw_session_matches(&c->claims, &c->sess)) {
		gw_set_state(c, GW_ST_DONE);
		authn_reply_401(c->gw, c->req, "session_revoked");
		return;
	}
	memset(&who, 0, sizeof(who));
	memcpy(who.user_id, c->claims.sub, sizeof(who.user_id));
	memcpy(who.tenant_id, c->claims.tid, sizeof(who.tenant_id));
	memcpy(who.session_id, c->claims.sid, sizeof(who.session_id));
	/* least privilege: a role needs both the token and the current session to grant it */
	who.is_admin = c->claims.adm && c->sess.adm;
	who.is_tenant_admin = c->claims.tadm && c->sess.tadm;
	limits[0] = (struct rl_limit){RL_USER, c->claims.sub, c->gw->cfg->rl_user_rpm};
	limits[1] = (struct rl_limit){RL_TENANT, c->claims.tid, c->gw->cfg->rl_tenant_rpm};
	gw_limit(c, limits, 2, &who, PROXY_DROP_AUTHORIZATION);
}

static void gw_on_session(void *arg, enum session_verdict v, const struct gw_session *s)
{
	struct gw_ctx *c = arg;

	c->sess = *s;
	gw_session_verdict(c, v);
}

static void gw_auth(struct gw_ctx *c, bool may_wait);

static void gw_on_keys(void *arg)
{
	struct gw_ctx *c = arg;

	gw_set_state(c, GW_ST_AUTH);
	gw_auth(c, false);
}

/* Token, then session. */
static void gw_auth(struct gw_ctx *c, bool may_wait)
{
	enum session_verdict v;

	switch (authn_check(c->gw, c->req, may_wait, &c->kw, &c->claims)) {
	case AUTHN_REPLIED:
		gw_set_state(c, GW_ST_DONE);
		return;
	case AUTHN_WAIT:
		gw_set_state(c, GW_ST_KEYS);
		return;
	case AUTHN_OK:
		break;
	}
	http_request_set_log_ids(c->req, c->claims.tid, c->claims.sub);
	gw_set_state(c, GW_ST_SESSION);
	v = session_check_start(c->gw->sessions, c->claims.sid, http_request_id(c->req),
				http_request_peer(c->req), &c->sw, &c->sess);
	if (v != SESSION_PENDING)
		gw_session_verdict(c, v);
}

/* OPTIONS on a public path that is not a CORS preflight: list what the path allows. */
static void gw_reply_options(struct http_request *req)
{
	char allow[128];

	gw_routes_allow(http_request_route(req), allow, sizeof(allow));
	http_reply_header(req, "Allow", allow);
	http_reply_empty(req, 204);
}

void gw_handle(struct http_request *req, void *app)
{
	struct gateway *gw = app;
	const struct gw_route *route = http_request_route_data(req);
	const char *origin = http_request_header(req, "Origin");
	struct gw_ctx *c;
	enum cors_decision cd;

	cd = cors_decide(&gw->cors, http_request_method(req), origin,
			 origin != NULL ? http_request_header(req, "Access-Control-Request-Method")
					: NULL);
	if (cd == CORS_PREFLIGHT_OK || cd == CORS_PREFLIGHT_DENIED) {
		cors_reply_preflight(req, cd, origin);
		return;
	}
	if (cd == CORS_ACTUAL_ALLOWED)
		cors_add_actual_headers(req, origin);
	if (route == NULL || route->auth == GW_AUTH_PREFLIGHT) {
		gw_reply_options(req);
		return;
	}
	c = http_request_alloc(req, sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->req = req;
	c->gw = gw;
	c->route = route;
	c->kw = (struct jwks_waiter){NULL, gw_on_keys, c};
	c->sw = (struct session_waiter){NULL, gw_on_session, c};
	c->up = upstreams_get(gw->ups, route->service);
	if (c->up == NULL) { /* a route row naming no upstream: a broken invariant */
		gw_set_state(c, GW_ST_DONE);
		http_reply_error(req, 500, "internal_error", "No upstream for this route.", NULL);
		return;
	}
	if (route->auth == GW_AUTH_APIKEY) { /* the reseller API: its own pipeline */
		apikey_auth_start(gw, req, route, c->up);
		return;
	}
	if (route->auth == GW_AUTH_NONE) {
		struct iauth anon;

		memset(&anon, 0, sizeof(anon));
		if ((route->flags & GW_RL_IP) != 0) {
			struct rl_limit ip = {RL_IP, http_request_peer(req), gw->cfg->rl_ip_rpm};

			gw_limit(c, &ip, 1, &anon, 0);
			return;
		}
		gw_proxy(c, &anon, 0);
		return;
	}
	gw_set_state(c, GW_ST_AUTH);
	gw_auth(c, true);
}
