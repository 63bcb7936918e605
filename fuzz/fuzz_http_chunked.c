/*
 * fuzz_http_chunked.c - libFuzzer target for the chunked-body decoder
 * (http_chunked_decode).
 *
 * Differential check: the input decoded in one call with a roomy output buffer must give
 * the same verdict, bytes consumed and decoded data as the same input fed in pieces (sizes
 * taken from the first byte) into a tiny output buffer. Also checks the counters stay
 * within the buffers.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_parser.h"

struct run {
	int verdict; /* 1 done, 0 need more, -1 error */
	size_t consumed;
	size_t outlen;
};

static struct run decode_whole(const char *in, size_t n, char *out)
{
	struct http_chunked c;
	http_chunked_init(&c);
	size_t got = 0;
	bool done = false;
	ssize_t rc = http_chunked_decode(&c, in, n, out, n, &got, &done);
	if (rc < 0)
		return (struct run){-1, 0, 0};
	if ((size_t)rc > n || got > n || got > (size_t)rc)
		abort();
	return (struct run){done ? 1 : 0, (size_t)rc, got};
}

static struct run decode_pieces(const char *in, size_t n, char *out, size_t step, size_t cap)
{
	struct http_chunked c;
	http_chunked_init(&c);
	size_t i = 0, o = 0;
	bool done = false;
	while (!done && i < n) {
		size_t len = n - i < step ? n - i : step;
		char tiny[16];
		size_t got = 0;
		ssize_t rc = http_chunked_decode(&c, in + i, len, tiny, cap, &got, &done);
		if (rc < 0)
			return (struct run){-1, 0, 0};
		if ((size_t)rc > len || got > cap)
			abort();
		memcpy(out + o, tiny, got);
		o += got;
		i += (size_t)rc;
		if (rc == 0 && got == 0 && !done)
			abort(); /* no progress with input and room available */
	}
	return (struct run){done ? 1 : 0, i, o};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = 1 + (data[0] & 15), cap = 1 + (data[0] >> 4);
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	char *a = malloc(n + 1), *b = malloc(n + 1);
	if (!a || !b)
		abort();
	struct run ra = decode_whole(in, n, a);
	struct run rb = decode_pieces(in, n, b, step, cap);
	if (ra.verdict != rb.verdict)
		abort();
	if (ra.verdict >= 0 && (ra.consumed != rb.consumed || ra.outlen != rb.outlen ||
				memcmp(a, b, ra.outlen) != 0))
		abort();
	free(a);
	free(b);
	return 0;
}
