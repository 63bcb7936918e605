/*
 * test_svc_token.c - service tokens: the verifier's rules (audience, token_use, sub, expiry,
 * issuer, signature) on tokens signed with keys generated here; the local secret derivation
 * of config_common; and svc_tokens + svc_verifier_new_jwks end to end over real HTTP against
 * an in-process stand-in for identity (libcommon's own server signing with the test key):
 * single-flight fetch, the retry after a 401, a refused secret, and freeing with waiters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config_common.h"
#include "common/crypto.h"
#include "common/http.h"
#include "common/http_client.h"
#include "common/json.h"
#include "common/jwks_client.h"
#include "common/jwt.h"
#include "common/log.h"
#include "common/svc_auth.h"
#include "common/svc_token.h"
#include "http_test_util.h"

#define ISS "flatrender-identity"
#define SECRET "client-secret-of-gateway"

/* ---- tokens --------------------------------------------------------------------------- */

struct claims_spec {
	const char *iss, *sub, *aud, *use;
	long exp_in; /* seconds from now */
};

static char *mint(const struct jwt_key *k, const struct claims_spec *c)
{
	json_object *o = json_object_new_object();
	time_t now = time(NULL);
	char *tok;

	json_set_str(o, "iss", c->iss);
	json_set_str(o, "sub", c->sub);
	json_set_str(o, "aud", c->aud);
	json_set_int(o, "iat", now);
	json_set_int(o, "exp", now + c->exp_in);
	json_set_str(o, "jti", "j-1");
	if (c->use != NULL)
		json_set_str(o, "token_use", c->use);
	tok = jwt_sign(k, o);
	json_object_put(o);
	assert_non_null(tok);
	return tok;
}

static const struct jwt_keyset *fixed_keys(void *arg)
{
	return arg;
}

static enum jwt_err verify(struct svc_verifier *v, const struct jwt_key *k,
			   const struct claims_spec *c, struct svc_caller *out)
{
	char *tok = mint(k, c);
	enum jwt_err e = svc_verify_token(v, tok, strlen(tok), out);

	free(tok);
	return e;
}

static void test_svc_verifier_rules(void **state)
{
	struct jwt_key *k = jwt_key_generate("kid-a");
	struct jwt_key *rogue = jwt_key_generate("kid-a"); /* same kid, other key */
	struct jwt_key *other = jwt_key_generate("kid-b");
	struct jwt_keyset *ks = jwt_keyset_new();
	struct svc_verifier *v;
	struct svc_caller who;
	const struct claims_spec good = {ISS, "svc:gateway", "billing", "service", 300};
	struct claims_spec c;

	(void)state;
	assert_int_equal(jwt_keyset_add(ks, k), 0);
	v = svc_verifier_new_keys(fixed_keys, ks, "billing", ISS);
	assert_non_null(v);
	assert_true(svc_verifier_ready(v));

	memset(&who, 0, sizeof(who));
	assert_int_equal(verify(v, k, &good, &who), JWT_OK);
	assert_string_equal(who.client_id, "gateway");

	c = good;
	c.aud = "identity"; /* a service token for another daemon */
	assert_int_equal(verify(v, k, &c, &who), JWT_EAUD);
	c = good;
	c.aud = "flatrender"; /* a user's access token: no token_use, a UUID sub */
	c.use = NULL;
	c.sub = "0b7e4f6c-3a52-4c55-9d5a-1f0e9b8f2a11";
	assert_int_equal(verify(v, k, &c, &who), JWT_ECLAIMS);
	c = good;
	c.use = NULL; /* right aud, but not marked as a service token */
	assert_int_equal(verify(v, k, &c, &who), JWT_ECLAIMS);
	c = good;
	c.use = "access";
	assert_int_equal(verify(v, k, &c, &who), JWT_ECLAIMS);
	c = good;
	c.sub = "gateway"; /* no svc: prefix */
	assert_int_equal(verify(v, k, &c, &who), JWT_ECLAIMS);
	c = good;
	c.sub = "svc:Gate Way"; /* not a client id */
	assert_int_equal(verify(v, k, &c, &who), JWT_ECLAIMS);
	c = good;
	c.exp_in = -120; /* beyond the 30 s leeway */
	assert_int_equal(verify(v, k, &c, &who), JWT_EEXPIRED);
	c = good;
	c.iss = "someone-else";
	assert_int_equal(verify(v, k, &c, &who), JWT_EISS);
	assert_int_equal(verify(v, rogue, &good, &who), JWT_ESIG);
	assert_int_equal(verify(v, other, &good, &who), JWT_EKID);
	assert_int_equal(svc_verify_token(v, "not.a.token", 11, &who), JWT_EMALFORMED);
	svc_verifier_free(v);

	/* no key set yet: nothing verifies, and the verifier is not ready */
	v = svc_verifier_new_keys(fixed_keys, NULL, "billing", ISS);
	assert_false(svc_verifier_ready(v));
	assert_int_equal(verify(v, k, &good, &who), JWT_EKID);
	svc_verifier_free(v);
	assert_null(svc_verifier_new_keys(fixed_keys, ks, "", ISS));

	jwt_keyset_free(ks);
	jwt_key_free(k);
	jwt_key_free(rogue);
	jwt_key_free(other);
}

