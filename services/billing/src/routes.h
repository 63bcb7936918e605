/*
 * routes.h - billing's route tables: billing_routes (routes.c: plans, user plans, balance,
 * ledger, holds, usage) and billing_pay_routes (pay_routes.c: payments, discounts, refunds).
 * The server serves both as one table built by billing_routes_build().
 */
#ifndef BILLING_ROUTES_H
#define BILLING_ROUTES_H

#include <stddef.h>
#include <stdio.h>

#include "common/http.h"

extern const struct http_route billing_routes[];
extern const size_t billing_nroutes;
extern const struct http_route billing_pay_routes[];
extern const size_t billing_pay_nroutes;

/* A new array (caller frees) of billing_routes then billing_pay_routes; *n its length. NULL
 * when out of memory. */
struct http_route *billing_routes_build(size_t *n);

/* "METHOD PATTERN" per served route (built-in probes first), for --routes. */
void billing_routes_print(FILE *out);

#endif
