/*
 * apikey_auth.c - the API-key request pipeline (see apikey_auth.h).
 *
 * Owns nothing between requests. Per request: struct ak_ctx in request memory, freed with the
 * request once it is answered. The states:
 *
 *   START -> [IP (waiting for the per-address limit)] -> KEY (waiting for the key lookup)
 *   -> LIMIT (waiting for the nonce + limits decision) -> PROXY
 *   any state -> DONE (answered by the gateway)
 */
#include "apikey_auth.h"

#include <assert.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "apikey.h"
#include "common/apikey_cache.h"
#include "common/crypto.h"
#include "common/iauth.h"
#include "common/log.h"
#include "common/reqsig.h"
#include "config.h"
#include "gateway.h"
#include "gw_metrics.h"
#include "proxy.h"
#include "ratelimit.h"
#include "routes.h"

enum ak_state {
	AK_ST_START = 0, /* routed; the signing headers and the timestamp are being checked */
	AK_ST_IP,        /* waiting for the per-address limit, before any lookup (ratelimit.h) */
	AK_ST_KEY,       /* waiting for the key lookup (apikey.h) */
	AK_ST_LIMIT,     /* waiting for the nonce + rate-limit decision (ratelimit.h) */
	AK_ST_PROXY,     /* forwarded; waiting for the upstream */
	AK_ST_DONE,      /* answered by the gateway itself */
};

struct ak_ctx {
	struct gateway *gw;
	struct http_request *req;
	const struct gw_route *route;
	struct upstream *up;
	enum ak_state state;
	struct reqsig_parsed sig;
	struct apikey_waiter w;
	struct apikey_entry key;
};

/* Asserts that the pipeline only moves forward along the documented edges. */
static void ak_set_state(struct ak_ctx *c, enum ak_state to)
{
	static const unsigned legal[] = {
		[AK_ST_START] = 1u << AK_ST_IP | 1u << AK_ST_KEY | 1u << AK_ST_DONE,
		[AK_ST_IP] = 1u << AK_ST_KEY | 1u << AK_ST_DONE,
		[AK_ST_KEY] = 1u << AK_ST_LIMIT | 1u << AK_ST_DONE,
		[AK_ST_LIMIT] = 1u << AK_ST_PROXY | 1u << AK_ST_DONE,
		[AK_ST_PROXY] = 0,
		[AK_ST_DONE] = 0,
	};

	assert((legal[c->state] & (1u << to)) != 0);
	c->state = to;
}

static const char *ak_message(const char *code)
{
	static const struct {
		const char *code, *msg;
	} m[] = {
		{"signature_missing",
		 "X-API-Key, X-Timestamp, X-Nonce and X-Signature are required."},
		{"api_key_invalid", "The API key is not valid."},
		{"api_key_expired", "The API key has expired."},
		{"api_key_revoked", "The API key has been revoked."},
		{"signature_invalid", "The request signature is not valid."},
		{"timestamp_out_of_window", "X-Timestamp is more than 300 seconds away from now."},
		{"nonce_replayed", "This X-Nonce has already been used."},
		{"scope_denied", "The API key lacks the scope this route requires."},
		{"ip_not_allowed", "The API key may not be used from this address."},
		{"tenant_suspended", "This tenant is suspended."},
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strcmp(m[i].code, code) == 0)
			return m[i].msg;
	return "Not allowed.";
}

/* Answers status/code (401 with WWW-Authenticate: FR-Signature), counting the failure. */
static void ak_refuse(struct ak_ctx *c, int status, const char *code, json_object *details)
{
	ak_set_state(c, AK_ST_DONE);
	gw_metrics_auth_failure(c->gw->metrics, code);
	if (status == 401)
		http_reply_header(c->req, "WWW-Authenticate", "FR-Signature");
	http_reply_error(c->req, status, code, ak_message(code), details);
}

static void ak_unavailable(struct ak_ctx *c)
{
	ak_set_state(c, AK_ST_DONE);
	gw_metrics_auth_failure(c->gw->metrics, "auth_unavailable");
	http_reply_error(c->req, 503, "auth_unavailable",
			 "The API key cannot be checked right now; retry shortly.", NULL);
}

