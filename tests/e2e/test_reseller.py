"""test_reseller.py - the reseller API end to end: signed API-key requests through the gateway.

Against the real stack (identity, gateway, Redis, RabbitMQ); every response is validated
against reseller-api.openapi.yaml / gateway-public.openapi.yaml by client.py. Each test class
creates its own reseller tenant (POST /v1/tenants as the platform admin) and keys (as that
tenant's admin); keys get a high rate_limit_rpm so the rate limiter never decides here
(test_rate_limits.py covers it).

  - the published signing vectors against reseller.sign (the C side: test_reqsig_vectors);
  - /v1/reseller/me and the users routes with the right scopes, tenant confinement;
  - refusals: missing headers, clock skew, replayed nonce, tampered body / query / path /
    signature, malformed parts, wrong secret, unknown prefix (negatively cached in Redis as
    "none:<verifier>"), a stale timestamp refused before any lookup, wrong scope, IP outside
    the allow-list (IPv4-mapped entries stored as IPv4), expired key, revoked key,
    suspended tenant; a JWT on a reseller route and an API key on a JWT route;
  - usage counts reach identity (batched by the gateway);
  - a revoked key is refused by a SECOND gateway replica (started here with the stack
    gateway's environment and GATEWAY_APIKEY_L1_TTL_MS=60000, so only the event can do it)
    within one second.
"""
import datetime
import http.client
import time
import unittest
import uuid

import client as c
import procs
import reseller as rs

BIG_RPM = 100000
REVOKE_DEADLINE_S = 1.0
EVENT_READY_S = 30.0


