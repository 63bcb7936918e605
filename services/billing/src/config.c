/*
 * config.c - billing's environment variables (one table) and the rules between them.
 *
 * Owns the billing_config_items table; the strings loaded into a struct billing_config
 * belong to that struct until billing_config_free().
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define S CFG_STR
#define I CFG_INT
#define B CFG_BOOL
#define ROW(env, type, def, secret, field, min, max, help)                                         \
	CFG_ROW(env, type, def, secret, struct billing_config, field, min, max, help)

const struct cfg_item billing_config_items[] = {
	FR_COMMON_CFG_ROWS(struct billing_config, common),
	FR_COMMON_CFG_ROWS_SVC(struct billing_config, common),
	ROW("BILLING_BIND", S, "127.0.0.1", false, bind, 0, 0,
	    "listen address (0.0.0.0 in containers)"),
	ROW("BILLING_PORT", I, "8082", false, port, 0, 65535, "listen port (0 = ephemeral)"),
	ROW("BILLING_MAX_BODY_BYTES", I, "65536", false, max_body_bytes, 1024, 16777216,
	    "largest request body (413 beyond)"),
	ROW("BILLING_DRAIN_TIMEOUT_MS", I, "10000", false, drain_timeout_ms, 0, 600000,
	    "on SIGTERM, wait this long for requests in flight"),
	ROW("BILLING_ACCESS_LOG", B, "true", false, access_log, 0, 0, "one log line per request"),
	ROW("BILLING_DATABASE_URL", S, "postgresql://billing:billing@127.0.0.1:5432/flatrender",
	    true, database_url, 0, 0, "PostgreSQL connection URI (schema \"billing\")"),
	ROW("BILLING_DB_POOL_SIZE", I, "8", false, db_pool_size, 1, 256, "PostgreSQL connections"),
	ROW("BILLING_DB_QUERY_TIMEOUT_MS", I, "5000", false, db_query_timeout_ms, 100, 600000,
	    "deadline of one SQL statement"),
	ROW("BILLING_MIGRATIONS_DIR", S, "migrations/billing", false, migrations_dir, 0, 0,
	    "directory of the NNNN_name.sql files applied at start-up"),
	ROW("BILLING_OUTBOX_POLL_MS", I, "1000", false, outbox_poll_ms, 10, 600000,
	    "how often the outbox relay looks for unsent events (a commit wakes it at once)"),
	ROW("BILLING_OUTBOX_BATCH", I, "100", false, outbox_batch, 1, 10000,
	    "events published per outbox relay round"),
	ROW("BILLING_CURRENCY", S, "USD", false, currency, 0, 0,
	    "ISO 4217 currency of every wallet, plan and payment of this deployment"),
	ROW("BILLING_DEFAULT_SECOND_PRICE_MINOR", I, "10", false, default_second_price_minor, 0,
	    1000000000, "price of one render-second from balance for a user without an active plan"),
	ROW("BILLING_LOW_BALANCE_MINOR", I, "500", false, low_balance_minor, 1, 1000000000000,
	    "a debit taking the balance below this emits billing.balance.low.v1"),
	ROW("BILLING_STARTER_PLAN", S, "", false, starter_plan, 0, 0,
	    "plan code activated for every newly registered user (empty = none)"),
	ROW("BILLING_HOLD_TTL_S", I, "3600", false, hold_ttl_s, 1, BILLING_HOLD_MAX_TTL_S,
	    "lifetime of a hold created without ttl_s; the sweep expires it afterwards"),
	ROW("BILLING_SWEEP_INTERVAL_MS", I, "10000", false, sweep_interval_ms, 100, 3600000,
	    "how often expired holds and payments are looked for"),
	ROW("BILLING_SWEEP_BATCH", I, "100", false, sweep_batch, 1, 10000,
	    "expired holds released (and expired payments failed) per sweep round"),
	ROW("BILLING_PAYMENT_PENDING_TTL_S", I, "86400", false, payment_pending_ttl_s, 1,
	    31536000, "a payment still Pending this long after its creation fails as expired "
	    "(its discount use given back); at least 60 outside FR_ENV=local"),
	ROW("BILLING_FAULT_EXIT_AFTER_COMMIT", S, "", false, fault_exit_after_commit, 0, 0,
	    "test hook (FR_ENV=local only): exit 86 right after this operation commits "
	    "(e.g. hold.reserve)"),
	/* ---- payments, discounts, refunds ---- */
	ROW("BILLING_PUBLIC_URL", S, "http://127.0.0.1:8080", false, public_url, 0, 0,
	    "where browsers and payment providers reach billing (the gateway), no trailing /"),
	ROW("BILLING_RETURN_URL", S, "", false, return_url, 0, 0,
	    "page a finished checkout redirects to (?payment_id=&status= added; empty = "
	    "<BILLING_PUBLIC_URL>/v1/payments/sandbox/return)"),
	ROW("BILLING_SANDBOX_ENABLED", B, "false", false, sandbox_enabled, 0, 0,
	    "offer the Sandbox provider (free test payments) outside FR_ENV=local; always on in "
	    "local"),
	ROW("BILLING_SANDBOX_SECRET", S, BILLING_LOCAL_SANDBOX_SECRET, true, sandbox_secret, 0, 0,
	    "HMAC key signing the sandbox provider's checkout URLs"),
	ROW("BILLING_STRIPE_WEBHOOK_SECRET", S, BILLING_LOCAL_STRIPE_SECRET, true,
	    stripe_webhook_secret, 0, 0, "HMAC key of the Stripe-Signature webhook header"),
	ROW("BILLING_STRIPE_TOLERANCE_S", I, "300", false, stripe_tolerance_s, 1, 3600,
	    "accepted age (either way) of a Stripe-Signature timestamp, seconds"),
	ROW("BILLING_ZARINPAL_URL", S, "", false, zarinpal_url, 0, 0,
	    "ZarinPal API base http://host:port (payment/request, verify, StartPay); empty = "
	    "ZarinPal not offered"),
	ROW("BILLING_ZARINPAL_MERCHANT_ID", S, "", false, zarinpal_merchant_id, 0, 0,
	    "ZarinPal merchant id (needed with BILLING_ZARINPAL_URL)"),
	ROW("BILLING_REFUND_CLIENTS", S, "render", false, refund_clients, 0, 0,
	    "comma list of the service clients allowed to issue refunds (others: 403)"),
};
const size_t billing_config_nitems = sizeof(billing_config_items) / sizeof(billing_config_items[0]);

