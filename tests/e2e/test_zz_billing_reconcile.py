"""test_zz_billing_reconcile.py - sorts last in the suite: after every other test moved money
(concurrent reserves, races, crashes, payments, refunds), scripts/billing-reconcile.sh runs
scripts/billing-reconcile.sql through psql on the stack's database (FR_PG_URL) and must find
nothing: balances equal the sum of their ledgers, the balance_after chain holds, held amounts
equal the open holds, captured <= reserved with exactly one ledger row per capture, no Held
hold is past its expiry (60 s grace), no negative balance, no unfinished idempotency record,
paid payments have their one payment:<id> ledger row (unpaid ones none), refunded_minor equals
the money refunds, discounts within their use limits, usage_daily equals the captures, ledger
rows in their wallet's tenant and currency.
"""
import os
import subprocess
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RUNNER = os.path.join(ROOT, "scripts", "billing-reconcile.sh")


@unittest.skipUnless(os.environ.get("FR_PG_URL"), "FR_PG_URL not set")
class TestZzBillingReconcile(unittest.TestCase):
    def test_the_books_balance(self):
        r = subprocess.run([RUNNER], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("billing-reconcile: ok", r.stdout)


if __name__ == "__main__":
    unittest.main()
