/*
 * provider_zarinpal.c - the ZarinPal adapter (see provider.h): payment/request.json and
 * payment/verify.json through common/http_client.h to BILLING_ZARINPAL_URL.
 *
 * Owns one small malloc'd context per call in flight, freed right after its cb ran. Offered
 * only when BILLING_ZARINPAL_URL and BILLING_ZARINPAL_MERCHANT_ID are set and the currency is
 * IRR or IRT; refunds are not offered (ZarinPal refunds are an operator action).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_client.h"
#include "provider.h"
#include "provider_zarinpal_msg.h"

struct zp_call {
	bool verify;
	char start_base[PAY_URL_MAX]; /* BILLING_ZARINPAL_URL, for the StartPay URL */
	pay_cb cb;
	void *arg;
};

static void zp_fill(struct zp_call *c, const struct zarinpal_reply *z, struct pay_result *res)
{
	char msg[300];

	if (!c->verify && zarinpal_request_ok(z)) {
		pay_result_set(res, PAY_OUT_OK, NULL, NULL);
		snprintf(res->provider_ref, sizeof(res->provider_ref), "%s", z->authority);
		if (zarinpal_start_url(c->start_base, z->authority, res->redirect_url,
				       sizeof(res->redirect_url)) < 0)
			pay_result_set(res, PAY_OUT_UNAVAILABLE, "provider_error",
				       "StartPay URL too long");
		return;
	}
	if (c->verify && zarinpal_verify_ok(z)) {
		pay_result_set(res, PAY_OUT_OK, NULL, NULL);
		snprintf(res->provider_ref, sizeof(res->provider_ref), "%lld", z->ref_id);
		return;
	}
	snprintf(msg, sizeof(msg), "zarinpal code %ld: %s", z->code, z->message);
	pay_result_set(res, PAY_OUT_DECLINED, c->verify ? "verification_failed" : "provider_refused",
		       msg);
}

static void zp_on_answer(enum http_client_err err, const struct http_client_response *resp,
			 void *arg)
{
	struct zp_call *c = arg;
	struct zarinpal_reply z;
	struct pay_result res;
	int rc;

	if (err != HC_OK) {
		pay_result_set(&res, PAY_OUT_UNAVAILABLE, "provider_unavailable",
			       http_client_strerror(err));
	} else {
		rc = c->verify ? zarinpal_parse_verify(resp->body, resp->body_len, &z)
			       : zarinpal_parse_request(resp->body, resp->body_len, &z);
		if (rc < 0)
			pay_result_set(&res, PAY_OUT_UNAVAILABLE, "provider_error",
				       "unreadable ZarinPal answer");
		else
			zp_fill(c, &z, &res);
	}
	c->cb(&res, c->arg);
	free(c);
}

static int zp_send(const struct pay_env *env, const char *path, char *body, bool verify,
		   pay_cb cb, void *arg)
{
	static const struct http_client_header hdrs[] = {
		{"Content-Type", "application/json"},
		{"Accept", "application/json"},
	};
	struct http_client_request r = {
		.method = HTTP_POST,
		.target = path,
		.headers = hdrs,
		.nheaders = sizeof(hdrs) / sizeof(hdrs[0]),
		.body = body,
		.body_len = strlen(body),
	};
	struct zp_call *c = calloc(1, sizeof(*c));
	int rc;

	if (c == NULL) {
		free(body);
		return -1;
	}
	c->verify = verify;
	snprintf(c->start_base, sizeof(c->start_base), "%s", env->zarinpal_url);
	c->cb = cb;
	c->arg = arg;
	rc = http_client_send(env->zarinpal, &r, zp_on_answer, c); /* copies the body */
	free(body);
	if (rc < 0)
		free(c);
	return rc;
}

bool pay_zarinpal_offered(const struct pay_env *env)
{
	return env->zarinpal != NULL && env->zarinpal_merchant != NULL &&
	       env->zarinpal_merchant[0] != '\0' && zarinpal_currency_ok(env->currency);
}

static int zp_unsupported(pay_cb cb, void *arg, const char *message)
{
	struct pay_result res;

	pay_result_set(&res, PAY_OUT_UNSUPPORTED, "not_supported", message);
	cb(&res, arg);
	return 0;
}

static int zp_start(const struct pay_env *env, const struct pay_op *op, pay_cb cb, void *arg)
{
	char callback[PAY_URL_MAX];
	char *body;

	if (!pay_zarinpal_offered(env))
		return zp_unsupported(cb, arg, "ZarinPal is not configured for this deployment.");
	snprintf(callback, sizeof(callback), "%s/v1/payments/callback/zarinpal", env->public_url);
	body = zarinpal_request_body(env->zarinpal_merchant, op->amount_minor, env->currency,
				     callback, op->description, op->payment_id);
	if (body == NULL)
		return -1;
	return zp_send(env, ZARINPAL_PATH_REQUEST, body, false, cb, arg);
}

static int zp_verify(const struct pay_env *env, const struct pay_op *op, pay_cb cb, void *arg)
{
	char *body;

	if (!pay_zarinpal_offered(env))
		return zp_unsupported(cb, arg, "ZarinPal is not configured for this deployment.");
	body = zarinpal_verify_body(env->zarinpal_merchant, op->amount_minor, op->provider_ref);
	if (body == NULL)
		return -1;
	return zp_send(env, ZARINPAL_PATH_VERIFY, body, true, cb, arg);
}

static int zp_refund(const struct pay_env *env, const struct pay_op *op, pay_cb cb, void *arg)
{
	return zp_unsupported(cb, arg, "ZarinPal refunds are not offered through the API.");
}

const struct pay_provider pay_provider_zarinpal = {
	PAY_GW_ZARINPAL, "ZarinPal", "zarinpal", false, true, zp_start, zp_verify, zp_refund,
};
