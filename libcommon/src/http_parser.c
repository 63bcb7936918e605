/*
 * http_parser.c - HTTP/1.1 message heads, chunked bodies and percent-decoding, no I/O.
 *
 * Owns nothing: every function works on caller buffers and never allocates. The rules are
 * the strict subset of RFC 9112 listed in http_parser.h; anything that could let two
 * parsers disagree on where a message ends (CL + TE, differing CLs, obs-fold, whitespace
 * before ':', unknown transfer codings, bare CR) is an error. Chunked framing is stricter
 * than the head: chunk lines must end in CRLF.
 */
#include "common/http_parser.h"

#include <string.h>
#include <strings.h>

#define CHUNK_LINE_MAX 4096   /* chunk-size line incl. extensions */
#define CHUNK_TRAILER_MAX 8192 /* all trailer lines together */
#define METHOD_MAX 32

static const char *const method_names[] = {
	[HTTP_M_UNKNOWN] = "UNKNOWN", [HTTP_GET] = "GET",     [HTTP_HEAD] = "HEAD",
	[HTTP_POST] = "POST",         [HTTP_PUT] = "PUT",     [HTTP_PATCH] = "PATCH",
	[HTTP_DELETE] = "DELETE",     [HTTP_OPTIONS] = "OPTIONS",
};

const char *http_method_str(enum http_method m)
{
	if ((unsigned)m >= sizeof(method_names) / sizeof(method_names[0]))
		return "UNKNOWN";
	return method_names[m];
}

enum http_method http_method_parse(const char *s, size_t n)
{
	for (size_t i = 1; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
		if (strlen(method_names[i]) == n && memcmp(method_names[i], s, n) == 0)
			return (enum http_method)i;
	}
	return HTTP_M_UNKNOWN;
}