/* ---- config ----------------------------------------------------------------------------- */

static void test_svc_config_service_secret(void **state)
{
	struct fr_common_config c = {0};
	char out[128], want[65], again[65];

	(void)state;
	c.env = "local";
	c.internal_secret = FR_LOCAL_INTERNAL_SECRET;
	c.service_client_id = "billing";
	c.service_client_secret = "";
	assert_int_equal(fr_common_service_secret(&c, out, sizeof(out)), 0);
	fr_common_derive_service_secret(FR_LOCAL_INTERNAL_SECRET, "billing", want);
	assert_string_equal(out, want);
	assert_int_equal(strlen(out), 64);
	fr_common_derive_service_secret(FR_LOCAL_INTERNAL_SECRET, "gateway", again);
	assert_string_not_equal(want, again); /* one secret per client */
	assert_int_equal(fr_common_service_secret(&c, out, 10), -1); /* no room */

	c.service_client_secret = "explicit-secret";
	assert_int_equal(fr_common_service_secret(&c, out, sizeof(out)), 0);
	assert_string_equal(out, "explicit-secret");

	c.env = "production"; /* no derived secret outside local */
	c.service_client_secret = "";
	assert_int_equal(fr_common_service_secret(&c, out, sizeof(out)), -1);
	c.service_client_id = NULL; /* a daemon without the _SVC rows */
	assert_int_equal(fr_common_service_secret(&c, out, sizeof(out)), -1);
}

static void test_svc_config_refuses_missing_secret_outside_local(void **state)
{
	char lis[] = "0123456789abcdef0123456789abcdef-prod";
	struct fr_common_config c = {.env = "production", .internal_secret = lis,
				     .service_client_id = "billing", .service_client_secret = "",
				     .identity_url = "http://127.0.0.1:8081"};
	char err[256] = "";

	(void)state;
	assert_int_equal(fr_common_refuse_local_secrets(&c, NULL, 0, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "FR_SERVICE_CLIENT_SECRET"));
	c.service_client_secret = "set";
	assert_int_equal(fr_common_refuse_local_secrets(&c, NULL, 0, 0, err, sizeof(err)), 0);
	c.service_client_secret = NULL; /* no _SVC rows: nothing to refuse */
	assert_int_equal(fr_common_refuse_local_secrets(&c, NULL, 0, 0, err, sizeof(err)), 0);
}

static void test_svc_config_service_defaults(void **state)
{
	struct fr_common_config c = {0};

	(void)state;
	c.service_client_id = strdup("");
	assert_int_equal(fr_common_service_defaults(&c, "gateway"), 0);
	assert_string_equal(c.service_client_id, "gateway");
	assert_int_equal(fr_common_service_defaults(&c, "other"), 0); /* set: kept */
	assert_string_equal(c.service_client_id, "gateway");
	free(c.service_client_id);
	c.service_client_id = NULL; /* no _SVC rows */
	assert_int_equal(fr_common_service_defaults(&c, "gateway"), 0);
	assert_null(c.service_client_id);
}

/* ---- end to end over HTTP --------------------------------------------------------------- */

struct env {
	struct event_base *base;
	struct http_server *srv;
	struct http_client *cli; /* to srv: both "identity" and the target */
	struct jwt_key *key;
	char *jwks;
	struct svc_verifier *verifier; /* the target's, JWKS fetched from srv */
	int token_fetches;
	int jwks_fetches;
	int target_hits;
	int refuse_target; /* the target answers 401 to the next n requests */
};


