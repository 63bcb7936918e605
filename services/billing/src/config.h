/*
 * config.h - billing's configuration: one struct filled from environment variables.
 *
 * The table of variables lives in config.c (billing_config_items); main.c loads it once and
 * passes the struct down by const pointer. Nothing here is a mutable global.
 */
#ifndef BILLING_CONFIG_H
#define BILLING_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/config_common.h"

/* The longest hold a caller may ask for (ttl_s), seconds. */
#define BILLING_HOLD_MAX_TTL_S 86400
/* The shortest BILLING_PAYMENT_PENDING_TTL_S outside FR_ENV=local (tests use less), seconds. */
#define BILLING_PAYMENT_MIN_TTL_S 60

struct billing_config {
	/* FR_ENV, FR_LOG_LEVEL, FR_INTERNAL_SECRET, FR_JWT_*, FR_REDIS_*, FR_AMQP_*, and the
	 * service-token rows (FR_SERVICE_CLIENT_*, FR_IDENTITY_URL) */
	struct fr_common_config common;
	/* listener */
	char *bind;
	long port;
	long max_body_bytes;
	long drain_timeout_ms;
	bool access_log;
	/* database */
	char *database_url;
	long db_pool_size;
	long db_query_timeout_ms;
	char *migrations_dir;
	long outbox_poll_ms;
	long outbox_batch;
	/* money */
	char *currency;
	long default_second_price_minor;
	long low_balance_minor;
	char *starter_plan;
	/* holds */
	long hold_ttl_s;
	long sweep_interval_ms;
	long sweep_batch;
	long payment_pending_ttl_s; /* Pending payments older than this expire (pay_sweep.c) */
	/* test hook: the operation after whose commit the daemon exits (FR_ENV=local only) */
	char *fault_exit_after_commit;
	/* ---- payments, discounts, refunds ---- */
	char *public_url;            /* where browsers and providers reach billing (the gateway) */
	char *return_url;            /* where checkouts end; "" = <public_url>/v1/payments/sandbox/return */
	bool sandbox_enabled;        /* Sandbox offered outside FR_ENV=local (see pay_app.c) */
	char *sandbox_secret;        /* HMAC key of the sandbox checkout URLs */
	char *stripe_webhook_secret; /* HMAC key of Stripe-Signature */
	long stripe_tolerance_s;
	char *zarinpal_url;          /* "" = ZarinPal not offered */
	char *zarinpal_merchant_id;
	char *refund_clients;        /* comma list of service client ids that may refund */
};

/* Built-in local defaults of billing's own secrets (refused outside FR_ENV=local). */
#define BILLING_LOCAL_SANDBOX_SECRET "flatrender-local-sandbox-secret"
#define BILLING_LOCAL_STRIPE_SECRET "whsec_flatrender_local"


extern const struct cfg_item billing_config_items[];
extern const size_t billing_config_nitems;

/* Loads cfg from the environment, then billing_config_check(). On failure writes why into
 * err and returns -1; call billing_config_free() either way. */
int billing_config_load(struct billing_config *cfg, char *err, size_t errlen) MUST_CHECK;
/* The cross-field rules: the shared ones (config_common.h), a three-letter upper-case
 * currency, the fault hook and a payment TTL below 60 s only in FR_ENV=local. 0 or -1 + err. */
int billing_config_check(const struct billing_config *cfg, char *err, size_t errlen) MUST_CHECK;
/* The payment rows' rules: URLs well-formed, secrets not empty, a merchant id
 * with ZarinPal. 0 or -1 + err. */
int billing_pay_config_check(const struct billing_config *cfg, char *err, size_t errlen) MUST_CHECK;
/* Whether service client client_id is in BILLING_REFUND_CLIENTS (a comma list; spaces
 * around the names are ignored). */
bool billing_refund_client_allowed(const struct billing_config *cfg, const char *client_id);
void billing_config_free(struct billing_config *cfg);

#endif
