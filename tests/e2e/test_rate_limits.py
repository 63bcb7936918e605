"""Rate limits at the gateway (contracts/README.md, "Rate limits").

Every e2e request comes from the loopback, and the stack's gateway runs with raised
per-address and per-tenant limits (scripts/stack.sh) so the rest of the suite is never
throttled. These tests therefore start their OWN gateway replicas (the stack gateway's
environment and binary, other ports, low limits) sharing the stack's Redis, and send from a
random loopback source address (127.x.y.z) per test, so their per-address windows
(fr:rlb:ip:<address>) are theirs alone:

  - login more often than GATEWAY_RL_IP_RPM -> 429 rate_limited with Retry-After and the
    RateLimit-* headers, in the error envelope; the allowed ones carry RateLimit-* too;
  - two replicas share one limit exactly: 120 signed requests against a 60 rpm API key spread
    over both -> 60 accepted (+-1); the same for a user's access token at GATEWAY_RL_USER_RPM;
  - Redis stopped (scripts/stack.sh down redis, restarted afterwards): authenticated traffic
    keeps flowing (decided locally, counted as degraded), an unauthenticated request to a JWT
    route and an invalid API key are still 401, and login is still limited per address.
Every replica must exit 0 on SIGTERM with no sanitizer report.
"""
import http.client
import json
import os
import random
import re
import string
import time
import unittest

import client as c
import procs

try:
    import reseller
except ImportError:  # the API-key helpers are not there yet
    reseller = None


def random_loopback():
    """A loopback source address other than 127.0.0.1 (the kernel accepts all of 127/8)."""
    return "127.%d.%d.%d" % (random.randint(1, 254), random.randint(0, 255),
                             random.randint(1, 254))


