/*
 * http_reply.c - the server's reply path: serialises a response (status line, standard and
 * handler headers, body) straight into the connection's output evbuffer, writes the error
 * envelope without building a JSON tree, then logs, counts and releases the request.
 *
 * Owns nothing beyond the call: the request is freed here (or by the dispatcher when the
 * reply happens inside the handler) and the connection is told to continue or close.
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "http_internal.h"

#define INLINE_BODY_MAX 65536

struct part {
	const char *p;
	size_t n;
	bool esc; /* JSON-string-escape on output */
};

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

const char *http_server_date(struct http_server *s)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char mons[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct timeval tv;
	if (event_base_gettimeofday_cached(s->base, &tv) < 0)
		gettimeofday(&tv, NULL);
	if (tv.tv_sec != s->date_sec || !s->date[0]) {
		struct tm tm;
		time_t t = tv.tv_sec;
		gmtime_r(&t, &tm);
		snprintf(s->date, sizeof(s->date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
			 days[tm.tm_wday % 7], tm.tm_mday, mons[tm.tm_mon % 12], tm.tm_year + 1900,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
		s->date_sec = tv.tv_sec;
	}
	return s->date;
}

/* ---- handler headers ---------------------------------------------------------------------- */

static bool header_name_ok(const char *n)
{
	if (!*n)
		return false;
	for (; *n; n++) {
		unsigned char ch = (unsigned char)*n;
		if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch))
			return false;
	}
	return true;
}

static bool header_value_ok(const char *v)
{
	for (; *v; v++) {
		unsigned char ch = (unsigned char)*v;
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}

void http_reply_header(struct http_request *r, const char *name, const char *value)
{
	static const char *const reserved[] = {"content-length", "transfer-encoding", "connection",
					       "keep-alive", "date", "x-request-id", NULL};
	if (!name || !value || !header_name_ok(name) || !header_value_ok(value)) {
		log_warn(&(struct log_ctx){.request_id = r->id}, "http reply header rejected",
			 LS("name", name && header_name_ok(name) ? name : "(invalid)"));
		return;
	}
	for (size_t i = 0; reserved[i]; i++) {
		if (strcasecmp(name, reserved[i]) == 0)
			return; /* framing and ids are the server's */
	}
	if (strcasecmp(name, "content-type") == 0) {
		r->out_ctype = http_request_strdup(r, value);
		return;
	}
	struct http_out_hdr *h = http_request_alloc(r, sizeof(*h));
	h->next = NULL;
	h->name = http_request_strdup(r, name);
	h->value = http_request_strdup(r, value);
	*r->out_tail = h;
	r->out_tail = &h->next;
}

/* ---- serialisation ------------------------------------------------------------------------ */

static size_t esc_len(const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\' || ch == '\n' || ch == '\r' || ch == '\t')
			o += 2;
		else if (ch < 0x20 || ch == 0x7f)
			o += 6;
		else
			o++;
	}
	return o;
}

static char *esc_put(char *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			*o++ = '\\';
			*o++ = (char)ch;
		} else if (ch == '\n' || ch == '\r' || ch == '\t') {
			*o++ = '\\';
			*o++ = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
		} else if (ch < 0x20 || ch == 0x7f) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[ch >> 4];
			o[5] = hex[ch & 15];
			o += 6;
		} else {
			*o++ = (char)ch;
		}
	}
	return o;
}

static char *put(char *o, const char *s, size_t n)
{
	memcpy(o, s, n);
	return o + n;
}

#define PUTL(o, lit) put((o), (lit), sizeof(lit) - 1)

static char *put_str(char *o, const char *s)
{
	return put(o, s, strlen(s));
}

static char *put_u64(char *o, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return put(o, tmp + i, sizeof(tmp) - i);
}

static size_t head_bound(const struct http_request *r, const char *ctype)
{
	size_t n = 160 + strlen(http_status_text(r->status)) + strlen(r->id);
	if (ctype)
		n += strlen(ctype);
	for (const struct http_out_hdr *h = r->out_hdrs; h; h = h->next)
		n += strlen(h->name) + strlen(h->value) + 4;
	return n;
}

