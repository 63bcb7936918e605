-- 0004_review_fixes.sql - corrections of the money functions of 0001/0002 after review
-- (services/billing/README.md "Payments", "Refunds"); 0001-0003 are applied and stay as they
-- are, the functions below replace theirs.
--
--   * hold_capture: the usage_daily shard is (hashtext(id) & 15); abs(INT_MIN) raised.
--   * stripe_webhook_apply: payment_intent.payment_failed records the failure on the payment
--     (failure_code / failure_reason) and leaves it Pending: Stripe retries the intent, and a
--     later signed payment_intent.succeeded must still settle it.
--   * payment_set_provider_ref / payment_claim_provider_ref: the provider's reference is set
--     once; a repeated start answers the one stored first.
--   * refund_issue: a top-up refunded to its original method takes its credit back (a
--     negative ledger row, 409 insufficient_balance when the available balance does not cover
--     it); a top-up can not be refunded to Balance (422 refund_target_invalid); Plan seconds
--     refunded against a payment never exceed the seconds that payment granted.

-- ---- holds ---------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hold_capture(p_hold uuid, p_used bigint, p_low_threshold bigint,
                                        OUT status integer, OUT body json, OUT events json)
LANGUAGE plpgsql AS $$
DECLARE
    h holds;
    plan_used bigint;
    charged bigint;
    l record;
BEGIN
    h := hold_lock(p_hold);
    IF h.id IS NULL THEN
        status := 404;
        body := op_error('hold_not_found', 'No such hold.');
        RETURN;
    ELSIF h.status <> 'Held' THEN
        status := 409;
        body := hold_not_held(h);
        RETURN;
    ELSIF p_used > h.seconds THEN
        status := 422;
        body := op_error('validation_failed', 'More seconds than reserved.',
                         json_build_array(json_build_object('field', 'seconds',
                             'issue', 'must be at most the reserved ' || h.seconds)));
        RETURN;
    END IF;
    plan_used := least(p_used, h.plan_seconds);
    charged := (p_used - plan_used) * h.second_price_minor;
    SELECT * INTO l FROM ledger_append(h.user_id, 'hold_capture', -charged, -plan_used, 'hold',
        h.id::text, 'hold:' || h.id, 'render ' || h.reference_type || ' ' || h.reference_id,
        -h.amount_minor, p_low_threshold);
    IF l.entry IS NULL THEN
        RAISE EXCEPTION 'hold % capture: wallet invariant broken', h.id;
    END IF;
    IF h.plan_seconds > 0 THEN
        UPDATE user_plans SET remain_charge_sec = remain_charge_sec - plan_used,
               held_seconds = held_seconds - h.plan_seconds,
               monthly_renders_used = monthly_renders_used + 1, updated_at = now()
         WHERE id = h.user_plan_id;
    END IF;
    UPDATE holds SET status = 'Captured', captured_seconds = p_used,
           captured_plan_seconds = plan_used, captured_amount_minor = charged, updated_at = now()
     WHERE id = h.id RETURNING * INTO h;
    INSERT INTO usage_daily AS u (tenant_id, day, shard, renders, render_seconds,
                                  amount_billed_minor)
    VALUES (h.tenant_id, (now() AT TIME ZONE 'UTC')::date, hashtext(h.id::text) & 15, 1,
            p_used, charged)
    ON CONFLICT (tenant_id, day, shard) DO UPDATE
       SET renders = u.renders + 1, render_seconds = u.render_seconds + p_used,
           amount_billed_minor = u.amount_billed_minor + charged;
    status := 200;
    body := hold_json(h);
    events := json_build_array(op_event('billing.hold.captured.v1', h.id::text,
        json_build_object('hold_id', h.id, 'tenant_id', h.tenant_id, 'user_id', h.user_id,
                          'reference_type', h.reference_type, 'reference_id', h.reference_id,
                          'used_seconds', p_used, 'captured_plan_seconds', plan_used,
                          'captured_balance_minor', charged,
                          'released_plan_seconds', h.plan_seconds - plan_used,
                          'released_balance_minor', h.amount_minor - charged,
                          'currency', h.currency, 'captured_at', iso(h.updated_at))));
    IF l.low IS NOT NULL THEN
        events := (events::jsonb || jsonb_build_array(l.low::jsonb))::json;
    END IF;
END
$$;

-- ---- Stripe: a failed attempt is not a failed payment ------------------------------------

