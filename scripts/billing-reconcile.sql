-- billing-reconcile.sql - the billing ledger's invariants, checked on the live database.
--
-- One row per violation: (check, subject, detail). No row = the books balance. Read-only:
-- the whole script is one READ ONLY transaction (one snapshot for every check); run by
-- scripts/billing-reconcile.sh (psql with FR_PG_URL) and, last in the end-to-end suite, by
-- tests/e2e/test_zz_billing_reconcile.py. HOLD_GRACE: a Held hold may outlive its
-- expires_at by up to 60 s (the sweep runs every BILLING_SWEEP_INTERVAL_MS).
\set ON_ERROR_STOP on
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SET LOCAL search_path = billing;

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
), payment_rows AS (
    -- the settlement row of each payment ('payment:<id>'; a TopUp is credited its original
    -- amount, a Balance purchase is debited what it paid, any other purchase moves no money)
    SELECT p.id, p.status, p.action, p.gateway,
           CASE WHEN p.action = 'TopUp' THEN p.original_amount_minor
                WHEN p.gateway = 'Balance' THEN -p.amount_minor ELSE 0 END AS expected,
           count(l.id) AS n, sum(l.amount_minor) AS amount
      FROM payments p
      LEFT JOIN ledger_entries l ON l.user_id = p.user_id
                                AND l.idempotency_key = 'payment:' || p.id
     GROUP BY p.id
), money_refunds AS (
    SELECT payment_id, sum(amount_minor) AS total FROM refunds
     WHERE payment_id IS NOT NULL AND refund_to <> 'Plan' GROUP BY payment_id
), redemptions AS (
    -- the redemptions that count: their payment has not failed
    SELECT r.discount_id, r.user_id FROM discount_redemptions r
      JOIN payments p ON p.id = r.payment_id WHERE p.status <> 'Failed'
), captured_daily AS (
    SELECT tenant_id, (updated_at AT TIME ZONE 'UTC')::date AS day, count(*) AS renders,
           sum(captured_seconds) AS seconds, sum(captured_amount_minor) AS amount
      FROM holds WHERE status = 'Captured' GROUP BY 1, 2
), usage_days AS (
    SELECT tenant_id, day, sum(renders) AS renders, sum(render_seconds) AS seconds,
           sum(amount_billed_minor) AS amount
      FROM usage_daily GROUP BY 1, 2
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
UNION ALL
SELECT 'paid_payment_has_its_ledger_row', r.id::text,
       format('%s %s %s: %s rows, amount %s, expected %s', r.status, r.action, r.gateway, r.n,
              r.amount, r.expected)
  FROM payment_rows r
 WHERE r.status IN ('Succeeded', 'Refunded', 'PartiallyRefunded')
   AND (r.n <> 1 OR r.amount <> r.expected)
UNION ALL
SELECT 'unpaid_payment_has_no_ledger_row', r.id::text,
       format('%s %s: %s rows', r.status, r.action, r.n)
  FROM payment_rows r WHERE r.status IN ('Pending', 'Failed') AND r.n <> 0
UNION ALL
SELECT 'refunded_equals_money_refunds', p.id::text,
       format('refunded_minor %s, refunds %s', p.refunded_minor, coalesce(m.total, 0))
  FROM payments p LEFT JOIN money_refunds m ON m.payment_id = p.id
 WHERE p.refunded_minor <> coalesce(m.total, 0)
UNION ALL
SELECT 'discount_within_max_use_count', d.id::text,
       format('%s uses, max_use_count %s', count(*), d.max_use_count)
  FROM discounts d JOIN redemptions r ON r.discount_id = d.id
 WHERE d.max_use_count IS NOT NULL
 GROUP BY d.id HAVING count(*) > d.max_use_count
UNION ALL
SELECT 'discount_within_per_user_limit', d.id::text || ' ' || r.user_id::text,
       format('%s uses, per_user_limit %s', count(*), d.per_user_limit)
  FROM discounts d JOIN redemptions r ON r.discount_id = d.id
 WHERE d.per_user_limit IS NOT NULL
 GROUP BY d.id, r.user_id HAVING count(*) > d.per_user_limit
UNION ALL
SELECT 'usage_daily_equals_captures', coalesce(c.tenant_id, u.tenant_id)::text || ' '
           || coalesce(c.day, u.day)::text,
       format('usage renders %s seconds %s amount %s; captured %s / %s / %s', u.renders,
              u.seconds, u.amount, c.renders, c.seconds, c.amount)
  FROM captured_daily c FULL JOIN usage_days u ON u.tenant_id = c.tenant_id AND u.day = c.day
 WHERE (c.renders, c.seconds, c.amount) IS DISTINCT FROM (u.renders, u.seconds, u.amount)
UNION ALL
SELECT 'ledger_matches_wallet', l.id::text,
       format('row tenant %s %s, wallet tenant %s %s', l.tenant_id, l.currency, w.tenant_id,
              w.currency)
  FROM ledger_entries l JOIN wallets w ON w.user_id = l.user_id
 WHERE l.tenant_id <> w.tenant_id OR l.currency <> w.currency
ORDER BY 1, 2;
COMMIT;
