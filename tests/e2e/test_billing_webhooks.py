"""test_billing_webhooks.py - the Stripe-style webhook through the gateway: a valid signed
payment_intent.succeeded settles a Stripe payment once; a tampered body, a wrong secret, a
stale (and a future) timestamp and a malformed header are refused 400 and change nothing; the
same event replayed 5 times in a row and 5 times at once credits once (one ledger row, one
billing.payment.succeeded.v1); payment_failed records the failed attempt but keeps the
payment Pending (Stripe retries: a later signed success still settles it); an amount that
differs from the payment fails it instead of crediting; other event types are acknowledged.
"""
import json
import time
import unittest
import uuid

import billing_pay_util as pu
import billing_util as bu
import client as c


@unittest.skipUnless(bu.PG_URL, "FR_PG_URL not set (scripts/stack.sh env)")
class StripeWebhookTest(unittest.TestCase):
    def stripe_top_up(self, amount=1200):
        u = bu.BillingUser("hook")
        r = c.expect(pu.top_up(u, amount, gateway="Stripe"), 201).json
        self.assertEqual((r["status"], r["redirect_url"]), ("Pending", None))
        return u, r["payment_id"]

    def assert_untouched(self, u, pid):
        self.assertEqual(pu.payment(u, pid)["status"], "Pending")
        self.assertEqual(u.balance()["balance_minor"], 0)
        self.assertEqual(pu.outbox_count("billing.payment.succeeded.v1", pid), 0)

    def test_valid_event_settles_once(self):
        u, pid = self.stripe_top_up()
        body = pu.stripe_event(pid, amount=1200)
        r = c.expect(pu.stripe_post(body, pu.stripe_sign(body)), 200).json
        self.assertEqual(r, {"received": True, "duplicate": False, "payment_id": pid,
                             "status": "Succeeded"})
        p = pu.payment(u, pid)
        self.assertEqual(p["status"], "Succeeded")
        self.assertEqual(p["provider_ref"], json.loads(body)["data"]["object"]["id"])
        self.assertEqual(u.balance()["balance_minor"], 1200)
        self.assertEqual(pu.outbox_count("billing.payment.succeeded.v1", pid), 1)

    def test_tampered_body_is_refused(self):
        u, pid = self.stripe_top_up()
        body = pu.stripe_event(pid, amount=1200)
        sig = pu.stripe_sign(body)
        tampered = body.replace(b'"amount": 1200', b'"amount": 1201')
        self.assertNotEqual(tampered, body)
        c.expect(pu.stripe_post(tampered, sig), 400, "signature_invalid")
        self.assert_untouched(u, pid)

    def test_wrong_secret_is_refused(self):
        u, pid = self.stripe_top_up()
        body = pu.stripe_event(pid)
        c.expect(pu.stripe_post(body, pu.stripe_sign(body, secret="whsec_not_ours")), 400,
                 "signature_invalid")
        self.assert_untouched(u, pid)

    def test_stale_and_future_timestamps_are_refused(self):
        u, pid = self.stripe_top_up()
        body = pu.stripe_event(pid)
        now = int(time.time())
        c.expect(pu.stripe_post(body, pu.stripe_sign(body, t=now - 301 - 5)), 400,
                 "timestamp_out_of_window")
        c.expect(pu.stripe_post(body, pu.stripe_sign(body, t=now + 400)), 400,
                 "timestamp_out_of_window")
        self.assert_untouched(u, pid)

    def test_missing_and_malformed_headers_are_refused(self):
        u, pid = self.stripe_top_up()
        body = pu.stripe_event(pid)
        for sig in ("", "t=abc,v1=00", "v1=" + "0" * 64, "t=%d" % int(time.time())):
            c.expect(pu.stripe_post(body, sig), 400, "signature_invalid")
        c.expect(c.gw("POST", "/v1/payments/callback/stripe", raw=body), 400, "signature_invalid")
        # a well-signed body that is not an event
        junk = b'{"hello": "world"}'
        c.expect(pu.stripe_post(junk, pu.stripe_sign(junk)), 400, "invalid_event")
        self.assert_untouched(u, pid)

    def test_several_v1_any_one_matching(self):
        u, pid = self.stripe_top_up(300)
        body = pu.stripe_event(pid, amount=300)
        good = pu.stripe_sign(body)
        t, mac = good.split(",")
        sig = "%s,v1=%s,%s" % (t, "ab" * 32, mac)
        c.expect(pu.stripe_post(body, sig), 200)
        self.assertEqual(u.balance()["balance_minor"], 300)

    def test_replay_five_times_in_a_row(self):
        u, pid = self.stripe_top_up(500)
        body = pu.stripe_event(pid, amount=500)
        first = c.expect(pu.stripe_post(body, pu.stripe_sign(body)), 200).json
        self.assertFalse(first["duplicate"])
        for _ in range(4):
            r = c.expect(pu.stripe_post(body, pu.stripe_sign(body)), 200).json
            self.assertEqual((r["duplicate"], r["status"]), (True, "Succeeded"))
        self.assertEqual(u.balance()["balance_minor"], 500)
        self.assertEqual(len(pu.ledger_rows(u.user_id, pid)), 1)
        self.assertEqual(pu.outbox_count("billing.payment.succeeded.v1", pid), 1)

    def test_replay_five_times_at_once(self):
        u, pid = self.stripe_top_up(800)
        body = pu.stripe_event(pid, amount=800)
        sig = pu.stripe_sign(body)
        results = bu.parallel([lambda: pu.stripe_post(body, sig)] * 5)
        self.assertEqual({r.status for r in results}, {200})
        self.assertEqual(sorted(r.json["duplicate"] for r in results), [False] + [True] * 4)
        self.assertEqual(u.balance()["balance_minor"], 800)
        self.assertEqual(len(pu.ledger_rows(u.user_id, pid)), 1)
        self.assertEqual(pu.outbox_count("billing.payment.succeeded.v1", pid), 1)

    def test_distinct_events_for_one_payment_credit_once(self):
        u, pid = self.stripe_top_up(650)
        bodies = [pu.stripe_event(pid, amount=650) for _ in range(5)]
        results = bu.parallel([lambda b=b: pu.stripe_post(b, pu.stripe_sign(b)) for b in bodies])
        self.assertEqual({r.json["status"] for r in results}, {"Succeeded"})
        self.assertEqual(u.balance()["balance_minor"], 650)
        self.assertEqual(pu.outbox_count("billing.payment.succeeded.v1", pid), 1)

    def test_payment_failed_event_keeps_it_pending_and_a_retry_settles(self):
        u, pid = self.stripe_top_up()
        body = pu.stripe_event(pid, kind="failed")
        r = c.expect(pu.stripe_post(body, pu.stripe_sign(body)), 200).json
        self.assertEqual(r["status"], "Pending")
        p = pu.payment(u, pid)
        self.assertEqual((p["status"], p["failure_reason"]), ("Pending", "Your card was declined."))
        self.assertEqual(pu.outbox_count("billing.payment.failed.v1", pid), 0)
        # a second failed attempt changes nothing either
        again = pu.stripe_event(pid, kind="failed")
        self.assertEqual(c.expect(pu.stripe_post(again, pu.stripe_sign(again)), 200)
                         .json["status"], "Pending")
        # Stripe retried the card and it went through: charged, so credited
        late = pu.stripe_event(pid, amount=1200)
        self.assertEqual(c.expect(pu.stripe_post(late, pu.stripe_sign(late)), 200)
                         .json["status"], "Succeeded")
        self.assertEqual(u.balance()["balance_minor"], 1200)
        self.assertEqual(pu.outbox_count("billing.payment.succeeded.v1", pid), 1)
        self.assertEqual(pu.outbox_count("billing.payment.failed.v1", pid), 0)

    def test_wrong_amount_fails_instead_of_crediting(self):
        u, pid = self.stripe_top_up(1000)
        body = pu.stripe_event(pid, amount=1)
        r = c.expect(pu.stripe_post(body, pu.stripe_sign(body)), 200).json
        self.assertEqual(r["status"], "Failed")
        self.assertEqual(u.balance()["balance_minor"], 0)

    def test_other_types_acknowledged_and_unknown_payment_404(self):
        body = json.dumps({"id": "evt_" + uuid.uuid4().hex, "type": "charge.refunded"}).encode()
        r = c.expect(pu.stripe_post(body, pu.stripe_sign(body)), 200).json
        self.assertEqual((r["received"], r["payment_id"]), (True, None))
        body = pu.stripe_event(str(uuid.uuid4()))
        c.expect(pu.stripe_post(body, pu.stripe_sign(body)), 404, "payment_not_found")
        # a sandbox payment cannot be settled by a Stripe event
        u = bu.BillingUser("hook")
        sbx = c.expect(pu.top_up(u, 100), 201).json["payment_id"]
        body = pu.stripe_event(sbx)
        c.expect(pu.stripe_post(body, pu.stripe_sign(body)), 404, "payment_not_found")
        self.assertEqual(pu.payment(u, sbx)["status"], "Pending")