static char *put_head(char *o, struct http_request *r, const char *ctype, bool bodyless,
		      size_t blen, bool close)
{
	o = PUTL(o, "HTTP/1.1 ");
	o = put_u64(o, (uint64_t)r->status);
	*o++ = ' ';
	o = put_str(o, http_status_text(r->status));
	o = PUTL(o, "\r\nDate: ");
	o = put_str(o, http_server_date(r->srv));
	if (ctype) {
		o = PUTL(o, "\r\nContent-Type: ");
		o = put_str(o, ctype);
	}
	if (!bodyless) {
		o = PUTL(o, "\r\nContent-Length: ");
		o = put_u64(o, blen);
	}
	o = PUTL(o, "\r\nX-Request-Id: ");
	o = put_str(o, r->id);
	if (close)
		o = PUTL(o, "\r\nConnection: close");
	else if (r->minor == 0)
		o = PUTL(o, "\r\nConnection: keep-alive");
	for (const struct http_out_hdr *h = r->out_hdrs; h; h = h->next) {
		o = PUTL(o, "\r\n");
		o = put_str(o, h->name);
		o = PUTL(o, ": ");
		o = put_str(o, h->value);
	}
	return PUTL(o, "\r\n\r\n");
}

static char *put_parts(char *o, const struct part *parts, size_t nparts)
{
	for (size_t i = 0; i < nparts; i++)
		o = parts[i].esc ? esc_put(o, parts[i].p, parts[i].n) : put(o, parts[i].p, parts[i].n);
	return o;
}

/* Appends the whole response to out; 0 or -1 (out of memory: the connection is dropped). */
static int write_reply(struct http_request *r, struct evbuffer *out, const char *ctype,
		       const struct part *parts, size_t nparts, bool close)
{
	bool bodyless = r->status < 200 || r->status == 204 || r->status == 304;
	size_t blen = 0;
	for (size_t i = 0; i < nparts; i++)
		blen += parts[i].esc ? esc_len(parts[i].p, parts[i].n) : parts[i].n;
	bool send = !bodyless && !r->head_only;
	size_t inl = send && blen <= INLINE_BODY_MAX ? blen : 0;
	struct evbuffer_iovec v;
	if (evbuffer_reserve_space(out, head_bound(r, ctype) + inl, &v, 1) < 1)
		return -1;
	char *o = put_head(v.iov_base, r, ctype, bodyless, blen, close);
	if (inl)
		o = put_parts(o, parts, nparts);
	v.iov_len = (size_t)(o - (char *)v.iov_base);
	if (evbuffer_commit_space(out, &v, 1) < 0)
		return -1;
	if (send && !inl) {
		for (size_t i = 0; i < nparts; i++) {
			if (!parts[i].esc) {
				if (evbuffer_add(out, parts[i].p, parts[i].n) < 0)
					return -1;
				continue;
			}
			size_t n = esc_len(parts[i].p, parts[i].n);
			if (evbuffer_reserve_space(out, n, &v, 1) < 1)
				return -1;
			v.iov_len = (size_t)(esc_put(v.iov_base, parts[i].p, parts[i].n) - (char *)v.iov_base);
			if (evbuffer_commit_space(out, &v, 1) < 0)
				return -1;
		}
	}
	r->bytes_out = send ? blen : 0;
	return 0;
}

/* ---- completion --------------------------------------------------------------------------- */

static void reply_account(struct http_request *r)
{
	struct http_server *s = r->srv;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double secs = (double)(now.tv_sec - r->t0.tv_sec) + (double)(now.tv_nsec - r->t0.tv_nsec) / 1e9;
	const char *route = r->route ? r->route->row->pattern : "unmatched";
	if (s->opts.access_log && log_enabled(LOG_LEVEL_INFO)) {
		struct log_ctx ctx = {.request_id = r->id, .tenant_id = r->tenant_id, .user_id = r->user_id};
		log_info(&ctx, "http request", LS("method", r->method_s), LS("route", route),
			 LS("path", r->path), LI("status", r->status), LI("bytes", r->bytes_out),
			 LD("ms", secs * 1000.0), LS("peer", r->peer),
			 r->conn ? (struct log_kv){.type = LKV_SKIP} : LB("client_gone", true));
	}
	if (s->opts.metrics) {
		char lab[512];
		const char *label = r->route ? r->route->label : "unmatched";
		const char *m = r->method == HTTP_M_UNKNOWN ? "OTHER" : http_method_str(r->method);
		snprintf(lab, sizeof(lab), "method=\"%s\",route=\"%s\",status=\"%d\"", m, label, r->status);
		metrics_inc(s->opts.metrics, "http_requests_total", lab, 1);
		snprintf(lab, sizeof(lab), "route=\"%s\"", label);
		metrics_observe(s->opts.metrics, "http_request_duration_seconds", lab, secs);
	}
}

