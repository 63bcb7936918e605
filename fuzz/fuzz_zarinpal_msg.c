/*
 * fuzz_zarinpal_msg.c - libFuzzer target for billing's parsers of ZarinPal's untrusted answers:
 * zarinpal_parse_request and zarinpal_parse_verify (payment/request.json and verify.json).
 *
 * The first input byte picks the parser (even: request, odd: verify). The billing source is
 * compiled in directly: the fuzz build links libcommon only.
 *
 *   make fuzz && build/fuzz/fuzz_zarinpal_msg -max_len=4096 -runs=200000
 */
#include "../services/billing/src/provider_zarinpal_msg.c"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zarinpal_reply z;
	char url[256];
	char *buf;

	if (size < 1)
		return 0;
	buf = malloc(size - 1 ? size - 1 : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	if (data[0] % 2 == 0) {
		if (zarinpal_parse_request(buf, size - 1, &z) == 0 && zarinpal_request_ok(&z) &&
		    zarinpal_start_url("http://zp", z.authority, url, sizeof(url)) < 0)
			abort(); /* a successful request always carries a usable authority */
	} else if (zarinpal_parse_verify(buf, size - 1, &z) == 0 && zarinpal_verify_ok(&z) &&
		   z.ref_id < 0) {
		abort();
	}
	free(buf);
	return 0;
}