-- Records a failed attempt on a Pending payment of gateway p_gateway (the payment stays
-- Pending, no event). body: {payment_id, status, changed: false}; 404 as payment_verdict.
CREATE FUNCTION payment_attempt_failed(p_payment uuid, p_gateway text, p_code text,
                                       p_message text, OUT status integer, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    p payments;
BEGIN
    p := payment_lock(p_payment);
    IF p.id IS NULL OR p.gateway <> p_gateway THEN
        status := 404;
        body := op_error('payment_not_found', 'No such payment for this provider.');
        RETURN;
    END IF;
    IF p.status = 'Pending' THEN
        UPDATE payments SET failure_code = coalesce(p_code, failure_code),
               failure_reason = coalesce(left(p_message, 500), failure_reason),
               updated_at = now()
         WHERE id = p.id;
    END IF;
    status := 200;
    body := json_build_object('payment_id', p.id, 'status', p.status, 'changed', false);
END
$$;

CREATE OR REPLACE FUNCTION stripe_webhook_apply(p_event_id text, p_type text, p_kind text,
                                                p_payment uuid, p_object_id text,
                                                p_amount bigint, p_currency text, p_code text,
                                                p_message text, p_low_threshold bigint,
                                                OUT status integer, OUT body json,
                                                OUT events json)
LANGUAGE plpgsql AS $$
DECLARE
    v record;
BEGIN
    INSERT INTO webhook_events (provider, event_id, event_type, payment_id)
    VALUES ('stripe', p_event_id, p_type, p_payment) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        status := 200;
        body := json_build_object('received', true, 'duplicate', true,
                                  'payment_id', p_payment,
                                  'status', (SELECT payments.status FROM payments
                                              WHERE id = p_payment));
        RETURN;
    END IF;
    IF p_kind = 'other' THEN
        status := 200;
        body := json_build_object('received', true, 'duplicate', false, 'payment_id', NULL,
                                  'status', NULL);
        RETURN;
    END IF;
    IF p_kind = 'failed' THEN
        SELECT a.status, a.body, NULL::json AS events INTO v
          FROM payment_attempt_failed(p_payment, 'Stripe', p_code, p_message) a;
    ELSE
        SELECT * INTO v FROM payment_verdict(p_payment, 'Stripe', true, NULL, NULL,
            nullif(p_object_id, ''), p_amount, nullif(p_currency, ''), p_low_threshold);
    END IF;
    status := v.status;
    IF v.status >= 400 THEN
        body := v.body;
        RETURN;
    END IF;
    body := json_build_object('received', true, 'duplicate', false, 'payment_id', p_payment,
                              'status', v.body->>'status');
    events := v.events;
END
$$;

-- ---- the provider's reference: set once --------------------------------------------------

CREATE OR REPLACE FUNCTION payment_set_provider_ref(p_payment uuid, p_ref text) RETURNS void
LANGUAGE sql AS $$
    UPDATE payments SET provider_ref = p_ref, updated_at = now()
     WHERE id = p_payment AND status = 'Pending' AND provider_ref IS NULL
$$;

-- Sets the reference of a Pending payment that has none yet and returns the reference in
-- force: p_ref, or the one a concurrent start stored first (NULL when the payment is gone).
CREATE FUNCTION payment_claim_provider_ref(p_payment uuid, p_ref text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    ref text;
BEGIN
    UPDATE payments SET provider_ref = p_ref, updated_at = now()
     WHERE id = p_payment AND status = 'Pending' AND provider_ref IS NULL
    RETURNING provider_ref INTO ref;
    IF ref IS NULL THEN
        SELECT provider_ref INTO ref FROM payments WHERE id = p_payment;
    END IF;
    RETURN ref;
END
$$;

-- ---- refunds -------------------------------------------------------------------------------

-- The credit a refund of p_amount (money paid) takes back from top-up p: the share of the
-- credited original_amount_minor (a top-up discount is credited in full), rounded up, so
-- that refunding everything paid takes back everything credited.
CREATE FUNCTION refund_topup_debit(p payments, p_amount bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p.amount_minor <= 0 THEN 0 ELSE
        ceil(((p.refunded_minor + p_amount)::numeric * p.original_amount_minor)
             / p.amount_minor)::bigint
        - ceil((p.refunded_minor::numeric * p.original_amount_minor) / p.amount_minor)::bigint
    END
$$;

-- The seconds payment p granted (its 'payment:<id>' ledger row) minus those already given
-- back to a plan against it.
CREATE FUNCTION refund_plan_seconds_left(p payments) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT l.seconds FROM ledger_entries l
                      WHERE l.user_id = p.user_id AND l.idempotency_key = 'payment:' || p.id),
                    0)
         - coalesce((SELECT sum(r.seconds) FROM refunds r
                      WHERE r.payment_id = p.id AND r.refund_to = 'Plan'), 0)
$$;

-- An internal refund (its idempotency record is op.c's): to Balance (a credit), to Plan
-- (seconds back on the active plan; with a payment at most the seconds it granted), or to the
-- OriginalMethod (the adapter already refunded p_provider_ref; a Balance payment is credited
-- back, a top-up's credit is taken back). With a payment, the amount defaults to what is left
-- and may never exceed it; a top-up is refunded only to its original method.
-- body: {refund_id, status, refund_to, payment_id, amount_minor, seconds, ledger_entry}.
CREATE OR REPLACE FUNCTION refund_issue(p_payment uuid, p_user uuid, p_tenant uuid,
                                        p_amount bigint, p_seconds bigint, p_reason text,
                                        p_to text, p_provider_ref text, p_key text,
                                        p_low_threshold bigint,
                                        OUT status integer, OUT body json, OUT events json)
LANGUAGE plpgsql AS $$
DECLARE
    p payments;
    w wallets;
    up user_plans;
    r refunds;
    l record;
    entry json;
    amount bigint := coalesce(p_amount, 0);
    secs bigint := coalesce(p_seconds, 0);
    credit bigint := 0;
BEGIN
    IF p_payment IS NOT NULL THEN
        p := payment_lock(p_payment);
        IF p.id IS NULL OR (p_user IS NOT NULL AND p.user_id <> p_user) THEN
            status := 404;
            body := op_error('payment_not_found', 'No such payment.');
            RETURN;
        ELSIF p.status NOT IN ('Succeeded', 'PartiallyRefunded') THEN
            status := 409;
            body := op_error('payment_not_refundable', 'Only a paid payment can be refunded.',
                             json_build_object('status', p.status));
            RETURN;
        ELSIF p.action = 'TopUp' AND p_to = 'Balance' THEN
            status := 422;
            body := op_error('refund_target_invalid',
                             'A top-up is refunded only to its original method.',
                             json_build_object('action', p.action, 'refund_to', p_to));
            RETURN;
        END IF;
        p_user := p.user_id;
        p_tenant := p.tenant_id;
        IF p_to <> 'Plan' AND p_amount IS NULL THEN
            amount := p.amount_minor - p.refunded_minor;
        END IF;
        IF amount > p.amount_minor - p.refunded_minor THEN
            status := 409;
            body := op_error('refund_exceeds_payment',
                             'Refunds of this payment would exceed what it paid.',
                             json_build_object('requested', amount,
                                               'refundable', p.amount_minor - p.refunded_minor));
            RETURN;
        END IF;
        IF p_to = 'Plan' AND secs > refund_plan_seconds_left(p) THEN
            status := 409;
            body := op_error('refund_exceeds_payment',
                             'Plan seconds refunded against this payment would exceed what it granted.',
                             json_build_object('requested_seconds', secs,
                                               'refundable_seconds',
                                               greatest(refund_plan_seconds_left(p), 0)));
            RETURN;
        END IF;
    END IF;
    w := wallet_lock(p_user, NULL, NULL);
    IF w.user_id IS NULL OR w.tenant_id <> p_tenant THEN
        status := 404;
        body := op_error('wallet_not_found', 'The user has no wallet in this tenant.');
        RETURN;
    END IF;
    IF p_to = 'Plan' THEN
        up := user_plan_current(p_user);
        IF up.id IS NULL THEN
            status := 409;
            body := op_error('no_active_plan', 'The user has no active plan to refund to.');
            RETURN;
        END IF;
        UPDATE user_plans SET remain_charge_sec = remain_charge_sec + secs, updated_at = now()
         WHERE id = up.id;
    ELSIF p.action = 'TopUp' THEN
        credit := -refund_topup_debit(p, amount);
        IF -credit > w.balance_minor - w.held_minor THEN
            status := 409;
            body := op_error('insufficient_balance',
                             'The balance no longer holds the credit this refund takes back.',
                             json_build_object('required', -credit,
                                               'available', w.balance_minor - w.held_minor));
            RETURN;
        END IF;
    ELSIF p_to = 'Balance' OR p.gateway = 'Balance' THEN
        credit := amount;
    END IF;
    IF amount <= 0 AND secs <= 0 THEN
        status := 422;
        body := op_error('validation_failed', 'Nothing to refund.',
                         json_build_array(json_build_object('field',
                             CASE p_to WHEN 'Plan' THEN 'seconds' ELSE 'amount_minor' END,
                             'issue', 'must be greater than 0')));
        RETURN;
    END IF;
    INSERT INTO refunds (payment_id, user_id, tenant_id, refund_to, amount_minor, seconds,
                         reason, provider_ref, idempotency_key)
    VALUES (p_payment, p_user, p_tenant, p_to, CASE WHEN p_to = 'Plan' THEN 0 ELSE amount END,
            CASE WHEN p_to = 'Plan' THEN secs ELSE 0 END, p_reason, p_provider_ref, p_key)
    RETURNING * INTO r;
    IF p.id IS NOT NULL AND p_to <> 'Plan' THEN
        UPDATE payments SET refunded_minor = refunded_minor + amount, updated_at = now(),
               status = CASE WHEN refunded_minor + amount = amount_minor THEN 'Refunded'
                             ELSE 'PartiallyRefunded' END
         WHERE id = p.id;
    END IF;
    events := '[]';
    IF credit <> 0 OR p_to = 'Plan' THEN
        SELECT * INTO l FROM ledger_append(p_user, 'refund', credit,
            CASE WHEN p_to = 'Plan' THEN secs ELSE 0 END, 'refund', r.id::text,
            'refund:' || r.id, p_reason, 0, p_low_threshold);
        IF l.entry IS NULL THEN
            RAISE EXCEPTION 'refund %: ledger refused the row', r.id;
        END IF;
        entry := l.entry;
        IF l.low IS NOT NULL THEN
            events := json_build_array(l.low);
        END IF;
    END IF;
    status := 200;
    body := json_build_object('refund_id', r.id, 'status', r.status, 'refund_to', r.refund_to,
                              'payment_id', r.payment_id, 'amount_minor', r.amount_minor,
                              'seconds', r.seconds, 'ledger_entry', entry);
END
$$;
