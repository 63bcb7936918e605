/*
 * test_iauth.c - internal-call signatures: the wire format, sign/verify, every field tampered,
 * timestamp freshness and shape, canonical roles, ids and scopes, unsigned identity headers,
 * scope lookup.
 *
 * Messages for the "valid signature, invalid field" cases are signed here with a raw HMAC
 * over the documented format, so a rejection proves the field check, not a MAC mismatch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/http.h"
#include "common/iauth.h"
#include "common/log.h"

#define SECRET "internal-secret-for-tests"
#define NOW ((time_t)1700000000)
#define USER "6f1c2a40-7d1e-4a53-9b44-0b7f2c1d9e10"
#define TENANT "0d3c5e8a-1b2c-4d5e-8f90-123456789abc"
#define SESSION "aa0e8400-e29b-41d4-a716-446655440000"
#define RID "req-42"
#define KEY_ID "5b9d7c1e-3f2a-4e8b-9c0d-1a2b3c4d5e6f"
#define NF 12 /* fields of the signed message */

/* One signed request: identity, header values and the request line. */
struct signed_req {
	struct iauth a;
	char ts[24];
	char sig[65];
	struct iauth_headers h;
	const char *method, *target, *rid;
};

static void sr_init(struct signed_req *r, time_t ts)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->a.caller, "gateway");
	strcpy(r->a.user_id, USER);
	strcpy(r->a.tenant_id, TENANT);
	strcpy(r->a.session_id, SESSION);
	strcpy(r->a.client_ip, "203.0.113.7");
	strcpy(r->a.api_key_id, KEY_ID);
	strcpy(r->a.scopes, "users:read users:write");
	r->a.is_tenant_admin = true;
	r->method = "GET";
	r->target = "/internal/v1/sessions/" SESSION "?x=1";
	r->rid = RID;
	snprintf(r->ts, sizeof(r->ts), "%lld", (long long)ts);
	iauth_sign(SECRET, ts, r->method, r->target, r->rid, &r->a, r->sig);
	r->h = (struct iauth_headers){
		.caller = r->a.caller,
		.user_id = r->a.user_id,
		.tenant_id = r->a.tenant_id,
		.session_id = r->a.session_id,
		.roles = iauth_roles(&r->a),
		.client_ip = r->a.client_ip,
		.ts = r->ts,
		.sig = r->sig,
		.api_key_id = r->a.api_key_id,
		.scopes = r->a.scopes,
	};
}

static enum iauth_result sr_check(const struct signed_req *r, struct iauth *out)
{
	return iauth_verify_headers(SECRET, NOW, r->method, r->target, r->rid, &r->h, out);
}

/* Lower-case hex HMAC over the NF fields joined by '\n', independent of iauth.c. */
static void raw_sig(const char *secret, const char *const f[NF], char out[65])
{
	char msg[2048] = "";
	unsigned char mac[32];

	for (int i = 0; i < NF; i++) {
		strcat(msg, f[i]);
		if (i < NF - 1)
			strcat(msg, "\n");
	}
	hmac_sha256(secret, strlen(secret), msg, strlen(msg), mac);
	hex_encode(mac, sizeof(mac), out);
}

static void test_iauth_wire_format(void **state)
{
	const char *f[NF] = {"1700000000", "gateway", "GET", "/internal/v1/sessions/" SESSION "?x=1",
			     RID, USER, TENANT, SESSION, "tenant_admin", "203.0.113.7", KEY_ID,
			     "users:read users:write"};
	struct signed_req r;
	char want[65];

	(void)state;
	sr_init(&r, NOW);
	raw_sig(SECRET, f, want);
	assert_string_equal(r.sig, want);
	/* the method is signed upper case */
	iauth_sign(SECRET, NOW, "get", r.target, RID, &r.a, want);
	assert_string_equal(r.sig, want);
}

