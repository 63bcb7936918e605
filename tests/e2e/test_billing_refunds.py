"""test_billing_refunds.py - the internal refund route on billing (service token aud
"billing"): to Balance, to Plan seconds, to the OriginalMethod (sandbox, and a Balance payment),
the same refund sent 5 times in a row and 5 times at once (one refund, one ledger row), another
body under the same key (409), refunds of one payment never above what it paid, Stripe not
refundable here, and the auth and validation answers.
"""
import unittest
import uuid

import billing_pay_util as pu
import billing_util as bu
import client as c


@unittest.skipUnless(bu.PG_URL and c.INTERNAL_SECRET,
                     "FR_PG_URL / FR_INTERNAL_SECRET not set (scripts/stack.sh env)")
class RefundsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = bu.admin_token()
        cls.svc = c.service_token("billing", "render")
        cls.starter = pu.plan("starter")

    def paid_top_up(self, amount):
        u = bu.BillingUser("refund")
        r = c.expect(pu.top_up(u, amount), 201).json
        pu.browse(r["redirect_url"])
        self.assertEqual(pu.payment(u, r["payment_id"])["status"], "Succeeded")
        return u, r["payment_id"]

    def refund_rows(self, user_id):
        return [row for row in pu.ledger_rows(user_id) if row[0] == "refund"]

    def test_to_balance_partial_then_full(self):
        u, pid = self.paid_top_up(1000)
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex, "payment_id": pid,
                                          "amount_minor": 300, "reason": "render failed",
                                          "refund_to": "Balance"}), 200).json
        self.assertEqual((r["status"], r["amount_minor"], r["ledger_entry"]["amount_minor"]),
                         ("Succeeded", 300, 300))
        self.assertEqual(pu.payment(u, pid)["status"], "PartiallyRefunded")
        self.assertEqual(u.balance()["balance_minor"], 1300)
        # no amount: whatever is left
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex, "payment_id": pid,
                                          "reason": "rest", "refund_to": "Balance"}), 200).json
        self.assertEqual(r["amount_minor"], 700)
        p = pu.payment(u, pid)
        self.assertEqual((p["status"], p["refunded_minor"]), ("Refunded", 1000))
        over = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex,
                                             "payment_id": pid, "amount_minor": 1,
                                             "reason": "x", "refund_to": "Balance"}), 409)
        self.assertIn(over.code, ("refund_exceeds_payment", "payment_not_refundable"))
        self.assertEqual(bu.ledger_sum(u.user_id)[0], bu.ledger_sum(u.user_id)[1])

    def test_never_above_the_payment(self):
        u, pid = self.paid_top_up(500)
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex, "payment_id": pid,
                                          "amount_minor": 501, "reason": "x",
                                          "refund_to": "Balance"}), 409, "refund_exceeds_payment")
        self.assertEqual(r.json["error"]["details"], {"requested": 501, "refundable": 500})
        # 5 different refunds of 200 at once: only two fit into 500
        bodies = [{"idempotency_key": uuid.uuid4().hex, "payment_id": pid, "amount_minor": 200,
                   "reason": "x", "refund_to": "Balance"} for _ in range(5)]
        results = bu.parallel([lambda b=b: pu.refund(self.svc, b) for b in bodies])
        self.assertEqual(sorted(x.status for x in results), [200, 200, 409, 409, 409])
        self.assertEqual(pu.payment(u, pid)["refunded_minor"], 400)
        self.assertEqual(u.balance()["balance_minor"], 900)

    def test_same_refund_five_times_in_a_row(self):
        u, pid = self.paid_top_up(800)
        body = {"idempotency_key": "rf-" + uuid.uuid4().hex, "payment_id": pid,
                "amount_minor": 250, "reason": "render failed", "refund_to": "Balance"}
        first = c.expect(pu.refund(self.svc, body), 200).json
        for _ in range(4):
            self.assertEqual(c.expect(pu.refund(self.svc, body), 200).json, first)
        self.assertEqual(len(self.refund_rows(u.user_id)), 1)
        self.assertEqual(u.balance()["balance_minor"], 1050)
        other = dict(body, amount_minor=251)
        c.expect(pu.refund(self.svc, other), 409, "idempotency_conflict")

    def test_same_refund_five_times_at_once(self):
        u, pid = self.paid_top_up(800)
        body = {"idempotency_key": "rf-" + uuid.uuid4().hex, "payment_id": pid,
                "amount_minor": 100, "reason": "render failed", "refund_to": "Balance"}
        results = bu.parallel([lambda: pu.refund(self.svc, body)] * 5)
        self.assertEqual({r.status for r in results}, {200})
        self.assertEqual(len({r.json["refund_id"] for r in results}), 1)
        self.assertEqual(len(self.refund_rows(u.user_id)), 1)
        self.assertEqual(u.balance()["balance_minor"], 900)
        self.assertEqual(pu.payment(u, pid)["refunded_minor"], 100)

    def test_to_plan_seconds(self):
        u = bu.funded_user(self.admin, 2000)
        c.expect(pu.purchase(u, self.starter["id"], "Balance"), 201)
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex,
                                          "user_id": u.user_id, "tenant_id": u.tenant_id,
                                          "seconds": 45, "reason": "render failed",
                                          "refund_to": "Plan"}), 200).json
        self.assertEqual((r["seconds"], r["ledger_entry"]["seconds"]), (45, 45))
        plan = c.expect(c.gw("GET", "/v1/users/me/plan", token=u.token), 200).json
        self.assertEqual(plan["remain_charge_sec"], self.starter["seconds_charge"] + 45)
        nobody = bu.funded_user(self.admin, 10)
        c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex,
                                      "user_id": nobody.user_id, "tenant_id": nobody.tenant_id,
                                      "seconds": 5, "reason": "x", "refund_to": "Plan"}),
                 409, "no_active_plan")

    def test_to_original_method(self):
        u, pid = self.paid_top_up(600)
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex, "payment_id": pid,
                                          "amount_minor": 600, "reason": "chargeback",
                                          "refund_to": "OriginalMethod"}), 200).json
        self.assertIsNone(r["ledger_entry"])  # the money went back to the card
        self.assertEqual(u.balance()["balance_minor"], 600)
        self.assertEqual(pu.payment(u, pid)["status"], "Refunded")
        # a Balance payment's original method is the balance
        b = bu.funded_user(self.admin, 2000)
        paid = c.expect(pu.purchase(b, self.starter["id"], "Balance"), 201).json
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex,
                                          "payment_id": paid["payment_id"], "reason": "x",
                                          "refund_to": "OriginalMethod"}), 200).json
        self.assertEqual(r["ledger_entry"]["amount_minor"], self.starter["price_minor"])
        self.assertEqual(b.balance()["balance_minor"], 2000)

    def test_stripe_original_method_unsupported_and_unpaid_refused(self):
        u = bu.BillingUser("refund")
        pid = c.expect(pu.top_up(u, 300, gateway="Stripe"), 201).json["payment_id"]
        body = pu.stripe_event(pid, amount=300)
        c.expect(pu.stripe_post(body, pu.stripe_sign(body)), 200)
        c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex, "payment_id": pid,
                                      "reason": "x", "refund_to": "OriginalMethod"}),
                 422, "refund_method_unsupported")
        pending = c.expect(pu.top_up(u, 300), 201).json["payment_id"]
        c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex, "payment_id": pending,
                                      "reason": "x", "refund_to": "Balance"}),
                 409, "payment_not_refundable")

    def test_auth_and_validation(self):
        body = {"idempotency_key": "k", "payment_id": str(uuid.uuid4()), "reason": "x",
                "refund_to": "Balance"}
        c.expect(pu.refund(None, body), 401)
        u = bu.BillingUser("refund")
        c.expect(pu.refund(u.token, body), 401)
        c.expect(pu.refund(self.svc, body), 404, "payment_not_found")
        bad = c.expect(pu.refund(self.svc, {"reason": "", "refund_to": "Plan", "amount_minor": 5}),
                       422)
        self.assertTrue({"idempotency_key", "reason", "seconds"} <= c.detail_fields(bad))
        # the public gateway does not route it
        c.expect(c.gw("POST", "/v1/payments/refund", body=body, token=u.token), 405)


if __name__ == "__main__":
    unittest.main()