@unittest.skipUnless(bu.PG_URL, "FR_PG_URL not set (scripts/stack.sh env)")
class ZarinPalCallbackTest(unittest.TestCase):
    """No ZarinPal is reachable here: the Pending ZarinPal payment is written into the database
    the way a started checkout leaves it (provider_ref = the authority)."""

    def test_unverified_nok_changes_nothing(self):
        u = bu.BillingUser("zp")
        u.balance()  # opens the wallet
        authority = "A" + uuid.uuid4().hex[:30].upper()
        pid = bu.psql("INSERT INTO billing.payments (user_id, tenant_id, gateway, action,"
                      " amount_minor, original_amount_minor, currency, provider_ref, title)"
                      " VALUES ('%s', '%s', 'ZarinPal', 'TopUp', 5000, 5000, 'USD', '%s',"
                      " 'Balance top-up') RETURNING id"
                      % (uuid.UUID(u.user_id), uuid.UUID(u.tenant_id), authority))[0][0]
        r = c.expect(c.gw("GET", "/v1/payments/callback/zarinpal?Authority=%s&Status=NOK"
                          % authority), 302)
        self.assertIn("status=Pending", r.header("Location"))
        p = pu.payment(u, pid)
        self.assertEqual((p["status"], p["failed_at"]), ("Pending", None))
        self.assertEqual(pu.outbox_count("billing.payment.failed.v1", pid), 0)


if __name__ == "__main__":
    unittest.main()
