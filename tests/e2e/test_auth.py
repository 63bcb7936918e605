"""test_auth.py - registration, login, tokens, throttling and request-body rules, via the gateway."""
import os
import time
import unittest
import uuid

import client as c


class RegisterTests(unittest.TestCase):
    def test_register_returns_201_with_user_id(self):
        email, password = c.new_email("reg"), c.new_password()
        r = c.expect(c.register(email, password, full_name="E2E Register", accept_terms=True), 201)
        self.assertRegex(r.json["user_id"], c.UUID_RE)
        if os.environ.get("IDENTITY_REQUIRE_EMAIL_VERIFICATION", "false") != "true":
            self.assertIs(r.json["verification_required"], False)
        tokens = c.expect(c.login(email, password), 200).json
        self.assertEqual(tokens["user"]["id"], r.json["user_id"])
        self.assertEqual(tokens["user"]["email"], email)
        self.assertEqual(tokens["user"]["full_name"], "E2E Register")
        self.assertEqual(tokens["user"]["status"], "Active")
        self.assertIs(tokens["user"]["is_admin"], False)
        self.assertIs(tokens["user"]["is_tenant_admin"], False)

    def test_register_duplicate_email_is_409_case_insensitive(self):
        email = "E2E-Dup-%s@Example.TEST" % uuid.uuid4().hex[:12]
        c.expect(c.register(email, c.new_password()), 201)
        c.expect(c.register(email.lower(), c.new_password()), 409, "email_taken")
        c.expect(c.register(email.upper(), c.new_password()), 409, "email_taken")

    def test_register_stores_email_lower_case_and_login_ignores_case(self):
        email, password = "E2E-Case-%s@Example.Test" % uuid.uuid4().hex[:12], c.new_password()
        c.expect(c.register(email, password), 201)
        r = c.expect(c.login(email.lower(), password), 200)
        self.assertEqual(r.json["user"]["email"], email.lower())
        c.expect(c.login(email.upper(), password), 200)

    def test_register_unknown_tenant_is_404(self):
        r = c.gw("POST", "/v1/auth/register",
                 body={"tenant_slug": "no-such-tenant-" + uuid.uuid4().hex[:8],
                       "email": c.new_email(), "password": c.new_password()})
        c.expect(r, 404, "tenant_not_found")

    def test_register_malformed_json_is_400(self):
        for raw in (b'{"tenant_slug": "default", "email": ', b"not json", b'{"a":"\xff\xfe"}'):
            with self.subTest(raw=raw):
                c.expect(c.gw("POST", "/v1/auth/register", raw=raw), 400, "malformed_json")

    def test_register_duplicate_keys_is_400(self):
        email = c.new_email()
        raw = ('{"tenant_slug":"default","email":"%s","email":"%s","password":"%s"}'
               % (email, c.new_email(), c.new_password())).encode()
        c.expect(c.gw("POST", "/v1/auth/register", raw=raw), 400, "malformed_json")

    def test_register_wrong_content_type_is_415(self):
        raw = b'{"tenant_slug":"default","email":"x@example.test","password":"12345678"}'
        for ctype in ("text/plain", "application/x-www-form-urlencoded", None):
            with self.subTest(content_type=ctype):
                r = c.gw("POST", "/v1/auth/register", raw=raw, content_type=ctype)
                c.expect(r, 415, "unsupported_media_type")

    def test_register_missing_fields_is_422_naming_each(self):
        r = c.expect(c.gw("POST", "/v1/auth/register", body={}), 422, "validation_failed")
        self.assertTrue({"tenant_slug", "email", "password"} <= c.detail_fields(r), r.describe())

    def test_register_unknown_field_is_422(self):
        body = {"tenant_slug": c.TENANT, "email": c.new_email(), "password": c.new_password(),
                "is_admin": True}
        r = c.expect(c.gw("POST", "/v1/auth/register", body=body), 422, "validation_failed")
        self.assertIn("is_admin", c.detail_fields(r))

    def test_register_field_rules_are_422(self):
        body = {"tenant_slug": c.TENANT, "email": "not-an-email", "password": "short7!",
                "full_name": "x" * 201}
        r = c.expect(c.gw("POST", "/v1/auth/register", body=body), 422, "validation_failed")
        self.assertTrue({"email", "password", "full_name"} <= c.detail_fields(r), r.describe())
        body = {"tenant_slug": c.TENANT, "email": c.new_email(), "password": "p" * 129}
        r = c.expect(c.gw("POST", "/v1/auth/register", body=body), 422, "validation_failed")
        self.assertIn("password", c.detail_fields(r))

    def test_register_oversized_body_is_413_at_gateway(self):
        r = c.send_large_body("gateway", "POST", "/v1/auth/register", 1024 * 1024 + 64 * 1024)
        c.expect(r, 413, "body_too_large")


class LoginTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.acct = c.Account("login")

    def test_login_returns_auth_tokens(self):
        r = c.expect(c.login(self.acct.email, self.acct.password), 200)
        t = r.json
        self.assertEqual(t["token_type"], "Bearer")
        self.assertGreater(t["expires_in"], 0)
        self.assertEqual(t["user"]["id"], self.acct.user_id)
        self.assertEqual(t["tenant"]["slug"], c.TENANT)
        self.assertEqual(t["user"]["tenant_id"], t["tenant"]["id"])
        self.assertNotEqual(t["refresh_token"], self.acct.tokens["refresh_token"])

    def test_access_token_is_es256_jwt_with_a_published_kid(self):
        t = c.expect(c.login(self.acct.email, self.acct.password), 200).json
        header, claims, sig = c.jwt_parts(t["access_token"])
        self.assertEqual(header.get("alg"), "ES256")
        self.assertEqual(header.get("typ"), "JWT")
        self.assertEqual(len(sig), 64, "JOSE ES256 signature is R||S, 64 bytes")
        jwks = c.expect(c.gw("GET", "/v1/.well-known/jwks.json"), 200).json
        self.assertIn(header.get("kid"), {k["kid"] for k in jwks["keys"]})
        now = time.time()
        self.assertEqual(claims["iss"], os.environ.get("FR_JWT_ISSUER", "flatrender-identity"))
        aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        self.assertIn(os.environ.get("FR_JWT_AUDIENCE", "flatrender"), aud)
        self.assertEqual(claims["sub"], t["user"]["id"])
        self.assertEqual(claims["tid"], t["tenant"]["id"])
        self.assertRegex(claims["sid"], c.UUID_RE)
        self.assertRegex(claims["jti"], c.UUID_RE)
        self.assertIs(claims["adm"], False)
        self.assertIs(claims["tadm"], False)
        self.assertLessEqual(claims["nbf"], now + 5)
        self.assertLessEqual(abs(claims["iat"] - now), 60)
        self.assertLessEqual(abs((claims["exp"] - claims["iat"]) - t["expires_in"]), 2)

    def test_each_login_is_a_new_session(self):
        a = c.jwt_parts(c.expect(c.login(self.acct.email, self.acct.password), 200)
                        .json["access_token"])[1]
        b = c.jwt_parts(c.expect(c.login(self.acct.email, self.acct.password), 200)
                        .json["access_token"])[1]
        self.assertNotEqual(a["sid"], b["sid"])
        self.assertNotEqual(a["jti"], b["jti"])

    def test_login_wrong_password_and_unknown_email_are_the_same_401(self):
        wrong = c.expect(c.login(self.acct.email, "wrong-" + c.new_password()), 401,
                         "invalid_credentials")
        unknown = c.expect(c.login(c.new_email("nobody"), c.new_password()), 401,
                           "invalid_credentials")
        self.assertEqual(wrong.json["error"]["message"], unknown.json["error"]["message"])
        c.expect(c.login(self.acct.email, self.acct.password), 200)  # clears the counter

    def test_login_unknown_tenant_is_401_invalid_credentials(self):
        r = c.login(self.acct.email, self.acct.password, tenant="no-such-" + uuid.uuid4().hex[:8])
        c.expect(r, 401, "invalid_credentials")

    def test_login_missing_fields_is_422_naming_each(self):
        r = c.expect(c.gw("POST", "/v1/auth/login", body={}), 422, "validation_failed")
        self.assertTrue({"tenant_slug", "email", "password"} <= c.detail_fields(r), r.describe())

    def test_login_throttled_after_five_failures(self):
        acct = c.Account("throttle")
        for i in range(5):
            with self.subTest(attempt=i + 1):
                c.expect(c.login(acct.email, "wrong-%d" % i), 401, "invalid_credentials")
        r = c.expect(c.login(acct.email, "wrong-6"), 429, "too_many_attempts")
        retry_after = int(r.header("retry-after"))
        self.assertTrue(1 <= retry_after <= 900, retry_after)
        # Checked before the password: even the right one is refused now.
        c.expect(c.login(acct.email, acct.password), 429, "too_many_attempts")
        # Per account: someone else is not affected.
        c.expect(c.login(self.acct.email, self.acct.password), 200)

    def test_admin_login(self):
        r = c.expect(c.login(c.ADMIN_EMAIL, c.ADMIN_PASSWORD, tenant="default"), 200)
        user, tenant = r.json["user"], r.json["tenant"]
        self.assertIs(user["is_admin"], True)
        self.assertIs(user["is_tenant_admin"], True)
        self.assertEqual(user["email"], c.ADMIN_EMAIL.lower())
        self.assertEqual((tenant["slug"], tenant["name"], tenant["kind"], tenant["status"]),
                         ("default", "Default", "Internal", "Active"))
        claims = c.jwt_parts(r.json["access_token"])[1]
        self.assertIs(claims["adm"], True)
        self.assertIs(claims["tadm"], True)
        c.expect(c.gw("POST", "/v1/auth/logout", token=r.json["access_token"]), 204)


class JwksTests(unittest.TestCase):
    def test_jwks_at_gateway_and_identity_agree(self):
        g = c.expect(c.gw("GET", "/v1/.well-known/jwks.json"), 200)
        i = c.expect(c.idn("GET", "/v1/.well-known/jwks.json"), 200)
        self.assertEqual(g.header("cache-control"), "public, max-age=300")
        self.assertEqual({k["kid"] for k in g.json["keys"]}, {k["kid"] for k in i.json["keys"]})


if __name__ == "__main__":
    unittest.main()
