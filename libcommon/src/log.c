/*
 * log.c - JSON-lines logging to stderr.
 *
 * Owns the process-wide service name and minimum level (set once by log_init()). Each line is
 * built in a stack buffer and written with a single write(2), so concurrent threads never
 * interleave within a line. Values that would overflow the buffer are cut (the line stays
 * valid JSON and gains "truncated":true); invalid UTF-8 becomes U+FFFD.
 */
#include "common/log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192
#define LOG_VALUE_MAX 2048 /* most bytes one escaped string may take */
#define LOG_TAIL_RESERVE 24 /* room for ,"truncated":true}\n */

static char log_service[64] = "unknown";
static enum log_level log_min_level = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

struct log_buf {
	char *p;
	size_t len;
	size_t cap; /* usable bytes, excluding the tail reserve */
	bool truncated;
};

void log_init(const char *service, enum log_level min_level)
{
	if (service != NULL)
		snprintf(log_service, sizeof(log_service), "%s", service);
	if (min_level >= LOG_LEVEL_DEBUG && min_level <= LOG_LEVEL_ERROR)
		log_min_level = min_level;
}

int log_level_parse(const char *s)
{
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++)
		if (strcasecmp(s, log_level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "warning") == 0)
		return LOG_LEVEL_WARN;
	return -1;
}

bool log_enabled(enum log_level level)
{
	return level >= log_min_level;
}

/* Appends raw bytes; returns -1 (appending nothing) when they do not fit. */
static int lb_raw(struct log_buf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap)
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it is invalid. */
static size_t log_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t need;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

/* The escaped form of the character at s into out; returns its length, *used the input bytes. */
static size_t log_escape_one(const unsigned char *s, size_t n, char out[8], size_t *used)
{
	unsigned c = s[0];
	size_t ulen;

	*used = 1;
	switch (c) {
	case '"': memcpy(out, "\\\"", 2); return 2;
	case '\\': memcpy(out, "\\\\", 2); return 2;
	case '\n': memcpy(out, "\\n", 2); return 2;
	case '\r': memcpy(out, "\\r", 2); return 2;
	case '\t': memcpy(out, "\\t", 2); return 2;
	case '\b': memcpy(out, "\\b", 2); return 2;
	case '\f': memcpy(out, "\\f", 2); return 2;
	default: break;
	}
	if (c < 0x20 || c == 0x7f) {
		snprintf(out, 8, "\\u%04x", c);
		return 6;
	}
	ulen = log_utf8_len(s, n);
	if (ulen == 0) {
		memcpy(out, "\\ufffd", 6);
		return 6;
	}
	memcpy(out, s, ulen);
	*used = ulen;
	return ulen;
}

/* Appends "s" escaped. The string is cut (closing quote kept) when it is too long. */
static int lb_str(struct log_buf *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)(s != NULL ? s : "");
	size_t n = strlen((const char *)u);
	size_t start = b->len;
	char esc[8];

	if (b->len + 2 > b->cap)
		return -1;
	b->p[b->len++] = '"';
	while (n > 0) {
		size_t used;
		size_t elen = log_escape_one(u, n, esc, &used);

		if (b->len + elen + 1 > b->cap || b->len - start + elen + 1 > LOG_VALUE_MAX) {
			b->truncated = true;
			break;
		}
		memcpy(b->p + b->len, esc, elen);
		b->len += elen;
		u += used;
		n -= used;
	}
	b->p[b->len++] = '"';
	return 0;
}

/* Appends ,"key":value for one item; on overflow the item is dropped whole. */
static void lb_kv(struct log_buf *b, const struct log_kv *kv)
{
	size_t mark = b->len;
	char num[64];
	int n = -1;

	if (kv->key == NULL)
		return;
	if (lb_raw(b, ",", 1) < 0 || lb_str(b, kv->key) < 0 || lb_raw(b, ":", 1) < 0)
		goto overflow;
	switch (kv->type) {
	case LKV_STR:
		if (kv->s == NULL) {
			if (lb_raw(b, "null", 4) < 0)
				goto overflow;
			return;
		}
		if (lb_str(b, kv->s) < 0)
			goto overflow;
		return;
	case LKV_INT: n = snprintf(num, sizeof(num), "%lld", kv->i); break;
	case LKV_DBL:
		if (isfinite(kv->d))
			n = snprintf(num, sizeof(num), "%.15g", kv->d);
		else
			n = snprintf(num, sizeof(num), "null");
		break;
	case LKV_BOOL: n = snprintf(num, sizeof(num), "%s", kv->i ? "true" : "false"); break;
	default: b->len = mark; return;
	}
	if (n > 0 && (size_t)n < sizeof(num) && lb_raw(b, num, (size_t)n) == 0)
		return;
overflow:
	b->len = mark;
	b->truncated = true;
}

static void lb_timestamp(struct log_buf *b)
{
	struct timespec ts;
	struct tm tm;
	char t[40];
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(t, sizeof(t), "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000);
	if (n > 0 && (size_t)n < sizeof(t))
		(void)lb_raw(b, t, (size_t)n);
}

static void log_ctx_field(struct log_buf *b, const char *key, const char *val)
{
	if (val != NULL)
		lb_kv(b, &(struct log_kv){.type = LKV_STR, .key = key, .s = val});
}

static void log_flush(const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		len -= (size_t)w;
	}
}

void log_write(enum log_level level, const struct log_ctx *ctx, const char *msg,
	       const struct log_kv *kv)
{
	char line[LOG_LINE_MAX];
	struct log_buf b = {.p = line, .len = 0, .cap = sizeof(line) - LOG_TAIL_RESERVE};

	if (level < LOG_LEVEL_DEBUG || level > LOG_LEVEL_ERROR || !log_enabled(level))
		return;
	lb_timestamp(&b);
	log_ctx_field(&b, "level", log_level_names[level]);
	log_ctx_field(&b, "service", log_service);
	log_ctx_field(&b, "msg", msg != NULL ? msg : "");
	if (ctx != NULL) {
		log_ctx_field(&b, "request_id", ctx->request_id);
		log_ctx_field(&b, "tenant_id", ctx->tenant_id);
		log_ctx_field(&b, "user_id", ctx->user_id);
	}
	for (; kv != NULL && kv->type != LKV_END; kv++)
		if (kv->type != LKV_SKIP)
			lb_kv(&b, kv);
	/* The tail reserve guarantees room for the rest. */
	b.cap = sizeof(line);
	if (b.truncated)
		(void)lb_raw(&b, ",\"truncated\":true", 17);
	(void)lb_raw(&b, "}\n", 2);
	log_flush(line, b.len);
}
