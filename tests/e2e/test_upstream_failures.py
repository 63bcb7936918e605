"""Upstream failures at the gateway: 502 / 503 / 504 in the error envelope.

Each test starts an extra gateway (the stack gateway's own environment and binary, another
port) whose identity URL points at a deliberately broken upstream, so the stack itself is
never disturbed:
  - nothing listening              -> 502 bad_gateway (connection refused)
  - a server that answers garbage  -> 502 bad_gateway (malformed response)
  - a server that never answers    -> 504 gateway_timeout (GATEWAY_UPSTREAM_TIMEOUT_MS)
  - the only pooled connection busy and no queue -> 503 service_unavailable
  - a JWT route while the key set could never be loaded -> 503 auth_unavailable (fail closed)
Every reply must be the error envelope with trace_id == X-Request-Id and match the contract;
every extra gateway must exit 0 on SIGTERM with no sanitizer report.
"""
import http.client
import json
import socket
import threading
import time
import unittest

import client as c
import procs

CLOSED_PORT = 9  # discard: nothing listens on loopback, below the ephemeral range


class FakeUpstream:
    """A TCP server on 127.0.0.1 that reads requests and then either never answers
    (mode "silent") or answers bytes that are not HTTP (mode "garbage"). With serve_jwks it
    answers GET /v1/.well-known/jwks.json with the real identity's key set (Connection: close),
    so a gateway in front of it loads its keys and has no JWKS call in flight."""

    def __init__(self, mode, serve_jwks=False):
        self.mode = mode
        self.serve_jwks = serve_jwks
        self.busy = 0  # requests held (silent) or answered with garbage
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            conn.settimeout(30)
            head = conn.recv(65536)
            if self.serve_jwks and head.startswith(b"GET /v1/.well-known/jwks.json "):
                body = c.idn("GET", "/v1/.well-known/jwks.json").body
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
                             + body)
                conn.close()
                return
            self.busy += 1
            if self.mode == "garbage":
                conn.sendall(b"HELLO THERE\r\n\r\n")
                conn.close()
        except OSError:
            pass

    def close(self):
        self.stopping = True
        self.sock.close()
        for conn in self.conns:
            try:
                conn.close()
            except OSError:
                pass


@unittest.skipUnless(procs.run_dir(), "FR_RUN_DIR not set (needs the running test stack)")
class UpstreamFailureTests(unittest.TestCase):
    def start_gateway(self, identity_url, **extra):
        if procs.daemon_pid("gateway") is None:
            self.skipTest("no gateway pid in FR_RUN_DIR")
        env, exe = procs.daemon_environ("gateway")
        self.port = procs.free_port()
        env.update({"GATEWAY_PORT": str(self.port), "GATEWAY_BIND": "127.0.0.1",
                    "GATEWAY_IDENTITY_URL": identity_url, "GATEWAY_JWKS_REFRESH_S": "3600"})
        env.update({k: str(v) for k, v in extra.items()})
        # "gateway.u...": its sanitizer logs fall under the suite's gateway.* check as well
        gw = procs.Proc("gateway.upstream-%d" % self.port, exe, env=env)
        gw.start()
        self.addCleanup(self.stop_gateway, gw)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not gw.alive():
                gw.wait_exit(1)
                self.fail("gateway ended: " + gw.describe_exit())
            try:
                if self.request("GET", "/healthz", check=False).status == 200:
                    return gw
            except OSError:
                pass
            time.sleep(0.05)
        self.fail("gateway did not answer /healthz: " + gw.log_tail())

    def stop_gateway(self, gw):
        if gw.alive():
            gw.assert_stopped_cleanly(self)

    def request(self, method, path, body=None, token=None, check=True):
        headers = {"X-Request-Id": "e2e-upstream-%d" % time.monotonic_ns()}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = "Bearer " + token
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=c.TIMEOUT_S)
        try:
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            resp = c.Response(method, path, r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        if check:
            c.check_response(resp, "gateway")
        return resp

    def login(self):
        return self.request("POST", "/v1/auth/login",
                            body={"tenant_slug": "default", "email": "nobody@example.test",
                                  "password": "whatever-password"})

    def test_connection_refused_is_502(self):
        gw = self.start_gateway("http://127.0.0.1:%d" % CLOSED_PORT)
        c.expect(self.login(), 502, "bad_gateway")
        gw.assert_stopped_cleanly(self)

    def test_malformed_upstream_response_is_502(self):
        up = FakeUpstream("garbage")
        self.addCleanup(up.close)
        gw = self.start_gateway("http://127.0.0.1:%d" % up.port)
        c.expect(self.login(), 502, "bad_gateway")
        gw.assert_stopped_cleanly(self)

    def test_silent_upstream_is_504_after_the_deadline(self):
        up = FakeUpstream("silent")
        self.addCleanup(up.close)
        gw = self.start_gateway("http://127.0.0.1:%d" % up.port, GATEWAY_UPSTREAM_TIMEOUT_MS=500)
        t0 = time.monotonic()
        c.expect(self.login(), 504, "gateway_timeout")
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 0.4)
        self.assertLess(elapsed, 5.0)
        gw.assert_stopped_cleanly(self)

    def test_busy_pool_without_queue_is_503(self):
        up = FakeUpstream("silent", serve_jwks=True)
        self.addCleanup(up.close)
        gw = self.start_gateway("http://127.0.0.1:%d" % up.port, GATEWAY_UPSTREAM_TIMEOUT_MS=3000,
                                GATEWAY_UPSTREAM_POOL=1, GATEWAY_UPSTREAM_QUEUE=0)
        # the gateway's own JWKS call must be over, or it is what holds the only connection
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = self.request("GET", "/readyz", check=False)
            if (r.json or {}).get("checks", {}).get("jwks") is True:
                break
            time.sleep(0.05)
        else:
            self.fail("the gateway never loaded the key set: " + gw.log_tail())
        first = {}
        t = threading.Thread(target=lambda: first.setdefault("r", self.login()))
        t.start()
        deadline = time.monotonic() + 5  # until the first request holds the only connection
        while not up.busy and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(up.busy, "the first request never reached the upstream")
        c.expect(self.login(), 503, "service_unavailable")
        t.join(10)
        c.expect(first["r"], 504, "gateway_timeout")
        gw.assert_stopped_cleanly(self)

    def test_jwt_route_without_key_set_fails_closed(self):
        gw = self.start_gateway("http://127.0.0.1:%d" % CLOSED_PORT)
        acct = c.Account("upstream-jwt")  # a real token from the real stack
        r = self.request("GET", "/v1/users/me", token=acct.token)
        c.expect(r, 503, "auth_unavailable")
        self.assertEqual(self.request("GET", "/readyz", check=False).status, 503)
        gw.assert_stopped_cleanly(self)


if __name__ == "__main__":
    unittest.main()