/* ---- 8-9: nonce, limits, proxy ------------------------------------------------------------ */

static void ak_forward(struct ak_ctx *c)
{
	struct iauth who;

	memset(&who, 0, sizeof(who));
	memcpy(who.tenant_id, c->key.tenant_id, sizeof(who.tenant_id));
	memcpy(who.api_key_id, c->key.api_key_id, sizeof(who.api_key_id));
	memcpy(who.scopes, c->key.scopes, sizeof(who.scopes));
	apikey_cache_used(c->gw->apikeys, c->key.api_key_id);
	ak_set_state(c, AK_ST_PROXY);
	proxy_forward(c->gw, c->req, c->up, &who, PROXY_DROP_AUTHORIZATION);
}

static void ak_on_limits(void *arg, const struct rl_decision *d)
{
	struct ak_ctx *c = arg;

	if (d->replayed) {
		ak_refuse(c, 401, "nonce_replayed", NULL);
		return;
	}
	if (!d->allowed) {
		ak_set_state(c, AK_ST_DONE);
		gw_metrics_auth_failure(c->gw->metrics, "rate_limited");
		ratelimit_reply_429(c->req, d);
		return;
	}
	ratelimit_headers(c->req, d);
	ak_forward(c);
}

static void ak_check_limits(struct ak_ctx *c)
{
	const struct gw_config *cfg = c->gw->cfg;
	char nonce_key[sizeof(APIKEY_NONCE_KEY_FMT) + REQSIG_PREFIX_LEN + REQSIG_NONCE_MAX];
	struct rl_limit limits[2] = {
		{RL_APIKEY, c->key.api_key_id,
		 c->key.rate_limit_rpm > 0 ? c->key.rate_limit_rpm : cfg->rl_apikey_default_rpm},
		{RL_TENANT, c->key.tenant_id, cfg->rl_tenant_rpm},
	};

	snprintf(nonce_key, sizeof(nonce_key), APIKEY_NONCE_KEY_FMT, c->sig.key_prefix,
		 c->sig.nonce);
	ak_set_state(c, AK_ST_LIMIT);
	ratelimit_check(c->gw->rl, limits, 2, nonce_key, APIKEY_NONCE_TTL_S,
			http_request_id(c->req), ak_on_limits, c);
}

/* ---- 4-7: the key, the signature, scope and address ----------------------------------------- */

/* The key's own state: 0 when it may be used, else the request was answered. */
static int ak_key_usable_or_reply(struct ak_ctx *c)
{
	char verifier[65];

	switch (c->key.state) {
	case APIKEY_UNKNOWN: ak_refuse(c, 401, "api_key_invalid", NULL); return -1;
	case APIKEY_REVOKED: ak_refuse(c, 401, "api_key_revoked", NULL); return -1;
	case APIKEY_EXPIRED: ak_refuse(c, 401, "api_key_expired", NULL); return -1;
	case APIKEY_TENANT_SUSPENDED: ak_refuse(c, 403, "tenant_suspended", NULL); return -1;
	case APIKEY_VALID: break;
	}
	reqsig_verifier(c->sig.key_hash, verifier);
	if (!ct_equal(verifier, c->key.verifier, 64)) {
		ak_refuse(c, 401, "api_key_invalid", NULL);
		return -1;
	}
	if (c->key.expires_at != 0 && c->key.expires_at <= (int64_t)time(NULL)) {
		ak_refuse(c, 401, "api_key_expired", NULL);
		return -1;
	}
	return 0;
}