static void h_token(struct http_request *req, void *app)
{
	struct env *e = app;
	json_object *b = http_request_json_or_reply(req), *id, *sec, *aud, *out;
	struct claims_spec c = {ISS, "svc:gateway", NULL, "service", 300};
	char *tok;

	if (b == NULL)
		return;
	e->token_fetches++;
	if (!json_object_object_get_ex(b, "client_id", &id) ||
	    !json_object_object_get_ex(b, "client_secret", &sec) ||
	    !json_object_object_get_ex(b, "audience", &aud) ||
	    strcmp(json_object_get_string(id), "gateway") != 0 ||
	    strcmp(json_object_get_string(sec), SECRET) != 0) {
		json_object_put(b);
		http_reply_error(req, 401, "invalid_client", "no", NULL);
		return;
	}
	c.aud = json_object_get_string(aud);
	tok = mint(e->key, &c);
	out = json_object_new_object();
	json_set_str(out, "access_token", tok);
	json_set_str(out, "token_type", "Bearer");
	json_set_int(out, "expires_in", 300);
	json_set_str(out, "audience", c.aud);
	free(tok);
	json_object_put(b);
	http_reply_json(req, 200, out);
}

static void h_jwks(struct http_request *req, void *app)
{
	struct env *e = app;

	e->jwks_fetches++;
	http_reply_raw(req, 200, "application/json", e->jwks, strlen(e->jwks));
}

static void h_target(struct http_request *req, void *app)
{
	struct env *e = app;
	struct svc_caller who;
	json_object *out;

	e->target_hits++;
	if (e->refuse_target > 0) {
		e->refuse_target--;
		http_reply_error(req, 401, "token_invalid", "refused by the test", NULL);
		return;
	}
	if (svc_auth_or_reply(e->verifier, req, &who) < 0)
		return;
	out = json_object_new_object();
	json_set_str(out, "client_id", who.client_id);
	http_reply_json(req, 200, out);
}

static const struct http_route routes[] = {
	{HTTP_POST, SVC_TOKEN_PATH, h_token, 0, NULL},
	{HTTP_GET, JWKS_PATH, h_jwks, 0, NULL},
	{HTTP_GET, "/target", h_target, 0, NULL},
};

struct result {
	int calls;
	enum http_client_err err;
	int status;
	char body[256];
};

static void on_result(enum http_client_err err, const struct http_client_response *resp, void *arg)
{
	struct result *r = arg;

	r->calls++;
	r->err = err;
	r->status = resp != NULL ? resp->status : 0;
	if (resp != NULL)
		snprintf(r->body, sizeof(r->body), "%.*s", (int)resp->body_len, resp->body);
}

struct all_done {
	struct result *r;
	size_t n;
};

static bool pred_all(void *arg)
{
	struct all_done *a = arg;

	for (size_t i = 0; i < a->n; i++)
		if (a->r[i].calls == 0)
			return false;
	return true;
}

static bool pred_ready(void *arg)
{
	return svc_verifier_ready(arg);
}

static int e2e_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct http_server_opts so;
	struct http_client_opts co;
	json_object *doc = json_object_new_object(), *keys = json_object_new_array();

	log_init("test", LOG_LEVEL_ERROR);
	e->base = event_base_new();
	e->key = jwt_key_generate("kid-e2e");
	json_object_array_add(keys, jwt_key_public_jwk(e->key));
	json_object_object_add(doc, "keys", keys);
	e->jwks = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
	json_object_put(doc);
	http_server_opts_default(&so, "identity-stand-in");
	e->srv = http_server_new(e->base, &so, routes, sizeof(routes) / sizeof(routes[0]), e);
	assert_int_equal(http_server_listen(e->srv), 0);
	http_client_opts_default(&co);
	co.host = "127.0.0.1";
	co.port = http_server_port(e->srv);
	e->cli = http_client_new(e->base, &co);
	assert_non_null(e->cli);
	e->verifier = svc_verifier_new_jwks(e->base, e->cli, "billing", ISS);
	assert_non_null(e->verifier);
	assert_true(tu_pump(e->base, pred_ready, e->verifier, 5000));
	*state = e;
	return 0;
}

static int e2e_teardown(void **state)
{
	struct env *e = *state;

	svc_verifier_free(e->verifier);
	http_client_free(e->cli);
	http_server_free(e->srv);
	event_base_free(e->base);
	jwt_key_free(e->key);
	free(e->jwks);
	free(e);
	return 0;
}

static const struct http_client_request target_req = {HTTP_GET, "/target", NULL, 0, NULL, 0, 0};

