/*
 * proxy.c - the forwarding hop: header filtering (pure), the upstream call and the relayed
 * answer (see proxy.h).
 *
 * Owns nothing beyond one request: the per-call context and every header buffer live in the
 * request's memory (http_request_alloc) and die with it. Header names are compared by length
 * first and then case-insensitively, so a request with twenty headers costs a few dozen byte
 * comparisons, not hundreds of strcasecmp() calls.
 */
#include "proxy.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "config.h"
#include "gateway.h"
#include "gw_metrics.h"
#include "routes.h"
#include "session_check.h"
#include "upstreams.h"

/* Case-insensitive compare of a header name token with a lower-case literal of the same
 * length. Header names are tokens, so OR-ing 0x20 folds letters and keeps '-' and digits. */
static bool hdr_eq(const char *a, const char *lower, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)a[i] | 0x20) != (unsigned char)lower[i])
			return false;
	return true;
}

#define HDR_IS(name, len, lit) ((len) == sizeof(lit) - 1 && hdr_eq((name), (lit), sizeof(lit) - 1))
#define HDR_HAS_PREFIX(name, len, lit)                                                        \
	((len) >= sizeof(lit) - 1 && hdr_eq((name), (lit), sizeof(lit) - 1))

/* Hop-by-hop and framing headers, dropped in both directions. */
static bool hdr_hop_by_hop(const char *name, size_t len)
{
	switch (len) {
	case 2:
		return HDR_IS(name, len, "te");
	case 7:
		return HDR_IS(name, len, "trailer") || HDR_IS(name, len, "upgrade");
	case 10:
		return HDR_IS(name, len, "connection") || HDR_IS(name, len, "keep-alive");
	case 14:
		return HDR_IS(name, len, "content-length");
	case 17:
		return HDR_IS(name, len, "transfer-encoding");
	default:
		return HDR_HAS_PREFIX(name, len, "proxy-");
	}
}

/* Request headers the gateway never forwards as sent (beyond hop-by-hop). */
static bool hdr_request_dropped(const char *name, size_t len, unsigned flags)
{
	if (hdr_hop_by_hop(name, len) || HDR_HAS_PREFIX(name, len, "x-fr-"))
		return true;
	switch (len) {
	case 4:
		return HDR_IS(name, len, "host");
	case 6:
		return HDR_IS(name, len, "expect");
	case 9: /* x-api-key: the full key is a secret the services never need */
		return HDR_IS(name, len, "x-user-id") || HDR_IS(name, len, "x-api-key");
	case 11:
		return HDR_IS(name, len, "x-tenant-id");
	case 12:
		return HDR_IS(name, len, "x-session-id") || HDR_IS(name, len, "x-request-id");
	case 13:
		return (flags & PROXY_DROP_AUTHORIZATION) != 0 && HDR_IS(name, len, "authorization");
	case 15:
		return HDR_IS(name, len, "x-forwarded-for");
	case 17:
		return HDR_IS(name, len, "x-forwarded-proto");
	default:
		return false;
	}
}

/* True when the comma-separated token list v names the header name[0..len). */
static bool hdr_listed(const char *v, const char *name, size_t len)
{
	while (*v != '\0') {
		const char *s = v, *e;

		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		e = s;
		while (*e != '\0' && *e != ',' && *e != ' ' && *e != '\t')
			e++;
		if ((size_t)(e - s) == len && len > 0 && strncasecmp(s, name, len) == 0)
			return true;
		v = e;
	}
	return false;
}

/* The Connection header value when it names headers beyond close / keep-alive / upgrade
 * (the common case needs no per-header scan), else NULL. */
static const char *hdr_connection_extra(const struct http_client_header *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = in[i].value;

		if (!HDR_IS(in[i].name, strlen(in[i].name), "connection"))
			continue;
		while (*v != '\0') {
			const char *s = v, *e;

			while (*s == ' ' || *s == '\t' || *s == ',')
				s++;
			e = s;
			while (*e != '\0' && *e != ',' && *e != ' ' && *e != '\t')
				e++;
			if (e > s && !HDR_IS(s, (size_t)(e - s), "close") &&
			    !HDR_IS(s, (size_t)(e - s), "keep-alive") &&
			    !HDR_IS(s, (size_t)(e - s), "upgrade"))
				return in[i].value;
			v = e;
		}
	}
	return NULL;
}

size_t proxy_filter_request_headers(const struct http_client_header *in, size_t n, unsigned flags,
				    struct http_client_header *out, size_t cap)
{
	const char *conn = hdr_connection_extra(in, n);
	size_t k = 0;

	for (size_t i = 0; i < n && k < cap; i++) {
		const char *name = in[i].name;
		size_t len = strlen(name);

		if (hdr_request_dropped(name, len, flags))
			continue;
		if (conn != NULL && hdr_listed(conn, name, len))
			continue;
		out[k++] = in[i];
	}
	return k;
}

