/*
 * fuzz_stripe_sig.c - libFuzzer target for billing's Stripe-style webhook parsers of untrusted
 * bytes: the Stripe-Signature header (stripe_sig_parse / stripe_sig_verify) and the webhook
 * body (stripe_event_parse).
 *
 * The first input byte picks the target (even: a header, verified against a fixed body and
 * secret; odd: a body). The billing sources are compiled in directly: the fuzz build links
 * libcommon only.
 *
 *   make fuzz && build/fuzz/fuzz_stripe_sig -max_len=4096 -runs=200000
 */
#include "../services/billing/src/provider_stripe_event.c"
#include "../services/billing/src/provider_stripe_sig.c"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_header(const char *h, size_t n)
{
	static const char body[] = "{\"id\":\"evt_1\",\"type\":\"charge.refunded\"}";
	struct stripe_sig s;
	enum stripe_sig_result r;

	if (stripe_sig_parse(h, n, &s) == 0 && (s.nv1 == 0 || s.nv1 > STRIPE_SIG_MAX_V1))
		abort(); /* a parsed header always holds 1..max v1 */
	r = stripe_sig_verify(h, n, "whsec_fuzz", body, sizeof(body) - 1, 1800000000, 300);
	if (r != STRIPE_SIG_OK && stripe_sig_error_code(r) == NULL)
		abort(); /* every refusal has its error code */
}

static void fuzz_body(const char *b, size_t n)
{
	struct stripe_event e;

	if (stripe_event_parse(b, n, &e) == 0) {
		if (e.id[0] == '\0')
			abort(); /* an event always has its id */
		if (e.kind != STRIPE_EV_OTHER && !uuid_valid(e.payment_id))
			abort(); /* a payment event always names a payment */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;

	if (size < 1)
		return 0;
	/* a private copy so reads past the input are caught, and no terminator is implied */
	buf = malloc(size - 1 ? size - 1 : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	if (data[0] % 2 == 0)
		fuzz_header(buf, size - 1);
	else
		fuzz_body(buf, size - 1);
	free(buf);
	return 0;
}