static void test_iauth_roundtrip(void **state)
{
	struct signed_req r;
	struct iauth out;

	(void)state;
	sr_init(&r, NOW);
	assert_int_equal(sr_check(&r, &out), IAUTH_OK);
	assert_string_equal(out.caller, "gateway");
	assert_string_equal(out.user_id, USER);
	assert_string_equal(out.tenant_id, TENANT);
	assert_string_equal(out.session_id, SESSION);
	assert_string_equal(out.client_ip, "203.0.113.7");
	assert_string_equal(out.api_key_id, KEY_ID);
	assert_string_equal(out.scopes, "users:read users:write");
	assert_false(out.is_admin);
	assert_true(out.is_tenant_admin);
	/* a service-to-service call without a user */
	memset(&r.a, 0, sizeof(r.a));
	strcpy(r.a.caller, "billing");
	iauth_sign(SECRET, NOW, "POST", "/x", RID, &r.a, r.sig);
	r.method = "POST";
	r.target = "/x";
	r.h = (struct iauth_headers){.caller = "billing", .user_id = "", .tenant_id = "",
				     .session_id = "", .roles = "", .client_ip = "", .ts = r.ts,
				     .sig = r.sig};
	assert_int_equal(sr_check(&r, &out), IAUTH_OK);
	assert_string_equal(out.caller, "billing");
	assert_string_equal(out.user_id, "");
	/* absent identity headers count as empty */
	r.h.user_id = r.h.tenant_id = r.h.session_id = r.h.roles = r.h.client_ip = NULL;
	assert_int_equal(sr_check(&r, &out), IAUTH_OK);
	assert_string_equal(out.api_key_id, "");
	assert_string_equal(out.scopes, "");
}

static void test_iauth_each_field_tampered(void **state)
{
	const char *other_uuid = "11111111-2222-4333-8444-555555555555";
	struct signed_req r;
	struct iauth out;
	char ts1[24], sig[65];

	(void)state;
	for (int field = 0; field < 15; field++) {
		sr_init(&r, NOW);
		switch (field) {
		case 0: r.h.caller = "billing"; break;
		case 1: r.h.user_id = other_uuid; break;
		case 2: r.h.tenant_id = other_uuid; break;
		case 3: r.h.session_id = other_uuid; break;
		case 4: r.h.roles = "admin,tenant_admin"; break;
		case 5: r.h.client_ip = "203.0.113.8"; break;
		case 6: snprintf(ts1, sizeof(ts1), "%lld", (long long)NOW + 1); r.h.ts = ts1; break;
		case 7: r.method = "DELETE"; break;
		case 8: r.target = "/internal/v1/sessions/" SESSION "?x=2"; break;
		case 9: r.rid = "req-43"; break;
		case 10:
			strcpy(sig, r.sig);
			sig[10] = sig[10] == 'a' ? 'b' : 'a';
			r.h.sig = sig;
			break;
		case 11: r.h.user_id = ""; break;
		case 12: r.h.api_key_id = other_uuid; break;
		case 13: r.h.scopes = "users:read users:write renders:create"; break;
		case 14: r.h.scopes = NULL; break;
		}
		if (sr_check(&r, &out) != IAUTH_BAD)
			fail_msg("tampered field %d accepted", field);
		assert_string_equal(out.user_id, ""); /* nothing leaks out on BAD */
	}
	sr_init(&r, NOW);
	assert_int_equal(iauth_verify_headers("other-secret", NOW, r.method, r.target, r.rid, &r.h,
					      &out),
			 IAUTH_BAD);
}

static void test_iauth_stale_timestamp(void **state)
{
	struct signed_req r;

	(void)state;
	sr_init(&r, NOW - IAUTH_MAX_SKEW_S);
	assert_int_equal(sr_check(&r, NULL), IAUTH_OK);
	sr_init(&r, NOW + IAUTH_MAX_SKEW_S);
	assert_int_equal(sr_check(&r, NULL), IAUTH_OK);
	sr_init(&r, NOW - IAUTH_MAX_SKEW_S - 1);
	assert_int_equal(sr_check(&r, NULL), IAUTH_BAD);
	sr_init(&r, NOW + IAUTH_MAX_SKEW_S + 1);
	assert_int_equal(sr_check(&r, NULL), IAUTH_BAD);
	sr_init(&r, 0);
	assert_int_equal(sr_check(&r, NULL), IAUTH_BAD);
}

static void test_iauth_bad_timestamp_shape(void **state)
{
	static const char *const bad[] = {
		"", "+1700000000", "-1700000000", " 1700000000", "1700000000 ", "01700000000",
		"1700000000.0", "0x6553f100", "1e9", "999999999999999999999",
	};
	struct signed_req r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *f[NF] = {bad[i], "gateway", "GET", "/x", RID, "", "", "", "", "", "", ""};
		char sig[65];
		sr_init(&r, NOW);
		raw_sig(SECRET, f, sig); /* correctly signed over the odd timestamp */
		r.h = (struct iauth_headers){.caller = "gateway", .ts = bad[i], .sig = sig};
		r.target = "/x";
		if (sr_check(&r, NULL) != IAUTH_BAD)
			fail_msg("timestamp '%s' accepted", bad[i]);
	}
}