size_t proxy_build_xff(const struct http_client_header *in, size_t n, const char *peer, char *out,
		       size_t cap)
{
	size_t len = 0;

#define XFF_PUT(s, sl)                                                                        \
	do {                                                                                  \
		if (len + (sl) < cap)                                                         \
			memcpy(out + len, (s), (sl));                                         \
		len += (sl);                                                                  \
	} while (0)
	for (size_t i = 0; i < n; i++) {
		size_t vl;

		if (!HDR_IS(in[i].name, strlen(in[i].name), "x-forwarded-for"))
			continue;
		vl = strlen(in[i].value);
		if (vl == 0)
			continue;
		XFF_PUT(in[i].value, vl);
		XFF_PUT(", ", 2);
	}
	XFF_PUT(peer, strlen(peer));
#undef XFF_PUT
	if (cap > 0)
		out[len < cap ? len : 0] = '\0';
	return len;
}

bool proxy_response_header_relayed(const char *name, size_t len)
{
	if (hdr_hop_by_hop(name, len) || HDR_HAS_PREFIX(name, len, "access-control-") ||
	    HDR_HAS_PREFIX(name, len, "ratelimit-")) /* the gateway's own (ratelimit.h) */
		return false;
	switch (len) {
	case 4:
		return !HDR_IS(name, len, "date");
	case 6:
		return !HDR_IS(name, len, "server");
	case 12:
		return !HDR_IS(name, len, "content-type") && !HDR_IS(name, len, "x-request-id");
	default:
		return true;
	}
}

void proxy_error_map(enum http_client_err e, int *status, const char **code, const char **message)
{
	switch (e) {
	case HC_ETIMEOUT:
		*status = 504;
		*code = "gateway_timeout";
		*message = "The upstream service did not answer in time.";
		return;
	case HC_EOVERLOAD:
	case HC_ESHUTDOWN:
		*status = 503;
		*code = "service_unavailable";
		*message = "The upstream service is overloaded or unavailable; retry later.";
		return;
	case HC_OK:
	case HC_ECONNECT:
	case HC_EPROTO:
	default:
		*status = 502;
		*code = "bad_gateway";
		*message = "The upstream service could not be reached or answered badly.";
		return;
	}
}

/* ---- the forwarding hop -------------------------------------------------------------------- */

struct proxy_call {
	struct gateway *gw;
	struct http_request *req;
	struct upstream *up;
	const char *revoke_sid; /* session to mark revoked when the upstream answers 2xx */
};

/* The session a successful call of this route revokes (see enum gw_after), or NULL. */
static const char *proxy_revoked_sid(struct http_request *req, const struct iauth *who)
{
	const struct gw_route *rt = http_request_route_data(req);

	if (rt == NULL)
		return NULL;
	switch (rt->after) {
	case GW_AFTER_REVOKE_OWN_SESSION:
		return who != NULL && who->session_id[0] != '\0' ? who->session_id : NULL;
	case GW_AFTER_REVOKE_PATH_SESSION:
		return http_request_param(req, "session_id");
	case GW_AFTER_NONE:
	default:
		return NULL;
	}
}

/* A NUL-terminated copy of a response slice, in request memory. */
static const char *proxy_cstr(struct http_request *req, const struct http_slice *s)
{
	char *p = http_request_alloc(req, s->n + 1);

	memcpy(p, s->p, s->n);
	p[s->n] = '\0';
	return p;
}

/* Adds one upstream header to the reply (http_reply_header copies, so a stack buffer does
 * for the usual sizes). */
static void proxy_relay_header(struct http_request *req, const struct http_slice *n,
			       const struct http_slice *v)
{
	char buf[1024];
	size_t need = n->n + v->n + 2;
	char *p = need <= sizeof(buf) ? buf : http_request_alloc(req, need);

	memcpy(p, n->p, n->n);
	p[n->n] = '\0';
	memcpy(p + n->n + 1, v->p, v->n);
	p[need - 1] = '\0';
	http_reply_header(req, p, p + n->n + 1);
}

static void proxy_relay(struct proxy_call *pc, const struct http_client_response *resp)
{
	const struct http_head *h = resp->head;
	const struct gw_route *rt = http_request_route_data(pc->req);
	const char *ctype = NULL;

	for (size_t i = 0; h != NULL && i < h->nheaders; i++) {
		const struct http_slice *n = &h->names[i];

		if (proxy_response_header_relayed(n->p, n->n))
			proxy_relay_header(pc->req, n, &h->values[i]);
		else if (ctype == NULL && HDR_IS(n->p, n->n, "content-type"))
			ctype = proxy_cstr(pc->req, &h->values[i]);
	}
	/* a service's own 401 on the reseller API (e.g. a key revoked a moment ago) carries the
	 * same challenge as the gateway's */
	if (resp->status == 401 && rt != NULL && rt->auth == GW_AUTH_APIKEY)
		http_reply_header(pc->req, "WWW-Authenticate", "FR-Signature");
	if (resp->status == 204 || resp->status == 304 || resp->status < 200)
		http_reply_empty(pc->req, resp->status);
	else
		http_reply_raw(pc->req, resp->status, ctype, resp->body, resp->body_len);
}