def metric_value(text, name, labels):
    """The value of one series in Prometheus text, or 0 when absent."""
    m = re.search(r"^%s\{%s\} ([0-9.e+]+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else 0.0


class Replica:
    """An extra gateway: the stack gateway's environment with overrides, on its own port."""

    def __init__(self, testcase, **overrides):
        env, exe = procs.daemon_environ("gateway")
        self.port = procs.free_port()
        env.update({"GATEWAY_PORT": str(self.port), "GATEWAY_BIND": "127.0.0.1"})
        env.update({k: str(v) for k, v in overrides.items()})
        # "gateway.*": its sanitizer logs fall under the suite's gateway.* check as well
        self.proc = procs.Proc("gateway.ratelimit-%d" % self.port, exe, env=env).start()
        self.base_url = "http://127.0.0.1:%d" % self.port
        testcase.addCleanup(self.stop, testcase)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not self.proc.alive():
                self.proc.wait_exit(1)
                testcase.fail("gateway replica ended: " + self.proc.describe_exit())
            try:
                if self.request("GET", "/readyz", check=False).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        testcase.fail("gateway replica not ready: " + self.proc.log_tail())

    def stop(self, testcase):
        if self.proc.alive():
            self.proc.assert_stopped_cleanly(testcase)

    def request(self, method, path, body=None, token=None, headers=None, source=None,
                check=True):
        hdrs = {"X-Request-Id": "e2e-rl-%d" % time.monotonic_ns()}
        hdrs.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if token:
            hdrs["Authorization"] = "Bearer " + token
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=c.TIMEOUT_S,
                                          source_address=(source, 0) if source else None)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            resp = c.Response(method, path, r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        if check:
            c.check_response(resp, "gateway")
        return resp

    def login(self, source, email=None):
        body = {"tenant_slug": c.TENANT, "email": email or c.new_email("rl"),
                "password": "not-the-password"}
        return self.request("POST", "/v1/auth/login", body=body, source=source)

    def metrics(self):
        return self.request("GET", "/metrics", check=False).body.decode()


# A request stays counted until its whole 5 s bucket is more than 60 s old: 60 to 65 s.
MAX_WAIT_S = 65


def assert_rate_limit_headers(testcase, resp, limit):
    testcase.assertEqual(resp.header("ratelimit-limit"), str(limit), resp.describe())
    remaining = int(resp.header("ratelimit-remaining"))
    reset = int(resp.header("ratelimit-reset"))
    testcase.assertTrue(0 <= remaining < limit, resp.describe())
    testcase.assertTrue(0 <= reset <= MAX_WAIT_S, resp.describe())
    return remaining


def assert_rate_limited(testcase, resp, limit):
    c.expect(resp, 429, "rate_limited")
    assert_rate_limit_headers(testcase, resp, limit)
    testcase.assertEqual(resp.header("ratelimit-remaining"), "0")
    retry = int(resp.header("retry-after"))
    testcase.assertTrue(1 <= retry <= MAX_WAIT_S, resp.describe())
    testcase.assertEqual(resp.json["error"]["details"],
                         {"limit": limit, "retry_after_s": retry})


def stack_redis_running():
    return procs.stack_status().get("redis", "").startswith("running")


@unittest.skipUnless(procs.run_dir(), "FR_RUN_DIR not set (needs the running test stack)")
class RateLimitTests(unittest.TestCase):
    def setUp(self):
        if procs.daemon_pid("gateway") is None:
            self.skipTest("no gateway pid in FR_RUN_DIR")

    # ---- per client address ------------------------------------------------------------------

    def test_login_is_limited_per_client_address(self):
        gw = Replica(self, GATEWAY_RL_IP_RPM=5)
        me, other = random_loopback(), random_loopback()
        for i in range(5):
            r = gw.login(me)
            c.expect(r, 401, "invalid_credentials")
            self.assertEqual(assert_rate_limit_headers(self, r, 5), 4 - i)
        for _ in range(3):
            assert_rate_limited(self, gw.login(me), 5)
        # another address has its own window; JWKS is not limited at all
        c.expect(gw.login(other), 401, "invalid_credentials")
        for _ in range(8):
            r = gw.request("GET", "/v1/.well-known/jwks.json", source=me)
            c.expect(r, 200)
            self.assertIsNone(r.header("ratelimit-limit"))
        # refresh shares the address's window
        assert_rate_limited(self, gw.request("POST", "/v1/auth/refresh",
                                             body={"refresh_token": "x" * 43}, source=me), 5)
        text = gw.metrics()
        self.assertGreaterEqual(metric_value(text, "gateway_ratelimit_decisions_total",
                                             'kind="ip",result="limited"'), 4)
        self.assertEqual(metric_value(text, "gateway_ratelimit_degraded_total",
                                      'reason="unreachable"'), 0)

    # ---- shared by replicas ------------------------------------------------------------------

    def test_two_replicas_share_a_user_limit(self):
        acct = c.Account("rl")
        a = Replica(self, GATEWAY_RL_USER_RPM=30)
        b = Replica(self, GATEWAY_RL_USER_RPM=30)
        ok = limited = 0
        for i in range(60):
            r = (a if i % 2 == 0 else b).request("GET", "/v1/users/me", token=acct.token)
            if r.status == 200:
                ok += 1
                assert_rate_limit_headers(self, r, 30)
            else:
                assert_rate_limited(self, r, 30)
                limited += 1
        self.assertLessEqual(abs(ok - 30), 1, "%d accepted of 60 at 30 rpm" % ok)
        self.assertEqual(ok + limited, 60)

    def test_two_replicas_share_an_api_key_limit(self):
        if reseller is None:
            self.skipTest("tests/e2e/reseller.py not available")
        a = Replica(self)
        b = Replica(self)
        if a.request("GET", "/v1/reseller/me", check=False).status == 404:
            self.skipTest("the gateway does not serve the reseller API yet")
        tenant = reseller.new_tenant()
        key = reseller.create_key(tenant["admin_token"], tenant["tenant_id"], ["users:read"],
                                  rate_limit_rpm=60)
        ok = limited = 0
        for i in range(120):
            r = reseller.signed("GET", "/v1/reseller/me", key["secret_key"],
                                base_url=(a if i % 2 == 0 else b).base_url)
            if r.status == 200:
                ok += 1
                assert_rate_limit_headers(self, r, 60)
            else:
                assert_rate_limited(self, r, 60)
                limited += 1
        self.assertLessEqual(abs(ok - 60), 1, "%d accepted of 120 at 60 rpm" % ok)
        self.assertEqual(ok + limited, 120)

    # ---- Redis down --------------------------------------------------------------------------

    def test_redis_down_keeps_authenticated_traffic_and_refuses_the_rest(self):
        acct = c.Account("rl-redis")
        gw = Replica(self, GATEWAY_RL_IP_RPM=3)
        me = random_loopback()
        self.assertTrue(stack_redis_running(), "the stack's Redis is not running")
        procs.stack("down", "redis")
        try:
            self.redis_down_checks(gw, acct, me)
        finally:
            procs.stack("up", "redis")
        # back to Redis: the stack gateway serves JWT traffic again
        c.poll(lambda: c.gw("GET", "/v1/users/me", token=acct.token),
               lambda r: r.status == 200, timeout=15)

    def redis_down_checks(self, gw, acct, me):
        # authenticated traffic keeps flowing, with the (local) numbers
        for _ in range(5):
            r = c.expect(gw.request("GET", "/v1/users/me", token=acct.token), 200)
            self.assertEqual(r.json["id"], acct.user_id)
            assert_rate_limit_headers(self, r, int(r.header("ratelimit-limit")))
        # nothing unauthenticated gets in
        c.expect(gw.request("GET", "/v1/users/me"), 401, "token_missing")
        c.expect(gw.request("GET", "/v1/users/me", token=acct.token[:-4] + "AAAA"), 401)
        r = gw.request("GET", "/v1/reseller/me", check=False)
        if r.status != 404:  # the reseller API is served: an unknown key is refused
            fake = "fr_live_" + "".join(random.choice(string.ascii_letters + string.digits)
                                        for _ in range(40))
            headers = {"X-API-Key": fake, "X-Timestamp": str(int(time.time())),
                       "X-Nonce": "n" + "a" * 31, "X-Signature": "0" * 64}
            r = gw.request("GET", "/v1/reseller/me", headers=headers)
            self.assertEqual(r.status, 401, r.describe())
        # login is still limited per address (per replica, in memory)
        for _ in range(3):
            self.assertNotEqual(gw.login(me).status, 429)
        assert_rate_limited(self, gw.login(me), 3)
        text = gw.metrics()
        degraded = sum(metric_value(text, "gateway_ratelimit_degraded_total",
                                    'reason="%s"' % why)
                       for why in ("unreachable", "timeout", "error"))
        self.assertGreaterEqual(degraded, 9, text)


if __name__ == "__main__":
    unittest.main()
