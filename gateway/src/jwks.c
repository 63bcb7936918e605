/*
 * jwks.c - the gateway's binding of common/jwks_client.h (see jwks.h).
 *
 * Owns the jwks_client; the upstream and the token cache are borrowed from main.c.
 */
#include "jwks.h"

#include <stdlib.h>

#include "common/log.h"
#include "token_cache.h"
#include "upstreams.h"

struct jwks {
	struct jwks_client *c;
	struct upstream *identity;
	struct token_cache *tokens;
};

static bool jwks_keep_kid(void *arg, const char *kid)
{
	return jwt_keyset_has(arg, kid);
}

static void jwks_on_swap(void *arg, const struct jwt_keyset *ks)
{
	struct jwks *j = arg;
	size_t purged;

	if (j->tokens == NULL)
		return;
	purged = token_cache_purge(j->tokens, jwks_keep_kid, (void *)ks);
	if (purged > 0)
		log_info(NULL, "tokens of retired keys purged", LI("tokens_purged", purged));
}

static void jwks_on_fetch(void *arg, enum http_client_err err)
{
	struct jwks *j = arg;

	upstream_note(j->identity, err, gw_now_ms());
}

struct jwks *jwks_new(struct event_base *base, struct upstream *identity,
		      struct token_cache *tokens, long refresh_s)
{
	struct jwks *j = calloc(1, sizeof(*j));
	struct jwks_client_opts o = {refresh_s, jwks_on_swap, jwks_on_fetch, j};

	if (j == NULL)
		return NULL;
	j->identity = identity;
	j->tokens = tokens;
	j->c = jwks_client_new(base, identity->client, &o);
	if (j->c == NULL) {
		free(j);
		return NULL;
	}
	return j;
}

void jwks_start(struct jwks *j)
{
	jwks_client_start(j->c);
}

const struct jwt_keyset *jwks_current(const struct jwks *j)
{
	return jwks_client_current(j->c);
}

bool jwks_ready(void *arg)
{
	struct jwks *j = arg;

	return jwks_client_ready(j->c);
}

int jwks_refresh_for_kid(struct jwks *j, struct jwks_waiter *w)
{
	return jwks_client_refresh_for_kid(j->c, w);
}

void jwks_close(struct jwks *j)
{
	if (j != NULL)
		jwks_client_close(j->c);
}

void jwks_free(struct jwks *j)
{
	if (j == NULL)
		return;
	jwks_client_free(j->c);
	free(j);
}
