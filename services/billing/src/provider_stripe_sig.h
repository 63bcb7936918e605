/*
 * provider_stripe_sig.h - Stripe-style webhook signatures, pure and fuzzed
 * (fuzz/fuzz_stripe_sig.c).
 *
 * Header:  Stripe-Signature: t=<unix seconds>,v1=<hex>,v1=<hex>,v0=<ignored>...
 * Each v1 is lower-case hex HMAC-SHA256(secret, "<t>.<raw body>"); several v1 may be present
 * (a secret being rolled). The header matches when ANY v1 equals the expected MAC (compared in
 * constant time) and |now - t| <= tolerance. Unknown keys are ignored, as Stripe's libraries do.
 *
 * Owns nothing: parse writes into the caller's struct.
 */
#ifndef BILLING_PROVIDER_STRIPE_SIG_H
#define BILLING_PROVIDER_STRIPE_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MUST_CHECK __attribute__((warn_unused_result))
#define STRIPE_SIG_MAX_V1 8        /* more v1 values are ignored */
#define STRIPE_SIG_MAX_HEADER 4096 /* a longer header is malformed */

struct stripe_sig {
	int64_t t;                                 /* the signed timestamp */
	unsigned char v1[STRIPE_SIG_MAX_V1][32];   /* decoded v1 MACs */
	size_t nv1;
};

enum stripe_sig_result {
	STRIPE_SIG_OK = 0,
	STRIPE_SIG_MALFORMED, /* no t, a bad t, no well-formed v1, or too long */
	STRIPE_SIG_MISMATCH,  /* no v1 matches the body under the secret */
	STRIPE_SIG_STALE,     /* a v1 matches but t is outside the tolerance */
};

/* Parses an untrusted header of len bytes (need not be NUL-terminated). 0, or -1 when
 * malformed (out zeroed). A v1 that is not 64 hex digits is skipped, like Stripe does. */
int stripe_sig_parse(const char *hdr, size_t len, struct stripe_sig *out) MUST_CHECK;

/* The lower-case hex v1 MAC of body signed at t (out: 65 bytes). Used by the verifier and by
 * tests that sign webhooks. */
void stripe_sig_mac_hex(const char *secret, int64_t t, const void *body, size_t body_len,
			char out[65]);

/* The whole check: parse, match any v1 in constant time, then the tolerance window. */
enum stripe_sig_result stripe_sig_verify(const char *hdr, size_t hdr_len, const char *secret,
					 const void *body, size_t body_len, time_t now,
					 long tolerance_s);

/* "signature_invalid" / "timestamp_out_of_window" (the 400 error codes); NULL for OK. */
const char *stripe_sig_error_code(enum stripe_sig_result r);

#endif