def iso(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ResellerCase(unittest.TestCase):
    """One reseller tenant and a read/write key per class."""

    @classmethod
    def setUpClass(cls):
        cls.tenant = rs.new_tenant()
        cls.admin = cls.tenant["admin_token"]
        cls.tid = cls.tenant["tenant_id"]
        cls.rw = rs.create_key(cls.admin, cls.tid, ["users:read", "users:write"],
                               rate_limit_rpm=BIG_RPM)
        cls.key = cls.rw["secret_key"]

    def new_key(self, scopes, **kw):
        kw.setdefault("rate_limit_rpm", BIG_RPM)
        return rs.create_key(self.admin, self.tid, scopes, **kw)

    def refused(self, resp, status, code):
        c.expect(resp, status, code)
        if status == 401:
            self.assertEqual(resp.header("www-authenticate"), "FR-Signature", resp.describe())
        return resp


class SigningVectorTests(unittest.TestCase):
    def test_published_vectors(self):
        vectors = rs.load_vectors()
        self.assertGreaterEqual(len(vectors), 8)
        for v in vectors:
            with self.subTest(v["name"]):
                self.assertEqual(rs.canonical_query(v["query"]).decode(), v["canonical_query"])
                msg = rs.string_to_sign(v["timestamp"], v["nonce"], v["method"], v["path"],
                                        v["query"], v["body"].encode())
                self.assertEqual(msg.decode(), v["string_to_sign"])
                self.assertEqual(rs.sign(v["api_key"], v["timestamp"], v["nonce"], v["method"],
                                         v["path"], v["query"], v["body"].encode()),
                                 v["signature"])


class ResellerRouteTests(ResellerCase):
    def test_me_names_the_tenant_the_key_and_its_scopes(self):
        r = c.expect(rs.signed("GET", "/v1/reseller/me", self.key), 200)
        self.assertEqual(r.json["tenant"]["id"], self.tid)
        self.assertEqual(r.json["tenant"]["slug"], self.tenant["slug"])
        self.assertEqual(r.json["api_key"]["id"], self.rw["id"])
        self.assertEqual(r.json["api_key"]["key_prefix"], self.key[:16])
        self.assertEqual(sorted(r.json["api_key"]["scopes"]), ["users:read", "users:write"])
        self.assertNotIn(self.key, r.body.decode())
        self.assertIsNotNone(r.header("ratelimit-limit"))

    def test_me_needs_no_particular_scope(self):
        other = self.new_key(["renders:read"])
        r = c.expect(rs.signed("GET", "/v1/reseller/me", other["secret_key"]), 200)
        self.assertEqual(r.json["api_key"]["scopes"], ["renders:read"])

    def test_create_list_and_get_users_in_the_keys_tenant(self):
        email = c.new_email("res")
        body = {"email": email, "password": c.new_password(), "full_name": "Res Eller"}
        r = c.expect(rs.signed("POST", "/v1/reseller/users", self.key, body=body), 201)
        uid = r.json["id"]
        self.assertEqual(r.json["tenant_id"], self.tid)
        self.assertEqual(r.json["email"], email)
        got = c.expect(rs.signed("GET", "/v1/reseller/users/" + uid, self.key), 200)
        self.assertEqual(got.json["id"], uid)
        seen, page = [], 1
        while True:
            lst = c.expect(rs.signed("GET", "/v1/reseller/users", self.key,
                                     query={"page_size": 50, "page": page}), 200)
            seen += [u["id"] for u in lst.json["data"]]
            self.assertTrue(all(u["tenant_id"] == self.tid for u in lst.json["data"]))
            if not lst.json["meta"]["has_more"]:
                break
            page += 1
        self.assertIn(uid, seen)
        # the new user signs in with the reseller tenant's slug
        c.expect(c.login(email, body["password"], tenant=self.tenant["slug"]), 200)

    def test_users_of_another_tenant_are_not_found(self):
        outsider = c.Account("res-outsider")  # tenant "default"
        r = rs.signed("GET", "/v1/reseller/users/" + outsider.user_id, self.key)
        c.expect(r, 404, "user_not_found")

    def test_wrong_scope_is_403_with_the_required_scope(self):
        ro = self.new_key(["users:read"])
        body = {"email": c.new_email("res-ro"), "password": c.new_password()}
        r = self.refused(rs.signed("POST", "/v1/reseller/users", ro["secret_key"], body=body),
                         403, "scope_denied")
        self.assertEqual(r.json["error"]["details"], {"required_scope": "users:write"})
        none = self.new_key(["renders:read"])
        r = self.refused(rs.signed("GET", "/v1/reseller/users", none["secret_key"]),
                         403, "scope_denied")
        self.assertEqual(r.json["error"]["details"], {"required_scope": "users:read"})
        c.expect(rs.signed("GET", "/v1/reseller/users", ro["secret_key"]), 200)

    def test_jwt_is_refused_on_reseller_routes(self):
        r = c.gw("GET", "/v1/reseller/me", token=self.admin)
        self.refused(r, 401, "signature_missing")

    def test_api_key_is_refused_on_jwt_routes(self):
        r = rs.signed("GET", "/v1/users/me", self.key)
        c.expect(r, 401, "token_missing")
        r = rs.signed("GET", "/v1/tenants/" + self.tid + "/api-keys", self.key)
        c.expect(r, 401, "token_missing")


class SignatureRefusalTests(ResellerCase):
    def test_missing_headers(self):
        c.expect(rs.send_raw("GET", "/v1/reseller/me", {}), 401, "signature_missing")
        for name in ("X-API-Key", "X-Timestamp", "X-Nonce", "X-Signature"):
            with self.subTest(name):
                r = rs.signed("GET", "/v1/reseller/me", self.key, headers={name: None})
                self.refused(r, 401, "signature_missing")

    def test_clock_skew_outside_the_window(self):
        now = int(time.time())
        for ts in (now - 301, now + 301, now - 3600, 0):
            with self.subTest(ts=ts):
                self.refused(rs.signed("GET", "/v1/reseller/me", self.key, ts=ts),
                             401, "timestamp_out_of_window")
        c.expect(rs.signed("GET", "/v1/reseller/me", self.key, ts=now - 200), 200)
        c.expect(rs.signed("GET", "/v1/reseller/me", self.key, ts=now + 200), 200)

    @unittest.skipUnless(rs.REDIS_PORT, "FR_REDIS_PORT not set")
    def test_stale_request_costs_no_lookup(self):
        # the window is checked before the key is looked up: an unknown key with a stale
        # timestamp is refused for its clock, and nothing was asked of Redis or identity
        key = "fr_live_" + uuid.uuid4().hex[:8] + uuid.uuid4().hex
        self.refused(rs.signed("GET", "/v1/reseller/me", key, ts=int(time.time()) - 3600),
                     401, "timestamp_out_of_window")
        self.assertIsNone(rs.redis("GET", "fr:apikey:" + key[:16]),
                          "a stale request reached the key lookup")

    def test_replayed_nonce(self):
        nonce = rs.new_nonce()
        c.expect(rs.signed("GET", "/v1/reseller/me", self.key, nonce=nonce), 200)
        self.refused(rs.signed("GET", "/v1/reseller/me", self.key, nonce=nonce),
                     401, "nonce_replayed")
        # the same nonce on another route with a fresh signature is still a replay
        self.refused(rs.signed("GET", "/v1/reseller/users", self.key, nonce=nonce),
                     401, "nonce_replayed")

    def test_tampered_requests(self):
        body = {"email": c.new_email("res-t"), "password": c.new_password()}
        cases = [("POST", "/v1/reseller/users", body, None, "body"),
                 ("GET", "/v1/reseller/users", None, {"page": 1}, "query"),
                 ("GET", "/v1/reseller/users", None, None, "query"),
                 ("GET", "/v1/reseller/me", None, None, "signature")]
        for method, path, b, q, how in cases:
            with self.subTest(how=how, path=path):
                r = rs.signed(method, path, self.key, body=b, query=q, tamper=how)
                self.refused(r, 401, "signature_invalid")
        # a signature made for another path, or another method
        ts, nonce = int(time.time()), rs.new_nonce()
        sig = rs.sign(self.key, ts, nonce, "GET", "/v1/reseller/users", "", b"")
        hdrs = {"X-API-Key": self.key, "X-Timestamp": str(ts), "X-Nonce": nonce,
                "X-Signature": sig}
        self.refused(rs.send_raw("GET", "/v1/reseller/me", hdrs), 401, "signature_invalid")
        body = {"email": c.new_email("res-m"), "password": c.new_password()}
        r = rs.signed("GET", "/v1/reseller/users", self.key, body=body, tamper="method")
        self.refused(r, 401, "signature_invalid")

    def test_query_order_is_not_part_of_the_signature(self):
        ts, nonce = int(time.time()), rs.new_nonce()
        sig = rs.sign(self.key, ts, nonce, "GET", "/v1/reseller/users", "page=1&page_size=5", b"")
        hdrs = {"X-API-Key": self.key, "X-Timestamp": str(ts), "X-Nonce": nonce,
                "X-Signature": sig}
        c.expect(rs.send_raw("GET", "/v1/reseller/users?page_size=5&page=1", hdrs), 200)

    def test_malformed_parts(self):
        bad = [({"X-Nonce": "short"}, "signature_invalid"),
               ({"X-Nonce": "has spaces in it!!"}, "signature_invalid"),
               ({"X-Timestamp": "17e8"}, "signature_invalid"),
               ({"X-Signature": "ABCDEF"}, "signature_invalid"),
               ({"X-API-Key": "fr_live_short"}, "api_key_invalid"),
               ({"X-API-Key": "sk_live_" + "a" * 40}, "api_key_invalid")]
        for hdrs, code in bad:
            with self.subTest(hdrs=hdrs):
                self.refused(rs.signed("GET", "/v1/reseller/me", self.key, headers=hdrs),
                             401, code)

    def test_wrong_secret_does_not_lock_out_the_real_key(self):
        wrong = self.key[:16] + ("A" if self.key[16] != "A" else "B") + self.key[17:]
        for _ in range(2):
            self.refused(rs.signed("GET", "/v1/reseller/me", wrong), 401, "api_key_invalid")
        c.expect(rs.signed("GET", "/v1/reseller/me", self.key), 200)

    @unittest.skipUnless(rs.REDIS_PORT, "FR_REDIS_PORT not set")
    def test_unknown_prefix_is_negatively_cached(self):
        key = "fr_live_" + uuid.uuid4().hex[:8] + uuid.uuid4().hex
        self.refused(rs.signed("GET", "/v1/reseller/me", key), 401, "api_key_invalid")
        cached = rs.redis("GET", "fr:apikey:" + key[:16])
        self.assertIsNotNone(cached, "no negative entry cached for the unknown prefix")
        self.assertTrue(cached.startswith("none:"), cached)
        ttl = rs.redis("TTL", "fr:apikey:" + key[:16])
        self.assertTrue(0 < ttl <= 30, ttl)
        self.refused(rs.signed("GET", "/v1/reseller/me", key), 401, "api_key_invalid")

    @unittest.skipUnless(rs.REDIS_PORT, "FR_REDIS_PORT not set")
    def test_valid_key_is_cached_without_its_hash(self):
        k = self.new_key(["users:read"])
        c.expect(rs.signed("GET", "/v1/reseller/me", k["secret_key"]), 200)
        cached = rs.redis("GET", "fr:apikey:" + k["key_prefix"])
        self.assertIsNotNone(cached)
        key_hash = rs.hashlib.sha256(k["secret_key"].encode()).hexdigest()
        self.assertNotIn(key_hash, cached)
        self.assertNotIn(k["secret_key"], cached)
        self.assertIn(rs.hashlib.sha256(key_hash.encode()).hexdigest(), cached)


class KeyPolicyTests(ResellerCase):
    def test_ip_outside_the_allow_list(self):
        far = self.new_key(["users:read"], allowed_ips=["203.0.113.0/24", "2001:db8::/32"])
        self.refused(rs.signed("GET", "/v1/reseller/me", far["secret_key"]), 403,
                     "ip_not_allowed")
        near = self.new_key(["users:read"], allowed_ips=["203.0.113.0/24", "127.0.0.0/8"])
        c.expect(rs.signed("GET", "/v1/reseller/me", near["secret_key"]), 200)

    def test_ipv4_mapped_allow_list_entries_are_stored_as_ipv4(self):
        # the gateway matches peers in their IPv4 form, so identity stores ::ffff:a.b.c.d/n
        # as a.b.c.d/(n-96); the key then works from 127.0.0.1
        k = self.new_key(["users:read"], allowed_ips=["::ffff:127.0.0.0/104", "2001:db8::/32"])
        self.assertEqual(k["allowed_ips"], ["127.0.0.0/8", "2001:db8::/32"])
        c.expect(rs.signed("GET", "/v1/reseller/me", k["secret_key"]), 200)
        body = {"name": "mapped", "environment": "Live", "scopes": ["users:read"],
                "allowed_ips": ["::ffff:0.0.0.0/64"]}
        c.expect(c.gw("POST", "/v1/tenants/%s/api-keys" % self.tid, body=body,
                      token=self.admin), 422, "validation_failed")

    def test_expired_key(self):
        soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
        k = self.new_key(["users:read"], expires_at=iso(soon))
        c.expect(rs.signed("GET", "/v1/reseller/me", k["secret_key"]), 200)
        r, _ = c.poll(lambda: rs.signed("GET", "/v1/reseller/me", k["secret_key"]),
                      lambda r: r.status != 200, timeout=10)
        self.refused(r, 401, "api_key_expired")

    def test_revoked_key(self):
        k = self.new_key(["users:read"])
        c.expect(rs.signed("GET", "/v1/reseller/me", k["secret_key"]), 200)
        c.expect(rs.revoke_key(self.admin, self.tid, k["id"], reason="test"), 204)
        # the revoking gateway refuses it at once (event or Redis marker)
        r, _ = c.poll(lambda: rs.signed("GET", "/v1/reseller/me", k["secret_key"]),
                      lambda r: r.status != 200, timeout=3)
        self.refused(r, 401, "api_key_revoked")

    def test_usage_is_reported_to_identity(self):
        k = self.new_key(["users:read"])
        for _ in range(3):
            c.expect(rs.signed("GET", "/v1/reseller/me", k["secret_key"]), 200)

        def listed():
            r = c.expect(c.gw("GET", "/v1/tenants/%s/api-keys" % self.tid, token=self.admin),
                         200)
            return next(x for x in r.json["data"] if x["id"] == k["id"])
        got, _ = c.poll(listed, lambda x: x["usage_count"] >= 3, timeout=15)
        self.assertEqual(got["usage_count"], 3)
        self.assertIsNotNone(got["last_used_at"])


class TenantSuspensionTests(ResellerCase):
    def test_suspended_tenant_keys_are_refused_until_reactivated(self):
        k = self.new_key(["users:read"])
        c.expect(rs.signed("GET", "/v1/reseller/me", k["secret_key"]), 200)
        admin = rs.platform_admin_token()
        c.expect(c.gw("PATCH", "/v1/tenants/" + self.tid, body={"status": "Suspended"},
                      token=admin), 200)
        try:
            r, _ = c.poll(lambda: rs.signed("GET", "/v1/reseller/me", k["secret_key"]),
                          lambda r: r.status != 200, timeout=5)
            self.assertIn(r.code, ("tenant_suspended", "api_key_revoked"), r.describe())
        finally:
            c.expect(c.gw("PATCH", "/v1/tenants/" + self.tid, body={"status": "Active"},
                          token=admin), 200)
        c.poll(lambda: rs.signed("GET", "/v1/reseller/me", k["secret_key"]),
               lambda r: r.status == 200, timeout=10)


class SecondReplicaTests(ResellerCase):
    """A revocation through gateway A reaches gateway B's key cache through the broker."""

    def setUp(self):
        if procs.daemon_pid("gateway") is None:
            self.skipTest("no gateway pid in FR_RUN_DIR (the stack's gateway is needed)")
        env, exe = procs.daemon_environ("gateway")
        self.port = procs.free_port()
        env["GATEWAY_PORT"] = str(self.port)
        env["GATEWAY_BIND"] = "127.0.0.1"
        env["GATEWAY_APIKEY_L1_TTL_MS"] = "60000"  # only the event may refuse it in time
        self.gw_b = procs.Proc("gateway.b", exe, env=env)
        self.addCleanup(self._stop)
        self.gw_b.start()
        c.poll(self._ready, lambda ok: ok, timeout=EVENT_READY_S, interval=0.1)

    def _stop(self):
        if self.gw_b.alive():
            self.gw_b.stop()

    def _ready(self):
        if not self.gw_b.alive():
            self.gw_b.wait_exit(1)
            self.fail("gateway B ended: " + self.gw_b.describe_exit())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/readyz")
            r = conn.getresponse()
            body = r.read()
        except OSError:
            return False
        finally:
            conn.close()
        return r.status == 200 and b'"amqp":true' in body.replace(b" ", b"")

    def own_refusals(self):
        """How many requests gateway B itself refused with api_key_revoked (identity refuses a
        revoked key too, when B still forwards it: that must not count here)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=c.TIMEOUT_S)
        try:
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
        finally:
            conn.close()
        for line in text.splitlines():
            if line.startswith('gateway_auth_failures_total{code="api_key_revoked"} '):
                return float(line.split()[-1])
        return 0.0

    def test_revoked_key_is_refused_by_a_second_replica_within_a_second(self):
        k = self.new_key(["users:read"])
        b_url = "http://127.0.0.1:%d" % self.port
        c.expect(rs.signed("GET", "/v1/reseller/me", k["secret_key"], base_url=b_url), 200)
        c.expect(rs.signed("GET", "/v1/reseller/me", k["secret_key"]), 200)
        before = self.own_refusals()
        c.expect(rs.revoke_key(self.admin, self.tid, k["id"]), 204)
        t0 = time.monotonic()
        while True:
            r = rs.signed("GET", "/v1/reseller/me", k["secret_key"], base_url=b_url)
            elapsed = time.monotonic() - t0
            if (r.status != 200 and self.own_refusals() > before) or \
                    elapsed > REVOKE_DEADLINE_S + 2:
                break
            time.sleep(0.05)
        self.refused(r, 401, "api_key_revoked")
        self.assertGreater(self.own_refusals(), before, "gateway B never refused the key itself")
        self.assertLess(elapsed, REVOKE_DEADLINE_S,
                        "gateway B refused the revoked key only after %.2f s" % elapsed)
        print("  [two gateways] B refused the revoked key after %.3f s" % elapsed)
        self.gw_b.assert_stopped_cleanly(self)


if __name__ == "__main__":
    unittest.main()
