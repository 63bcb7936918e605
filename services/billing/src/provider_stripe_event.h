/*
 * provider_stripe_event.h - the body of a Stripe-style webhook, pure and fuzzed
 * (fuzz/fuzz_stripe_sig.c): only after its signature verified, but still untrusted bytes.
 *
 *   {"id":"evt_...","type":"payment_intent.succeeded" | "payment_intent.payment_failed" | ...,
 *    "data":{"object":{"id":"pi_...","amount":1500,"currency":"usd",
 *                      "metadata":{"payment_id":"<uuid>"},
 *                      "last_payment_error":{"code":"card_declined","message":"..."}}}}
 *
 * Owns nothing: parse fills the caller's struct.
 */
#ifndef BILLING_PROVIDER_STRIPE_EVENT_H
#define BILLING_PROVIDER_STRIPE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MUST_CHECK __attribute__((warn_unused_result))
#define STRIPE_EVENT_ID_MAX 255

enum stripe_event_kind {
	STRIPE_EV_OTHER,     /* acknowledged and ignored */
	STRIPE_EV_SUCCEEDED, /* payment_intent.succeeded */
	STRIPE_EV_FAILED,    /* payment_intent.payment_failed */
};

struct stripe_event {
	char id[STRIPE_EVENT_ID_MAX + 1]; /* the event id: the replay key */
	enum stripe_event_kind kind;
	char object_id[129];        /* data.object.id ("" when absent) */
	char payment_id[37];        /* data.object.metadata.payment_id (SUCCEEDED/FAILED) */
	bool has_amount;
	int64_t amount;             /* data.object.amount, minor units */
	char currency[4];           /* data.object.currency upper-cased ("" when absent) */
	char failure_code[65];      /* FAILED: snake_case, "declined" when none usable */
	char failure_message[501];  /* FAILED: last_payment_error.message ("" when none) */
};

/* 0 with *out filled, or -1 (out zeroed) when the body is not an event: not strict JSON, no
 * printable id of 1..255 bytes, no string type, or a payment_intent.succeeded / failed event
 * without an object carrying metadata.payment_id as a UUID, or with a malformed amount or
 * currency. Other event types need only id and type. */
int stripe_event_parse(const char *body, size_t len, struct stripe_event *out) MUST_CHECK;

#endif