static void test_svc_send_single_flight(void **state)
{
	struct env *e = *state;
	struct svc_tokens *t = svc_tokens_new(e->base, e->cli, "gateway", SECRET);
	struct result r[5];
	struct all_done a = {r, 5};

	memset(r, 0, sizeof(r));
	assert_non_null(t);
	assert_false(svc_tokens_have(t, "billing"));
	for (int i = 0; i < 5; i++)
		assert_int_equal(svc_send(t, e->cli, "billing", &target_req, on_result, &r[i]), 0);
	assert_int_equal(r[0].calls, 0); /* never answered from inside svc_send */
	assert_true(tu_pump(e->base, pred_all, &a, 5000));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(r[i].err, HC_OK);
		assert_int_equal(r[i].status, 200);
		assert_non_null(strstr(r[i].body, "\"client_id\":\"gateway\""));
	}
	assert_int_equal(e->token_fetches, 1); /* five requests, one fetch */
	assert_true(svc_tokens_have(t, "billing"));

	/* the cached token serves the next request without a fetch */
	memset(r, 0, sizeof(r));
	a.n = 1;
	assert_int_equal(svc_send(t, e->cli, "billing", &target_req, on_result, &r[0]), 0);
	assert_true(tu_pump(e->base, pred_all, &a, 5000));
	assert_int_equal(r[0].status, 200);
	assert_int_equal(e->token_fetches, 1);
	assert_int_equal(svc_send(t, e->cli, "Not An Audience", &target_req, on_result, &r[1]), -1);
	svc_tokens_free(t);
}

static void test_svc_send_retries_once_after_401(void **state)
{
	struct env *e = *state;
	struct svc_tokens *t = svc_tokens_new(e->base, e->cli, "gateway", SECRET);
	struct result r;
	struct all_done a = {&r, 1};

	memset(&r, 0, sizeof(r));
	e->token_fetches = e->target_hits = 0;
	e->refuse_target = 1; /* the first attempt is refused: a fresh token is fetched */
	assert_int_equal(svc_send(t, e->cli, "billing", &target_req, on_result, &r), 0);
	assert_true(tu_pump(e->base, pred_all, &a, 5000));
	assert_int_equal(r.status, 200);
	assert_int_equal(e->target_hits, 2);
	assert_int_equal(e->token_fetches, 2);

	memset(&r, 0, sizeof(r));
	e->token_fetches = e->target_hits = 0;
	e->refuse_target = 5; /* refused again after the retry: the 401 is the answer */
	assert_int_equal(svc_send(t, e->cli, "billing", &target_req, on_result, &r), 0);
	assert_true(tu_pump(e->base, pred_all, &a, 5000));
	assert_int_equal(r.err, HC_OK);
	assert_int_equal(r.status, 401);
	assert_int_equal(e->target_hits, 2); /* exactly one retry */
	e->refuse_target = 0;
	svc_tokens_free(t);
}

static void test_svc_send_wrong_secret_and_free_with_waiters(void **state)
{
	struct env *e = *state;
	struct svc_tokens *t = svc_tokens_new(e->base, e->cli, "gateway", "wrong-secret");
	struct result r[2];
	struct all_done a = {r, 1};

	memset(r, 0, sizeof(r));
	e->target_hits = 0;
	assert_int_equal(svc_send(t, e->cli, "billing", &target_req, on_result, &r[0]), 0);
	assert_true(tu_pump(e->base, pred_all, &a, 5000));
	assert_int_equal(r[0].err, HC_ECONNECT); /* no token: the target is never called */
	assert_int_equal(e->target_hits, 0);
	svc_tokens_free(t);

	/* freed while a request waits for its token: it fails now; the late answer is ignored */
	t = svc_tokens_new(e->base, e->cli, "gateway", SECRET);
	assert_int_equal(svc_send(t, e->cli, "billing", &target_req, on_result, &r[1]), 0);
	svc_tokens_free(t);
	assert_int_equal(r[1].calls, 1);
	assert_int_equal(r[1].err, HC_ESHUTDOWN);
	tu_run_for(e->base, 100);
	assert_int_equal(r[1].calls, 1);
	assert_null(svc_tokens_new(e->base, e->cli, "gateway", ""));
	assert_null(svc_tokens_new(e->base, e->cli, "Bad Id", SECRET));
}

