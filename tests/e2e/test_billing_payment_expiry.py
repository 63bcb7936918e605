"""test_billing_payment_expiry.py - the expiry sweep of Pending payments (pay_sweep.c): a second
billing with BILLING_PAYMENT_PENDING_TTL_S=1 (below 60 is allowed in FR_ENV=local only) fails
an abandoned Sandbox top-up as expired (failure_code expired, one billing.payment.failed.v1),
gives its discount use back, and the checkout approved afterwards credits nothing.
"""
import unittest
import uuid

import billing_pay_util as pu
import billing_util as bu
import client as c


@unittest.skipUnless(bu.PG_URL, "FR_PG_URL not set (scripts/stack.sh env)")
class PaymentExpiryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = bu.admin_token()

    def test_abandoned_top_up_expires_and_gives_the_discount_back(self):
        d = c.expect(pu.admin_discount(self.admin, kind="FixedAmount", value=100,
                                       max_use_count=1), 201).json
        a, b = bu.BillingUser("payexp"), bu.BillingUser("payexp")
        r = c.expect(pu.top_up(a, 1000, code=d["code"]), 201).json
        self.assertEqual(r["status"], "Pending")
        c.expect(pu.top_up(b, 1000, code=d["code"]), 422, "discount_invalid")
        bu.second_billing(self, "billing-payexp", {"BILLING_PAYMENT_PENDING_TTL_S": "1",
                                                   "BILLING_SWEEP_INTERVAL_MS": "200"})
        p, _ = c.poll(lambda: pu.payment(a, r["payment_id"]),
                      lambda x: x["status"] != "Pending", timeout=20)
        self.assertEqual(p["status"], "Failed")
        self.assertEqual(p["failure_reason"], "The payment was not completed within 1 s.")
        self.assertIsNotNone(p["failed_at"])
        code = bu.psql("SELECT failure_code FROM billing.payments WHERE id = '%s'"
                       % uuid.UUID(r["payment_id"]))
        self.assertEqual(code, [["expired"]])
        self.assertEqual(pu.outbox_count("billing.payment.failed.v1", r["payment_id"]), 1)
        # the use is given back: another user may redeem the code now
        c.expect(pu.top_up(b, 1000, code=d["code"]), 201)
        # the checkout approved late finds the payment Failed and credits nothing
        status, _, body = pu.browse(r["redirect_url"])
        self.assertEqual((status, body["status"]), (200, "Failed"))
        self.assertEqual(pu.payment(a, r["payment_id"])["status"], "Failed")
        self.assertEqual(pu.ledger_rows(a.user_id), [])
        self.assertEqual(a.balance()["balance_minor"], 0)
        self.assertEqual(pu.outbox_count("billing.payment.succeeded.v1", r["payment_id"]), 0)
        self.assertEqual(pu.outbox_count("billing.payment.failed.v1", r["payment_id"]), 1)


if __name__ == "__main__":
    unittest.main()
