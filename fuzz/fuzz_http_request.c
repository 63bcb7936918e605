/*
 * fuzz_http_request.c - libFuzzer target for the request-head parser (http_parse_request)
 * plus the router and percent-decoder the server runs on what the parser accepts.
 *
 * Checks invariants, not just crashes: the head length is within the input and the limit,
 * every slice lies inside the head, re-parsing exactly the head gives the same answer, a
 * shorter prefix is never "complete", and CL/TE are never both set.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../libcommon/src/http_internal.h"
#include "common/http_parser.h"

static void h_none(struct http_request *r, void *app)
{
	(void)r;
	(void)app;
}

static const struct http_route routes[] = {
	{HTTP_GET, "/v1/users/me", h_none, 0, NULL},
	{HTTP_GET, "/v1/users/{id}", h_none, 0, NULL},
	{HTTP_DELETE, "/v1/auth/sessions/{session_id}", h_none, 0, NULL},
	{HTTP_POST, "/v1/", h_none, HTTP_ROUTE_PREFIX, NULL},
	{HTTP_GET, "/", h_none, 0, NULL},
};

static struct http_router router;
static int router_ready;

static void check_slice(struct http_slice s, const char *buf, size_t hl)
{
	if (s.n == 0)
		return;
	if (s.p < buf || s.p + s.n > buf + hl)
		abort();
}

static void exercise_target(const struct http_head *h)
{
	char *dst = malloc(h->target.n + 1);
	if (!dst)
		return;
	ssize_t n = http_pct_decode(h->target.p, h->target.n, dst, true);
	if (n > (ssize_t)h->target.n || (n >= 0 && dst[n] != '\0'))
		abort();
	free(dst);
	if (!router_ready) {
		if (http_router_init(&router, routes, sizeof(routes) / sizeof(routes[0]), NULL, 0) < 0)
			abort();
		router_ready = 1;
	}
	const char *q = memchr(h->target.p, '?', h->target.n);
	size_t plen = q ? (size_t)(q - h->target.p) : h->target.n;
	struct http_match m;
	http_router_match(&router, h->method, h->target.p, plen, &m);
	for (size_t i = 0; i < m.nparams; i++) {
		if (m.params[i].val < h->target.p || m.params[i].val + m.params[i].val_len > h->target.p + plen)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the first byte picks the head limit so TOO_LARGE paths are reached too */
	size_t max_head = size ? 32 + (size_t)data[0] * 64 : 8192;
	const char *buf = (const char *)data + (size ? 1 : 0);
	size_t len = size ? size - 1 : 0;
	struct http_head h;
	ssize_t rc = http_parse_request(buf, len, max_head, &h);
	if (rc == HTTP_PARSE_INCOMPLETE && len >= max_head)
		abort();
	if (rc <= 0) {
		if (rc != HTTP_PARSE_INCOMPLETE && rc != HTTP_PARSE_ERROR && rc != HTTP_PARSE_TOO_LARGE)
			abort();
		return 0;
	}
	size_t hl = (size_t)rc;
	if (hl > len || hl > max_head || h.nheaders > HTTP_MAX_HEADERS)
		abort();
	if (h.chunked && h.has_content_length)
		abort();
	check_slice(h.method_raw, buf, hl);
	check_slice(h.target, buf, hl);
	for (size_t i = 0; i < h.nheaders; i++) {
		check_slice(h.names[i], buf, hl);
		check_slice(h.values[i], buf, hl);
		size_t n;
		char name[64];
		size_t nl = h.names[i].n < sizeof(name) - 1 ? h.names[i].n : sizeof(name) - 1;
		memcpy(name, h.names[i].p, nl);
		name[nl] = '\0';
		if (nl == h.names[i].n && !http_head_get(&h, name, &n))
			abort();
	}
	struct http_head h2;
	if (http_parse_request(buf, hl, max_head, &h2) != rc)
		abort(); /* the head alone parses the same */
	if (hl > 1 && http_parse_request(buf, hl - 1, max_head, &h2) > 0)
		abort(); /* a prefix is never a complete head */
	exercise_target(&h);
	return 0;
}