/* RFC 9110 tchar. */
static const unsigned char tchar_tab[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
	['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1,  ['|'] = 1,
	['~'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,  ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1,  ['C'] = 1,
	['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1,  ['J'] = 1,
	['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,  ['Q'] = 1,
	['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1,  ['X'] = 1,
	['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,  ['e'] = 1,
	['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,  ['s'] = 1,
	['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1,  ['z'] = 1,
};

static bool is_tchar(unsigned char c)
{
	return tchar_tab[c] != 0;
}

/* field-value octets: HTAB, SP, VCHAR, obs-text. */
static bool is_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ---- message heads ------------------------------------------------------------------------ */

struct cur {
	const char *b;
	size_t len; /* bytes available (already capped at max_head) */
	size_t pos;
	bool capped; /* len was cut at max_head: running out means "too large" */
};

static ssize_t cur_short(const struct cur *c)
{
	return c->capped ? HTTP_PARSE_TOO_LARGE : HTTP_PARSE_INCOMPLETE;
}

/* Consumes a line end (CRLF or LF). 1 = consumed, 0 = not at a line end, <0 = rc. */
static ssize_t cur_eol(struct cur *c)
{
	if (c->pos >= c->len)
		return cur_short(c);
	if (c->b[c->pos] == '\n') {
		c->pos++;
		return 1;
	}
	if (c->b[c->pos] != '\r')
		return 0;
	if (c->pos + 1 >= c->len)
		return cur_short(c);
	if (c->b[c->pos + 1] != '\n')
		return HTTP_PARSE_ERROR; /* bare CR */
	c->pos += 2;
	return 1;
}

/* Matches the literal "HTTP/1." + one digit; sets *minor. */
static ssize_t cur_version(struct cur *c, int *minor)
{
	static const char lit[] = "HTTP/1.";
	for (size_t i = 0; i < sizeof(lit) - 1; i++, c->pos++) {
		if (c->pos >= c->len)
			return cur_short(c);
		if (c->b[c->pos] != lit[i])
			return HTTP_PARSE_ERROR;
	}
	if (c->pos >= c->len)
		return cur_short(c);
	char d = c->b[c->pos++];
	if (d != '0' && d != '1')
		return HTTP_PARSE_ERROR;
	*minor = d - '0';
	return 1;
}

static ssize_t parse_request_line(struct cur *c, struct http_head *h)
{
	size_t start = c->pos;
	while (c->pos < c->len && is_tchar((unsigned char)c->b[c->pos]))
		c->pos++;
	if (c->pos - start > METHOD_MAX)
		return HTTP_PARSE_ERROR;
	if (c->pos >= c->len)
		return cur_short(c);
	if (c->b[c->pos] != ' ' || c->pos == start)
		return HTTP_PARSE_ERROR;
	h->method_raw = (struct http_slice){c->b + start, c->pos - start};
	h->method = http_method_parse(h->method_raw.p, h->method_raw.n);
	start = ++c->pos;
	while (c->pos < c->len && c->b[c->pos] > 0x20 && c->b[c->pos] < 0x7f)
		c->pos++;
	if (c->pos >= c->len)
		return cur_short(c);
	if (c->b[c->pos] != ' ' || c->pos == start)
		return HTTP_PARSE_ERROR;
	h->target = (struct http_slice){c->b + start, c->pos - start};
	c->pos++;
	ssize_t rc = cur_version(c, &h->minor_version);
	if (rc < 0)
		return rc;
	rc = cur_eol(c);
	return rc == 0 ? HTTP_PARSE_ERROR : rc;
}

static ssize_t parse_status_line(struct cur *c, struct http_head *h)
{
	ssize_t rc = cur_version(c, &h->minor_version);
	if (rc < 0)
		return rc;
	int status = 0;
	for (int i = 0; i < 4; i++) {
		if (c->pos >= c->len)
			return cur_short(c);
		unsigned char ch = (unsigned char)c->b[c->pos++];
		if (i == 0 ? ch != ' ' : (ch < '0' || ch > '9'))
			return HTTP_PARSE_ERROR;
		if (i > 0)
			status = status * 10 + (ch - '0');
	}
	if (status < 100)
		return HTTP_PARSE_ERROR;
	h->status = status;
	if (c->pos >= c->len)
		return cur_short(c);
	size_t start = c->pos;
	if (c->b[c->pos] == ' ') {
		start = ++c->pos;
		while (c->pos < c->len && is_field_char((unsigned char)c->b[c->pos]))
			c->pos++;
	}
	h->reason = (struct http_slice){c->b + start, c->pos - start};
	rc = cur_eol(c);
	return rc == 0 ? HTTP_PARSE_ERROR : rc;
}

/* One header line, or the empty line (returns 2). */
static ssize_t parse_header_line(struct cur *c, struct http_head *h)
{
	ssize_t rc = cur_eol(c);
	if (rc != 0)
		return rc < 0 ? rc : 2;
	size_t start = c->pos;
	while (c->pos < c->len && is_tchar((unsigned char)c->b[c->pos]))
		c->pos++;
	if (c->pos >= c->len)
		return cur_short(c);
	/* obs-fold (line starting with SP/HTAB), space before ':', empty name: all errors */
	if (c->b[c->pos] != ':' || c->pos == start)
		return HTTP_PARSE_ERROR;
	if (h->nheaders >= HTTP_MAX_HEADERS)
		return HTTP_PARSE_TOO_LARGE;
	struct http_slice name = {c->b + start, c->pos - start};
	c->pos++;
	while (c->pos < c->len && (c->b[c->pos] == ' ' || c->b[c->pos] == '\t'))
		c->pos++;
	start = c->pos;
	while (c->pos < c->len && is_field_char((unsigned char)c->b[c->pos]))
		c->pos++;
	size_t end = c->pos;
	rc = cur_eol(c);
	if (rc <= 0)
		return rc == 0 ? HTTP_PARSE_ERROR : rc; /* NUL, CTL or bare CR in the value */
	while (end > start && (c->b[end - 1] == ' ' || c->b[end - 1] == '\t'))
		end--;
	h->names[h->nheaders] = name;
	h->values[h->nheaders] = (struct http_slice){c->b + start, end - start};
	h->nheaders++;
	return 1;
}

static bool slice_ieq(struct http_slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

/* Calls fn for each non-empty element of a comma-separated list, OWS-trimmed. */
static int list_each(struct http_slice v, int (*fn)(struct http_slice el, void *arg), void *arg)
{
	size_t i = 0;
	while (i <= v.n) {
		size_t s = i;
		while (i < v.n && v.p[i] != ',')
			i++;
		size_t e = i;
		while (s < e && (v.p[s] == ' ' || v.p[s] == '\t'))
			s++;
		while (e > s && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t'))
			e--;
		if (e > s && fn((struct http_slice){v.p + s, e - s}, arg) < 0)
			return -1;
		i++;
	}
	return 0;
}

struct framing {
	struct http_head *h;
	int chunked_count;
	bool te_seen, te_bad, conn_close, conn_keep, conn_upgrade, upgrade_hdr;
	int hosts;
};

static int te_element(struct http_slice el, void *arg)
{
	struct framing *f = arg;
	if (!slice_ieq(el, "chunked"))
		return -1; /* only chunked is supported; anything else is unframeable */
	f->chunked_count++;
	return 0;
}

static int conn_element(struct http_slice el, void *arg)
{
	struct framing *f = arg;
	if (slice_ieq(el, "close"))
		f->conn_close = true;
	else if (slice_ieq(el, "keep-alive"))
		f->conn_keep = true;
	else if (slice_ieq(el, "upgrade"))
		f->conn_upgrade = true;
	return 0;
}

static int parse_content_length(struct http_slice v, uint64_t *out)
{
	uint64_t n = 0;
	if (v.n == 0 || v.n > 18) /* 18 digits cannot overflow; no sane body is larger */
		return -1;
	for (size_t i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	*out = n;
	return 0;
}

static int framing_header(struct framing *f, size_t i)
{
	struct http_head *h = f->h;
	struct http_slice n = h->names[i], v = h->values[i];
	if (slice_ieq(n, "content-length")) {
		uint64_t cl;
		if (parse_content_length(v, &cl) < 0)
			return -1;
		if (h->has_content_length && cl != h->content_length)
			return -1;
		h->has_content_length = true;
		h->content_length = cl;
	} else if (slice_ieq(n, "transfer-encoding")) {
		f->te_seen = true;
		if (list_each(v, te_element, f) < 0)
			return -1;
	} else if (slice_ieq(n, "connection")) {
		(void)list_each(v, conn_element, f);
	} else if (slice_ieq(n, "upgrade")) {
		f->upgrade_hdr = true;
	} else if (slice_ieq(n, "expect")) {
		h->expect_continue = slice_ieq(v, "100-continue");
	} else if (slice_ieq(n, "host")) {
		f->hosts++;
	}
	return 0;
}

static ssize_t derive_framing(struct http_head *h, bool request)
{
	struct framing f = {.h = h};
	for (size_t i = 0; i < h->nheaders; i++) {
		if (framing_header(&f, i) < 0)
			return HTTP_PARSE_ERROR;
	}
	if (f.te_seen) {
		/* exactly one "chunked"; TE with CL, or in HTTP/1.0, is a smuggling vector */
		if (f.chunked_count != 1 || h->has_content_length || h->minor_version == 0)
			return HTTP_PARSE_ERROR;
		h->chunked = true;
	}
	if (request && f.hosts > 1)
		return HTTP_PARSE_ERROR;
	if (h->minor_version >= 1)
		h->keep_alive = !f.conn_close;
	else
		h->keep_alive = f.conn_keep && !f.conn_close;
	h->upgrade = f.conn_upgrade && f.upgrade_hdr;
	if (!request || h->minor_version == 0)
		h->expect_continue = false;
	return 0;
}

static void head_reset(struct http_head *h)
{
	h->method = HTTP_M_UNKNOWN;
	h->method_raw = h->target = h->reason = (struct http_slice){NULL, 0};
	h->status = 0;
	h->minor_version = 0;
	h->nheaders = 0;
	h->chunked = h->has_content_length = h->keep_alive = false;
	h->upgrade = h->expect_continue = false;
	h->content_length = 0;
}

static ssize_t parse_head(const char *buf, size_t len, size_t max_head, struct http_head *h,
			  bool request)
{
	head_reset(h);
	struct cur c = {.b = buf, .len = len, .pos = 0, .capped = false};
	if (max_head > 0 && len >= max_head) {
		c.len = max_head;
		c.capped = true;
	}
	ssize_t rc = request ? parse_request_line(&c, h) : parse_status_line(&c, h);
	if (rc < 0)
		return rc;
	for (;;) {
		rc = parse_header_line(&c, h);
		if (rc < 0)
			return rc;
		if (rc == 2)
			break;
	}
	rc = derive_framing(h, request);
	if (rc < 0)
		return rc;
	return (ssize_t)c.pos;
}

ssize_t http_parse_request(const char *buf, size_t len, size_t max_head, struct http_head *h)
{
	return parse_head(buf, len, max_head, h, true);
}

ssize_t http_parse_response(const char *buf, size_t len, size_t max_head, struct http_head *h)
{
	return parse_head(buf, len, max_head, h, false);
}

const char *http_head_get(const struct http_head *h, const char *name, size_t *n)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < h->nheaders; i++) {
		if (h->names[i].n == len && strncasecmp(h->names[i].p, name, len) == 0) {
			if (n)
				*n = h->values[i].n;
			return h->values[i].p;
		}
	}
	if (n)
		*n = 0;
	return NULL;
}

/* ---- chunked bodies ----------------------------------------------------------------------- */

enum chunk_state {
	CH_SIZE_START = 0, /* expecting the first hex digit of a chunk size */
	CH_SIZE,           /* in the hex digits */
	CH_SIZE_BWS,       /* whitespace after the digits: only ';' may follow */
	CH_EXT,            /* in a chunk extension, up to CR */
	CH_SIZE_LF,        /* CR seen after the size line */
	CH_DATA,           /* copying chunk data */
	CH_DATA_CR,        /* expecting CR after the data */
	CH_DATA_LF,        /* expecting LF after the data */
	CH_TRAILER_START,  /* at the start of a trailer line (or the final empty line) */
	CH_TRAILER,        /* in a trailer line, up to CR */
	CH_TRAILER_LF,     /* CR seen after a trailer line */
	CH_FINAL_LF,       /* CR of the final empty line seen */
	CH_DONE,           /* message complete */
};

void http_chunked_init(struct http_chunked *c)
{
	c->state = CH_SIZE_START;
	c->remaining = 0;
	c->ext_len = 0;
}

/* A byte of the chunk-size line (size, BWS, extensions). 0 or HTTP_PARSE_ERROR. */
static int chunk_size_byte(struct http_chunked *c, unsigned char ch)
{
	int hv = hex_val(ch);
	if (hv >= 0 && (c->state == CH_SIZE_START || c->state == CH_SIZE)) {
		if (c->remaining > (UINT64_MAX >> 4))
			return HTTP_PARSE_ERROR;
		c->remaining = (c->remaining << 4) | (uint64_t)hv;
		c->state = CH_SIZE;
		return 0;
	}
	switch (c->state) {
	case CH_SIZE:
	case CH_SIZE_BWS:
		if (ch == ' ' || ch == '\t')
			c->state = CH_SIZE_BWS;
		else if (ch == ';')
			c->state = CH_EXT;
		else if (ch == '\r' && c->state == CH_SIZE)
			c->state = CH_SIZE_LF;
		else
			return HTTP_PARSE_ERROR;
		return 0;
	case CH_EXT:
		if (ch == '\r')
			c->state = CH_SIZE_LF;
		else if (!is_field_char(ch))
			return HTTP_PARSE_ERROR;
		return 0;
	default: /* CH_SIZE_START without a hex digit */
		return HTTP_PARSE_ERROR;
	}
}

/* Handles one framing byte (any state but CH_DATA / CH_DONE). 0 or HTTP_PARSE_ERROR. */
static int chunk_byte(struct http_chunked *c, unsigned char ch)
{
	switch (c->state) {
	case CH_SIZE_START:
	case CH_SIZE:
	case CH_SIZE_BWS:
	case CH_EXT:
		return chunk_size_byte(c, ch);
	case CH_SIZE_LF:
		if (ch != '\n')
			return HTTP_PARSE_ERROR;
		c->ext_len = 0;
		c->state = c->remaining ? CH_DATA : CH_TRAILER_START;
		return 0;
	case CH_DATA_CR:
	case CH_DATA_LF:
		if (ch != (c->state == CH_DATA_CR ? '\r' : '\n'))
			return HTTP_PARSE_ERROR;
		c->state = c->state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE_START;
		return 0;
	case CH_TRAILER_START:
		c->state = ch == '\r' ? CH_FINAL_LF : CH_TRAILER;
		if (c->state == CH_TRAILER && !is_tchar(ch))
			return HTTP_PARSE_ERROR; /* also rejects folded trailer lines */
		return 0;
	case CH_TRAILER:
		if (ch == '\r')
			c->state = CH_TRAILER_LF;
		else if (!is_field_char(ch))
			return HTTP_PARSE_ERROR;
		return 0;
	case CH_TRAILER_LF:
	case CH_FINAL_LF:
		if (ch != '\n')
			return HTTP_PARSE_ERROR;
		c->state = c->state == CH_FINAL_LF ? CH_DONE : CH_TRAILER_START;
		return 0;
	default:
		return HTTP_PARSE_ERROR;
	}
}

ssize_t http_chunked_decode(struct http_chunked *c, const char *in, size_t inlen, char *out,
			    size_t outcap, size_t *outlen, bool *done)
{
	size_t i = 0, o = 0;
	while (i < inlen && c->state != CH_DONE) {
		if (c->state == CH_DATA) {
			size_t n = inlen - i;
			if (n > outcap - o)
				n = outcap - o;
			if (n > c->remaining)
				n = (size_t)c->remaining;
			if (n == 0)
				break; /* out is full */
			memcpy(out + o, in + i, n);
			o += n;
			i += n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		bool trailer = c->state >= CH_TRAILER_START;
		if (++c->ext_len > (trailer ? CHUNK_TRAILER_MAX : CHUNK_LINE_MAX))
			return HTTP_PARSE_ERROR;
		if (chunk_byte(c, (unsigned char)in[i]) < 0)
			return HTTP_PARSE_ERROR;
		i++;
	}
	*outlen = o;
	*done = c->state == CH_DONE;
	return (ssize_t)i;
}

/* ---- percent-decoding --------------------------------------------------------------------- */

ssize_t http_pct_decode(const char *src, size_t n, char *dst, bool form)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = src[i];
		if (ch == '%') {
			if (i + 2 >= n)
				return -1;
			int hi = hex_val((unsigned char)src[i + 1]);
			int lo = hex_val((unsigned char)src[i + 2]);
			if (hi < 0 || lo < 0 || (hi | lo) == 0)
				return -1;
			dst[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (ch == '+' && form) {
			dst[o++] = ' ';
		} else if (ch == '\0') {
			return -1;
		} else {
			dst[o++] = ch;
		}
	}
	dst[o] = '\0';
	return (ssize_t)o;
}
