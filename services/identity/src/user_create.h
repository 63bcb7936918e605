/*
 * user_create.h - a new user with a password and its identity.user.registered.v1: the one
 * path of POST /v1/auth/register, POST /v1/tenants (the tenant's first admin) and
 * POST /v1/reseller/users.
 *
 * user_create_start(): hash the password on the worker pool (503 on a forced stop, 500 when
 * hashing fails) -> BEGIN -> the caller's before() step in that transaction, if any (it ends
 * with user_create_insert() or user_create_fail()) -> INSERT the user (409 email_taken when
 * the e-mail is taken in the tenant) -> identity.user.registered.v1 into the outbox -> COMMIT
 * -> outbox kick -> done(), which replies. Any failure rolls back and replies (500 / 503
 * through app_reply_db_error): no user without its event.
 *
 * The struct lives in the caller's per-request context (request memory). The password is
 * wiped after hashing; the hash (malloc'd by the worker) is wiped and freed as soon as the
 * INSERT has copied it, or on failure.
 */
#ifndef IDENTITY_USER_CREATE_H
#define IDENTITY_USER_CREATE_H

#include <stdbool.h>

#include "app.h"
#include "model.h"
#include "user_store.h"

struct user_create;
typedef void (*user_create_fn)(struct user_create *uc);

struct user_create {
	/* set by the caller before user_create_start() */
	struct identity_app *app;
	struct http_request *req;
	struct user_new n;          /* password_hash is set here; strings in request memory */
	char *password;             /* request memory; wiped after hashing */
	bool verification_required; /* the event's */
	user_create_fn before;      /* first step in the transaction (uc->tx); NULL = none */
	user_create_fn done;        /* after COMMIT: replies */
	void *arg;                  /* the caller's context */
	/* set here */
	struct user u; /* the created user, in request memory (for done) */
	struct pg_tx *tx;
	char *hash; /* malloc'd by the worker */
};

/* Starts the steps above; every outcome replies (done() for the success). */
void user_create_start(struct user_create *uc);
/* From before(): inserts the user now, in uc->tx (n.tenant_id may be set just before). */
void user_create_insert(struct user_create *uc);
/* From before(): rolls back and forgets the hash; replies app_reply_db_error(what, r) when what
 * is not NULL, else the caller replies. */
void user_create_fail(struct user_create *uc, const char *what, const struct pg_result *r);

#endif
