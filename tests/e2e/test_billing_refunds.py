"""test_billing_refunds.py - the internal refund route on billing (service token aud
"billing", a client of BILLING_REFUND_CLIENTS): a plan purchase to Balance, to Plan seconds
(against a payment: never more than it granted), to the OriginalMethod (sandbox, and a Balance
payment), a top-up only to its original method and its credit taken back (409 when the balance
no longer holds it), the same refund sent 5 times in a row and 5 times at once (one refund, one
ledger row), another body under the same key (409), refunds of one payment never above what it
paid, Stripe not refundable here, and the auth and validation answers.
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

    def paid_purchase(self):
        """A starter plan paid through the sandbox (900): the balance stays 0."""
        u = bu.BillingUser("refund")
        r = c.expect(pu.purchase(u, self.starter["id"], "Sandbox"), 201).json
        pu.browse(r["redirect_url"])
        self.assertEqual(pu.payment(u, r["payment_id"])["status"], "Succeeded")
        return u, r["payment_id"]

    def refund_rows(self, user_id):
        return [row for row in pu.ledger_rows(user_id) if row[0] == "refund"]

    def test_to_balance_partial_then_full(self):
        u, pid = self.paid_purchase()
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex, "payment_id": pid,
                                          "amount_minor": 300, "reason": "render failed",
                                          "refund_to": "Balance"}), 200).json
        self.assertEqual((r["status"], r["amount_minor"], r["ledger_entry"]["amount_minor"]),
                         ("Succeeded", 300, 300))
        self.assertEqual(pu.payment(u, pid)["status"], "PartiallyRefunded")
        self.assertEqual(u.balance()["balance_minor"], 300)
        # no amount: whatever is left
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex, "payment_id": pid,
                                          "reason": "rest", "refund_to": "Balance"}), 200).json
        self.assertEqual(r["amount_minor"], 600)
        p = pu.payment(u, pid)
        self.assertEqual((p["status"], p["refunded_minor"]), ("Refunded", 900))
        over = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex,
                                             "payment_id": pid, "amount_minor": 1,
                                             "reason": "x", "refund_to": "Balance"}), 409)
        self.assertIn(over.code, ("refund_exceeds_payment", "payment_not_refundable"))
        self.assertEqual(bu.ledger_sum(u.user_id)[0], bu.ledger_sum(u.user_id)[1])

    def test_never_above_the_payment(self):
        u, pid = self.paid_purchase()
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex, "payment_id": pid,
                                          "amount_minor": 901, "reason": "x",
                                          "refund_to": "Balance"}), 409, "refund_exceeds_payment")
        self.assertEqual(r.json["error"]["details"], {"requested": 901, "refundable": 900})
        # 5 different refunds of 400 at once: only two fit into 900
        bodies = [{"idempotency_key": uuid.uuid4().hex, "payment_id": pid, "amount_minor": 400,
                   "reason": "x", "refund_to": "Balance"} for _ in range(5)]
        results = bu.parallel([lambda b=b: pu.refund(self.svc, b) for b in bodies])
        self.assertEqual(sorted(x.status for x in results), [200, 200, 409, 409, 409])
        self.assertEqual(pu.payment(u, pid)["refunded_minor"], 800)
        self.assertEqual(u.balance()["balance_minor"], 800)

    def test_same_refund_five_times_in_a_row(self):
        u, pid = self.paid_purchase()
        body = {"idempotency_key": "rf-" + uuid.uuid4().hex, "payment_id": pid,
                "amount_minor": 250, "reason": "render failed", "refund_to": "Balance"}
        first = c.expect(pu.refund(self.svc, body), 200).json
        for _ in range(4):
            self.assertEqual(c.expect(pu.refund(self.svc, body), 200).json, first)
        self.assertEqual(len(self.refund_rows(u.user_id)), 1)
        self.assertEqual(u.balance()["balance_minor"], 250)
        other = dict(body, amount_minor=251)
        c.expect(pu.refund(self.svc, other), 409, "idempotency_conflict")

    def test_same_refund_five_times_at_once(self):
        u, pid = self.paid_purchase()
        body = {"idempotency_key": "rf-" + uuid.uuid4().hex, "payment_id": pid,
                "amount_minor": 100, "reason": "render failed", "refund_to": "Balance"}
        results = bu.parallel([lambda: pu.refund(self.svc, body)] * 5)
        self.assertEqual({r.status for r in results}, {200})
        self.assertEqual(len({r.json["refund_id"] for r in results}), 1)
        self.assertEqual(len(self.refund_rows(u.user_id)), 1)
        self.assertEqual(u.balance()["balance_minor"], 100)
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
        u, pid = self.paid_purchase()
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex, "payment_id": pid,
                                          "reason": "chargeback",
                                          "refund_to": "OriginalMethod"}), 200).json
        self.assertIsNone(r["ledger_entry"])  # the money went back to the card
        self.assertEqual(r["amount_minor"], 900)
        self.assertEqual(u.balance()["balance_minor"], 0)
        self.assertEqual(pu.payment(u, pid)["status"], "Refunded")
        # a Balance payment's original method is the balance
        b = bu.funded_user(self.admin, 2000)
        paid = c.expect(pu.purchase(b, self.starter["id"], "Balance"), 201).json
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex,
                                          "payment_id": paid["payment_id"], "reason": "x",
                                          "refund_to": "OriginalMethod"}), 200).json
        self.assertEqual(r["ledger_entry"]["amount_minor"], self.starter["price_minor"])
        self.assertEqual(b.balance()["balance_minor"], 2000)

    def test_top_up_refund_takes_the_credit_back(self):
        u, pid = self.paid_top_up(600)
        # refunding a top-up to the balance would credit it twice
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex, "payment_id": pid,
                                          "reason": "x", "refund_to": "Balance"}),
                     422, "refund_target_invalid")
        self.assertEqual(u.balance()["balance_minor"], 600)
        # to the card: the same amount leaves the balance in the same transaction
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex, "payment_id": pid,
                                          "amount_minor": 200, "reason": "chargeback",
                                          "refund_to": "OriginalMethod"}), 200).json
        self.assertEqual((r["amount_minor"], r["ledger_entry"]["amount_minor"]), (200, -200))
        self.assertEqual(u.balance()["balance_minor"], 400)
        self.assertEqual(pu.payment(u, pid)["status"], "PartiallyRefunded")
        # the rest of the credit was spent: nothing left to take back, nothing refunded
        c.expect(bu.clawback(self.admin, u.user_id, 350), 201)
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex, "payment_id": pid,
                                          "reason": "rest", "refund_to": "OriginalMethod"}),
                     409, "insufficient_balance")
        self.assertEqual(r.json["error"]["details"], {"required": 400, "available": 50})
        p = pu.payment(u, pid)
        self.assertEqual((p["status"], p["refunded_minor"]), ("PartiallyRefunded", 200))
        self.assertEqual(u.balance()["balance_minor"], 50)
        self.assertEqual(bu.ledger_sum(u.user_id)[0], bu.ledger_sum(u.user_id)[1])

    def test_discounted_top_up_refund_takes_back_the_full_credit(self):
        d = c.expect(pu.admin_discount(self.admin, kind="Percentage", value=20), 201).json
        u = bu.BillingUser("refund")
        r = c.expect(pu.top_up(u, 1000, code=d["code"]), 201).json
        pu.browse(r["redirect_url"])
        self.assertEqual(u.balance()["balance_minor"], 1000)  # paid 800, credited 1000
        r = c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex,
                                          "payment_id": r["payment_id"], "reason": "x",
                                          "refund_to": "OriginalMethod"}), 200).json
        self.assertEqual((r["amount_minor"], r["ledger_entry"]["amount_minor"]), (800, -1000))
        self.assertEqual(u.balance()["balance_minor"], 0)

    def test_plan_seconds_against_a_payment_capped_at_what_it_granted(self):
        u, pid = self.paid_purchase()
        granted = self.starter["seconds_charge"]
        body = {"payment_id": pid, "reason": "render failed", "refund_to": "Plan"}
        r = c.expect(pu.refund(self.svc, dict(body, idempotency_key=uuid.uuid4().hex,
                                              seconds=granted + 1)), 409, "refund_exceeds_payment")
        self.assertEqual(r.json["error"]["details"],
                         {"requested_seconds": granted + 1, "refundable_seconds": granted})
        c.expect(pu.refund(self.svc, dict(body, idempotency_key=uuid.uuid4().hex,
                                          seconds=granted - 10)), 200)
        c.expect(pu.refund(self.svc, dict(body, idempotency_key=uuid.uuid4().hex, seconds=11)),
                 409, "refund_exceeds_payment")
        c.expect(pu.refund(self.svc, dict(body, idempotency_key=uuid.uuid4().hex, seconds=10)),
                 200)
        plan = c.expect(c.gw("GET", "/v1/users/me/plan", token=u.token), 200).json
        self.assertEqual(plan["remain_charge_sec"], 2 * granted)
        # a top-up granted no seconds
        _, tid = self.paid_top_up(100)
        c.expect(pu.refund(self.svc, {"idempotency_key": uuid.uuid4().hex, "payment_id": tid,
                                      "seconds": 1, "reason": "x", "refund_to": "Plan"}),
                 409, "refund_exceeds_payment")

    def test_only_refund_clients_may_refund(self):
        u, pid = self.paid_purchase()
        other = c.service_token("billing", "file")
        c.expect(pu.refund(other, {"idempotency_key": uuid.uuid4().hex, "payment_id": pid,
                                   "reason": "x", "refund_to": "Balance"}), 403, "forbidden")
        self.assertEqual(pu.payment(u, pid)["refunded_minor"], 0)
        self.assertEqual(u.balance()["balance_minor"], 0)

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
