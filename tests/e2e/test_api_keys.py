"""test_api_keys.py - API keys in identity, end to end.

Through the gateway: a tenant admin creates keys (the secret shown once, in the documented
format, prefix + last4 visible afterwards, never the secret), lists and revokes them; other
tenants' admins and plain users are refused; bad scopes / CIDRs / expiry / rate limits are
422. Directly at identity with a service token of the gateway: POST /v1/api-keys/validate
(valid, unknown prefix, wrong hash, revoked, expired, suspended tenant; refused without a
service token, with a user's token or another client's) and the batched usage report. The
identity side of the reseller API (GET /v1/reseller/me, users) with internal signatures that
name an API key, as the gateway sends them. identity.api_key.revoked.v1 when FR_AMQP_URL is
set. Every response is checked against the contracts.
"""
import datetime
import hashlib
import os
import re
import time
import unittest
import uuid

import client as c
import reseller as rs
import test_service_tokens as st

SECRET_RE = re.compile(r"^fr_(live|test)_[A-Za-z0-9]{40}$")
VALIDATE = "/v1/api-keys/validate"
USAGE = "/internal/v1/api-keys/usage"


def iso(seconds_from_now):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def keys_path(tenant_id):
    return "/v1/tenants/%s/api-keys" % tenant_id


def key_hash(full_key):
    return hashlib.sha256(full_key.encode()).hexdigest()


class ApiKeyManagementTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = rs.new_tenant()
        cls.other = rs.new_tenant()

    def test_secret_is_shown_once_and_only_prefix_and_last4_after(self):
        k = rs.create_key(self.t["admin_token"], self.t["tenant_id"], ["users:read"],
                          environment="Test", allowed_ips=["203.0.113.0/24", "2001:db8::/32",
                                                           "198.51.100.7"])
        secret = k["secret_key"]
        self.assertRegex(secret, SECRET_RE)
        self.assertTrue(secret.startswith("fr_test_"))
        self.assertEqual(k["key_prefix"], secret[:16])
        self.assertEqual(k["last4"], secret[-4:])
        self.assertEqual(k["allowed_ips"], ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"])
        self.assertEqual((k["rate_limit_rpm"], k["usage_count"], k["is_active"]), (60, 0, True))
        r = c.expect(c.gw("GET", keys_path(self.t["tenant_id"]), token=self.t["admin_token"]),
                     200)
        listed = [x for x in r.json["data"] if x["id"] == k["id"]]
        self.assertEqual(len(listed), 1)
        self.assertNotIn("secret_key", listed[0])
        self.assertNotIn(secret[16:], r.body.decode())
        self.assertEqual((listed[0]["key_prefix"], listed[0]["last4"]),
                         (k["key_prefix"], k["last4"]))
        k2 = rs.create_key(self.t["admin_token"], self.t["tenant_id"], ["users:read"])
        self.assertTrue(k2["secret_key"].startswith("fr_live_"))
        self.assertNotEqual(k2["secret_key"], secret)

    def test_platform_admin_manages_any_tenant_others_are_refused(self):
        tid = self.t["tenant_id"]
        k = rs.create_key(rs.platform_admin_token(), tid, ["renders:read"])
        self.assertEqual(k["tenant_id"], tid)
        c.expect(c.gw("GET", keys_path(tid), token=self.other["admin_token"]), 404,
                 "tenant_not_found")
        body = {"name": "x", "scopes": ["users:read"]}
        c.expect(c.gw("POST", keys_path(tid), body=body, token=self.other["admin_token"]), 404)
        c.expect(rs.revoke_key(self.other["admin_token"], tid, k["id"]), 404, "tenant_not_found")
        user = c.Account("ak-user")
        c.expect(c.gw("GET", keys_path(user.tokens["tenant"]["id"]), token=user.token), 403,
                 "forbidden")
        c.expect(c.gw("GET", keys_path(tid)), 401, "token_missing")
        c.expect(c.gw("POST", keys_path(str(uuid.uuid4())), body=body,
                      token=rs.platform_admin_token()), 404, "tenant_not_found")

    def test_invalid_keys_are_422(self):
        cases = [
            ({"scopes": ["users:read", "root"]}, "scopes"),
            ({"scopes": []}, "scopes"),
            ({"scopes": ["users:read", "users:read"]}, "scopes"),
            ({"allowed_ips": ["10.0.0.1/8"]}, "allowed_ips"),
            ({"allowed_ips": ["300.1.1.1"]}, "allowed_ips"),
            ({"allowed_ips": ["2001:db8::/129"]}, "allowed_ips"),
            ({"expires_at": iso(-60)}, "expires_at"),
            ({"expires_at": "tomorrow"}, "expires_at"),
            ({"rate_limit_rpm": 0}, "rate_limit_rpm"),
            ({"rate_limit_rpm": 100001}, "rate_limit_rpm"),
            ({"environment": "Prod"}, "environment"),
            ({"name": ""}, "name"),
            ({"secret_key": "fr_live_x"}, "secret_key"),
        ]
        for over, field in cases:
            body = {"name": "k", "scopes": ["users:read"]}
            body.update(over)
            r = c.expect(c.gw("POST", keys_path(self.t["tenant_id"]), body=body,
                              token=self.t["admin_token"]), 422)
            self.assertIn(field, c.detail_fields(r), over)

    def test_revoke_is_204_and_idempotent(self):
        k = rs.create_key(self.t["admin_token"], self.t["tenant_id"], ["users:read"])
        c.expect(rs.revoke_key(self.t["admin_token"], self.t["tenant_id"], k["id"],
                               reason="leaked"), 204)
        c.expect(rs.revoke_key(self.t["admin_token"], self.t["tenant_id"], k["id"]), 204)
        c.expect(rs.revoke_key(self.t["admin_token"], self.t["tenant_id"], str(uuid.uuid4())),
                 404, "api_key_not_found")
        r = c.expect(c.gw("GET", keys_path(self.t["tenant_id"]) + "?page_size=100",
                          token=self.t["admin_token"]), 200)
        row = [x for x in r.json["data"] if x["id"] == k["id"]][0]
        self.assertFalse(row["is_active"])
        self.assertIsNotNone(row["revoked_at"])
        c.expect(c.gw("DELETE", keys_path(self.t["tenant_id"]) + "/" + k["id"],
                      body={"why": "x"}, token=self.t["admin_token"]), 422)


@unittest.skipUnless(c.INTERNAL_SECRET, "needs FR_INTERNAL_SECRET (eval scripts/stack.sh env)")
class ValidateTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = rs.new_tenant()
        cls.svc = st.service_token("gateway")

    def validate(self, key, token=None, **over):
        body = {"key_prefix": key[:16], "key_hash": key_hash(key)}
        body.update(over)
        hdrs = {"Authorization": "Bearer " + (token or self.svc)}
        return c.idn("POST", VALIDATE, body=body, headers=hdrs)

    def test_valid_key_answers_its_rules(self):
        k = rs.create_key(self.t["admin_token"], self.t["tenant_id"], ["users:read", "users:write"],
                          allowed_ips=["10.0.0.0/8"], rate_limit_rpm=120, expires_at=iso(3600))
        v = c.expect(self.validate(k["secret_key"], ip_address="10.1.2.3"), 200).json
        self.assertTrue(v["valid"])
        self.assertEqual((v["api_key_id"], v["tenant_id"], v["environment"]),
                         (k["id"], self.t["tenant_id"], "Live"))
        self.assertEqual(v["scopes"], ["users:read", "users:write"])
        self.assertEqual((v["allowed_ips"], v["rate_limit_rpm"]), (["10.0.0.0/8"], 120))
        self.assertIsNotNone(v["expires_at"])

    def test_unknown_and_wrong_hash_look_alike(self):
        k = rs.create_key(self.t["admin_token"], self.t["tenant_id"], ["users:read"])
        key = k["secret_key"]
        wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
        self.assertEqual(c.expect(self.validate(wrong), 200).json,
                         {"valid": False, "reason": "unknown"})
        self.assertEqual(c.expect(self.validate("fr_live_ZZZZZZZZ" + "a" * 32), 200).json,
                         {"valid": False, "reason": "unknown"})
        self.assertEqual(c.expect(self.validate(key, key_prefix="garbage"), 200).json,
                         {"valid": False, "reason": "unknown"})
        c.expect(self.validate(key, key_hash="ABC"), 422, "validation_failed")
        c.expect(self.validate(key, ip_address="not-an-ip"), 422, "validation_failed")

    def test_revoked_expired_and_suspended(self):
        k = rs.create_key(self.t["admin_token"], self.t["tenant_id"], ["users:read"])
        c.expect(rs.revoke_key(self.t["admin_token"], self.t["tenant_id"], k["id"]), 204)
        self.assertEqual(c.expect(self.validate(k["secret_key"]), 200).json["reason"], "revoked")
        e = rs.create_key(self.t["admin_token"], self.t["tenant_id"], ["users:read"],
                          expires_at=iso(2))
        self.assertTrue(c.expect(self.validate(e["secret_key"]), 200).json["valid"])
        c.poll(lambda: self.validate(e["secret_key"]).json,
               lambda j: j.get("reason") == "expired", timeout=10)
        t2 = rs.new_tenant()
        s = rs.create_key(t2["admin_token"], t2["tenant_id"], ["users:read"])
        c.expect(c.gw("PATCH", "/v1/tenants/" + t2["tenant_id"], body={"status": "Suspended"},
                      token=rs.platform_admin_token()), 200)
        self.assertEqual(c.expect(self.validate(s["secret_key"]), 200).json,
                         {"valid": False, "reason": "tenant_suspended"})
        c.expect(c.gw("PATCH", "/v1/tenants/" + t2["tenant_id"], body={"status": "Active"},
                      token=rs.platform_admin_token()), 200)
        self.assertTrue(c.expect(self.validate(s["secret_key"]), 200).json["valid"])

    def test_refused_without_the_gateways_service_token(self):
        k = rs.create_key(self.t["admin_token"], self.t["tenant_id"], ["users:read"])
        body = {"key_prefix": k["key_prefix"], "key_hash": key_hash(k["secret_key"])}
        c.expect(c.idn("POST", VALIDATE, body=body), 401, "token_missing")
        user = c.Account("ak-validate")
        r = c.expect(self.validate(k["secret_key"], token=user.token), 401)
        self.assertIn(r.code, ("token_invalid", "service_token_required"))
        c.expect(self.validate(k["secret_key"], token=st.service_token("billing")), 403,
                 "forbidden")
        r = c.expect(c.idn("POST", USAGE, body={"usage": []},
                           headers={"Authorization": "Bearer " + user.token}), 401)
        # never routed by the gateway
        c.expect(c.gw("POST", VALIDATE, body=body, token=user.token), 404, "route_not_found")

    def test_usage_report_adds_counts(self):
        k = rs.create_key(self.t["admin_token"], self.t["tenant_id"], ["users:read"])
        at1, at2 = iso(-120), iso(-60)
        report = {"usage": [{"api_key_id": k["id"], "count": 5, "last_used_at": at1},
                            {"api_key_id": k["id"], "count": 2, "last_used_at": at2},
                            {"api_key_id": str(uuid.uuid4()), "count": 9, "last_used_at": at2}]}
        hdrs = {"Authorization": "Bearer " + self.svc}
        c.expect(c.idn("POST", USAGE, body=report, headers=hdrs), 204)
        c.expect(c.idn("POST", USAGE, body={"usage": [{"api_key_id": k["id"], "count": 1,
                                                      "last_used_at": at1}]}, headers=hdrs), 204)
        c.expect(c.idn("POST", USAGE, body={"usage": []}, headers=hdrs), 204)
        r = c.expect(c.gw("GET", keys_path(self.t["tenant_id"]) + "?page_size=100",
                          token=self.t["admin_token"]), 200)
        row = [x for x in r.json["data"] if x["id"] == k["id"]][0]
        self.assertEqual(row["usage_count"], 8)
        self.assertEqual(row["last_used_at"], at2)  # only moves forward
        for bad in ({"usage": [{"api_key_id": "x", "count": 1, "last_used_at": at1}]},
                    {"usage": [{"api_key_id": k["id"], "count": 0, "last_used_at": at1}]},
                    {"usage": [{"api_key_id": k["id"], "count": 1, "last_used_at": "now"}]},
                    {"usage": "all"}, {}):
            c.expect(c.idn("POST", USAGE, body=bad, headers=hdrs), 422, "validation_failed")


@unittest.skipUnless(c.INTERNAL_SECRET, "needs FR_INTERNAL_SECRET (eval scripts/stack.sh env)")
class ResellerIdentitySideTests(unittest.TestCase):
    """identity's reseller routes called as the gateway calls them for an API-key caller."""

    @classmethod
    def setUpClass(cls):
        cls.t = rs.new_tenant()
        cls.key = rs.create_key(cls.t["admin_token"], cls.t["tenant_id"],
                                ["users:read", "users:write"])

    def call(self, method, path, scopes="users:read users:write", key_id=None, body=None,
             tenant=None):
        hdrs = c.iauth_headers(method, path, tenant=tenant or self.t["tenant_id"],
                               api_key_id=key_id or self.key["id"], scopes=scopes)
        return c.idn(method, path, body=body, headers=hdrs)

    def test_me_names_the_tenant_and_the_key(self):
        me = c.expect(self.call("GET", "/v1/reseller/me", scopes=""), 200).json
        self.assertEqual(me["tenant"]["id"], self.t["tenant_id"])
        self.assertEqual(me["api_key"], {"id": self.key["id"], "name": self.key["name"],
                                         "key_prefix": self.key["key_prefix"],
                                         "environment": "Live",
                                         "scopes": ["users:read", "users:write"]})
        c.expect(self.call("GET", "/v1/reseller/me", key_id=str(uuid.uuid4())), 401,
                 "api_key_invalid")

    def test_users_are_confined_to_the_keys_tenant(self):
        email = c.new_email("rs-user")
        u = c.expect(self.call("POST", "/v1/reseller/users",
                               body={"email": email, "password": "pw-123456789",
                                     "full_name": "Res User"}), 201).json
        self.assertEqual((u["tenant_id"], u["email"], u["is_tenant_admin"]),
                         (self.t["tenant_id"], email, False))
        c.expect(c.login(email, "pw-123456789", tenant=self.t["slug"]), 200)
        c.expect(self.call("POST", "/v1/reseller/users",
                           body={"email": email.upper(), "password": "pw-123456789"}), 409,
                 "email_taken")
        c.expect(self.call("POST", "/v1/reseller/users", body={"email": "x"}), 422)
        got = c.expect(self.call("GET", "/v1/reseller/users/" + u["id"]), 200).json
        self.assertIsNotNone(got.pop("last_active_date"))  # the login above
        u.pop("last_active_date")
        self.assertEqual(got, u)
        outsider = c.Account("rs-outsider")  # a user of "default"
        c.expect(self.call("GET", "/v1/reseller/users/" + outsider.user_id), 404,
                 "user_not_found")
        page = c.expect(self.call("GET", "/v1/reseller/users?page_size=100"), 200).json
        ids = {x["id"] for x in page["data"]}
        self.assertIn(u["id"], ids)
        self.assertNotIn(outsider.user_id, ids)
        self.assertEqual({x["tenant_id"] for x in page["data"]}, {self.t["tenant_id"]})

    def test_scopes_are_checked_again(self):
        r = c.expect(self.call("GET", "/v1/reseller/users", scopes="users:write"), 403,
                     "scope_denied")
        self.assertEqual(r.json["error"]["details"], {"required_scope": "users:read"})
        c.expect(self.call("POST", "/v1/reseller/users", scopes="users:read",
                           body={"email": c.new_email("rs"), "password": "pw-123456789"}), 403,
                 "scope_denied")

    def test_only_signed_api_key_callers(self):
        c.expect(c.idn("GET", "/v1/reseller/me"), 401, "token_missing")
        user = c.Account("rs-jwt")
        c.expect(c.idn("GET", "/v1/reseller/me", token=user.token), 401, "token_missing")
        hdrs = c.iauth_headers("GET", "/v1/reseller/me", user=user.user_id,
                               tenant=user.tokens["tenant"]["id"], session=user.session_id)
        c.expect(c.idn("GET", "/v1/reseller/me", headers=hdrs), 401, "token_missing")
        hdrs = c.iauth_headers("GET", "/v1/reseller/me", tenant=self.t["tenant_id"],
                               api_key_id=self.key["id"], secret="wrong-secret")
        c.expect(c.idn("GET", "/v1/reseller/me", headers=hdrs), 401, "token_invalid")


@unittest.skipUnless(os.environ.get("FR_AMQP_URL"), "FR_AMQP_URL is not set")
class ApiKeyEventTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import events
        cls.tap = events.EventTap().start()
        cls.t = rs.new_tenant()

    @classmethod
    def tearDownClass(cls):
        cls.tap.stop()

    def test_revocation_emits_one_event_with_the_request_id(self):
        k = rs.create_key(self.t["admin_token"], self.t["tenant_id"], ["users:read"])
        rid = "e2e-ak-revoke-" + uuid.uuid4().hex[:12]
        path = keys_path(self.t["tenant_id"]) + "/" + k["id"]
        c.expect(c.gw("DELETE", path, token=self.t["admin_token"], headers={"X-Request-Id": rid}),
                 204)
        msg = self.tap.expect("identity.api_key.revoked.v1", api_key_id=k["id"])
        self.assertTrue(msg.ok, msg.describe())
        self.assertEqual(msg.trace_id, rid)
        self.assertEqual((msg.data["tenant_id"], msg.data["key_prefix"], msg.data["reason"]),
                         (self.t["tenant_id"], k["key_prefix"], "revoked"))
        self.assertIsNotNone(msg.data["revoked_by_user_id"])
        c.expect(c.gw("DELETE", path, token=self.t["admin_token"]), 204)  # nothing new
        k2 = rs.create_key(self.t["admin_token"], self.t["tenant_id"], ["users:read"])
        c.expect(rs.revoke_key(rs.platform_admin_token(), self.t["tenant_id"], k2["id"]), 204)
        self.assertEqual(self.tap.expect("identity.api_key.revoked.v1",
                                         api_key_id=k2["id"]).data["reason"], "admin")
        time.sleep(1.0)  # a wrongly emitted second event for the first key would be here now
        ids = {m.event_id for m in self.tap.find(
            lambda m: m.event_type == "identity.api_key.revoked.v1" and
            m.data.get("api_key_id") == k["id"])}
        self.assertEqual(len(ids), 1)
        self.tap.assert_all_valid()


if __name__ == "__main__":
    unittest.main()
