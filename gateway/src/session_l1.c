/*
 * session_l1.c - the in-process session cache and the session wire forms (see session_l1.h).
 *
 * Owns its slot array. Session ids are UUIDs; the bucket is chosen by FNV-1a of the id, and
 * only ids taken from verified tokens are ever looked up.
 */
#include "session_l1.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"

#define L1_WAYS 4
#define SID_LEN 36

/* ---- wire forms ------------------------------------------------------------------------- */

/* Copies s[0..n) into a UUID field when it is a UUID. */
static int sess_copy_uuid(char dst[UUID_STR_LEN], const char *s, size_t n)
{
	if (n != SID_LEN)
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return uuid_valid(dst) ? 0 : -1;
}

static int sess_copy_reason(char dst[SESSION_REASON_MAX], const char *s, size_t n)
{
	if (n == 0) {
		strcpy(dst, "revoked");
		return 0;
	}
	if (n >= SESSION_REASON_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
			return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* Roles: comma-separated; unknown roles are ignored (a newer identity may add some). */
static void sess_parse_roles(const char *s, size_t n, struct gw_session *out)
{
	const char *end = s + n;

	while (s < end) {
		const char *c = memchr(s, ',', (size_t)(end - s));
		size_t len = (size_t)((c != NULL ? c : end) - s);

		if (len == 5 && memcmp(s, "admin", 5) == 0)
			out->adm = true;
		else if (len == 12 && memcmp(s, "tenant_admin", 12) == 0)
			out->tadm = true;
		s += len + (c != NULL ? 1 : 0);
	}
}

int session_value_parse(const char *v, size_t n, struct gw_session *out)
{
	const char *end = v + n, *p1, *p2, *p3;

	memset(out, 0, sizeof(*out));
	if (n > 7 && memcmp(v, "active|", 7) == 0) {
		p1 = v + 7;
		p2 = memchr(p1, '|', (size_t)(end - p1));
		if (p2 == NULL || sess_copy_uuid(out->user_id, p1, (size_t)(p2 - p1)) < 0)
			return -1;
		p2++;
		p3 = memchr(p2, '|', (size_t)(end - p2));
		if (p3 == NULL || sess_copy_uuid(out->tenant_id, p2, (size_t)(p3 - p2)) < 0)
			return -1;
		p3++;
		if (memchr(p3, '|', (size_t)(end - p3)) != NULL)
			return -1;
		sess_parse_roles(p3, (size_t)(end - p3), out);
		out->active = true;
		return 0;
	}
	if (n >= 8 && memcmp(v, "revoked|", 8) == 0)
		return sess_copy_reason(out->reason, v + 8, n - 8);
	return -1;
}

int session_value_format(const struct gw_session *s, char *out, size_t cap)
{
	int n;

	if (s->active)
		n = snprintf(out, cap, "active|%s|%s|%s%s%s", s->user_id, s->tenant_id,
			     s->adm ? "admin" : "", s->adm && s->tadm ? "," : "",
			     s->tadm ? "tenant_admin" : "");
	else
		n = snprintf(out, cap, "revoked|%s", s->reason[0] != '\0' ? s->reason : "revoked");
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

static const char *sess_json_str(json_object *o, const char *key, size_t *n)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	*n = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

static bool sess_json_bool(json_object *o, const char *key, bool *ok)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean)) {
		*ok = false;
		return false;
	}
	return json_object_get_boolean(v);
}