static void test_iauth_bad_signature_shape(void **state)
{
	struct signed_req r;
	char sig[70];

	(void)state;
	sr_init(&r, NOW);
	strcpy(sig, r.sig);
	for (char *p = sig; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	r.h.sig = sig;
	assert_int_equal(sr_check(&r, NULL), IAUTH_BAD); /* upper-case hex */
	strcpy(sig, r.sig);
	sig[63] = '\0';
	assert_int_equal(sr_check(&r, NULL), IAUTH_BAD); /* short */
	strcpy(sig, r.sig);
	strcat(sig, "0");
	assert_int_equal(sr_check(&r, NULL), IAUTH_BAD); /* long */
	r.h.sig = "";
	assert_int_equal(sr_check(&r, NULL), IAUTH_BAD);
}

/* Validly signed messages whose field values are not canonical. */
static void test_iauth_rejects_noncanonical_fields(void **state)
{
	static const struct {
		int idx;
		const char *val;
	} bad[] = {
		{8, "superuser"},      {8, "tenant_admin,admin"}, {8, "admin,"},
		{8, " admin"},         {8, "ADMIN"},              {5, "not-a-uuid"},
		{5, USER "0"},         {6, "1234"},               {7, "{" SESSION "}"},
		{1, ""},               {1, "Gateway"},            {1, "gate way"},
		{1, "a-caller-name-that-is-too-long-x"},          {9, "203.0.113.7\nadmin"},
		{9, "<script>"},       {10, "not-a-uuid"},        {10, KEY_ID "0"},
		{11, " users:read"},   {11, "users:read "},       {11, "users:read  users:write"},
		{11, "Users:read"},    {11, "users:read\tx"},     {11, "users:read\nadmin"},
		{11, "users:read,users:write"},
	};
	const char *f[NF] = {"1700000000", "gateway", "GET", "/x", RID, USER, TENANT, SESSION, "",
			     "10.0.0.1", KEY_ID, "users:read renders:create"};
	struct iauth_headers h;
	char sig[65];

	(void)state;
	raw_sig(SECRET, f, sig);
	h = (struct iauth_headers){f[1], f[5], f[6], f[7], f[8], f[9], f[0], sig, f[10], f[11]};
	assert_int_equal(iauth_verify_headers(SECRET, NOW, "GET", "/x", RID, &h, NULL), IAUTH_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *g[NF];
		memcpy(g, f, sizeof(g));
		g[bad[i].idx] = bad[i].val;
		raw_sig(SECRET, g, sig);
		h = (struct iauth_headers){g[1], g[5], g[6], g[7], g[8], g[9], g[0], sig, g[10], g[11]};
		if (iauth_verify_headers(SECRET, NOW, "GET", "/x", RID, &h, NULL) != IAUTH_BAD)
			fail_msg("field %d = '%s' accepted", bad[i].idx, bad[i].val);
	}
}

static void test_iauth_unsigned_identity_headers(void **state)
{
	struct iauth_headers h = {0};
	struct iauth out;

	(void)state;
	assert_int_equal(iauth_verify_headers(SECRET, NOW, "GET", "/x", RID, &h, &out), IAUTH_NONE);
	h.user_id = USER; /* a client claiming to be someone, with no signature */
	assert_int_equal(iauth_verify_headers(SECRET, NOW, "GET", "/x", RID, &h, &out), IAUTH_BAD);
	h = (struct iauth_headers){.roles = "admin"};
	assert_int_equal(iauth_verify_headers(SECRET, NOW, "GET", "/x", RID, &h, &out), IAUTH_BAD);
	h = (struct iauth_headers){.caller = "gateway", .ts = "1700000000"};
	assert_int_equal(iauth_verify_headers(SECRET, NOW, "GET", "/x", RID, &h, &out), IAUTH_BAD);
	h = (struct iauth_headers){.scopes = "users:write"};
	assert_int_equal(iauth_verify_headers(SECRET, NOW, "GET", "/x", RID, &h, &out), IAUTH_BAD);
	h = (struct iauth_headers){.api_key_id = KEY_ID};
	assert_int_equal(iauth_verify_headers(SECRET, NOW, "GET", "/x", RID, &h, &out), IAUTH_BAD);
	assert_false(out.is_admin);
}

static void test_iauth_request_line_checks(void **state)
{
	struct signed_req r;

	(void)state;
	sr_init(&r, NOW);
	r.target = "/internal/v1/sessions/" SESSION "?x=1\n";
	assert_int_equal(sr_check(&r, NULL), IAUTH_BAD);
	sr_init(&r, NOW);
	r.target = NULL;
	assert_int_equal(sr_check(&r, NULL), IAUTH_BAD);
	/* an empty secret is a misconfiguration: never accept, even a matching MAC */
	sr_init(&r, NOW);
	iauth_sign("", NOW, r.method, r.target, r.rid, &r.a, r.sig);
	assert_int_equal(iauth_verify_headers("", NOW, r.method, r.target, r.rid, &r.h, NULL),
			 IAUTH_BAD);
	assert_int_equal(iauth_verify_headers(NULL, NOW, r.method, r.target, r.rid, &r.h, NULL),
			 IAUTH_BAD);
}

static void test_iauth_roles_strings(void **state)
{
	struct iauth a = {0};

	(void)state;
	assert_string_equal(iauth_roles(&a), "");
	a.is_admin = true;
	assert_string_equal(iauth_roles(&a), "admin");
	a.is_tenant_admin = true;
	assert_string_equal(iauth_roles(&a), "admin,tenant_admin");
	a.is_admin = false;
	assert_string_equal(iauth_roles(&a), "tenant_admin");
}

static void test_iauth_has_scope(void **state)
{
	struct iauth a = {0};

	(void)state;
	assert_true(iauth_has_scope(&a, NULL));
	assert_true(iauth_has_scope(&a, ""));
	assert_false(iauth_has_scope(&a, "users:read"));
	strcpy(a.scopes, "users:read renders:create");
	assert_true(iauth_has_scope(&a, "users:read"));
	assert_true(iauth_has_scope(&a, "renders:create"));
	assert_false(iauth_has_scope(&a, "users:write"));
	assert_false(iauth_has_scope(&a, "users")); /* whole names only */
	assert_false(iauth_has_scope(&a, "users:rea"));
	assert_false(iauth_has_scope(&a, "read renders"));
	assert_false(iauth_has_scope(NULL, "users:read"));
}


/* ---- iauth_check through the real HTTP server ------------------------------------------- */

struct srv_fx {
	struct event_base *base;
	struct http_server *srv;
	int port;
	const char *const *requests; /* raw HTTP requests, NULL-terminated */
	char replies[8][512];        /* response bodies, in order */
	atomic_int done;
};

/* Answers {"result":"none|ok|bad","user":..,"roles":..} for the request's iauth headers. */
static void srv_check_handler(struct http_request *req, void *app)
{
	static const char *const names[] = {"none", "ok", "bad"};
	struct iauth who;
	enum iauth_result r = iauth_check(req, SECRET, &who);
	json_object *o = json_object_new_object();

	(void)app;
	json_object_object_add(o, "result", json_object_new_string(names[r]));
	json_object_object_add(o, "user", json_object_new_string(who.user_id));
	json_object_object_add(o, "roles", json_object_new_string(iauth_roles(&who)));
	json_object_object_add(o, "scopes", json_object_new_string(who.scopes));
	http_reply_json(req, 200, o);
}

/* One blocking request/response exchange with Connection: close; copies the body. */
static void srv_exchange(int port, const char *request, char *body, size_t cap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char buf[4096];
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	const char *b;

	body[0] = '\0';
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	b = strstr(buf, "\r\n\r\n");
	if (b != NULL)
		snprintf(body, cap, "%s", b + 4);
}

static void *srv_client_main(void *p)
{
	struct srv_fx *f = p;

	for (int i = 0; f->requests[i] != NULL && i < 8; i++)
		srv_exchange(f->port, f->requests[i], f->replies[i], sizeof(f->replies[i]));
	atomic_store(&f->done, 1);
	return NULL;
}

static void srv_poll_done(evutil_socket_t fd, short what, void *arg)
{
	struct srv_fx *f = arg;

	(void)fd;
	(void)what;
	if (atomic_load(&f->done))
		event_base_loopbreak(f->base);
}

/* A valid signed request for GET /check?x=1 with request id req-iauth-1, signed for
 * sign_target (the target actually sent stays /check?x=1). */
static char *srv_signed_request(const char *sign_target)
{
	struct iauth a = {0};
	char sig[65], *req = NULL;
	time_t now = time(NULL);

	strcpy(a.caller, "gateway");
	strcpy(a.user_id, USER);
	strcpy(a.tenant_id, TENANT);
	strcpy(a.session_id, SESSION);
	strcpy(a.client_ip, "198.51.100.9");
	strcpy(a.api_key_id, KEY_ID);
	strcpy(a.scopes, "users:read");
	a.is_admin = true;
	iauth_sign(SECRET, now, "GET", sign_target, "req-iauth-1", &a, sig);
	assert_true(asprintf(&req,
			     "GET /check?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
			     "X-Request-Id: req-iauth-1\r\nX-FR-Caller: gateway\r\n"
			     "X-FR-User-Id: " USER "\r\nX-FR-Tenant-Id: " TENANT "\r\n"
			     "X-FR-Session-Id: " SESSION "\r\nX-FR-Roles: admin\r\n"
			     "X-FR-Client-Ip: 198.51.100.9\r\nX-FR-Api-Key-Id: " KEY_ID "\r\n"
			     "X-FR-Scopes: users:read\r\nX-FR-Auth-Ts: %lld\r\n"
			     "X-FR-Auth-Sig: %s\r\n\r\n",
			     (long long)now, sig) > 0);
	return req;
}

/* The handler's JSON answer holds these values. */
static void srv_assert_reply(const char *body, const char *result, const char *user,
			     const char *roles)
{
	json_object *o = json_tokener_parse(body), *v;

	if (o == NULL)
		fail_msg("not JSON: '%s'", body);
	assert_true(json_object_object_get_ex(o, "result", &v));
	assert_string_equal(json_object_get_string(v), result);
	assert_true(json_object_object_get_ex(o, "user", &v));
	assert_string_equal(json_object_get_string(v), user);
	assert_true(json_object_object_get_ex(o, "roles", &v));
	assert_string_equal(json_object_get_string(v), roles);
	json_object_put(o);
}

static void test_iauth_check_over_http(void **state)
{
	static const struct http_route routes[] = {{HTTP_GET, "/check", srv_check_handler, 0, NULL}};
	char *good = srv_signed_request("/check?x=1");
	char *wrong_target = srv_signed_request("/check?x=2");
	const char *requests[] = {
		good,
		"GET /check HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
		"GET /check HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-FR-User-Id: " USER
		"\r\nX-FR-Roles: admin\r\n\r\n",
		wrong_target,
		NULL,
	};
	struct srv_fx f = {.requests = requests};
	struct http_server_opts o;
	struct timeval tick = {0, 5000};
	struct event *poll_ev;
	pthread_t th;

	(void)state;
	log_init("test_iauth", LOG_LEVEL_ERROR);
	f.base = event_base_new();
	assert_non_null(f.base);
	http_server_opts_default(&o, "test_iauth");
	o.bind_addr = "127.0.0.1";
	o.port = 0;
	o.access_log = false;
	f.srv = http_server_new(f.base, &o, routes, 1, &f);
	assert_non_null(f.srv);
	assert_int_equal(http_server_listen(f.srv), 0);
	f.port = http_server_port(f.srv);
	poll_ev = event_new(f.base, -1, EV_PERSIST, srv_poll_done, &f);
	assert_int_equal(event_add(poll_ev, &tick), 0);
	assert_int_equal(pthread_create(&th, NULL, srv_client_main, &f), 0);
	assert_int_equal(event_base_dispatch(f.base), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	event_free(poll_ev);
	http_server_free(f.srv);
	event_base_free(f.base);
	srv_assert_reply(f.replies[0], "ok", USER, "admin");
	assert_non_null(strstr(f.replies[0], "\"scopes\":\"users:read\""));
	srv_assert_reply(f.replies[1], "none", "", "");
	srv_assert_reply(f.replies[2], "bad", "", "");
	srv_assert_reply(f.replies[3], "bad", "", "");
	free(good);
	free(wrong_target);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iauth_wire_format),
		cmocka_unit_test(test_iauth_roundtrip),
		cmocka_unit_test(test_iauth_each_field_tampered),
		cmocka_unit_test(test_iauth_stale_timestamp),
		cmocka_unit_test(test_iauth_bad_timestamp_shape),
		cmocka_unit_test(test_iauth_bad_signature_shape),
		cmocka_unit_test(test_iauth_rejects_noncanonical_fields),
		cmocka_unit_test(test_iauth_unsigned_identity_headers),
		cmocka_unit_test(test_iauth_request_line_checks),
		cmocka_unit_test(test_iauth_roles_strings),
		cmocka_unit_test(test_iauth_has_scope),
		cmocka_unit_test(test_iauth_check_over_http),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
