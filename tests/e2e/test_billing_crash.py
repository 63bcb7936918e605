"""test_billing_crash.py - billing dies between a hold's COMMIT and its reply.

A second billing process (the environment the stack started billing with, read from /proc,
on another port, same database) runs with BILLING_FAULT_EXIT_AFTER_COMMIT=hold.reserve: it
commits the reservation and exits 86 before answering, so the client sees the connection
drop. The client's retry with the same idempotency key (on the stack's billing, which never
stopped) gets the ORIGINAL hold, and the database holds exactly one hold for that reference.
The same for a capture (hold.capture): charged once.
"""
import http.client
import json
import unittest
import uuid

import billing_util as b
import client as c
import procs

FAULT_EXIT = 86


class TestBillingCrash(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if procs.daemon_pid("billing") is None:
            raise unittest.SkipTest("no billing pid in FR_RUN_DIR (the stack's billing is needed)")
        if not b.PG_URL:
            raise unittest.SkipTest("FR_PG_URL not set")
        cls.admin = b.admin_token()
        cls.holds = b.Holds()

    def start_faulty(self, operation):
        proc, self.port = b.second_billing(self, "billing-fault",
                                           {"BILLING_FAULT_EXIT_AFTER_COMMIT": operation})
        return proc

    def post_expecting_drop(self, path, body):
        """POSTs to the faulty billing; asserts that no response ever comes back."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("POST", path, body=json.dumps(body),
                     headers={"Content-Type": "application/json",
                              "Authorization": "Bearer " + self.holds.token})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            conn.getresponse()
        conn.close()

    def test_reserve_retry_after_crash_gets_the_original_hold(self):
        u = b.funded_user(self.admin, 1000)
        proc = self.start_faulty("hold.reserve")
        key, ref = "crash-" + uuid.uuid4().hex, str(uuid.uuid4())
        body = {"idempotency_key": key, "user_id": u.user_id, "tenant_id": u.tenant_id,
                "seconds": 30, "reference_type": "render_job", "reference_id": ref}
        self.post_expecting_drop("/internal/v1/holds", body)
        self.assertEqual(proc.wait_exit(30), FAULT_EXIT, proc.describe_exit())
        committed = b.psql("SELECT id, status FROM billing.holds WHERE reference_id = '%s'" % ref)
        self.assertEqual(len(committed), 1)  # the commit happened before the crash
        retry = c.expect(self.holds.reserve_body(body), 201).json
        self.assertEqual(retry["id"], committed[0][0])
        self.assertEqual(c.expect(self.holds.reserve_body(body), 201).json, retry)
        self.assertEqual(len(b.psql("SELECT id FROM billing.holds WHERE reference_id = '%s'"
                                    % ref)), 1)
        self.assertEqual(u.balance()["held_minor"], 300)

    def test_capture_retry_after_crash_charges_once(self):
        u = b.funded_user(self.admin, 1000)
        h = c.expect(self.holds.reserve(u, 40), 201).json
        proc = self.start_faulty("hold.capture")
        body = {"idempotency_key": "crash-cap-" + uuid.uuid4().hex, "seconds": 25}
        path = "/internal/v1/holds/%s/capture" % h["id"]
        self.post_expecting_drop(path, body)
        self.assertEqual(proc.wait_exit(30), FAULT_EXIT, proc.describe_exit())
        retry = c.expect(c.bill("POST", path, body=body, token=self.holds.token), 200).json
        self.assertEqual((retry["status"], retry["captured_amount_minor"]), ("Captured", 250))
        bal = u.balance()
        self.assertEqual((bal["balance_minor"], bal["held_minor"]), (750, 0))
        self.assertEqual(b.ledger_sum(u.user_id), (750, 750))
        self.assertEqual(len(u.transactions()["data"]), 2)


if __name__ == "__main__":
    unittest.main()
