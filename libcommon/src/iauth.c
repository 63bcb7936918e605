/*
 * iauth.c - signing and checking the X-FR-* headers of internal calls (see iauth.h).
 *
 * Owns nothing global; thread-safe. The signature is HMAC-SHA256 keyed by the shared internal
 * secret over ts, caller, method, target, request id, user, tenant, session, roles, client
 * ip, api key id and scopes joined by '\n'. The checker accepts only canonical field values
 * (UUIDs, the four role strings, digits-only timestamps, lower-case hex, scope names separated
 * by single spaces), so no two different header sets can map to the same signed message, and
 * a field can never smuggle a '\n' into it.
 */
#include "common/iauth.h"

#include "common/crypto.h"
#include "common/http.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IAUTH_TS_MAX_DIGITS 12
#define IAUTH_FIELDS 12

static const char scope_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789:_.-";

static const char *nz(const char *s)
{
	return s != NULL ? s : "";
}

const char *iauth_roles(const struct iauth *a)
{
	if (a == NULL)
		return "";
	if (a->is_admin && a->is_tenant_admin)
		return "admin,tenant_admin";
	if (a->is_admin)
		return "admin";
	if (a->is_tenant_admin)
		return "tenant_admin";
	return "";
}

bool iauth_has_scope(const struct iauth *a, const char *scope)
{
	size_t n = scope != NULL ? strlen(scope) : 0;
	const char *p;

	if (n == 0)
		return true;
	if (a == NULL)
		return false;
	p = a->scopes;
	while (*p != '\0') {
		size_t len = strcspn(p, " ");
		if (len == n && memcmp(p, scope, n) == 0)
			return true;
		p += len;
		p += strspn(p, " ");
	}
	return false;
}

void iauth_sign(const char *secret, time_t ts, const char *method, const char *target,
		const char *request_id, const struct iauth *a, char sig_out[65])
{
	static const struct iauth none;
	const char *f[IAUTH_FIELDS];
	/* struct fields are bounded by their arrays; the strings are read in full */
	size_t len[IAUTH_FIELDS];
	const size_t cap[IAUTH_FIELDS] = {
		SIZE_MAX, sizeof(none.caller),	   SIZE_MAX,		   SIZE_MAX,
		SIZE_MAX, sizeof(none.user_id),	   sizeof(none.tenant_id), sizeof(none.session_id),
		SIZE_MAX, sizeof(none.client_ip), sizeof(none.api_key_id), sizeof(none.scopes)};
	char tsbuf[24], *msg = NULL;
	unsigned char mac[32];
	size_t total = 0, pos = 0;

	sig_out[0] = '\0';
	if (a == NULL)
		a = &none;
	snprintf(tsbuf, sizeof(tsbuf), "%" PRId64, (int64_t)ts);
	f[0] = tsbuf;
	f[1] = a->caller;
	f[2] = nz(method);
	f[3] = nz(target);
	f[4] = nz(request_id);
	f[5] = a->user_id;
	f[6] = a->tenant_id;
	f[7] = a->session_id;
	f[8] = iauth_roles(a);
	f[9] = a->client_ip;
	f[10] = a->api_key_id;
	f[11] = a->scopes;
	for (size_t i = 0; i < IAUTH_FIELDS; i++) {
		len[i] = strnlen(f[i], cap[i]);
		total += len[i] + 1;
	}
	msg = malloc(total);
	if (msg == NULL)
		return; /* empty signature: never verifies */
	for (size_t i = 0; i < IAUTH_FIELDS; i++) {
		memcpy(msg + pos, f[i], len[i]);
		if (i == 2) /* the method is signed upper case */
			for (size_t j = pos; j < pos + len[i]; j++)
				msg[j] = (char)toupper((unsigned char)msg[j]);
		pos += len[i];
		msg[pos++] = '\n';
	}
	hmac_sha256(nz(secret), strlen(nz(secret)), msg, pos - 1, mac);
	free(msg);
	hex_encode(mac, sizeof(mac), sig_out);
}

/* ---- checking ------------------------------------------------------------------------- */

/* Copies s into dst (cap bytes) when every character is in allowed and it fits. */
static bool copy_field(char *dst, size_t cap, const char *s, const char *allowed, bool may_be_empty)
{
	size_t n = strlen(s);

	if (n >= cap || (n == 0 && !may_be_empty) || strspn(s, allowed) != n)
		return false;
	memcpy(dst, s, n + 1);
	return true;
}

static bool copy_uuid(char dst[37], const char *s)
{
	if (s[0] != '\0' && !uuid_valid(s))
		return false;
	memcpy(dst, s, strlen(s) + 1);
	return true;
}

