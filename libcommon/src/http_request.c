/*
 * http_request.c - the server's per-request object: creation from a parsed head, the
 * per-request arena, accessors, routing/dispatch, and the JSON-body helper.
 *
 * Owns struct http_request and its memory. Request objects are recycled through a small
 * per-server pool; everything allocated from a request lives in its arena (an inline block
 * plus malloc'd overflow blocks) and is freed in http_req_free().
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "http_internal.h"

#define REQ_POOL_MAX 128
#define ARENA_BLOCK 4096

/* ---- arena -------------------------------------------------------------------------------- */

void *http_request_alloc(struct http_request *r, size_t n)
{
	const size_t align = _Alignof(max_align_t);
	n = (n + align - 1) & ~(align - 1);
	if (n == 0)
		n = align;
	if (n <= r->a_left) {
		void *p = r->a_cur;
		r->a_cur += n;
		r->a_left -= n;
		return p;
	}
	size_t cap = n > ARENA_BLOCK / 2 ? n : ARENA_BLOCK;
	struct http_arena_blk *b = malloc(sizeof(*b) + cap);
	if (!b)
		abort(); /* documented: never NULL */
	b->next = r->blocks;
	r->blocks = b;
	if (cap == n)
		return b->data; /* a big allocation gets its own block; keep the current one */
	r->a_cur = (char *)b->data + n;
	r->a_left = cap - n;
	return b->data;
}

char *http_request_strdup(struct http_request *r, const char *s)
{
	size_t n = strlen(s);
	char *d = http_request_alloc(r, n + 1);
	memcpy(d, s, n + 1);
	return d;
}

static char *req_strndup(struct http_request *r, const char *s, size_t n)
{
	char *d = http_request_alloc(r, n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* ---- lifetime ----------------------------------------------------------------------------- */

struct http_request *http_req_new(struct http_conn *c)
{
	struct http_server *s = c->srv;
	struct http_request *r = s->pool;
	if (r) {
		s->pool = r->next;
		s->npool--;
	} else {
		r = malloc(sizeof(*r));
		if (!r)
			abort();
	}
	memset(r, 0, offsetof(struct http_request, a_inline));
	r->srv = s;
	r->conn = c;
	r->a_cur = r->a_inline;
	r->a_left = sizeof(r->a_inline);
	r->method_s = "-";
	r->target = r->path = "-";
	r->query = "";
	r->out_tail = &r->out_hdrs;
	r->t0 = c->t0;
	memcpy(r->peer, c->peer, sizeof(r->peer));
	r->next = s->live;
	if (s->live)
		s->live->prev = r;
	s->live = r;
	s->nlive++;
	return r;
}

void http_req_free(struct http_request *r)
{
	struct http_server *s = r->srv;
	while (r->blocks) {
		struct http_arena_blk *b = r->blocks;
		r->blocks = b->next;
		free(b);
	}
	free(r->body_heap);
	if (r->prev)
		r->prev->next = r->next;
	else
		s->live = r->next;
	if (r->next)
		r->next->prev = r->prev;
	s->nlive--;
	if (s->npool >= REQ_POOL_MAX) {
		free(r);
		return;
	}
	r->next = s->pool;
	s->pool = r;
	s->npool++;
}

static bool request_id_valid(const char *v)
{
	size_t n = 0;
	for (; v[n]; n++) {
		unsigned char ch = (unsigned char)v[n];
		if (!(isalnum(ch) || ch == '.' || ch == '_' || ch == '-') || n >= HTTP_REQUEST_ID_MAX)
			return false;
	}
	return n > 0;
}

/* Rebases a slice of buf into the copy and NUL-terminates it there. */
static const char *rebase(char *copy, const char *buf, struct http_slice sl)
{
	char *p = copy + (sl.p - buf);
	p[sl.n] = '\0';
	return p;
}

void http_req_set_head(struct http_request *r, const char *buf, size_t len,
		       const struct http_head *h)
{
	char *copy = http_request_alloc(r, len + 1);
	memcpy(copy, buf, len);
	copy[len] = '\0';
	r->method = h->method;
	r->method_s = rebase(copy, buf, h->method_raw);
	r->target = rebase(copy, buf, h->target);
	const char *q = memchr(r->target, '?', h->target.n);
	if (q) {
		r->path = req_strndup(r, r->target, (size_t)(q - r->target));
		r->query = q + 1;
	} else {
		r->path = r->target;
	}
	r->minor = h->minor_version;
	r->keep_alive = h->keep_alive;
	r->head_only = h->method == HTTP_HEAD;
	r->nheaders = h->nheaders;
	r->hnames = http_request_alloc(r, sizeof(char *) * 2 * (h->nheaders ? h->nheaders : 1));
	r->hvalues = r->hnames + h->nheaders;
	const char *rid = NULL;
	for (size_t i = 0; i < h->nheaders; i++) {
		r->hnames[i] = rebase(copy, buf, h->names[i]);
		r->hvalues[i] = rebase(copy, buf, h->values[i]);
		if (!rid && h->names[i].n == 12 && strcasecmp(r->hnames[i], "x-request-id") == 0)
			rid = r->hvalues[i];
	}
	if (rid && request_id_valid(rid))
		memcpy(r->id, rid, strlen(rid) + 1);
	else
		uuid_v4(r->id);
}

/* ---- accessors ---------------------------------------------------------------------------- */

enum http_method http_request_method(const struct http_request *r) { return r->method; }
const char *http_request_method_str(const struct http_request *r) { return r->method_s; }
const char *http_request_target(const struct http_request *r) { return r->target; }
const char *http_request_path(const struct http_request *r) { return r->path; }
const char *http_request_query(const struct http_request *r) { return r->query; }
const char *http_request_id(const struct http_request *r) { return r->id; }
const char *http_request_peer(const struct http_request *r) { return r->peer; }
size_t http_request_header_count(const struct http_request *r) { return r->nheaders; }

const char *http_request_route(const struct http_request *r)
{
	return r->route ? r->route->row->pattern : NULL;
}

const void *http_request_route_data(const struct http_request *r)
{
	return r->route ? r->route->row->data : NULL;
}

const char *http_request_param(const struct http_request *r, const char *name)
{
	for (size_t i = 0; i < r->nparams; i++) {
		if (strcmp(r->pnames[i], name) == 0)
			return r->pvals[i];
	}
	return NULL;
}

const char *http_request_query_param(struct http_request *r, const char *name)
{
	const char *q = r->query;
	size_t nlen = strlen(name);
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t plen = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', plen);
		size_t klen = eq ? (size_t)(eq - q) : plen;
		if (klen >= nlen) {
			char *key = http_request_alloc(r, klen + 1);
			if (http_pct_decode(q, klen, key, true) == (ssize_t)nlen &&
			    memcmp(key, name, nlen) == 0) {
				size_t vlen = eq ? plen - klen - 1 : 0;
				char *val = http_request_alloc(r, vlen + 1);
				if (http_pct_decode(eq ? eq + 1 : q, vlen, val, true) < 0)
					return NULL;
				return val;
			}
		}
		if (!amp)
			break;
		q = amp + 1;
	}
	return NULL;
}

const char *http_request_header(const struct http_request *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->hnames[i], name) == 0)
			return r->hvalues[i];
	}
	return NULL;
}

