/*
 * extra_routes.h - GATEWAY_EXTRA_ROUTES: prefix routes to arbitrary upstreams.
 *
 *   GATEWAY_EXTRA_ROUTES="/bench/=http://127.0.0.1:18080=jwt;/raw/=http://127.0.0.1:18080=none"
 *
 * Each entry proxies every method of every path below the prefix to the URL's host:port,
 * behind the given auth surface (none | jwt | apikey: a signed API-key request, any scope). Used by the benchmarks to put the gateway and
 * nginx in front of the same upstream; not part of the public contract, never printed by
 * --routes.
 */
#ifndef GATEWAY_EXTRA_ROUTES_H
#define GATEWAY_EXTRA_ROUTES_H

#include <stddef.h>

#include "routes.h"

#define EXTRA_ROUTES_MAX 16
#define EXTRA_PREFIX_MAX 128

struct extra_route {
	char *prefix;          /* "/bench/": starts and ends with '/' */
	char *url;             /* "http://127.0.0.1:18080" */
	char *service;         /* upstream name, "extra:/bench/" */
	struct gw_route route; /* the row data: {service, auth} */
};

struct extra_routes {
	size_t n;
	struct extra_route v[EXTRA_ROUTES_MAX];
};

/* Parses spec (NULL or "" = no routes) into x (zeroed first). Entries are separated by ';'
 * (empty entries and surrounding blanks ignored). On a bad entry writes why into err and
 * returns -1 having freed what it took; 0 on success (free with extra_routes_free). */
int extra_routes_parse(const char *spec, struct extra_routes *x, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void extra_routes_free(struct extra_routes *x);

#endif