/* Scope names of scope_chars separated by single spaces (no leading/trailing space), or "". */
static bool copy_scopes(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n >= cap)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool space = s[i] == ' ';
		if (!space && strchr(scope_chars, s[i]) == NULL)
			return false;
		if (space && (i == 0 || i + 1 == n || s[i + 1] == ' '))
			return false;
	}
	memcpy(dst, s, n + 1);
	return true;
}

static bool parse_roles(const char *s, struct iauth *a)
{
	if (strcmp(s, "") == 0)
		return true;
	if (strcmp(s, "admin") == 0)
		a->is_admin = true;
	else if (strcmp(s, "tenant_admin") == 0)
		a->is_tenant_admin = true;
	else if (strcmp(s, "admin,tenant_admin") == 0)
		a->is_admin = a->is_tenant_admin = true;
	else
		return false;
	return true;
}

/* Canonical decimal seconds (no sign, no leading zero) within the allowed skew of now. */
static bool ts_fresh(const char *s, time_t now, int64_t *ts)
{
	size_t n = strlen(s);
	int64_t v = 0;

	if (n == 0 || n > IAUTH_TS_MAX_DIGITS || strspn(s, "0123456789") != n ||
	    (s[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	*ts = v;
	return v >= (int64_t)now - IAUTH_MAX_SKEW_S && v <= (int64_t)now + IAUTH_MAX_SKEW_S;
}

static bool sig_shape_ok(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static bool no_newline(const char *s)
{
	return s == NULL || strpbrk(s, "\r\n") == NULL;
}

/* Fills a from the identity headers; false when one is not canonical. */
static bool fields_parse(const struct iauth_headers *h, struct iauth *a)
{
	static const char caller_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_-";
	static const char ip_chars[] = "0123456789abcdefABCDEF.:";

	return h->caller != NULL &&
	       copy_field(a->caller, sizeof(a->caller), h->caller, caller_chars, false) &&
	       copy_uuid(a->user_id, nz(h->user_id)) && copy_uuid(a->tenant_id, nz(h->tenant_id)) &&
	       copy_uuid(a->session_id, nz(h->session_id)) && parse_roles(nz(h->roles), a) &&
	       copy_field(a->client_ip, sizeof(a->client_ip), nz(h->client_ip), ip_chars, true) &&
	       copy_uuid(a->api_key_id, nz(h->api_key_id)) &&
	       copy_scopes(a->scopes, sizeof(a->scopes), nz(h->scopes));
}

enum iauth_result iauth_verify_headers(const char *secret, time_t now, const char *method,
				       const char *target, const char *request_id,
				       const struct iauth_headers *h, struct iauth *out)
{
	struct iauth a;
	char want[65];
	int64_t ts = 0;
	enum iauth_result r = IAUTH_BAD;

	memset(&a, 0, sizeof(a));
	if (h->sig == NULL && h->ts == NULL && h->caller == NULL && h->user_id == NULL &&
	    h->tenant_id == NULL && h->session_id == NULL && h->roles == NULL &&
	    h->client_ip == NULL && h->api_key_id == NULL && h->scopes == NULL) {
		r = IAUTH_NONE;
		goto out;
	}
	if (secret == NULL || secret[0] == '\0' || h->sig == NULL || h->ts == NULL ||
	    !ts_fresh(h->ts, now, &ts) || !sig_shape_ok(h->sig) || !fields_parse(h, &a) ||
	    method == NULL || target == NULL || !no_newline(method) || !no_newline(target) ||
	    !no_newline(request_id))
		goto out;
	iauth_sign(secret, (time_t)ts, method, target, request_id, &a, want);
	if (strlen(want) == 64 && ct_equal(want, h->sig, 64))
		r = IAUTH_OK;
out:
	if (out != NULL && r == IAUTH_OK)
		*out = a;
	else if (out != NULL)
		memset(out, 0, sizeof(*out));
	return r;
}

enum iauth_result iauth_check(struct http_request *req, const char *secret, struct iauth *out)
{
	const struct iauth_headers h = {
		.caller = http_request_header(req, "X-FR-Caller"),
		.user_id = http_request_header(req, "X-FR-User-Id"),
		.tenant_id = http_request_header(req, "X-FR-Tenant-Id"),
		.session_id = http_request_header(req, "X-FR-Session-Id"),
		.roles = http_request_header(req, "X-FR-Roles"),
		.client_ip = http_request_header(req, "X-FR-Client-Ip"),
		.api_key_id = http_request_header(req, "X-FR-Api-Key-Id"),
		.scopes = http_request_header(req, "X-FR-Scopes"),
		.ts = http_request_header(req, "X-FR-Auth-Ts"),
		.sig = http_request_header(req, "X-FR-Auth-Sig"),
	};

	return iauth_verify_headers(secret, time(NULL), http_request_method_str(req),
				    http_request_target(req), http_request_id(req), &h, out);
}