int billing_config_load(struct billing_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	if (config_load(billing_config_items, billing_config_nitems, cfg, err, errlen) < 0)
		return -1;
	if (fr_common_service_defaults(&cfg->common, "billing") < 0) {
		snprintf(err, errlen, "FR_SERVICE_CLIENT_ID: out of memory");
		return -1;
	}
	return billing_config_check(cfg, err, errlen);
}

static bool currency_valid(const char *c)
{
	return c != NULL && strlen(c) == 3 && isupper((unsigned char)c[0]) &&
	       isupper((unsigned char)c[1]) && isupper((unsigned char)c[2]);
}

int billing_config_check(const struct billing_config *cfg, char *err, size_t errlen)
{
	if (fr_common_config_check(&cfg->common, err, errlen) < 0)
		return -1;
	if (!currency_valid(cfg->currency)) {
		snprintf(err, errlen, "BILLING_CURRENCY: must be three upper-case letters");
		return -1;
	}
	if (cfg->fault_exit_after_commit[0] != '\0' && !fr_common_is_local(&cfg->common)) {
		snprintf(err, errlen, "BILLING_FAULT_EXIT_AFTER_COMMIT: only allowed in FR_ENV=local");
		return -1;
	}
	if (cfg->payment_pending_ttl_s < BILLING_PAYMENT_MIN_TTL_S &&
	    !fr_common_is_local(&cfg->common)) {
		snprintf(err, errlen, "BILLING_PAYMENT_PENDING_TTL_S: below %d only in FR_ENV=local",
			 BILLING_PAYMENT_MIN_TTL_S);
		return -1;
	}
	if (billing_pay_config_check(cfg, err, errlen) < 0)
		return -1;
	const struct fr_builtin_secret own[] = {
		{"BILLING_SANDBOX_SECRET", cfg->sandbox_secret, BILLING_LOCAL_SANDBOX_SECRET},
		{"BILLING_STRIPE_WEBHOOK_SECRET", cfg->stripe_webhook_secret,
		 BILLING_LOCAL_STRIPE_SECRET},
	};
	return fr_common_refuse_local_secrets(&cfg->common, own, sizeof(own) / sizeof(own[0]), 0,
					      err, errlen);
}

static bool url_base_ok(const char *u)
{
	size_t n;

	if (u == NULL)
		return false;
	n = strlen(u);
	return (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) && n > 8 &&
	       n < 512 && u[n - 1] != '/' && strpbrk(u, "?# \t\r\n") == NULL;
}

int billing_pay_config_check(const struct billing_config *cfg, char *err, size_t errlen)
{
	if (!url_base_ok(cfg->public_url)) {
		snprintf(err, errlen, "BILLING_PUBLIC_URL: must be an http(s) URL without a "
				      "trailing /, query or fragment");
		return -1;
	}
	if (cfg->return_url[0] != '\0' && !url_base_ok(cfg->return_url)) {
		snprintf(err, errlen, "BILLING_RETURN_URL: must be an http(s) URL without a "
				      "query or fragment");
		return -1;
	}
	if (cfg->sandbox_secret[0] == '\0' || cfg->stripe_webhook_secret[0] == '\0') {
		snprintf(err, errlen, "BILLING_SANDBOX_SECRET / BILLING_STRIPE_WEBHOOK_SECRET: "
				      "must not be empty");
		return -1;
	}
	if (cfg->zarinpal_url[0] != '\0' && cfg->zarinpal_merchant_id[0] == '\0') {
		snprintf(err, errlen, "BILLING_ZARINPAL_MERCHANT_ID: required with BILLING_ZARINPAL_URL");
		return -1;
	}
	return 0;
}

bool billing_refund_client_allowed(const struct billing_config *cfg, const char *client_id)
{
	size_t n = client_id != NULL ? strlen(client_id) : 0;

	for (const char *p = cfg->refund_clients; n > 0 && p != NULL && *p != '\0';) {
		size_t len;

		while (*p == ' ' || *p == ',')
			p++;
		len = strcspn(p, ", ");
		if (len == n && strncmp(p, client_id, n) == 0)
			return true;
		p += len;
	}
	return false;
}

void billing_config_free(struct billing_config *cfg)
{
	config_free(billing_config_items, billing_config_nitems, cfg);
}
