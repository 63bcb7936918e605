/*
 * http_parser.h - incremental HTTP/1.1 message-head and body framing, no I/O.
 *
 * Pure functions over byte buffers so they can be unit-tested and fuzzed: the server feeds
 * request bytes, the client feeds response bytes. The parser never allocates; header names
 * and values are (pointer, length) slices into the caller's buffer.
 *
 * Rules enforced (RFC 9112): request line "METHOD SP target SP HTTP/1.x CRLF", tokens for
 * method and header names, no whitespace before ':', obs-fold rejected, bare LF accepted only
 * as CRLF's equivalent, Content-Length digits only (duplicates must agree), Transfer-Encoding
 * only "chunked" (as the last coding); both CL and TE present -> error; at most
 * HTTP_MAX_HEADERS headers.
 */
#ifndef COMMON_HTTP_PARSER_H
#define COMMON_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_HEADERS 64

enum http_method {
	HTTP_M_UNKNOWN = 0,
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_DELETE,
	HTTP_OPTIONS,
};
const char *http_method_str(enum http_method m);
enum http_method http_method_parse(const char *s, size_t n);

struct http_slice {
	const char *p;
	size_t n;
};

struct http_head {
	/* request only */
	enum http_method method;
	struct http_slice method_raw, target;
	/* response only */
	int status;
	struct http_slice reason;
	/* both */
	int minor_version; /* HTTP/1.<minor> */
	size_t nheaders;
	struct http_slice names[HTTP_MAX_HEADERS];
	struct http_slice values[HTTP_MAX_HEADERS]; /* leading/trailing OWS trimmed */
	/* framing, derived from the headers */
	bool chunked;
	bool has_content_length;
	uint64_t content_length;
	bool keep_alive;    /* after Connection and version defaults */
	bool upgrade;       /* Connection: upgrade with an Upgrade header */
	bool expect_continue;
};

enum http_parse_rc {
	HTTP_PARSE_INCOMPLETE = -1, /* need more bytes */
	HTTP_PARSE_ERROR = -2,      /* malformed: reply 400 / drop the connection */
	HTTP_PARSE_TOO_LARGE = -3,  /* head longer than max_head or too many headers: 431 */
};

/* Parses a request head from buf[0..len). Returns the head's length in bytes (> 0, including
 * the final empty line) or an http_parse_rc. */
ssize_t http_parse_request(const char *buf, size_t len, size_t max_head, struct http_head *h);
/* The same for a response head (status line instead of request line). */
ssize_t http_parse_response(const char *buf, size_t len, size_t max_head, struct http_head *h);

/* Case-insensitive header lookup; returns the first value or NULL (and sets *n). */
const char *http_head_get(const struct http_head *h, const char *name, size_t *n);

/* Incremental chunked-body decoder. Feed it raw bytes; it copies decoded data to out. */
struct http_chunked {
	int state;
	uint64_t remaining; /* bytes left in the current chunk */
	size_t ext_len;     /* guards chunk-extension / trailer length */
};
void http_chunked_init(struct http_chunked *c);
/* Consumes from in[0..inlen), appends decoded bytes to out (up to outcap) and sets *outlen.
 * Returns bytes consumed (>= 0), or HTTP_PARSE_ERROR. *done is set when the terminating
 * chunk and trailers were read. Stops early when out is full. */
ssize_t http_chunked_decode(struct http_chunked *c, const char *in, size_t inlen, char *out,
			    size_t outcap, size_t *outlen, bool *done);

/* Percent-decodes src[0..n) into dst (capacity n+1, NUL-terminated). '+' becomes ' ' when
 * form is true. Returns the decoded length or -1 on a bad escape or an encoded NUL. */
ssize_t http_pct_decode(const char *src, size_t n, char *dst, bool form);

#endif
