/*
 * http_router.c - the server's route table: patterns compiled into segments once, matched
 * against raw request paths with "exact segment beats {param} beats prefix" precedence, and
 * the Allow set for 405 replies.
 *
 * Owns the compiled table (struct http_router); the route rows and pattern strings are
 * borrowed from the caller for the server's lifetime.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"
#include "http_internal.h"

static void compile_die(const char *pattern, const char *why)
{
	log_error(NULL, "bad route pattern", LS("pattern", pattern ? pattern : "(null)"),
		  LS("why", why));
	abort();
}

static void compile_route(struct http_croute *cr, const struct http_route *row)
{
	const char *p = row->pattern;
	if (!p || p[0] != '/')
		compile_die(p, "must start with /");
	if (!row->fn)
		compile_die(p, "no handler");
	size_t len = strlen(p);
	cr->row = row;
	cr->prefix = (row->flags & HTTP_ROUTE_PREFIX) != 0;
	if (cr->prefix && p[len - 1] != '/')
		compile_die(p, "prefix route must end in /");
	if (cr->prefix)
		len--; /* "/v1/" -> segments of "/v1", then anything */
	cr->nseg = 0;
	size_t i = 1;
	if (len == 0)
		return; /* prefix "/" */
	for (;;) {
		size_t s = i;
		while (i < len && p[i] != '/')
			i++;
		if (cr->nseg >= HTTP_ROUTE_MAX_SEGS)
			compile_die(p, "too many segments");
		struct http_seg *sg = &cr->seg[cr->nseg++];
		sg->s = p + s;
		sg->n = (unsigned short)(i - s);
		sg->param = sg->n >= 2 && p[s] == '{' && p[i - 1] == '}';
		if (sg->param) {
			sg->s++;
			sg->n -= 2;
			if (sg->n == 0 || memchr(sg->s, '{', sg->n) || memchr(sg->s, '}', sg->n))
				compile_die(p, "bad {param}");
		} else if (memchr(sg->s, '{', sg->n) || memchr(sg->s, '}', sg->n)) {
			compile_die(p, "braces inside a segment");
		}
		if (i >= len)
			break;
		i++;
	}
	size_t np = 0;
	for (size_t k = 0; k < cr->nseg; k++)
		np += cr->seg[k].param;
	if (np > HTTP_MAX_PARAMS)
		compile_die(p, "too many params");
}

int http_router_init(struct http_router *rt, const struct http_route *a, size_t na,
		     const struct http_route *b, size_t nb)
{
	rt->n = 0;
	rt->routes = calloc(na + nb + 1, sizeof(*rt->routes));
	if (!rt->routes)
		return -1;
	for (size_t i = 0; i < na + nb; i++) {
		struct http_croute *cr = &rt->routes[rt->n];
		const struct http_route *row = i < na ? &a[i] : &b[i - na];
		compile_route(cr, row);
		size_t cap = strlen(row->pattern) * 2 + 1;
		char *label = malloc(cap);
		if (!label) {
			http_router_free(rt);
			return -1;
		}
		metrics_escape(row->pattern, label, cap);
		cr->label = label;
		rt->n++;
	}
	return 0;
}

void http_router_free(struct http_router *rt)
{
	for (size_t i = 0; i < rt->n; i++)
		free((char *)rt->routes[i].label);
	free(rt->routes);
	rt->routes = NULL;
	rt->n = 0;
}

struct path_segs {
	size_t n; /* segments found (may exceed HTTP_PATH_MAX_SEGS: then only prefixes match) */
	const char *s[HTTP_PATH_MAX_SEGS];
	size_t len[HTTP_PATH_MAX_SEGS];
};

static void split_path(const char *path, size_t len, struct path_segs *ps)
{
	ps->n = 0;
	size_t i = 1; /* path[0] is '/' */
	for (;;) {
		size_t s = i;
		const char *slash = i < len ? memchr(path + i, '/', len - i) : NULL;
		i = slash ? (size_t)(slash - path) : len;
		if (ps->n < HTTP_PATH_MAX_SEGS) {
			ps->s[ps->n] = path + s;
			ps->len[ps->n] = i - s;
		}
		ps->n++;
		if (!slash)
			break;
		i++;
	}
}

static bool route_matches(const struct http_croute *cr, const struct path_segs *ps)
{
	if (cr->prefix ? ps->n <= cr->nseg : ps->n != cr->nseg)
		return false;
	for (size_t k = 0; k < cr->nseg; k++) {
		const struct http_seg *sg = &cr->seg[k];
		if (sg->param) {
			if (ps->len[k] == 0)
				return false;
		} else if (sg->n != ps->len[k] || memcmp(sg->s, ps->s[k], sg->n) != 0) {
			return false;
		}
	}
	return true;
}

/* 2 literal, 1 {param}, 0 covered by a prefix. */
static int seg_rank(const struct http_croute *cr, size_t k)
{
	if (k >= cr->nseg)
		return 0;
	return cr->seg[k].param ? 1 : 2;
}

/* True when a is more specific than b (both match the same path). */
static bool route_better(const struct http_croute *a, const struct http_croute *b)
{
	size_t n = a->nseg > b->nseg ? a->nseg : b->nseg;
	for (size_t k = 0; k <= n; k++) {
		int ra = seg_rank(a, k), rb = seg_rank(b, k);
		if (ra != rb)
			return ra > rb;
	}
	return !a->prefix && b->prefix;
}

void http_router_match(const struct http_router *rt, enum http_method m, const char *path,
		       size_t len, struct http_match *out)
{
	struct path_segs ps;
	const struct http_croute *best = NULL, *best_get = NULL;
	out->route = NULL;
	out->allow = 0;
	out->nparams = 0;
	if (len == 0 || path[0] != '/')
		return;
	split_path(path, len, &ps);
	for (size_t i = 0; i < rt->n; i++) {
		const struct http_croute *cr = &rt->routes[i];
		if (!route_matches(cr, &ps))
			continue;
		enum http_method rm = cr->row->method;
		out->allow |= 1u << rm;
		if (rm == m && (!best || route_better(cr, best)))
			best = cr;
		else if (m == HTTP_HEAD && rm == HTTP_GET && (!best_get || route_better(cr, best_get)))
			best_get = cr;
	}
	if (out->allow & (1u << HTTP_GET))
		out->allow |= 1u << HTTP_HEAD;
	out->route = best ? best : best_get;
	if (!out->route)
		return;
	for (size_t k = 0; k < out->route->nseg; k++) {
		const struct http_seg *sg = &out->route->seg[k];
		if (!sg->param)
			continue;
		struct http_param *pa = &out->params[out->nparams++];
		pa->name = sg->s;
		pa->name_len = sg->n;
		pa->val = ps.s[k];
		pa->val_len = ps.len[k];
	}
}

void http_allow_format(unsigned allow, char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int m = HTTP_GET; m <= HTTP_OPTIONS; m++) {
		if (!(allow & (1u << m)))
			continue;
		int w = snprintf(buf + o, cap - o, "%s%s", o ? ", " : "", http_method_str(m));
		if (w < 0 || (size_t)w >= cap - o)
			return;
		o += (size_t)w;
	}
}
