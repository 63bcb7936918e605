/*
 * idem.c - the request hash of idempotency records (see idem.h).
 *
 * Owns nothing.
 */
#include "idem.h"

#include <stdarg.h>
#include <stdio.h>

#include "common/crypto.h"

void idem_hash(char out[65], const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = (int)sizeof(buf) - 1; /* callers bound their parameters well below this */
	sha256_hex(buf, (size_t)n, out);
}
