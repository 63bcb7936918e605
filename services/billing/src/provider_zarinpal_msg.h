/*
 * provider_zarinpal_msg.h - ZarinPal v4 messages, pure (no I/O) and fuzzed
 * (fuzz/fuzz_zarinpal_msg.c): the request bodies of payment/request.json and
 * payment/verify.json, and the parsing of their untrusted answers.
 *
 *   request  {"merchant_id","amount","currency","callback_url","description",
 *             "metadata":{"order_id":<payment_id>}}
 *            -> {"data":{"code":100,"message":"Success","authority":"A0000...","fee":..},
 *                "errors":[]}
 *   verify   {"merchant_id","amount","authority"}
 *            -> {"data":{"code":100|101,"message","ref_id":201,"card_pan":"5022****"},..}
 *   failure  {"data":[],"errors":{"code":-9,"message":"...","validations":[...]}}
 *
 * code 100 = done, 101 = verify repeated (already verified: also a success).
 * Owns nothing: builders return malloc'd strings the caller frees.
 */
#ifndef BILLING_PROVIDER_ZARINPAL_MSG_H
#define BILLING_PROVIDER_ZARINPAL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MUST_CHECK __attribute__((warn_unused_result))
#define ZARINPAL_AUTHORITY_MAX 64

#define ZARINPAL_PATH_REQUEST "/pg/v4/payment/request.json"
#define ZARINPAL_PATH_VERIFY "/pg/v4/payment/verify.json"

struct zarinpal_reply {
	long code;                                 /* data.code, or errors.code on failure */
	char authority[ZARINPAL_AUTHORITY_MAX + 1];/* request: data.authority */
	long long ref_id;                          /* verify: data.ref_id (0 = none) */
	char message[256];                         /* data.message / errors.message */
};

/* ZarinPal takes IRR (Rials) or IRT (Tomans) only. */
bool zarinpal_currency_ok(const char *currency);
/* An authority fit for a URL and a text column: 1..64 of [A-Za-z0-9]. */
bool zarinpal_authority_valid(const char *a);

/* The payment/request.json body; NULL on bad arguments (amount < 1, a currency ZarinPal does
 * not take, missing strings). description may be NULL. */
char *zarinpal_request_body(const char *merchant_id, int64_t amount, const char *currency,
			    const char *callback_url, const char *description,
			    const char *payment_id);
/* The payment/verify.json body; NULL on bad arguments. */
char *zarinpal_verify_body(const char *merchant_id, int64_t amount, const char *authority);

/* Parse an untrusted answer (need not be NUL-terminated). 0 with *out filled when it is a
 * well-formed success or failure answer (out->code tells which), -1 when unreadable. A
 * request success must carry a valid authority, else -1. */
int zarinpal_parse_request(const char *body, size_t len, struct zarinpal_reply *out) MUST_CHECK;
int zarinpal_parse_verify(const char *body, size_t len, struct zarinpal_reply *out) MUST_CHECK;

/* data.code 100 (request done / verified) or 101 (verify repeated). */
bool zarinpal_request_ok(const struct zarinpal_reply *r);
bool zarinpal_verify_ok(const struct zarinpal_reply *r);

/* "<base>/pg/StartPay/<authority>"; -1 when it does not fit or the authority is invalid. */
int zarinpal_start_url(const char *base, const char *authority, char *out, size_t cap) MUST_CHECK;

#endif
