"""test_billing_payments.py - paying for plans and top-ups through the gateway: Balance (at
once, or 402), the sandbox provider's checkout approved or declined by a browser-like GET of
redirect_url, the same approval fetched 5 times in a row and 5 times at once (one ledger row,
one billing.payment.succeeded.v1), Idempotency-Key on purchases, Stripe checkouts without a
redirect, ZarinPal not offered here, and reading payments (own only).
"""
import unittest
import urllib.parse

import billing_pay_util as pu
import billing_util as bu
import client as c


@unittest.skipUnless(bu.PG_URL, "FR_PG_URL not set (scripts/stack.sh env)")
class PaymentsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = bu.admin_token()
        cls.starter = pu.plan("starter")

    def test_balance_purchase_debits_and_activates_at_once(self):
        u = bu.funded_user(self.admin, 2000)
        r = c.expect(pu.purchase(u, self.starter["id"], "Balance"), 201).json
        self.assertEqual(r["status"], "Succeeded")
        self.assertIsNone(r["redirect_url"])
        self.assertEqual(r["user_plan"]["plan_id"], self.starter["id"])
        self.assertEqual(r["user_plan"]["remain_charge_sec"], self.starter["seconds_charge"])
        self.assertEqual(u.balance()["balance_minor"], 2000 - self.starter["price_minor"])
        rows = pu.ledger_rows(u.user_id, r["payment_id"])
        self.assertEqual(rows, [("purchase", -self.starter["price_minor"],
                                 self.starter["seconds_charge"], r["payment_id"])])
        self.assertEqual(pu.outbox_count("billing.payment.succeeded.v1", r["payment_id"]), 1)
        self.assertEqual(bu.ledger_sum(u.user_id)[0], bu.ledger_sum(u.user_id)[1])
        got = c.expect(c.gw("GET", "/v1/users/me/plan", token=u.token), 200).json
        self.assertEqual(got["plan_id"], self.starter["id"])

    def test_balance_purchase_without_funds_is_402_and_changes_nothing(self):
        u = bu.funded_user(self.admin, self.starter["price_minor"] - 1)
        r = c.expect(pu.purchase(u, self.starter["id"], "Balance"), 402, "insufficient_funds")
        self.assertEqual(r.json["error"]["details"],
                         {"required": self.starter["price_minor"],
                          "available": self.starter["price_minor"] - 1})
        self.assertEqual(u.balance()["balance_minor"], self.starter["price_minor"] - 1)
        self.assertEqual(c.gw("GET", "/v1/payments", token=u.token).json["data"], [])
        c.expect(c.gw("GET", "/v1/users/me/plan", token=u.token), 404)

    def test_sandbox_top_up_approved_by_fetching_redirect_url(self):
        u = bu.BillingUser("pay")
        r = c.expect(pu.top_up(u, 1500), 201).json
        self.assertEqual(r["status"], "Pending")
        self.assertEqual(pu.payment(u, r["payment_id"])["status"], "Pending")
        status, final, body = pu.browse(r["redirect_url"])
        self.assertEqual(status, 200)
        self.assertEqual(body, {"payment_id": r["payment_id"], "status": "Succeeded"})
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(final).query)
        self.assertEqual(q["status"], ["Succeeded"])
        p = pu.payment(u, r["payment_id"])
        self.assertEqual((p["status"], p["action"], p["amount_minor"]), ("Succeeded", "TopUp", 1500))
        self.assertIsNotNone(p["confirmed_at"])
        self.assertEqual(u.balance()["balance_minor"], 1500)

    def test_sandbox_decline_with_outcome_fail(self):
        u = bu.BillingUser("pay")
        r = c.expect(pu.purchase(u, self.starter["id"], "Sandbox"), 201).json
        status, _, body = pu.browse(r["redirect_url"] + "&outcome=fail")
        self.assertEqual((status, body["status"]), (200, "Failed"))
        p = pu.payment(u, r["payment_id"])
        self.assertEqual(p["status"], "Failed")
        self.assertEqual(p["failure_reason"], "Declined at the sandbox checkout.")
        self.assertEqual(pu.outbox_count("billing.payment.failed.v1", r["payment_id"]), 1)
        self.assertEqual(pu.outbox_count("billing.payment.succeeded.v1", r["payment_id"]), 0)
        # approving a declined payment afterwards changes nothing
        status, _, body = pu.browse(r["redirect_url"])
        self.assertEqual(body["status"], "Failed")
        c.expect(c.gw("GET", "/v1/users/me/plan", token=u.token), 404)
        self.assertEqual(pu.ledger_rows(u.user_id), [])

    def test_sandbox_purchase_activates_plan(self):
        u = bu.BillingUser("pay")
        r = c.expect(pu.purchase(u, self.starter["id"], "Sandbox", auto_renew=True), 201).json
        link = urllib.parse.urlsplit(r["redirect_url"])
        got = c.expect(c.gw("GET", link.path + "?" + link.query), 302)
        self.assertIn("status=Succeeded", got.header("Location"))
        plan = c.expect(c.gw("GET", "/v1/users/me/plan", token=u.token), 200).json
        self.assertEqual((plan["plan_id"], plan["auto_renew"]), (self.starter["id"], True))
        self.assertEqual(pu.ledger_rows(u.user_id, r["payment_id"]),
                         [("purchase", 0, self.starter["seconds_charge"], r["payment_id"])])

    def test_sandbox_approval_five_times_in_a_row_credits_once(self):
        u = bu.BillingUser("pay")
        r = c.expect(pu.top_up(u, 700), 201).json
        for _ in range(5):
            status, _, body = pu.browse(r["redirect_url"])
            self.assertEqual((status, body["status"]), (200, "Succeeded"))
        self.assertEqual(u.balance()["balance_minor"], 700)
        self.assertEqual(len(pu.ledger_rows(u.user_id, r["payment_id"])), 1)
        self.assertEqual(pu.outbox_count("billing.payment.succeeded.v1", r["payment_id"]), 1)

    def test_sandbox_approval_five_times_at_once_credits_once(self):
        u = bu.BillingUser("pay")
        r = c.expect(pu.top_up(u, 900), 201).json
        results = bu.parallel([lambda: pu.browse(r["redirect_url"])] * 5)
        self.assertEqual({(s, b["status"]) for s, _, b in results}, {(200, "Succeeded")})
        self.assertEqual(u.balance()["balance_minor"], 900)
        self.assertEqual(len(pu.ledger_rows(u.user_id, r["payment_id"])), 1)
        self.assertEqual(pu.outbox_count("billing.payment.succeeded.v1", r["payment_id"]), 1)

    def test_sandbox_checkout_refuses_a_forged_sig(self):
        u = bu.BillingUser("pay")
        r = c.expect(pu.top_up(u, 100), 201).json
        bad = r["redirect_url"][:-4] + ("0000" if not r["redirect_url"].endswith("0000") else "1111")
        status, _, body = pu.browse(bad)
        self.assertEqual((status, body["error"]["code"]), (403, "signature_invalid"))
        self.assertEqual(pu.payment(u, r["payment_id"])["status"], "Pending")
        # another payment's sig does not fit either
        other = c.expect(pu.top_up(u, 100), 201).json
        sig = urllib.parse.parse_qs(urllib.parse.urlsplit(other["redirect_url"]).query)["sig"][0]
        c.expect(c.gw("GET", "/v1/payments/sandbox/checkout?payment_id=%s&sig=%s"
                      % (r["payment_id"], sig)), 403, "signature_invalid")

    def test_idempotency_key_answers_the_first_payment(self):
        u = bu.BillingUser("pay")
        first = c.expect(pu.top_up(u, 400, key="k-" + u.user_id), 201).json
        again = c.expect(pu.top_up(u, 400, key="k-" + u.user_id), 200).json
        self.assertEqual(again["payment_id"], first["payment_id"])
        self.assertEqual(again["redirect_url"], first["redirect_url"])
        c.expect(pu.top_up(u, 401, key="k-" + u.user_id), 409, "idempotency_conflict")
        self.assertEqual(len(c.gw("GET", "/v1/payments", token=u.token).json["data"]), 1)

    def test_stripe_purchase_has_no_redirect_and_zarinpal_is_not_offered(self):
        u = bu.BillingUser("pay")
        r = c.expect(pu.purchase(u, self.starter["id"], "Stripe"), 201).json
        self.assertEqual((r["status"], r["redirect_url"]), ("Pending", None))
        c.expect(pu.top_up(u, 100, gateway="ZarinPal"), 422, "gateway_unavailable")
        c.expect(pu.top_up(u, 100, gateway="Balance"), 422, "validation_failed")

    def test_payments_are_private_and_validated(self):
        a, b = bu.BillingUser("pay"), bu.BillingUser("pay")
        r = c.expect(pu.top_up(a, 100), 201).json
        c.expect(c.gw("GET", "/v1/payments/" + r["payment_id"], token=b.token), 404,
                 "payment_not_found")
        c.expect(c.gw("GET", "/v1/payments/not-a-uuid", token=a.token), 404, "payment_not_found")
        c.expect(c.gw("GET", "/v1/payments"), 401)
        page = c.expect(c.gw("GET", "/v1/payments?page=1&page_size=1", token=a.token), 200).json
        self.assertEqual((len(page["data"]), page["meta"]["total"]), (1, 1))
        bad = c.expect(c.gw("POST", "/v1/users/me/plan/purchase", token=a.token,
                            body={"plan_id": "x", "gateway": "Cash", "extra": 1}), 422)
        self.assertEqual(c.detail_fields(bad), {"plan_id", "gateway", "extra"})
        c.expect(pu.purchase(a, "00000000-0000-4000-8000-000000000000", "Balance"), 404,
                 "plan_not_found")


if __name__ == "__main__":
    unittest.main()