/* Signature, scope, address: 0 when all pass, else the request was answered. */
static int ak_request_ok_or_reply(struct ak_ctx *c)
{
	const char *scope = c->route->scope;
	size_t blen = 0;
	const char *body = http_request_body(c->req, &blen);
	json_object *details;

	if (!reqsig_verify(&c->sig, http_request_method_str(c->req), http_request_target(c->req),
			   body, body != NULL ? blen : 0)) {
		ak_refuse(c, 401, "signature_invalid", NULL);
		return -1;
	}
	if (scope != NULL && !apikey_entry_has_scope(&c->key, scope)) {
		details = json_object_new_object();
		json_object_object_add(details, "required_scope", json_object_new_string(scope));
		ak_refuse(c, 403, "scope_denied", details);
		return -1;
	}
	if (!apikey_entry_ip_allowed(&c->key, http_request_peer(c->req))) {
		ak_refuse(c, 403, "ip_not_allowed", NULL);
		return -1;
	}
	return 0;
}

static void ak_on_key(void *arg, enum apikey_lookup_result r, const struct apikey_entry *e)
{
	struct ak_ctx *c = arg;

	if (r != APIKEY_LOOKUP_FOUND) {
		ak_unavailable(c);
		return;
	}
	c->key = *e;
	http_request_set_log_ids(c->req, e->state == APIKEY_VALID ? e->tenant_id : NULL, NULL);
	if (ak_key_usable_or_reply(c) < 0 || ak_request_ok_or_reply(c) < 0)
		return;
	ak_check_limits(c);
}

/* ---- 1-3: the headers, the clock, the per-address limit ------------------------------------ */

static void ak_lookup(struct ak_ctx *c)
{
	enum apikey_lookup_result r;
	struct apikey_entry now;

	ak_set_state(c, AK_ST_KEY);
	r = apikey_cache_lookup(c->gw->apikeys, c->sig.key_prefix, c->sig.key_hash,
				http_request_id(c->req), &c->w, &now);
	if (r != APIKEY_LOOKUP_PENDING)
		ak_on_key(c, r, &now);
}

static void ak_on_ip_limit(void *arg, const struct rl_decision *d)
{
	struct ak_ctx *c = arg;

	if (!d->allowed) {
		ak_set_state(c, AK_ST_DONE);
		gw_metrics_auth_failure(c->gw->metrics, "rate_limited");
		ratelimit_reply_429(c->req, d);
		return;
	}
	ak_lookup(c);
}

void apikey_auth_start(struct gateway *gw, struct http_request *req, const struct gw_route *route,
		       struct upstream *up)
{
	struct ak_ctx *c = http_request_alloc(req, sizeof(*c));
	const struct reqsig_headers h = {
		.api_key = http_request_header(req, "X-API-Key"),
		.timestamp = http_request_header(req, "X-Timestamp"),
		.nonce = http_request_header(req, "X-Nonce"),
		.signature = http_request_header(req, "X-Signature"),
	};
	struct rl_limit ip = {RL_APIKEY_IP, http_request_peer(req), gw->cfg->rl_apikey_ip_rpm};
	enum reqsig_status st;
	struct apikey_entry now;

	memset(c, 0, sizeof(*c));
	c->gw = gw;
	c->req = req;
	c->route = route;
	c->up = up;
	c->w = (struct apikey_waiter){NULL, ak_on_key, c};
	if ((st = reqsig_parse(&h, &c->sig)) != REQSIG_OK) {
		ak_refuse(c, 401, reqsig_status_code(st), NULL);
		return;
	}
	/* before any lookup: a stale or flooding request never costs Redis, identity or SQL */
	if (!reqsig_ts_in_window(c->sig.ts, (int64_t)time(NULL))) {
		ak_refuse(c, 401, "timestamp_out_of_window", NULL);
		return;
	}
	/* a key this process already knows costs no lookup, so the per-address limit (which
	 * guards the lookups) does not apply: the key's own limits do, in one script */
	if (apikey_cache_peek(gw->apikeys, c->sig.key_prefix, c->sig.key_hash, &now)) {
		ak_set_state(c, AK_ST_KEY);
		ak_on_key(c, APIKEY_LOOKUP_FOUND, &now);
		return;
	}
	if (ip.per_minute <= 0) {
		ak_lookup(c);
		return;
	}
	ak_set_state(c, AK_ST_IP);
	ratelimit_check(gw->rl, &ip, 1, NULL, 0, http_request_id(req), ak_on_ip_limit, c);
}