static void proxy_on_response(enum http_client_err err, const struct http_client_response *resp,
			      void *arg)
{
	struct proxy_call *pc = arg;
	const char *code, *msg;
	int status;

	upstream_note(pc->up, err, gw_now_ms());
	if (err == HC_OK && resp != NULL) {
		gw_metrics_upstream_status(pc->gw->metrics, pc->up, resp->status);
		if (pc->revoke_sid != NULL && resp->status >= 200 && resp->status < 300)
			session_check_revoked(pc->gw->sessions, pc->revoke_sid);
		proxy_relay(pc, resp);
		return;
	}
	gw_metrics_upstream_error(pc->gw->metrics, pc->up, err);
	if (err != HC_ESHUTDOWN) {
		struct log_ctx lc = {http_request_id(pc->req), NULL, NULL};

		log_warn(&lc, "upstream call failed", LS("service", pc->up->name),
			 LS("error", http_client_strerror(err)));
	}
	proxy_error_map(err, &status, &code, &msg);
	http_reply_error(pc->req, status, code, msg, NULL);
}

/* Decimal of v into out (at least 21 bytes). */
static void proxy_utoa(uint64_t v, char *out)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	memcpy(out, tmp + i, sizeof(tmp) - i);
	out[sizeof(tmp) - i] = '\0';
}

/* Appends the iauth headers for who (caller and client ip filled in here) to hs at *k. */
static void proxy_add_iauth(struct gateway *gw, struct http_request *req, struct iauth *who,
			    struct http_client_header *hs, size_t *k)
{
	char *ts = http_request_alloc(req, 24);
	char *sig = http_request_alloc(req, 65);
	time_t now = time(NULL);

	proxy_utoa((uint64_t)now, ts);
	iauth_sign(gw->cfg->common.internal_secret, now, http_request_method_str(req),
		   http_request_target(req), http_request_id(req), who, sig);
	hs[(*k)++] = (struct http_client_header){"X-FR-Caller", who->caller};
	hs[(*k)++] = (struct http_client_header){"X-FR-User-Id", who->user_id};
	hs[(*k)++] = (struct http_client_header){"X-FR-Tenant-Id", who->tenant_id};
	hs[(*k)++] = (struct http_client_header){"X-FR-Session-Id", who->session_id};
	hs[(*k)++] = (struct http_client_header){"X-FR-Roles", iauth_roles(who)};
	hs[(*k)++] = (struct http_client_header){"X-FR-Client-Ip", who->client_ip};
	hs[(*k)++] = (struct http_client_header){"X-FR-Api-Key-Id", who->api_key_id};
	hs[(*k)++] = (struct http_client_header){"X-FR-Scopes", who->scopes};
	hs[(*k)++] = (struct http_client_header){"X-FR-Auth-Ts", ts};
	hs[(*k)++] = (struct http_client_header){"X-FR-Auth-Sig", sig};
}

void proxy_forward(struct gateway *gw, struct http_request *req, struct upstream *up,
		   const struct iauth *who, unsigned flags)
{
	size_t n = http_request_header_count(req), k, xlen;
	struct http_client_header *hs =
		http_request_alloc(req, (n + PROXY_ADDED_HEADERS) * sizeof(*hs));
	struct proxy_call *pc = http_request_alloc(req, sizeof(*pc));
	struct iauth *a = http_request_alloc(req, sizeof(*a));
	const char *peer = http_request_peer(req);
	struct http_client_request cr;
	char *xff;

	for (size_t i = 0; i < n; i++)
		http_request_header_at(req, i, &hs[i].name, &hs[i].value);
	xlen = proxy_build_xff(hs, n, peer, NULL, 0);
	xff = http_request_alloc(req, xlen + 1);
	proxy_build_xff(hs, n, peer, xff, xlen + 1);
	k = proxy_filter_request_headers(hs, n, flags, hs, n);
	hs[k++] = (struct http_client_header){"X-Request-Id", http_request_id(req)};
	hs[k++] = (struct http_client_header){"X-Forwarded-For", xff};
	hs[k++] = (struct http_client_header){"X-Forwarded-Proto", "http"};
	*a = *who;
	memcpy(a->caller, "gateway", sizeof("gateway"));
	if (strlen(peer) < sizeof(a->client_ip))
		memcpy(a->client_ip, peer, strlen(peer) + 1);
	else
		a->client_ip[0] = '\0';
	proxy_add_iauth(gw, req, a, hs, &k);

	memset(&cr, 0, sizeof(cr));
	cr.method = http_request_method(req);
	cr.target = http_request_target(req);
	cr.headers = hs;
	cr.nheaders = k;
	cr.body = http_request_body(req, &cr.body_len);
	*pc = (struct proxy_call){gw, req, up, proxy_revoked_sid(req, a)};
	if (http_client_send(up->client, &cr, proxy_on_response, pc) < 0) {
		gw_metrics_upstream_error(gw->metrics, up, HC_EOVERLOAD);
		http_reply_error(req, 503, "service_unavailable",
				 "The upstream service is overloaded or unavailable; retry later.",
				 NULL);
	}
}
