"""test_identity_direct.py - calling identity directly: internal-auth signatures (iauth.h), the
internal session check, direct bearer tokens and identity's own body limit."""
import time
import unittest
import uuid

import client as c

needs_secret = unittest.skipUnless(c.INTERNAL_SECRET, "FR_INTERNAL_SECRET not set")


def internal_session(sid, **kw):
    path = "/internal/v1/sessions/" + sid
    return c.idn("GET", path, headers=c.iauth_headers("GET", path, **kw))


class ForgedInternalAuthTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.acct, cls.victim = c.Account("iauth"), c.Account("iauth-victim")

    def victim_context(self):
        return dict(user=self.victim.user_id, tenant=self.victim.tokens["tenant"]["id"],
                    session=self.victim.session_id)

    def test_bad_signature_is_401(self):
        hdrs = c.iauth_headers("GET", "/v1/users/me", roles="admin", **self.victim_context())
        hdrs["X-FR-Auth-Sig"] = "0" * 64
        c.expect(c.idn("GET", "/v1/users/me", headers=hdrs), 401)

    def test_signature_with_the_wrong_secret_is_401(self):
        hdrs = c.iauth_headers("GET", "/v1/users/me", secret="not-the-secret",
                               **self.victim_context())
        c.expect(c.idn("GET", "/v1/users/me", headers=hdrs), 401)

    def test_bad_signature_beside_a_valid_token_is_401(self):
        hdrs = c.iauth_headers("GET", "/v1/users/me", secret="not-the-secret",
                               **self.victim_context())
        c.expect(c.idn("GET", "/v1/users/me", headers=hdrs, token=self.acct.token), 401)

    def test_identity_headers_without_a_signature_are_not_trusted(self):
        hdrs = c.iauth_headers("GET", "/v1/users/me", **self.victim_context())
        del hdrs["X-FR-Auth-Sig"]
        c.expect(c.idn("GET", "/v1/users/me", headers=hdrs), 401)
        # Beside a valid bearer token the unsigned headers may be refused outright (identity
        # treats any X-FR-* header without a valid signature as a bad signature) or ignored;
        # they must never select the victim.
        r = c.idn("GET", "/v1/users/me", headers=hdrs, token=self.acct.token)
        if r.status != 401:
            c.expect(r, 200)
            self.assertEqual(r.json["id"], self.acct.user_id)

    def test_internal_route_needs_a_signature(self):
        path = "/internal/v1/sessions/" + self.acct.session_id
        c.expect(c.idn("GET", path), 401)
        c.expect(c.idn("GET", path, token=self.acct.token), 401)


@needs_secret
class SignedInternalAuthTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.acct = c.Account("signed")

    def context(self, acct):
        return dict(user=acct.user_id, tenant=acct.tokens["tenant"]["id"],
                    session=acct.session_id)

    def test_session_status_of_an_active_session(self):
        r = c.expect(internal_session(self.acct.session_id), 200)
        self.assertEqual(r.json, {
            "session_id": self.acct.session_id, "user_id": self.acct.user_id,
            "tenant_id": self.acct.tokens["tenant"]["id"], "active": True, "reason": None,
            "is_admin": False, "is_tenant_admin": False})

    def test_session_status_after_logout(self):
        acct = c.Account("signed-logout")
        c.expect(c.gw("POST", "/v1/auth/logout", token=acct.token), 204)
        r = c.expect(internal_session(acct.session_id), 200)
        self.assertIs(r.json["active"], False)
        self.assertEqual(r.json["reason"], "revoked")

    def test_session_status_of_an_admin(self):
        r = c.expect(c.login(c.ADMIN_EMAIL, c.ADMIN_PASSWORD, tenant="default"), 200)
        sid = c.jwt_parts(r.json["access_token"])[1]["sid"]
        status = c.expect(internal_session(sid), 200).json
        self.assertEqual((status["is_admin"], status["is_tenant_admin"]), (True, True))
        c.expect(c.gw("POST", "/v1/auth/logout", token=r.json["access_token"]), 204)

    def test_session_status_errors(self):
        c.expect(internal_session(str(uuid.uuid4())), 404, "session_not_found")
        c.expect(internal_session("not-a-uuid"), 400, "invalid_parameter")

    def test_stale_or_replayed_signatures_are_401(self):
        path = "/internal/v1/sessions/" + self.acct.session_id
        stale = c.iauth_headers("GET", path, ts=int(time.time()) - 3600)
        c.expect(c.idn("GET", path, headers=stale), 401)
        future = c.iauth_headers("GET", path, ts=int(time.time()) + 3600)
        c.expect(c.idn("GET", path, headers=future), 401)
        # A signature made for one target does not authorise another.
        other = c.iauth_headers("GET", "/internal/v1/sessions/" + str(uuid.uuid4()))
        c.expect(c.idn("GET", path, headers=other), 401)
        # Nor for another request id: the id is part of the signed message.
        moved = c.iauth_headers("GET", path)
        moved["X-Request-Id"] = "e2e-other-" + uuid.uuid4().hex
        c.expect(c.idn("GET", path, headers=moved), 401)

    def test_signed_user_context_is_trusted(self):
        hdrs = c.iauth_headers("GET", "/v1/users/me", **self.context(self.acct))
        r = c.expect(c.idn("GET", "/v1/users/me", headers=hdrs), 200)
        self.assertEqual(r.json["id"], self.acct.user_id)
        self.assertEqual(r.header("x-request-id"), hdrs["X-Request-Id"])


class DirectBearerTests(unittest.TestCase):
    def test_identity_accepts_a_bearer_token(self):
        acct = c.Account("direct")
        r = c.expect(c.idn("GET", "/v1/users/me", token=acct.token), 200)
        self.assertEqual(r.json["id"], acct.user_id)
        sessions = c.expect(c.idn("GET", "/v1/auth/sessions", token=acct.token), 200).json
        self.assertEqual([s["id"] for s in sessions["sessions"] if s["is_current"]],
                         [acct.session_id])

    def test_identity_refuses_forged_bearer_tokens(self):
        acct = c.Account("direct-forged")
        header, claims, sig = c.jwt_parts(acct.token)
        c.expect(c.idn("GET", "/v1/users/me", token=c.jwt_forge({"alg": "none"}, claims)), 401)
        c.expect(c.idn("GET", "/v1/users/me",
                       token=c.jwt_forge(header, dict(claims, adm=True), sig)), 401)
        c.expect(c.idn("GET", "/v1/users/me"), 401)

    def test_identity_body_limit_is_413(self):
        r = c.send_large_body("identity", "POST", "/v1/auth/register", 64 * 1024 + 4096)
        c.expect(r, 413, "body_too_large")

    def test_identity_validates_like_the_gateway(self):
        r = c.expect(c.idn("POST", "/v1/auth/register", body={}), 422, "validation_failed")
        self.assertTrue({"tenant_slug", "email", "password"} <= c.detail_fields(r))
        c.expect(c.idn("GET", "/v1/nope"), 404, "route_not_found")
        r = c.expect(c.idn("DELETE", "/v1/users/me"), 405, "method_not_allowed")
        self.assertTrue({"get", "patch"} <= c.header_tokens(r.header("allow")))


if __name__ == "__main__":
    unittest.main()