static void reply_send(struct http_request *r, int status, const char *ctype,
		       const struct part *parts, size_t nparts)
{
	if (r->replied) {
		log_error(&(struct log_ctx){.request_id = r->id}, "http reply sent twice",
			  LI("status", status));
		return;
	}
	r->replied = true;
	r->status = status >= 100 && status <= 999 ? status : 500;
	if (!r->id[0])
		uuid_v4(r->id);
	if (!ctype)
		ctype = r->out_ctype;
	struct http_conn *c = r->conn;
	bool close = r->force_close || !r->keep_alive || r->srv->shutting_down;
	if (c && write_reply(r, bufferevent_get_output(c->bev), ctype, parts, nparts, close) < 0) {
		log_error(&(struct log_ctx){.request_id = r->id}, "http reply write failed");
		close = true;
	}
	reply_account(r);
	if (c) {
		c->req = NULL;
		r->conn = NULL;
	}
	if (!r->in_handler)
		http_req_free(r);
	if (c)
		http_conn_after_reply(c, close);
}

void http_reply_raw(struct http_request *r, int status, const char *content_type, const void *body,
		    size_t len)
{
	struct part p = {body ? body : "", body ? len : 0, false};
	reply_send(r, status, content_type, &p, 1);
}

void http_reply_empty(struct http_request *r, int status)
{
	reply_send(r, status, NULL, NULL, 0);
}

void http_reply_json(struct http_request *r, int status, json_object *body)
{
	size_t len = 4;
	const char *s = "null";
	if (body) {
		s = json_object_to_json_string_length(
			body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
		if (!s) {
			json_object_put(body);
			http_reply_error(r, 500, "internal_error", "Internal error.", NULL);
			return;
		}
	}
	struct part p = {s, len, false};
	reply_send(r, status, "application/json", &p, 1);
	json_object_put(body);
}

void http_reply_error(struct http_request *r, int status, const char *code, const char *message,
		      json_object *details)
{
	size_t dlen = 4;
	const char *d = "null";
	if (!r->id[0])
		uuid_v4(r->id);
	if (details) {
		d = json_object_to_json_string_length(
			details, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &dlen);
		if (!d) {
			d = "null";
			dlen = 4;
		}
	}
	code = code ? code : "internal_error";
	message = message ? message : "";
	const struct part parts[] = {
		{"{\"error\":{\"code\":\"", 18, false},
		{code, strlen(code), true},
		{"\",\"message\":\"", 13, false},
		{message, strlen(message), true},
		{"\",\"details\":", 12, false},
		{d, dlen, false},
		{",\"trace_id\":\"", 13, false},
		{r->id, strlen(r->id), true},
		{"\"}}", 3, false},
	};
	reply_send(r, status, "application/json", parts, sizeof(parts) / sizeof(parts[0]));
	json_object_put(details);
}

void http_reply_internal(struct http_request *r, const char *what)
{
	struct log_ctx ctx = {.request_id = http_request_id(r)};

	log_error(&ctx, "internal error", LS("step", what));
	http_reply_error(r, 500, "internal_error", "An internal error occurred.", NULL);
}

void http_reply_unavailable(struct http_request *r, const char *why)
{
	struct log_ctx ctx = {.request_id = http_request_id(r)};

	log_warn(&ctx, "unavailable", LS("reason", why));
	http_reply_error(r, 503, "service_unavailable", "The service is temporarily unavailable.",
			 NULL);
}

void http_reply_validation(struct http_request *r, struct jv *v)
{
	json_object *details = jv_take_details(v);
	if (!details)
		details = json_object_new_array();
	http_reply_error(r, 422, "validation_failed", "The request is not valid.", details);
}