void http_request_header_at(const struct http_request *r, size_t i, const char **name,
			    const char **value)
{
	if (i >= r->nheaders) {
		*name = *value = NULL;
		return;
	}
	*name = r->hnames[i];
	*value = r->hvalues[i];
}

const char *http_request_body(const struct http_request *r, size_t *len)
{
	if (len)
		*len = r->body_len;
	return r->body ? r->body : "";
}

void http_request_set_log_ids(struct http_request *r, const char *tenant_id, const char *user_id)
{
	r->tenant_id = tenant_id ? http_request_strdup(r, tenant_id) : NULL;
	r->user_id = user_id ? http_request_strdup(r, user_id) : NULL;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static int set_params(struct http_request *r, const struct http_match *m)
{
	for (size_t i = 0; i < m->nparams; i++) {
		const struct http_param *pa = &m->params[i];
		char *v = http_request_alloc(r, pa->val_len + 1);
		if (http_pct_decode(pa->val, pa->val_len, v, false) < 0)
			return -1;
		r->pnames[i] = req_strndup(r, pa->name, pa->name_len);
		r->pvals[i] = v;
	}
	r->nparams = m->nparams;
	return 0;
}

static void dispatch_unrouted(struct http_request *r, const struct http_match *m)
{
	struct http_server *s = r->srv;
	if (s->fallback) {
		s->fallback(r, s->app);
		return;
	}
	if (m->allow) {
		char allow[96];
		http_allow_format(m->allow, allow, sizeof(allow));
		http_reply_header(r, "Allow", allow);
		http_reply_error(r, 405, "method_not_allowed",
				 "The method is not allowed for this resource.", NULL);
		return;
	}
	http_reply_error(r, 404, "route_not_found", "No route matches the request path.", NULL);
}

void http_req_dispatch(struct http_request *r)
{
	struct http_server *s = r->srv;
	struct http_match m;
	r->dispatched = true;
	r->in_handler = true;
	http_router_match(&s->router, r->method, r->path, strlen(r->path), &m);
	if (!m.route) {
		dispatch_unrouted(r, &m);
	} else {
		r->route = m.route;
		if (set_params(r, &m) < 0)
			http_reply_error(r, 400, "invalid_parameter",
					 "A path parameter is not valid percent-encoding.", NULL);
		else
			m.route->row->fn(r, s->app);
	}
	r->in_handler = false;
	if (r->replied)
		http_req_free(r);
}

/* ---- JSON body ---------------------------------------------------------------------------- */

static bool is_json_media_type(const char *ct)
{
	static const char mt[] = "application/json";
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, mt, sizeof(mt) - 1) != 0)
		return false;
	ct += sizeof(mt) - 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

json_object *http_request_json_or_reply(struct http_request *r)
{
	const char *ct = http_request_header(r, "Content-Type");
	if (!ct || !is_json_media_type(ct)) {
		http_reply_error(r, 415, "unsupported_media_type",
				 "The request body must be application/json.", NULL);
		return NULL;
	}
	const char *why = NULL;
	json_object *o = json_parse_strict(r->body ? r->body : "", r->body_len, &why);
	if (!o) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "reason", json_object_new_string(why ? why : "invalid JSON"));
		http_reply_error(r, 400, "malformed_json", "The request body is not valid JSON.", d);
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		json_object *d = json_object_new_array();
		json_object *item = json_object_new_object();
		json_object_object_add(item, "field", json_object_new_string("body"));
		json_object_object_add(item, "issue", json_object_new_string("must be a JSON object"));
		json_object_array_add(d, item);
		http_reply_error(r, 422, "validation_failed", "The request body must be a JSON object.",
				 d);
		return NULL;
	}
	return o;
}
