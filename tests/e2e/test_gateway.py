"""test_gateway.py - the gateway's own behaviour: JWT checks, stripped identity headers, CORS,
routing errors, request ids, health and metrics."""
import hashlib
import hmac
import json
import time
import unittest
import uuid

import client as c

SPOOF_HEADERS = ("X-FR-User-Id", "X-FR-Tenant-Id", "X-FR-Session-Id", "X-User-Id",
                 "X-Tenant-Id", "X-Session-Id")


class JwtAttackTests(unittest.TestCase):
    """Every forged token is refused with 401 token_invalid; the genuine one keeps working."""

    @classmethod
    def setUpClass(cls):
        cls.acct, cls.victim = c.Account("jwt"), c.Account("jwt-victim")
        cls.header, cls.claims, cls.sig = c.jwt_parts(cls.acct.token)

    def assert_refused(self, token, code="token_invalid"):
        c.expect(c.gw("GET", "/v1/users/me", token=token), 401, code)
        c.expect(c.gw("GET", "/v1/users/me", token=self.acct.token), 200)  # control

    def test_alg_none_is_refused(self):
        for alg in ("none", "None", "NONE"):
            with self.subTest(alg=alg):
                self.assert_refused(c.jwt_forge({"alg": alg, "typ": "JWT"}, self.claims))
                self.assert_refused(c.jwt_forge(dict(self.header, alg=alg), self.claims))

    def test_hs256_signed_with_public_material_is_refused(self):
        jwks = c.expect(c.gw("GET", "/v1/.well-known/jwks.json"), 200)
        key = next(k for k in jwks.json["keys"] if k["kid"] == self.header["kid"])
        header = dict(self.header, alg="HS256")
        for secret in (jwks.body, json.dumps(key).encode(), key["x"].encode(), b""):
            signing_input = "%s.%s" % tuple(c.jwt_forge(header, self.claims).split(".")[:2])
            mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            with self.subTest(secret=secret[:20]):
                self.assert_refused(c.jwt_forge(header, self.claims, mac))

    def test_tampered_payload_is_refused(self):
        for change in ({"sub": self.victim.user_id}, {"adm": True, "tadm": True},
                       {"sid": self.victim.session_id}, {"exp": int(time.time()) + 86400}):
            with self.subTest(change=list(change)):
                self.assert_refused(c.jwt_forge(self.header, dict(self.claims, **change),
                                                self.sig))

    def test_expired_token_is_refused(self):
        # Without identity's private key a genuinely expired token cannot be made here: this
        # one carries a past exp under the original signature, so it must fail as forged.
        past = int(time.time()) - 3600
        token = c.jwt_forge(self.header, dict(self.claims, exp=past, iat=past - 900,
                                              nbf=past - 900), self.sig)
        self.assert_refused(token)

    def test_unknown_kid_and_bad_signatures_are_refused(self):
        self.assert_refused(c.jwt_forge(dict(self.header, kid="k-0000000000000000"), self.claims,
                                        self.sig))
        self.assert_refused(c.jwt_forge(self.header, self.claims, bytes(64)))
        self.assert_refused(c.jwt_forge(self.header, self.claims, self.sig[:32]))
        other_sig = c.jwt_parts(self.victim.token)[2]
        self.assert_refused(c.jwt_forge(self.header, self.claims, other_sig))

    def test_garbage_tokens_are_refused(self):
        for token in ("abc", "a.b.c", "not.a.jwt", "....", self.acct.token + "x",
                      self.acct.token.replace(".", "", 1), "x" * 9000):
            with self.subTest(token=token[:30]):
                self.assert_refused(token)

    def test_missing_token_is_refused(self):
        c.expect(c.gw("GET", "/v1/users/me"), 401, "token_missing")
        r = c.gw("GET", "/v1/users/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        c.expect(r, 401)
        self.assertIn(r.code, ("token_missing", "token_invalid"))
        r = c.gw("GET", "/v1/users/me", headers={"Authorization": "Bearer"})
        c.expect(r, 401)
        self.assertIn(r.code, ("token_missing", "token_invalid"))


class SpoofedHeaderTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.acct, cls.victim = c.Account("spoof"), c.Account("spoof-victim")

    def spoof(self):
        hdrs = {name: self.victim.user_id for name in SPOOF_HEADERS}
        hdrs["X-FR-Tenant-Id"] = self.victim.tokens["tenant"]["id"]
        hdrs["X-FR-Session-Id"] = self.victim.session_id
        hdrs.update({"X-FR-Roles": "admin,tenant_admin", "X-FR-Caller": "gateway",
                     "X-FR-Client-Ip": "10.9.8.7", "X-FR-Auth-Ts": str(int(time.time())),
                     "X-FR-Auth-Sig": "0" * 64})
        return hdrs

    def test_spoofed_identity_headers_are_ignored_with_a_token(self):
        r = c.expect(c.gw("GET", "/v1/users/me", token=self.acct.token, headers=self.spoof()), 200)
        self.assertEqual(r.json["id"], self.acct.user_id)
        self.assertIs(r.json["is_admin"], False)
        r = c.expect(c.gw("PATCH", "/v1/users/me", token=self.acct.token, headers=self.spoof(),
                          body={"slogan": "mine"}), 200)
        self.assertEqual(r.json["id"], self.acct.user_id)
        victim = c.expect(c.gw("GET", "/v1/users/me", token=self.victim.token), 200).json
        self.assertNotEqual(victim["slogan"], "mine")

    def test_spoofed_identity_headers_without_a_token_are_401(self):
        c.expect(c.gw("GET", "/v1/users/me", headers=self.spoof()), 401, "token_missing")

    @unittest.skipUnless(c.INTERNAL_SECRET, "FR_INTERNAL_SECRET not set")
    def test_correctly_signed_headers_from_a_client_are_stripped(self):
        # Even a valid internal signature must not pass through the gateway from outside.
        hdrs = c.iauth_headers("GET", "/v1/users/me", user=self.victim.user_id,
                               tenant=self.victim.tokens["tenant"]["id"],
                               session=self.victim.session_id)
        c.expect(c.gw("GET", "/v1/users/me", headers=hdrs), 401, "token_missing")
        r = c.expect(c.gw("GET", "/v1/users/me", headers=hdrs, token=self.acct.token), 200)
        self.assertEqual(r.json["id"], self.acct.user_id)


class CorsTests(unittest.TestCase):
    def preflight(self, origin, path="/v1/auth/login"):
        return c.gw("OPTIONS", path, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization, x-request-id"})

    def test_preflight_from_allowed_origin_is_204(self):
        r = c.expect(self.preflight(c.CORS_ORIGIN), 204)
        self.assertEqual(r.header("access-control-allow-origin"), c.CORS_ORIGIN)
        self.assertIn("post", c.header_tokens(r.header("access-control-allow-methods")))
        self.assertTrue({"authorization", "content-type", "x-request-id", "idempotency-key"}
                        <= c.header_tokens(r.header("access-control-allow-headers")),
                        r.header("access-control-allow-headers"))
        self.assertEqual(r.header("access-control-max-age"), "600")
        self.assertIn("origin", c.header_tokens(r.header("vary")))
        self.assertEqual(r.body, b"")

    def test_preflight_from_other_origin_is_403(self):
        for origin in ("http://evil.example", "http://localhost:3000.evil.example", "null"):
            with self.subTest(origin=origin):
                r = c.expect(self.preflight(origin), 403, "cors_origin_denied")
                self.assertIsNone(r.header("access-control-allow-origin"))

    def test_actual_request_from_allowed_origin_gets_cors_headers(self):
        r = c.expect(c.gw("GET", "/v1/.well-known/jwks.json",
                          headers={"Origin": c.CORS_ORIGIN}), 200)
        self.assertEqual(r.header("access-control-allow-origin"), c.CORS_ORIGIN)
        self.assertIn("x-request-id", c.header_tokens(r.header("access-control-expose-headers")))
        r = c.expect(c.gw("GET", "/v1/users/me", headers={"Origin": c.CORS_ORIGIN}), 401)
        self.assertEqual(r.header("access-control-allow-origin"), c.CORS_ORIGIN)

    def test_actual_request_from_other_origin_gets_no_allow_origin(self):
        r = c.gw("GET", "/v1/.well-known/jwks.json", headers={"Origin": "http://evil.example"})
        self.assertNotIn(r.header("access-control-allow-origin"), ("http://evil.example", "*"))


class RoutingTests(unittest.TestCase):
    def test_unknown_route_is_404(self):
        for path in ("/v1/nope", "/nope", "/v1/users/me/nope", "/v1/auth",
                     "/internal/v1/sessions/" + str(uuid.uuid4())):
            with self.subTest(path=path):
                c.expect(c.gw("GET", path), 404, "route_not_found")

    def test_wrong_method_is_405_with_allow(self):
        cases = (("DELETE", "/v1/users/me", {"get", "patch"}),
                 ("GET", "/v1/auth/login", {"post"}),
                 ("PUT", "/v1/auth/sessions", {"get"}))
        for method, path, allowed in cases:
            with self.subTest(method=method, path=path):
                r = c.expect(c.gw(method, path), 405, "method_not_allowed")
                self.assertTrue(allowed <= c.header_tokens(r.header("allow")), r.header("allow"))


class RequestIdTests(unittest.TestCase):
    def test_request_id_is_echoed_on_success_and_error(self):
        rid = "e2e-req.%s_X" % uuid.uuid4().hex[:8]
        r = c.expect(c.gw("GET", "/v1/.well-known/jwks.json", headers={"X-Request-Id": rid}), 200)
        self.assertEqual(r.header("x-request-id"), rid)
        r = c.expect(c.gw("GET", "/v1/users/me", headers={"X-Request-Id": rid}), 401)
        self.assertEqual((r.header("x-request-id"), r.json["error"]["trace_id"]), (rid, rid))

    def test_request_id_reaches_identity(self):
        acct = c.Account("rid")
        rid = "e2e-upstream-" + uuid.uuid4().hex
        r = c.gw("POST", "/v1/auth/register", headers={"X-Request-Id": rid},
                 body={"tenant_slug": c.TENANT, "email": acct.email, "password": "whatever-123"})
        c.expect(r, 409, "email_taken")  # produced by identity, relayed by the gateway
        self.assertEqual(r.json["error"]["trace_id"], rid)

    def test_invalid_request_id_is_replaced(self):
        for bad in ("has space", "x" * 65, "semi;colon", "slash/y"):
            with self.subTest(request_id=bad):
                r = c.gw("GET", "/v1/nope", headers={"X-Request-Id": bad})
                c.expect(r, 404, "route_not_found")
                self.assertNotEqual(r.header("x-request-id"), bad)
                self.assertRegex(r.header("x-request-id"),
                                 r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                                 r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

    def test_generated_request_ids_differ(self):
        a = c.gw("GET", "/healthz").header("x-request-id")
        b = c.gw("GET", "/healthz").header("x-request-id")
        self.assertNotEqual(a, b)


class OperationsTests(unittest.TestCase):
    def check_ops(self, daemon):
        r = c.expect(c.request(daemon, "GET", "/healthz"), 200)
        self.assertEqual(r.json, {"status": "ok"})
        r = c.expect(c.request(daemon, "GET", "/readyz"), 200)
        self.assertEqual(r.json["status"], "ready")
        self.assertTrue(all(r.json["checks"].values()), r.json)
        r = c.expect(c.request(daemon, "GET", "/metrics"), 200)
        text = r.body.decode("utf-8")
        self.assertRegex(text, r"(?m)^http_requests_total(\{[^}]*\})? \d+")
        self.assertRegex(text, r"(?m)^# TYPE http_requests_total counter$")

    def test_gateway_health_ready_metrics(self):
        self.check_ops("gateway")

    def test_identity_health_ready_metrics(self):
        self.check_ops("identity")


if __name__ == "__main__":
    unittest.main()
