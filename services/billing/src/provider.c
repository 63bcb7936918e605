/*
 * provider.c - the adapter registry and the three adapters that need no network: Sandbox,
 * Stripe (webhook-driven) and Balance (see provider.h; ZarinPal is provider_zarinpal.c).
 *
 * Owns nothing; the adapters here answer through cb before they return.
 */
#include "provider.h"

#include <stdio.h>
#include <string.h>

#include "common/crypto.h"

void pay_result_set(struct pay_result *res, enum pay_outcome o, const char *failure_code,
		    const char *message)
{
	memset(res, 0, sizeof(*res));
	res->outcome = o;
	if (failure_code != NULL)
		snprintf(res->failure_code, sizeof(res->failure_code), "%s", failure_code);
	if (message != NULL)
		snprintf(res->message, sizeof(res->message), "%s", message);
}

static int pay_answer(pay_cb cb, void *arg, enum pay_outcome o, const char *code,
		      const char *message)
{
	struct pay_result res;

	pay_result_set(&res, o, code, message);
	cb(&res, arg);
	return 0;
}

/* ---- Sandbox ------------------------------------------------------------------------------ */

void pay_sandbox_sig(const char *secret, const char *payment_id, char out[65])
{
	unsigned char mac[32];

	hmac_sha256(secret, strlen(secret), payment_id, strlen(payment_id), mac);
	hex_encode(mac, sizeof(mac), out);
}

bool pay_sandbox_sig_ok(const char *secret, const char *payment_id, const char *sig)
{
	char want[65];

	if (sig == NULL || payment_id == NULL || strlen(sig) != 64)
		return false;
	pay_sandbox_sig(secret, payment_id, want);
	return ct_equal(want, sig, 64);
}

int pay_sandbox_url(const char *public_url, const char *secret, const char *payment_id, char *out,
		    size_t cap)
{
	char sig[65];
	int n;

	pay_sandbox_sig(secret, payment_id, sig);
	n = snprintf(out, cap, "%s/v1/payments/sandbox/checkout?payment_id=%s&sig=%s", public_url,
		     payment_id, sig);
	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static int sandbox_start(const struct pay_env *env, const struct pay_op *op, pay_cb cb, void *arg)
{
	struct pay_result res;

	pay_result_set(&res, PAY_OUT_OK, NULL, NULL);
	if (pay_sandbox_url(env->public_url, env->sandbox_secret, op->payment_id,
			    res.redirect_url, sizeof(res.redirect_url)) < 0)
		return -1;
	snprintf(res.provider_ref, sizeof(res.provider_ref), "sbx-%s", op->payment_id);
	cb(&res, arg);
	return 0;
}

/* The sandbox checkout page itself is the verification (its signed URL was fetched). */
static int sandbox_verify(const struct pay_env *env, const struct pay_op *op, pay_cb cb, void *arg)
{
	return pay_answer(cb, arg, PAY_OUT_OK, NULL, NULL);
}

static int sandbox_refund(const struct pay_env *env, const struct pay_op *op, pay_cb cb, void *arg)
{
	struct pay_result res;

	pay_result_set(&res, PAY_OUT_OK, NULL, NULL);
	snprintf(res.provider_ref, sizeof(res.provider_ref), "sbx-refund-%s", op->payment_id);
	cb(&res, arg);
	return 0;
}

const struct pay_provider pay_provider_sandbox = {
	PAY_GW_SANDBOX, "Sandbox", "sandbox", false, true, sandbox_start, sandbox_verify,
	sandbox_refund,
};

/* ---- Stripe (webhook-driven) -------------------------------------------------------------- */

static int stripe_start(const struct pay_env *env, const struct pay_op *op, pay_cb cb, void *arg)
{
	return pay_answer(cb, arg, PAY_OUT_OK, NULL, NULL); /* no redirect: the webhook decides */
}

static int stripe_unsupported(const struct pay_env *env, const struct pay_op *op, pay_cb cb,
			      void *arg)
{
	return pay_answer(cb, arg, PAY_OUT_UNSUPPORTED, "not_supported",
			  "Stripe is driven by its signed webhook; no Stripe API call is made.");
}

const struct pay_provider pay_provider_stripe = {
	PAY_GW_STRIPE, "Stripe", "stripe", false, true, stripe_start, stripe_unsupported,
	stripe_unsupported,
};

/* ---- Balance ------------------------------------------------------------------------------ */

/* The debit (or the credit of a refund) is the caller's ledger row in its transaction. */
static int balance_ok(const struct pay_env *env, const struct pay_op *op, pay_cb cb, void *arg)
{
	return pay_answer(cb, arg, PAY_OUT_OK, NULL, NULL);
}

const struct pay_provider pay_provider_balance = {
	PAY_GW_BALANCE, "Balance", "balance", true, false, balance_ok, balance_ok, balance_ok,
};

/* ---- registry ----------------------------------------------------------------------------- */

static const struct pay_provider *const pay_all[] = {
	&pay_provider_sandbox, &pay_provider_stripe, &pay_provider_zarinpal, &pay_provider_balance,
};
#define PAY_NPROVIDERS (sizeof(pay_all) / sizeof(pay_all[0]))

const struct pay_provider *pay_provider_by_name(const char *name)
{
	for (size_t i = 0; name != NULL && i < PAY_NPROVIDERS; i++)
		if (strcmp(pay_all[i]->name, name) == 0)
			return pay_all[i];
	return NULL;
}

const struct pay_provider *pay_provider_get(enum pay_gateway gw)
{
	for (size_t i = 0; i < PAY_NPROVIDERS; i++)
		if (pay_all[i]->gw == gw)
			return pay_all[i];
	return NULL;
}

bool pay_provider_offered(const struct pay_provider *p, const struct pay_env *env)
{
	switch (p->gw) {
	case PAY_GW_SANDBOX: return env->sandbox_enabled;
	case PAY_GW_ZARINPAL: return pay_zarinpal_offered(env);
	case PAY_GW_STRIPE:
	case PAY_GW_BALANCE: return true;
	}
	return false;
}

const char *const *pay_provider_names(bool top_up)
{
	static const char *const all[] = {"Sandbox", "Stripe", "ZarinPal", "Balance", NULL};
	static const char *const topup[] = {"Sandbox", "Stripe", "ZarinPal", NULL};

	return top_up ? topup : all;
}
