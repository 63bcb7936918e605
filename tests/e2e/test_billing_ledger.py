"""test_billing_ledger.py - the plan catalog, balances, the ledger and admin credits, through
the gateway: every balance change is one ledger row, balance_after is the running sum, the
balance equals the sum of the ledger and never goes below what is held; who may do what.
"""
import unittest
import uuid

import billing_util as b
import client as c


class TestPlans(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = b.admin_token()

    def test_catalog_is_public_and_seeded(self):
        plans = c.expect(c.gw("GET", "/v1/plans"), 200).json["data"]
        codes = [p["code"] for p in plans]
        for code in ("free", "starter", "pro", "business"):
            self.assertIn(code, codes)
        free = plans[codes.index("free")]
        self.assertEqual(free["price_minor"], 0)
        self.assertEqual(free["seconds_charge"], 60)
        one = c.expect(c.gw("GET", "/v1/plans/%s" % free["id"]), 200).json
        self.assertEqual(one, free)

    def test_unknown_plan_is_404(self):
        c.expect(c.gw("GET", "/v1/plans/%s" % uuid.uuid4()), 404, "plan_not_found")
        c.expect(c.gw("GET", "/v1/plans/not-a-uuid"), 404, "plan_not_found")

    def test_admin_creates_and_updates_a_plan(self):
        code = "e2e-" + uuid.uuid4().hex[:12]
        body = {"code": code, "name": "E2E plan", "price_minor": 1234, "billing_period": "Monthly",
                "seconds_charge": 500, "second_price_minor": 3, "features": {"x": 1},
                "render_speed_factor": 1.5}
        p = c.expect(c.gw("POST", "/v1/plans", body=body, token=self.admin), 201).json
        self.assertEqual((p["code"], p["price_minor"], p["currency"]), (code, 1234, "USD"))
        self.assertIsNone(p["before_price_minor"])
        c.expect(c.gw("POST", "/v1/plans", body=body, token=self.admin), 409, "plan_code_taken")
        u = c.expect(c.gw("PATCH", "/v1/plans/%s" % p["id"], token=self.admin,
                          body={"price_minor": 999, "before_price_minor": 1234,
                                "is_active": False}), 200).json
        self.assertEqual((u["price_minor"], u["before_price_minor"], u["is_active"]),
                         (999, 1234, False))
        self.assertEqual(u["seconds_charge"], 500)
        codes = [x["code"] for x in c.gw("GET", "/v1/plans").json["data"]]
        self.assertNotIn(code, codes)  # inactive plans leave the catalog
        c.expect(c.gw("GET", "/v1/plans/%s" % p["id"]), 200)  # but stay readable

    def test_plan_writes_need_a_platform_admin(self):
        user = b.BillingUser("plan")
        body = {"code": "e2e-x", "name": "x", "price_minor": 1, "billing_period": "Monthly",
                "seconds_charge": 1, "second_price_minor": 1}
        c.expect(c.gw("POST", "/v1/plans", body=body, token=user.token), 403, "forbidden")
        c.expect(c.gw("POST", "/v1/plans", body=body), 401)

    def test_plan_validation(self):
        r = c.expect(c.gw("POST", "/v1/plans", token=self.admin,
                          body={"code": "Bad Code", "price_minor": -1, "billing_period": "Weekly",
                                "render_speed_factor": 0, "nope": 1}), 422)
        self.assertTrue({"code", "name", "price_minor", "billing_period", "seconds_charge",
                         "second_price_minor", "render_speed_factor", "nope"}
                        <= c.detail_fields(r))
        r = c.expect(c.gw("PATCH", "/v1/plans/%s" % uuid.uuid4(), token=self.admin,
                          body={"code": "x"}), 422)
        self.assertIn("code", c.detail_fields(r))


class TestLedger(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = b.admin_token()

    def test_new_user_has_a_zero_balance_and_no_plan(self):
        u = b.BillingUser("zero")
        bal = u.balance()
        self.assertEqual(bal, {"balance_minor": 0, "held_minor": 0, "available_minor": 0,
                               "currency": "USD", "plan_seconds_left": 0,
                               "plan_seconds_held": 0})
        c.expect(c.gw("GET", "/v1/users/me/plan", token=u.token), 404, "no_active_plan")
        c.expect(c.gw("POST", "/v1/users/me/plan/cancel", token=u.token), 404, "no_active_plan")
        page = u.transactions()
        self.assertEqual(page["data"], [])
        self.assertEqual(page["meta"], {"page": 1, "page_size": 100, "total": 0,
                                        "has_more": False})

    def test_grant_and_clawback_are_ledger_rows(self):
        u = b.BillingUser("ledger")
        g = c.expect(b.grant(self.admin, u.user_id, 5000, "welcome", tenant_id=u.tenant_id),
                     201).json
        self.assertEqual((g["kind"], g["amount_minor"], g["balance_after"], g["user_id"]),
                         ("grant", 5000, 5000, u.user_id))
        cb = c.expect(b.clawback(self.admin, u.user_id, 1200, "oops"), 201).json
        self.assertEqual((cb["kind"], cb["amount_minor"], cb["balance_after"]),
                         ("clawback", -1200, 3800))
        r = c.expect(b.clawback(self.admin, u.user_id, 3801), 409, "insufficient_balance")
        self.assertEqual(r.json["error"]["details"], {"required": 3801, "available": 3800})
        bal = u.balance()
        self.assertEqual((bal["balance_minor"], bal["available_minor"]), (3800, 3800))
        rows = u.transactions()["data"]
        self.assertEqual([x["id"] for x in rows], [cb["id"], g["id"]])  # newest first
        self.assertEqual(sum(x["amount_minor"] for x in rows), bal["balance_minor"])
        self.assertEqual(b.ledger_sum(u.user_id), (3800, 3800))

    def test_transactions_are_paginated(self):
        u = b.funded_user(self.admin, 100)
        for i in range(4):
            c.expect(b.grant(self.admin, u.user_id, 10 + i), 201)
        p1 = u.transactions(page=1, page_size=2)
        p3 = u.transactions(page=3, page_size=2)
        self.assertEqual(p1["meta"], {"page": 1, "page_size": 2, "total": 5, "has_more": True})
        self.assertEqual([x["amount_minor"] for x in p1["data"]], [13, 12])
        self.assertEqual(p3["meta"]["has_more"], False)
        self.assertEqual([x["amount_minor"] for x in p3["data"]], [100])
        afters = [x["balance_after"] for x in reversed(u.transactions()["data"])]
        self.assertEqual(afters, [100, 110, 121, 133, 146])  # the running sum
        c.expect(c.gw("GET", "/v1/users/me/transactions?page=0", token=u.token), 422)
        c.expect(c.gw("GET", "/v1/users/me/transactions?page_size=101", token=u.token), 422)

    def test_grant_idempotency_key(self):
        u = b.BillingUser("idem")
        key = "grant-" + uuid.uuid4().hex
        first = c.expect(b.grant(self.admin, u.user_id, 700, tenant_id=u.tenant_id, key=key),
                         201).json
        for _ in range(4):
            again = c.expect(b.grant(self.admin, u.user_id, 700, tenant_id=u.tenant_id,
                                     key=key), 201).json
            self.assertEqual(again, first)
        c.expect(b.grant(self.admin, u.user_id, 701, tenant_id=u.tenant_id, key=key), 409,
                 "idempotency_conflict")
        self.assertEqual(u.balance()["balance_minor"], 700)
        self.assertEqual(len(u.transactions()["data"]), 1)

    def test_grant_idempotency_key_concurrent(self):
        u = b.BillingUser("idemc")
        key = "grant-" + uuid.uuid4().hex
        rs = b.parallel([lambda: b.grant(self.admin, u.user_id, 300, tenant_id=u.tenant_id,
                                         key=key)] * 5)
        self.assertEqual({r.status for r in rs}, {201})
        self.assertEqual(len({r.json["id"] for r in rs}), 1)
        self.assertEqual(u.balance()["balance_minor"], 300)

    def test_credits_need_a_platform_admin(self):
        u = b.BillingUser("perm")
        c.expect(b.grant(u.token, u.user_id, 100, tenant_id=u.tenant_id), 403, "forbidden")
        c.expect(b.clawback(u.token, u.user_id, 100), 403, "forbidden")
        c.expect(c.gw("POST", "/v1/admin/users/%s/credits/grant" % u.user_id,
                      body={"amount_minor": 1, "description": "x"}), 401)
        c.expect(c.gw("GET", "/v1/users/me/balance"), 401)

    def test_credits_validation_and_unknown_wallet(self):
        c.expect(b.grant(self.admin, str(uuid.uuid4()), 100), 404, "wallet_not_found")
        r = c.expect(c.gw("POST", "/v1/admin/users/%s/credits/grant" % uuid.uuid4(),
                          body={"amount_minor": 0, "extra": True}, token=self.admin), 422)
        self.assertEqual(c.detail_fields(r), {"amount_minor", "description", "extra"})
        c.expect(b.grant(self.admin, str(uuid.uuid4()), 100, key="bad key"), 422)

    def test_wallet_of_another_tenant_is_refused(self):
        u = b.funded_user(self.admin, 10)
        c.expect(b.grant(self.admin, u.user_id, 10, tenant_id=str(uuid.uuid4())), 409,
                 "tenant_mismatch")

    def test_registration_opens_the_wallet(self):
        if not b.PG_URL:
            self.skipTest("FR_PG_URL not set")
        u = b.BillingUser("reg")
        c.poll(lambda: b.psql("SELECT tenant_id FROM billing.wallets WHERE user_id = '%s'"
                              % u.user_id),
               lambda rows: rows == [[u.tenant_id]], timeout=10)
        # the wallet exists: a grant without tenant_id finds it
        c.expect(b.grant(self.admin, u.user_id, 1), 201)


if __name__ == "__main__":
    unittest.main()