static void test_svc_auth_replies(void **state)
{
	struct env *e = *state;
	struct claims_spec user = {ISS, "0b7e4f6c-3a52-4c55-9d5a-1f0e9b8f2a11", "flatrender", NULL,
				   300};
	char *tok = mint(e->key, &user);
	char auth[2048];
	struct http_client_header h[1] = {{"Authorization", auth}};
	struct http_client_request rq = {HTTP_GET, "/target", h, 1, NULL, 0, 0};
	struct result r;
	struct all_done a = {&r, 1};

	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	free(tok);
	memset(&r, 0, sizeof(r));
	assert_int_equal(http_client_send(e->cli, &rq, on_result, &r), 0);
	assert_true(tu_pump(e->base, pred_all, &a, 5000));
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.body, "\"code\":\"service_token_required\""));

	memset(&r, 0, sizeof(r));
	rq.nheaders = 0;
	assert_int_equal(http_client_send(e->cli, &rq, on_result, &r), 0);
	assert_true(tu_pump(e->base, pred_all, &a, 5000));
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.body, "\"code\":\"token_missing\""));
}

struct jwks_probe {
	int swaps, fetched, woken;
	enum http_client_err last;
};

static void probe_swap(void *arg, const struct jwt_keyset *ks)
{
	struct jwks_probe *p = arg;

	assert_int_equal(jwt_keyset_count(ks), 1);
	p->swaps++;
}

static void probe_fetch(void *arg, enum http_client_err err)
{
	struct jwks_probe *p = arg;

	p->fetched++;
	p->last = err;
}

static void probe_wake(void *arg)
{
	((struct jwks_probe *)arg)->woken++;
}

static bool pred_woken2(void *arg)
{
	return ((struct jwks_probe *)arg)->woken == 2;
}

static void test_svc_jwks_client_kid_refetch_is_rate_limited(void **state)
{
	struct env *e = *state;
	struct jwks_probe p = {0};
	struct jwks_client_opts o = {3600, probe_swap, probe_fetch, &p};
	struct jwks_client *j = jwks_client_new(e->base, e->cli, &o);
	struct jwks_waiter w1 = {NULL, probe_wake, &p}, w2 = {NULL, probe_wake, &p};
	int before;

	assert_non_null(j);
	assert_false(jwks_client_ready(j));
	jwks_client_start(j);
	assert_true(tu_pump(e->base, jwks_client_ready, j, 5000));
	assert_int_equal(p.swaps, 1);
	assert_int_equal(p.last, HC_OK);
	assert_true(jwt_keyset_has(jwks_client_current(j), "kid-e2e"));
	before = e->jwks_fetches;
	/* two unknown kids at once: one re-fetch, both waiters released by it */
	assert_int_equal(jwks_client_refresh_for_kid(j, &w1), 0);
	assert_int_equal(jwks_client_refresh_for_kid(j, &w2), 0);
	assert_true(tu_pump(e->base, pred_woken2, &p, 5000));
	assert_int_equal(e->jwks_fetches, before + 1);
	assert_int_equal(p.swaps, 2);
	/* within the second after it: refused, nothing parked, nothing fetched */
	assert_int_equal(jwks_client_refresh_for_kid(j, &w1), -1);
	assert_int_equal(jwks_client_refresh_for_kid(j, NULL), -1);
	tu_run_for(e->base, 50);
	assert_int_equal(e->jwks_fetches, before + 1);
	/* freed with a fetch in flight: the late answer is ignored */
	tu_run_for(e->base, 1000);
	assert_int_equal(jwks_client_refresh_for_kid(j, NULL), 0);
	jwks_client_free(j);
	tu_run_for(e->base, 100);
	assert_int_equal(p.woken, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_svc_verifier_rules),
		cmocka_unit_test(test_svc_config_service_secret),
		cmocka_unit_test(test_svc_config_refuses_missing_secret_outside_local),
		cmocka_unit_test(test_svc_config_service_defaults),
		cmocka_unit_test_setup_teardown(test_svc_send_single_flight, e2e_setup, e2e_teardown),
		cmocka_unit_test_setup_teardown(test_svc_send_retries_once_after_401, e2e_setup,
						e2e_teardown),
		cmocka_unit_test_setup_teardown(test_svc_send_wrong_secret_and_free_with_waiters,
						e2e_setup, e2e_teardown),
		cmocka_unit_test_setup_teardown(test_svc_auth_replies, e2e_setup, e2e_teardown),
		cmocka_unit_test_setup_teardown(test_svc_jwks_client_kid_refetch_is_rate_limited,
						e2e_setup, e2e_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
