-- billing-reconcile.sql - the billing ledger's invariants, checked on the live database.
--
-- One row per violation: (check, subject, detail). No row = the books balance. Read-only;
-- run by scripts/billing-reconcile.sh (psql with FR_PG_URL) and, last in the end-to-end
-- suite, by tests/e2e/test_zz_billing_reconcile.py. HOLD_GRACE: a Held hold may outlive its
-- expires_at by up to 60 s (the sweep runs every BILLING_SWEEP_INTERVAL_MS).
\set ON_ERROR_STOP on
SET search_path = billing;
SET TRANSACTION READ ONLY;

WITH ledger_sum AS (
    SELECT user_id, sum(amount_minor) AS total FROM ledger_entries GROUP BY user_id
), chain AS (
    SELECT user_id, id, balance_after,
           sum(amount_minor) OVER (PARTITION BY user_id ORDER BY seq) AS running
      FROM ledger_entries
), held AS (
    SELECT user_id, sum(amount_minor) AS total FROM holds WHERE status = 'Held' GROUP BY user_id
), plan_held AS (
    SELECT user_plan_id, sum(plan_seconds) AS total FROM holds
     WHERE status = 'Held' AND user_plan_id IS NOT NULL GROUP BY user_plan_id
), capture_rows AS (
    SELECT reference_id, count(*) AS n, sum(amount_minor) AS amount, sum(seconds) AS seconds
      FROM ledger_entries WHERE kind = 'hold_capture' GROUP BY reference_id
)
SELECT 'balance_equals_ledger' AS check, w.user_id::text AS subject,
       format('balance %s, ledger sum %s', w.balance_minor, coalesce(l.total, 0)) AS detail
  FROM wallets w LEFT JOIN ledger_sum l ON l.user_id = w.user_id
 WHERE w.balance_minor <> coalesce(l.total, 0)
UNION ALL
SELECT 'ledger_without_wallet', l.user_id::text, format('ledger sum %s', l.total)
  FROM ledger_sum l LEFT JOIN wallets w ON w.user_id = l.user_id WHERE w.user_id IS NULL
UNION ALL
SELECT 'balance_after_chain', c.id::text,
       format('balance_after %s, running sum %s', c.balance_after, c.running)
  FROM chain c WHERE c.balance_after <> c.running
UNION ALL
SELECT 'no_negative_balance', w.user_id::text,
       format('balance %s, held %s', w.balance_minor, w.held_minor)
  FROM wallets w WHERE w.balance_minor < 0 OR w.held_minor < 0 OR w.held_minor > w.balance_minor
UNION ALL
SELECT 'held_equals_open_holds', w.user_id::text,
       format('held %s, open holds %s', w.held_minor, coalesce(h.total, 0))
  FROM wallets w LEFT JOIN held h ON h.user_id = w.user_id
 WHERE w.held_minor <> coalesce(h.total, 0)
UNION ALL
SELECT 'plan_held_equals_open_holds', up.id::text,
       format('held_seconds %s, open holds %s', up.held_seconds, coalesce(p.total, 0))
  FROM user_plans up LEFT JOIN plan_held p ON p.user_plan_id = up.id
 WHERE up.held_seconds <> coalesce(p.total, 0) OR up.remain_charge_sec < up.held_seconds
UNION ALL
SELECT 'captured_le_reserved', h.id::text,
       format('seconds %s/%s, plan %s/%s, amount %s/%s', h.captured_seconds, h.seconds,
              h.captured_plan_seconds, h.plan_seconds, h.captured_amount_minor, h.amount_minor)
  FROM holds h
 WHERE h.captured_seconds > h.seconds OR h.captured_plan_seconds > h.plan_seconds
    OR h.captured_amount_minor > h.amount_minor
    OR (h.status <> 'Captured' AND (h.captured_seconds, h.captured_plan_seconds,
                                     h.captured_amount_minor) <> (0, 0, 0))
UNION ALL
SELECT 'capture_has_one_ledger_row', h.id::text,
       format('%s rows, amount %s (captured %s), seconds %s (plan %s)', coalesce(r.n, 0),
              r.amount, h.captured_amount_minor, r.seconds, h.captured_plan_seconds)
  FROM holds h LEFT JOIN capture_rows r ON r.reference_id = h.id::text
 WHERE h.status = 'Captured'
   AND (r.n IS DISTINCT FROM 1 OR r.amount <> -h.captured_amount_minor
        OR r.seconds <> -h.captured_plan_seconds)
UNION ALL
SELECT 'capture_row_without_captured_hold', r.reference_id, format('%s rows', r.n)
  FROM capture_rows r LEFT JOIN holds h ON h.id::text = r.reference_id AND h.status = 'Captured'
 WHERE h.id IS NULL
UNION ALL
SELECT 'no_held_hold_past_expiry', h.id::text, format('expired at %s', h.expires_at)
  FROM holds h WHERE h.status = 'Held' AND h.expires_at < now() - interval '60 seconds'
UNION ALL
SELECT 'idempotency_record_finished', k.scope || ' ' || k.key, 'no stored result'
  FROM idempotency_keys k WHERE k.status_code IS NULL OR k.response IS NULL
ORDER BY 1, 2;
