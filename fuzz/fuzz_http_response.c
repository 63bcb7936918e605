/*
 * fuzz_http_response.c - libFuzzer target for the response-head parser
 * (http_parse_response), the upstream side of the gateway.
 *
 * Checks: the head length is within the input and the limit, slices lie inside the head,
 * the status is three digits, re-parsing exactly the head gives the same answer, and a
 * prefix of the head is never complete.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_parser.h"

static void check_slice(struct http_slice s, const char *buf, size_t hl)
{
	if (s.n && (s.p < buf || s.p + s.n > buf + hl))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max_head = size ? 16 + (size_t)data[0] * 64 : 8192;
	const char *buf = (const char *)data + (size ? 1 : 0);
	size_t len = size ? size - 1 : 0;
	struct http_head h;
	ssize_t rc = http_parse_response(buf, len, max_head, &h);
	if (rc <= 0) {
		if (rc == HTTP_PARSE_INCOMPLETE && len >= max_head)
			abort();
		return 0;
	}
	size_t hl = (size_t)rc;
	if (hl > len || hl > max_head || h.status < 100 || h.status > 999)
		abort();
	if ((h.chunked && h.has_content_length) || h.minor_version < 0 || h.minor_version > 1)
		abort();
	check_slice(h.reason, buf, hl);
	for (size_t i = 0; i < h.nheaders; i++) {
		check_slice(h.names[i], buf, hl);
		check_slice(h.values[i], buf, hl);
		if (h.names[i].n == 0)
			abort();
	}
	struct http_head h2;
	if (http_parse_response(buf, hl, max_head, &h2) != rc || h2.status != h.status)
		abort();
	if (hl > 1 && http_parse_response(buf, hl - 1, max_head, &h2) > 0)
		abort();
	return 0;
}
