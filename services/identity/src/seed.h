/*
 * seed.h - the defaults of a fresh stack, created at start-up when absent (never
 * overwritten): tenant "default" and the platform admin FR_ADMIN_EMAIL / FR_ADMIN_PASSWORD.
 *
 * Runs asynchronously on the loop (the admin's password is hashed on the worker pool only
 * when the admin does not exist yet), retrying every few seconds until it succeeds.
 * Idempotent across restarts and replicas (INSERT ... ON CONFLICT DO NOTHING).
 */
#ifndef IDENTITY_SEED_H
#define IDENTITY_SEED_H

#include <stdbool.h>

struct identity_app;
struct seed;

struct seed *seed_new(struct identity_app *app);
void seed_start(struct seed *s);
/* No new steps; callbacks still in flight become no-ops (a pending hash is freed). */
void seed_stop(struct seed *s);
/* Call after the pool and worker pool are freed. */
void seed_free(struct seed *s);
/* Readiness check (arg is the seed): the defaults exist. */
bool seed_ready(void *s);

#endif
