/*
 * provider.h - the payment provider adapter interface and its four implementations:
 *
 *   Sandbox   local checkout page of billing itself (GET redirect_url approves, the same URL
 *             with outcome=fail declines); the URL carries hex HMAC(BILLING_SANDBOX_SECRET,
 *             payment_id) so nobody can approve a payment whose URL they were not given.
 *   Stripe    Stripe-style: the outcome arrives only as a signed webhook
 *             (provider_stripe_sig.h); no call to Stripe's API is made, so start gives no
 *             redirect URL (the client confirms the PaymentIntent) and refunds to the card are
 *             not offered.
 *   ZarinPal  ZarinPal v4 style: start POSTs payment/request.json and redirects the browser to
 *             StartPay/<authority>; the callback is verified server-side with
 *             payment/verify.json (provider_zarinpal_msg.h builds and parses those bodies).
 *             Only when BILLING_ZARINPAL_URL is set; refunds are not offered.
 *   Balance   the user's own balance: settled inside the purchase transaction (instant).
 *
 * Every operation answers through cb exactly once, possibly before it returns (the sandbox,
 * Stripe and Balance adapters answer at once); when it returns -1 nothing was started and cb
 * is not called. Owns nothing: env and the inputs are borrowed for the call (the ZarinPal
 * adapter copies what it needs for its HTTP round trip).
 */
#ifndef BILLING_PROVIDER_H
#define BILLING_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MUST_CHECK __attribute__((warn_unused_result))
#define PAY_URL_MAX 1024
#define PAY_REF_MAX 129

struct http_client;

enum pay_gateway { PAY_GW_SANDBOX, PAY_GW_STRIPE, PAY_GW_ZARINPAL, PAY_GW_BALANCE };

/* What the adapters need from the daemon (borrowed). */
struct pay_env {
	struct http_client *zarinpal; /* NULL when BILLING_ZARINPAL_URL is empty */
	const char *public_url;       /* BILLING_PUBLIC_URL: where browsers reach billing */
	const char *sandbox_secret;   /* BILLING_SANDBOX_SECRET */
	const char *zarinpal_url;     /* BILLING_ZARINPAL_URL (StartPay lives there too) */
	const char *zarinpal_merchant;/* BILLING_ZARINPAL_MERCHANT_ID */
	const char *currency;         /* BILLING_CURRENCY */
	bool sandbox_enabled;         /* FR_ENV=local or BILLING_SANDBOX_ENABLED */
};

struct pay_op {
	const char *payment_id;
	int64_t amount_minor;
	const char *provider_ref; /* verify/refund: the provider's reference (authority, ...) */
	const char *description;  /* start: shown by the provider; may be NULL */
};

enum pay_outcome {
	PAY_OUT_OK,          /* start: checkout ready; verify: paid; refund: refunded */
	PAY_OUT_DECLINED,    /* the provider's final "no" (failure_code says why) */
	PAY_OUT_UNAVAILABLE, /* unreachable or an unreadable answer: nothing is known, retry */
	PAY_OUT_UNSUPPORTED, /* this provider or deployment does not offer the operation */
};

struct pay_result {
	enum pay_outcome outcome;
	char redirect_url[PAY_URL_MAX]; /* start: "" = none */
	char provider_ref[PAY_REF_MAX]; /* "" = none */
	char failure_code[64];          /* snake_case, when not OK */
	char message[256];              /* for operators; never card data */
};

typedef void (*pay_cb)(const struct pay_result *res, void *arg);

struct pay_provider {
	enum pay_gateway gw;
	const char *name; /* API and payments.gateway value: "Sandbox" */
	const char *slug; /* event `provider` value: "sandbox" */
	bool instant;     /* settled in the purchase transaction, no checkout (Balance) */
	bool topup;       /* may fund a balance top-up */
	int (*start)(const struct pay_env *env, const struct pay_op *op, pay_cb cb,
		     void *arg) MUST_CHECK;
	int (*verify)(const struct pay_env *env, const struct pay_op *op, pay_cb cb,
		      void *arg) MUST_CHECK;
	int (*refund)(const struct pay_env *env, const struct pay_op *op, pay_cb cb,
		      void *arg) MUST_CHECK;
};

/* The adapter by API name ("Sandbox", "Stripe", "ZarinPal", "Balance"), or NULL. */
const struct pay_provider *pay_provider_by_name(const char *name);
const struct pay_provider *pay_provider_get(enum pay_gateway gw);
/* Whether this deployment offers p (Sandbox: only when env->sandbox_enabled; ZarinPal: only
 * when configured and the currency is IRR or IRT; the others always). */
bool pay_provider_offered(const struct pay_provider *p, const struct pay_env *env);
bool pay_zarinpal_offered(const struct pay_env *env);
/* The NULL-terminated API names, for jv_enum (top_up: only those with .topup). */
const char *const *pay_provider_names(bool top_up);

/* Sandbox checkout: sig = lower-case hex HMAC-SHA256(secret, payment_id) (out: 65 bytes), and
 * its constant-time check against untrusted text. */
void pay_sandbox_sig(const char *secret, const char *payment_id, char out[65]);
bool pay_sandbox_sig_ok(const char *secret, const char *payment_id, const char *sig);
/* "<public_url>/v1/payments/sandbox/checkout?payment_id=<id>&sig=<sig>"; -1 if it does not fit. */
int pay_sandbox_url(const char *public_url, const char *secret, const char *payment_id,
		    char *out, size_t cap) MUST_CHECK;

/* Internal to the adapters (provider_*.c). */
extern const struct pay_provider pay_provider_sandbox, pay_provider_stripe, pay_provider_zarinpal,
	pay_provider_balance;
/* Clears *res and sets outcome, failure_code and message (either may be NULL). */
void pay_result_set(struct pay_result *res, enum pay_outcome o, const char *failure_code,
		    const char *message);

#endif
