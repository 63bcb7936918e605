"""test_billing_sandbox_off.py - the Sandbox provider outside FR_ENV=local.

A second billing process (the stack's billing environment read from /proc, another port, the
same database) runs with FR_ENV=staging, its own secrets and BILLING_SANDBOX_ENABLED unset:
a purchase or top-up through the Sandbox answers 422 gateway_unavailable and creates no
payment, and the sandbox checkout route answers 404 even with a correctly signed link. Then
the same with BILLING_SANDBOX_ENABLED=true: the sandbox top-up is offered again. (The stack
itself runs FR_ENV=local, where the sandbox is always on: test_billing_payments.py.)
"""
import hashlib
import hmac
import http.client
import json
import secrets
import unittest
import uuid

import billing_pay_util as pu
import billing_util as b
import client as c
import procs


class TestBillingSandboxOff(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if procs.daemon_pid("billing") is None:
            raise unittest.SkipTest("no billing pid in FR_RUN_DIR (the stack's billing is needed)")
        if not b.PG_URL:
            raise unittest.SkipTest("FR_PG_URL not set")
        cls.starter = pu.plan("starter")

    def start_billing(self, **extra):
        self.internal = secrets.token_hex(24)
        self.sandbox_secret = secrets.token_hex(16)
        amqp = procs.daemon_environ("billing")[0].get("FR_AMQP_PASSWORD") or "guest"
        overrides = {"FR_ENV": "staging", "FR_INTERNAL_SECRET": self.internal,
                     # "guest" is refused outside local: the broker link may fail, the
                     # HTTP side (all this test needs) still serves
                     "FR_AMQP_PASSWORD": secrets.token_hex(8) if amqp == "guest" else amqp,
                     "FR_SERVICE_CLIENT_SECRET": secrets.token_hex(16),
                     "BILLING_SANDBOX_SECRET": self.sandbox_secret,
                     "BILLING_STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(16),
                     "BILLING_SANDBOX_ENABLED": None}
        overrides.update(extra)
        proc, self.port = b.second_billing(self, "billing-staging", overrides,
                                           ready_path="/healthz")
        return proc

    def send(self, method, path, body=None, user=None):
        headers = {}
        if user is not None:
            headers = c.iauth_headers(method, path, user=user.user_id, tenant=user.tenant_id,
                                      session=str(uuid.uuid4()), secret=self.internal)
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers=headers)
            r = conn.getresponse()
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
        finally:
            conn.close()

    def payments_of(self, u):
        return int(b.psql("SELECT count(*) FROM billing.payments WHERE user_id = '%s'"
                          % uuid.UUID(u.user_id))[0][0])

    def test_sandbox_refused_outside_local(self):
        self.start_billing()
        u = b.BillingUser("sbxoff")
        u.balance()  # opens the wallet through the stack
        status, body = self.send("POST", "/v1/users/me/balance/top-up",
                                 {"amount_minor": 10 ** 12, "gateway": "Sandbox"}, user=u)
        self.assertEqual((status, body["error"]["code"]), (422, "gateway_unavailable"), body)
        status, body = self.send("POST", "/v1/users/me/plan/purchase",
                                 {"plan_id": self.starter["id"], "gateway": "Sandbox"}, user=u)
        self.assertEqual((status, body["error"]["code"]), (422, "gateway_unavailable"), body)
        self.assertEqual(self.payments_of(u), 0)
        # a Pending sandbox payment (made where the sandbox is on) cannot be approved here
        pid = c.expect(pu.top_up(u, 500), 201).json["payment_id"]
        sig = hmac.new(self.sandbox_secret.encode(), pid.encode(), hashlib.sha256).hexdigest()
        status, body = self.send("GET", "/v1/payments/sandbox/checkout?payment_id=%s&sig=%s"
                                 % (pid, sig))
        self.assertEqual(status, 404, body)
        self.assertEqual(pu.payment(u, pid)["status"], "Pending")
        self.assertEqual(u.balance()["balance_minor"], 0)
        # Stripe stays offered
        status, body = self.send("POST", "/v1/users/me/balance/top-up",
                                 {"amount_minor": 100, "gateway": "Stripe"}, user=u)
        self.assertEqual((status, body["status"]), (201, "Pending"), body)

    def test_sandbox_enabled_explicitly(self):
        self.start_billing(BILLING_SANDBOX_ENABLED="true")
        u = b.BillingUser("sbxon")
        u.balance()
        status, body = self.send("POST", "/v1/users/me/balance/top-up",
                                 {"amount_minor": 300, "gateway": "Sandbox"}, user=u)
        self.assertEqual((status, body["status"]), (201, "Pending"), body)
        self.assertIn("/v1/payments/sandbox/checkout?", body["redirect_url"])


if __name__ == "__main__":
    unittest.main()