int session_status_parse(const char *json, size_t n, const char *sid, struct gw_session *out)
{
	const char *why = NULL, *s;
	json_object *o = json_parse_strict(json, n, &why);
	size_t len = 0;
	bool ok = true;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (o == NULL || !json_object_is_type(o, json_type_object))
		goto out;
	if ((s = sess_json_str(o, "session_id", &len)) == NULL || len != SID_LEN ||
	    strncasecmp(s, sid, SID_LEN) != 0 || strlen(sid) != SID_LEN)
		goto out;
	if ((s = sess_json_str(o, "user_id", &len)) == NULL ||
	    sess_copy_uuid(out->user_id, s, len) < 0)
		goto out;
	if ((s = sess_json_str(o, "tenant_id", &len)) == NULL ||
	    sess_copy_uuid(out->tenant_id, s, len) < 0)
		goto out;
	out->active = sess_json_bool(o, "active", &ok);
	out->adm = sess_json_bool(o, "is_admin", &ok);
	out->tadm = sess_json_bool(o, "is_tenant_admin", &ok);
	if (!ok)
		goto out;
	if (!out->active) {
		s = sess_json_str(o, "reason", &len);
		if (sess_copy_reason(out->reason, s != NULL ? s : "", s != NULL ? len : 0) < 0)
			goto out;
	}
	rc = 0;
out:
	if (o != NULL)
		json_object_put(o);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- the L1 cache ----------------------------------------------------------------------- */

struct l1_entry {
	char sid[UUID_STR_LEN];
	bool live;
	uint64_t expires_ms;
	struct gw_session s;
};

struct session_l1 {
	struct l1_entry *slots;
	size_t nbuckets; /* power of two */
	size_t count;
	long ttl_ms;
};

struct session_l1 *session_l1_new(size_t max_entries, long ttl_ms)
{
	struct session_l1 *l1 = calloc(1, sizeof(*l1));
	size_t nb = 1;

	if (l1 == NULL)
		return NULL;
	while (nb * L1_WAYS < max_entries)
		nb <<= 1;
	l1->nbuckets = nb;
	l1->ttl_ms = ttl_ms;
	l1->slots = calloc(nb * L1_WAYS, sizeof(*l1->slots));
	if (l1->slots == NULL) {
		free(l1);
		return NULL;
	}
	return l1;
}

void session_l1_free(struct session_l1 *l1)
{
	if (l1 == NULL)
		return;
	free(l1->slots);
	free(l1);
}

static struct l1_entry *l1_bucket(struct session_l1 *l1, const char *sid)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)sid; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return &l1->slots[(h & (l1->nbuckets - 1)) * L1_WAYS];
}

bool session_l1_get(struct session_l1 *l1, const char *sid, uint64_t now_ms,
		    struct gw_session *out)
{
	struct l1_entry *b;

	if (l1->ttl_ms <= 0 || strlen(sid) != SID_LEN)
		return false;
	b = l1_bucket(l1, sid);
	for (int i = 0; i < L1_WAYS; i++) {
		struct l1_entry *e = &b[i];

		if (!e->live || memcmp(e->sid, sid, SID_LEN) != 0)
			continue;
		if (now_ms >= e->expires_ms) {
			e->live = false;
			l1->count--;
			return false;
		}
		*out = e->s;
		return true;
	}
	return false;
}

void session_l1_put(struct session_l1 *l1, const char *sid, const struct gw_session *s,
		    uint64_t now_ms)
{
	struct l1_entry *b, *victim = NULL;

	if (l1->ttl_ms <= 0 || strlen(sid) != SID_LEN)
		return;
	b = l1_bucket(l1, sid);
	for (int i = 0; i < L1_WAYS && victim == NULL; i++)
		if (b[i].live && memcmp(b[i].sid, sid, SID_LEN) == 0)
			victim = &b[i];
	if (victim != NULL && s->active && !victim->s.active && now_ms < victim->expires_ms)
		return; /* revocation is final: a stale "active" answer must not undo it */
	for (int i = 0; i < L1_WAYS && victim == NULL; i++)
		if (!b[i].live || now_ms >= b[i].expires_ms)
			victim = &b[i];
	if (victim == NULL) { /* all fresh: replace the one expiring first (stored earliest) */
		victim = &b[0];
		for (int i = 1; i < L1_WAYS; i++)
			if (b[i].expires_ms < victim->expires_ms)
				victim = &b[i];
	}
	if (!victim->live)
		l1->count++;
	memcpy(victim->sid, sid, SID_LEN + 1);
	victim->s = *s;
	victim->expires_ms = now_ms + (uint64_t)l1->ttl_ms;
	victim->live = true;
}

void session_l1_revoke(struct session_l1 *l1, const char *sid, const char *reason, uint64_t now_ms)
{
	struct gw_session s;

	memset(&s, 0, sizeof(s));
	snprintf(s.reason, sizeof(s.reason), "%s", reason);
	session_l1_put(l1, sid, &s, now_ms);
}

size_t session_l1_count(const struct session_l1 *l1)
{
	return l1->count;
}
