"""test_billing_discounts.py - promo codes: every kind applied at purchase and recorded on the
payment (Percentage, FixedAmount on a plan and on a top-up, FreeMonths, RenderCredits), and
refused with its reason: exhausted (max uses, also under 5 parallel purchases), expired, not
started, wrong plan, per-user limit, unknown; POST /v1/discounts/validate; admin list/create.
"""
import datetime
import unittest

import billing_pay_util as pu
import billing_util as bu
import client as c


def iso(delta_s):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def months_between(a, b):
    da = datetime.datetime.fromisoformat(a.replace("Z", "+00:00"))
    db = datetime.datetime.fromisoformat(b.replace("Z", "+00:00"))
    return (db.year - da.year) * 12 + db.month - da.month


@unittest.skipUnless(bu.PG_URL, "FR_PG_URL not set (scripts/stack.sh env)")
class DiscountsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = bu.admin_token()
        cls.starter = pu.plan("starter")
        cls.pro = pu.plan("pro")

    def code(self, **fields):
        return c.expect(pu.admin_discount(self.admin, **fields), 201).json

    def refused(self, user, code, reason, plan=None):
        r = pu.purchase(user, (plan or self.starter)["id"], "Sandbox", code=code)
        c.expect(r, 422, "discount_invalid")
        self.assertEqual(r.json["error"]["details"], {"reason": reason})
        v = c.expect(c.gw("POST", "/v1/discounts/validate", token=user.token,
                          body={"code": code, "plan_id": (plan or self.starter)["id"]}), 200).json
        self.assertEqual((v["valid"], v["reason"]), (False, reason))

    def test_percentage_on_a_plan(self):
        d = self.code(kind="Percentage", value=25)
        u = bu.funded_user(self.admin, 5000)
        price = self.starter["price_minor"]
        v = c.expect(c.gw("POST", "/v1/discounts/validate", token=u.token,
                          body={"code": d["code"].lower(), "plan_id": self.starter["id"]}), 200).json
        self.assertEqual((v["valid"], v["kind"], v["value"], v["discount_minor"]),
                         (True, "Percentage", 25, price * 25 // 100))
        r = c.expect(pu.purchase(u, self.starter["id"], "Balance", code=d["code"]), 201).json
        p = pu.payment(u, r["payment_id"])
        self.assertEqual((p["original_amount_minor"], p["discount_minor"], p["amount_minor"],
                          p["discount_code"]),
                         (price, price * 25 // 100, price - price * 25 // 100, d["code"]))
        self.assertEqual(u.balance()["balance_minor"], 5000 - p["amount_minor"])

    def test_fixed_amount_on_a_top_up_credits_in_full(self):
        d = self.code(kind="FixedAmount", value=300)
        u = bu.BillingUser("disc")
        r = c.expect(pu.top_up(u, 1000, code=d["code"]), 201).json
        p = pu.payment(u, r["payment_id"])
        self.assertEqual((p["amount_minor"], p["discount_minor"]), (700, 300))
        pu.browse(r["redirect_url"])
        self.assertEqual(u.balance()["balance_minor"], 1000)
        # more off than the price: nothing to pay, settled at once without a checkout
        big = self.code(kind="FixedAmount", value=10 ** 6)
        r = c.expect(pu.top_up(u, 50, code=big["code"]), 201).json
        self.assertEqual((r["status"], r["redirect_url"]), ("Succeeded", None))
        self.assertEqual(u.balance()["balance_minor"], 1050)

    def test_free_months_extends_the_plan(self):
        d = self.code(kind="FreeMonths", value=2)
        u = bu.BillingUser("disc")
        r = c.expect(pu.purchase(u, self.starter["id"], "Sandbox", code=d["code"]), 201).json
        pu.browse(r["redirect_url"])
        plan = c.expect(c.gw("GET", "/v1/users/me/plan", token=u.token), 200).json
        self.assertEqual(months_between(plan["starts_at"], plan["expires_at"]), 3)
        self.assertEqual(pu.payment(u, r["payment_id"])["amount_minor"], self.starter["price_minor"])
        c.expect(pu.top_up(u, 100, code=d["code"]), 422, "discount_invalid")

    def test_render_credits_add_seconds(self):
        d = self.code(kind="RenderCredits", value=600)
        u = bu.BillingUser("disc")
        r = c.expect(pu.purchase(u, self.starter["id"], "Sandbox", code=d["code"]), 201).json
        pu.browse(r["redirect_url"])
        plan = c.expect(c.gw("GET", "/v1/users/me/plan", token=u.token), 200).json
        self.assertEqual(plan["remain_charge_sec"], self.starter["seconds_charge"] + 600)
        r = c.gw("POST", "/v1/discounts/validate", token=u.token,
                 body={"code": d["code"], "amount_minor": 100})
        self.assertEqual(r.json["reason"], "not_applicable")

    def test_exhausted(self):
        d = self.code(kind="Percentage", value=10, max_use_count=2)
        a, b, z = bu.BillingUser("disc"), bu.BillingUser("disc"), bu.BillingUser("disc")
        c.expect(pu.purchase(a, self.starter["id"], "Sandbox", code=d["code"]), 201)
        c.expect(pu.purchase(b, self.starter["id"], "Sandbox", code=d["code"]), 201)
        self.refused(z, d["code"], "exhausted")

    def test_exhausted_under_parallel_purchases(self):
        d = self.code(kind="FixedAmount", value=100, max_use_count=2)
        users = [bu.BillingUser("disc") for _ in range(5)]
        results = bu.parallel([lambda u=u: pu.purchase(u, self.starter["id"], "Sandbox",
                                                       code=d["code"]) for u in users])
        self.assertEqual(sorted(r.status for r in results), [201, 201, 422, 422, 422])
        listed = c.expect(c.gw("GET", "/v1/discounts?page_size=100", token=self.admin), 200).json
        mine = [x for x in listed["data"] if x["id"] == d["id"]]
        self.assertEqual(mine[0]["use_count"], 2)

    def test_failed_payment_gives_the_use_back(self):
        d = self.code(kind="Percentage", value=10, max_use_count=1)
        a, b = bu.BillingUser("disc"), bu.BillingUser("disc")
        r = c.expect(pu.purchase(a, self.starter["id"], "Sandbox", code=d["code"]), 201).json
        self.refused(b, d["code"], "exhausted")
        pu.browse(r["redirect_url"] + "&outcome=fail")
        c.expect(pu.purchase(b, self.starter["id"], "Sandbox", code=d["code"]), 201)

    def test_expired_and_not_started(self):
        old = self.code(kind="Percentage", value=10, starts_at=iso(-7200), expires_at=iso(-3600))
        new = self.code(kind="Percentage", value=10, starts_at=iso(3600))
        u = bu.BillingUser("disc")
        self.refused(u, old["code"], "expired")
        self.refused(u, new["code"], "not_started")

    def test_wrong_plan(self):
        d = self.code(kind="Percentage", value=10, applies_to_plan_ids=[self.pro["id"]])
        u = bu.BillingUser("disc")
        self.refused(u, d["code"], "wrong_plan")
        c.expect(pu.top_up(u, 100, code=d["code"]), 422, "discount_invalid")
        c.expect(pu.purchase(u, self.pro["id"], "Sandbox", code=d["code"]), 201)

    def test_per_user_limit(self):
        d = self.code(kind="FixedAmount", value=10, per_user_limit=1)
        a, b = bu.BillingUser("disc"), bu.BillingUser("disc")
        c.expect(pu.purchase(a, self.starter["id"], "Sandbox", code=d["code"]), 201)
        self.refused(a, d["code"], "user_limit")
        c.expect(pu.purchase(b, self.starter["id"], "Sandbox", code=d["code"]), 201)

    def test_unknown_code(self):
        u = bu.BillingUser("disc")
        self.refused(u, "NOSUCHCODE", "not_found")

    def test_admin_create_and_list_rules(self):
        d = self.code(kind="Percentage", value=5)
        c.expect(pu.admin_discount(self.admin, code=d["code"].lower(), kind="Percentage",
                                   value=5), 409, "discount_code_taken")
        bad = c.expect(pu.admin_discount(self.admin, kind="Percentage", value=101,
                                         starts_at="yesterday", applies_to_plan_ids=["x"]), 422)
        self.assertEqual(c.detail_fields(bad), {"value", "starts_at", "applies_to_plan_ids"})
        c.expect(pu.admin_discount(self.admin, kind="Percentage", value=5,
                                   starts_at=iso(10), expires_at=iso(5)), 422)
        u = bu.BillingUser("disc")
        c.expect(pu.admin_discount(u.token, kind="Percentage", value=5), 403, "forbidden")
        c.expect(c.gw("GET", "/v1/discounts", token=u.token), 403, "forbidden")
        page = c.expect(c.gw("GET", "/v1/discounts?page_size=5", token=self.admin), 200).json
        self.assertLessEqual(len(page["data"]), 5)


if __name__ == "__main__":
    unittest.main()
