/*
 * routes.h - identity's route table (routes.c).
 */
#ifndef IDENTITY_ROUTES_H
#define IDENTITY_ROUTES_H

#include <stddef.h>
#include <stdio.h>

#include "common/http.h"

extern const struct http_route identity_routes[];
extern const size_t identity_nroutes;

/* "METHOD PATTERN" per served route (built-in probes first), for --routes. */
void identity_routes_print(FILE *out);

#endif
