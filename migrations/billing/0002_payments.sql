-- 0002_payments.sql - payments, discounts (promo codes) and their redemptions, refunds, and
-- the provider callbacks already applied (webhook_events); the op functions of
-- services/billing's payment routes (pay_*.c, discount_*.c, refund_*.c).
--
-- Money rules held here (README "Payments"):
--   * a Pending payment succeeds or fails ONCE (UPDATE ... WHERE status = 'Pending' under the
--     wallet lock); success credits the balance (TopUp) or activates the plan (PlanPurchase)
--     with one ledger row keyed 'payment:<id>' and its billing.payment.succeeded.v1 event;
--   * a discount is redeemed when the payment is created (discount_redemptions), counted
--     against max_use_count / per_user_limit under the discount's row lock for every payment
--     that has not failed;
--   * refunds of one payment never exceed what it paid (payments.refunded_minor CHECK);
--   * a provider event id is applied once (webhook_events primary key).
-- The discount arithmetic itself is C (services/billing/src/discount.c, unit-tested); these
-- functions re-check only the use counts under the lock and store the result.

CREATE TABLE discounts (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    code                text NOT NULL CHECK (code ~ '^[A-Za-z0-9_-]{3,40}$'),
    kind                text NOT NULL CHECK (kind IN ('Percentage', 'FixedAmount', 'FreeMonths',
                                                      'RenderCredits')),
    value               bigint NOT NULL CHECK (value > 0),
    max_use_count       integer CHECK (max_use_count > 0),      -- NULL = unlimited
    per_user_limit      integer CHECK (per_user_limit > 0),     -- NULL = unlimited
    applies_to_plan_ids uuid[] NOT NULL DEFAULT '{}',           -- empty = every purchase
    starts_at           timestamptz,
    expires_at          timestamptz,
    created_by          uuid,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'Percentage' OR value <= 100),
    CHECK (starts_at IS NULL OR expires_at IS NULL OR starts_at < expires_at)
);
-- codes are matched case-insensitively
CREATE UNIQUE INDEX discounts_code_idx ON discounts (lower(code));

CREATE TABLE payments (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id               uuid NOT NULL REFERENCES wallets (user_id),
    tenant_id             uuid NOT NULL,
    gateway               text NOT NULL CHECK (gateway IN ('Sandbox', 'Stripe', 'ZarinPal',
                                                           'Balance')),
    status                text NOT NULL DEFAULT 'Pending'
                          CHECK (status IN ('Pending', 'Succeeded', 'Failed', 'Refunded',
                                            'PartiallyRefunded')),
    action                text NOT NULL CHECK (action IN ('PlanPurchase', 'TopUp')),
    amount_minor          bigint NOT NULL CHECK (amount_minor >= 0),  -- after the discount
    original_amount_minor bigint NOT NULL CHECK (original_amount_minor >= 0),
    discount_id           uuid REFERENCES discounts (id),
    discount_minor        bigint NOT NULL DEFAULT 0 CHECK (discount_minor >= 0),
    free_months           integer NOT NULL DEFAULT 0 CHECK (free_months >= 0),
    render_seconds        bigint NOT NULL DEFAULT 0 CHECK (render_seconds >= 0),
    currency              text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    plan_id               uuid REFERENCES plans (id),
    auto_renew            boolean NOT NULL DEFAULT false,
    provider_ref          text CHECK (length(provider_ref) <= 128),
    title                 text NOT NULL CHECK (length(title) <= 200),
    description           text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    refunded_minor        bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    idempotency_key       text CHECK (length(idempotency_key) <= 200),
    request_hash          text CHECK (request_hash ~ '^[0-9a-f]{64}$'),
    confirmed_at          timestamptz,
    failed_at             timestamptz,
    failure_code          text CHECK (failure_code ~ '^[a-z][a-z0-9_]{0,63}$'),
    failure_reason        text CHECK (length(failure_reason) <= 500),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (amount_minor = original_amount_minor - discount_minor),
    CHECK ((action = 'PlanPurchase') = (plan_id IS NOT NULL)),
    CHECK (refunded_minor <= amount_minor),
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX payments_user_idx ON payments (user_id, created_at DESC, id);
CREATE UNIQUE INDEX payments_provider_ref_idx ON payments (gateway, provider_ref)
    WHERE provider_ref IS NOT NULL;

CREATE TABLE discount_redemptions (
    discount_id uuid NOT NULL REFERENCES discounts (id),
    user_id     uuid NOT NULL,
    payment_id  uuid NOT NULL UNIQUE REFERENCES payments (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (discount_id, payment_id)
);
CREATE INDEX discount_redemptions_user_idx ON discount_redemptions (discount_id, user_id);

CREATE TABLE refunds (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    payment_id      uuid REFERENCES payments (id),
    user_id         uuid NOT NULL REFERENCES wallets (user_id),
    tenant_id       uuid NOT NULL,
    refund_to       text NOT NULL CHECK (refund_to IN ('Balance', 'OriginalMethod', 'Plan')),
    status          text NOT NULL DEFAULT 'Succeeded' CHECK (status IN ('Succeeded')),
    amount_minor    bigint NOT NULL DEFAULT 0 CHECK (amount_minor >= 0),
    seconds         bigint NOT NULL DEFAULT 0 CHECK (seconds >= 0),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    provider_ref    text CHECK (length(provider_ref) <= 128),
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (amount_minor > 0 OR seconds > 0)
);
CREATE INDEX refunds_payment_idx ON refunds (payment_id);

-- Provider callbacks already applied, by the provider's own event id (replays are no-ops).
CREATE TABLE webhook_events (
    provider    text NOT NULL CHECK (provider IN ('stripe')),
    event_id    text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 255),
    event_type  text NOT NULL CHECK (length(event_type) <= 128),
    payment_id  uuid,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);

-- ---- JSON renderings -----------------------------------------------------------------------

CREATE FUNCTION payment_json(p payments) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', p.id, 'gateway', p.gateway, 'status', p.status, 'action', p.action,
        'amount_minor', p.amount_minor, 'original_amount_minor', p.original_amount_minor,
        'discount_minor', p.discount_minor,
        'discount_code', (SELECT d.code FROM discounts d WHERE d.id = p.discount_id),
        'currency', p.currency, 'plan_id', p.plan_id, 'title', p.title,
        'description', p.description, 'provider_ref', p.provider_ref,
        'refunded_minor', p.refunded_minor, 'confirmed_at', iso(p.confirmed_at),
        'failed_at', iso(p.failed_at), 'failure_reason', p.failure_reason,
        'created_at', iso(p.created_at))
$$;

CREATE FUNCTION discount_json(d discounts) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', d.id, 'name', d.name, 'code', d.code, 'kind', d.kind, 'value', d.value,
        'max_use_count', d.max_use_count, 'per_user_limit', d.per_user_limit,
        'use_count', (SELECT count(*) FROM discount_redemptions r JOIN payments p
                        ON p.id = r.payment_id
                       WHERE r.discount_id = d.id AND p.status <> 'Failed'),
        'applies_to_plan_ids', to_json(d.applies_to_plan_ids),
        'starts_at', iso(d.starts_at), 'expires_at', iso(d.expires_at),
        'created_at', iso(d.created_at))
$$;

-- The start answer of a purchase / top-up, plus the fields the C side needs to build the
-- provider's redirect (prefixed "_", removed before the reply).
CREATE FUNCTION payment_start_json(p payments, user_plan json, replayed boolean) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'payment_id', p.id, 'status', p.status, 'redirect_url', NULL, 'user_plan', user_plan,
        '_gateway', p.gateway, '_provider_ref', p.provider_ref, '_amount', p.amount_minor,
        '_title', p.title, '_replayed', replayed)
$$;

-- ---- discounts -----------------------------------------------------------------------------

-- Redemptions of discount d that count (their payment has not failed): all, and p_user's.
CREATE FUNCTION discount_uses(p_discount uuid, p_user uuid, OUT uses bigint, OUT user_uses bigint)
LANGUAGE sql STABLE AS $$
    SELECT count(*), count(*) FILTER (WHERE r.user_id = p_user)
      FROM discount_redemptions r JOIN payments p ON p.id = r.payment_id
     WHERE r.discount_id = p_discount AND p.status <> 'Failed'
$$;

-- What discount.c needs to judge code p_code for p_user buying p_plan (NULL = a top-up): one
-- row, none when no code matches. Times are Unix seconds (0 = none). Not locked: the
-- purchase re-checks the use counts under the row lock (payment_create).
CREATE FUNCTION discount_state(p_code text, p_user uuid, p_plan uuid)
RETURNS TABLE (discount_id uuid, kind text, value bigint, starts_s bigint, expires_s bigint,
               max_use_count integer, uses bigint, per_user_limit integer, user_uses bigint,
               plan_restricted boolean, plan_listed boolean, now_s bigint)
LANGUAGE sql STABLE AS $$
    SELECT d.id, d.kind, d.value, coalesce(extract(epoch FROM d.starts_at)::bigint, 0),
           coalesce(extract(epoch FROM d.expires_at)::bigint, 0), d.max_use_count, u.uses,
           d.per_user_limit, u.user_uses, cardinality(d.applies_to_plan_ids) > 0,
           p_plan IS NOT NULL AND p_plan = ANY (d.applies_to_plan_ids),
           extract(epoch FROM now())::bigint
      FROM discounts d CROSS JOIN LATERAL discount_uses(d.id, p_user) u
     WHERE lower(d.code) = lower(p_code)
$$;

CREATE FUNCTION discount_create(p_body json, p_admin uuid,
                                OUT status integer, OUT body json, OUT events json)
LANGUAGE plpgsql AS $$
DECLARE
    d discounts;
BEGIN
    INSERT INTO discounts (name, code, kind, value, max_use_count, per_user_limit,
                           applies_to_plan_ids, starts_at, expires_at, created_by)
    VALUES (p_body->>'name', p_body->>'code', p_body->>'kind', (p_body->>'value')::bigint,
            (p_body->>'max_use_count')::integer, (p_body->>'per_user_limit')::integer,
            coalesce(ARRAY(SELECT json_array_elements_text(p_body->'applies_to_plan_ids'))::uuid[],
                     '{}'),
            (p_body->>'starts_at')::timestamptz, (p_body->>'expires_at')::timestamptz, p_admin)
    ON CONFLICT (lower(code)) DO NOTHING
    RETURNING * INTO d;
    IF d.id IS NULL THEN
        status := 409;
        body := op_error('discount_code_taken', 'Another discount has this code.');
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(d.applies_to_plan_ids) x
                WHERE NOT EXISTS (SELECT 1 FROM plans WHERE plans.id = x)) THEN
        status := 422;
        body := op_error('validation_failed', 'Unknown plan in applies_to_plan_ids.',
                         json_build_array(json_build_object('field', 'applies_to_plan_ids',
                                                            'issue', 'names an unknown plan')));
        RETURN; -- the caller rolls back
    END IF;
    status := 201;
    body := discount_json(d);
    events := '[]';
END
$$;

-- ---- payments: success and failure, exactly once ---------------------------------------------

CREATE FUNCTION payment_provider_slug(gateway text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT lower(gateway)
$$;

-- Locks the payment's wallet, then the payment. NULL fields when it does not exist.
CREATE FUNCTION payment_lock(p_payment uuid) RETURNS payments LANGUAGE plpgsql AS $$
DECLARE
    p payments;
BEGIN
    SELECT * INTO p FROM payments WHERE id = p_payment;
    IF NOT FOUND THEN
        RETURN p;
    END IF;
    PERFORM wallet_lock(p.user_id, NULL, NULL);
    SELECT * INTO p FROM payments WHERE id = p_payment FOR UPDATE;
    RETURN p;
END
$$;

-- Settles a locked Pending payment as paid: the credit or the plan, ONE ledger row
-- ('payment:<id>'; a Balance payment is the debit), the payment Succeeded, its event (and a
-- low-balance event when the debit crossed the threshold). Returns the events and the
-- activated UserPlan (NULL for a top-up). Raises when the balance does not cover a Balance
-- payment: callers check that first (payment_create answers 402).
CREATE FUNCTION payment_settle(p payments, p_provider_ref text, p_low_threshold bigint,
                               OUT events json, OUT user_plan json, OUT settled payments)
LANGUAGE plpgsql AS $$
DECLARE
    l record;
    amount bigint := 0;
    kind text := 'top_up';
    secs bigint := 0;
    balance_after bigint;
BEGIN
    IF p.action = 'TopUp' THEN
        amount := p.original_amount_minor; -- a top-up discount is paid less, credited in full
    ELSE
        kind := 'purchase';
        user_plan := user_plan_activate(p.user_id, p.tenant_id, p.plan_id, p.render_seconds,
                                        p.free_months, p.auto_renew);
        secs := (SELECT seconds_charge FROM plans WHERE id = p.plan_id) + p.render_seconds;
        IF p.gateway = 'Balance' THEN
            amount := -p.amount_minor;
        END IF;
    END IF;
    SELECT * INTO l FROM ledger_append(p.user_id, kind, amount, secs, 'payment', p.id::text,
        'payment:' || p.id, p.title, 0, p_low_threshold);
    IF l.entry IS NULL THEN
        RAISE EXCEPTION 'payment % settle: the balance does not cover it', p.id;
    END IF;
    balance_after := (l.entry->>'balance_after')::bigint;
    UPDATE payments SET status = 'Succeeded', confirmed_at = now(), updated_at = now(),
           provider_ref = coalesce(p_provider_ref, provider_ref)
     WHERE id = p.id AND status = 'Pending' RETURNING * INTO settled;
    IF settled.id IS NULL THEN
        RAISE EXCEPTION 'payment % settle: not pending', p.id;
    END IF;
    events := json_build_array(op_event('billing.payment.succeeded.v1', p.id::text,
        json_build_object('payment_id', p.id, 'tenant_id', p.tenant_id, 'user_id', p.user_id,
            'provider', payment_provider_slug(p.gateway),
            'action', CASE p.action WHEN 'TopUp' THEN 'balance_topup' ELSE 'plan_purchase' END,
            'plan_id', p.plan_id, 'amount_minor', p.amount_minor,
            'discount_minor', p.discount_minor, 'currency', p.currency,
            'provider_reference', settled.provider_ref,
            'balance_after_minor', CASE p.action WHEN 'TopUp' THEN balance_after END,
            'succeeded_at', iso(settled.confirmed_at))));
    IF l.low IS NOT NULL THEN
        events := (events::jsonb || jsonb_build_array(l.low::jsonb))::json;
    END IF;
END
$$;

-- Marks a locked Pending payment Failed (its discount redemption stops counting) and
-- returns its billing.payment.failed.v1 event.
CREATE FUNCTION payment_fail_locked(p payments, p_code text, p_message text,
                                    OUT events json, OUT failed payments)
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE payments SET status = 'Failed', failed_at = now(), updated_at = now(),
           failure_code = p_code, failure_reason = left(p_message, 500)
     WHERE id = p.id AND status = 'Pending' RETURNING * INTO failed;
    events := json_build_array(op_event('billing.payment.failed.v1', p.id::text,
        json_build_object('payment_id', p.id, 'tenant_id', p.tenant_id, 'user_id', p.user_id,
            'provider', payment_provider_slug(p.gateway),
            'action', CASE p.action WHEN 'TopUp' THEN 'balance_topup' ELSE 'plan_purchase' END,
            'plan_id', p.plan_id, 'amount_minor', p.amount_minor, 'currency', p.currency,
            'failure_code', p_code, 'failure_message', left(p_message, 500),
            'failed_at', iso(failed.failed_at))));
END
$$;

-- A provider's verdict on payment p_payment of gateway p_gateway: succeeded (p_ok) or failed
-- (p_code, p_message). Applied once: a payment that is no longer Pending answers 200 with its
-- current state and no event. p_amount / p_currency (may be NULL) are what the provider says
-- was paid: a mismatch fails the payment (verification_failed) instead of crediting it.
-- body: {payment_id, status, changed}.
CREATE FUNCTION payment_verdict(p_payment uuid, p_gateway text, p_ok boolean, p_code text,
                                p_message text, p_provider_ref text, p_amount bigint,
                                p_currency text, p_low_threshold bigint,
                                OUT status integer, OUT body json, OUT events json)
LANGUAGE plpgsql AS $$
DECLARE
    p payments;
    s record;
    changed boolean := false;
BEGIN
    p := payment_lock(p_payment);
    IF p.id IS NULL OR p.gateway <> p_gateway THEN
        status := 404;
        body := op_error('payment_not_found', 'No such payment for this provider.');
        RETURN;
    END IF;
    IF p.status = 'Pending' THEN
        changed := true;
        IF p_ok AND ((p_amount IS NOT NULL AND p_amount <> p.amount_minor)
                     OR (p_currency IS NOT NULL AND p_currency <> p.currency)) THEN
            p_ok := false;
            p_code := 'verification_failed';
            p_message := 'The provider reported another amount or currency.';
        END IF;
        IF p_ok THEN
            SELECT * INTO s FROM payment_settle(p, p_provider_ref, p_low_threshold);
            p := s.settled;
        ELSE
            SELECT * INTO s FROM payment_fail_locked(p, p_code, p_message);
            p := s.failed;
        END IF;
        events := s.events;
    END IF;
    status := 200;
    body := json_build_object('payment_id', p.id, 'status', p.status, 'changed', changed);
END
$$;

-- The Stripe-style webhook: applies a verified event once per event id. Other event types
-- are recorded and acknowledged. body: {received, duplicate, payment_id, status}.
CREATE FUNCTION stripe_webhook_apply(p_event_id text, p_type text, p_kind text,
                                     p_payment uuid, p_object_id text, p_amount bigint,
                                     p_currency text, p_code text, p_message text,
                                     p_low_threshold bigint,
                                     OUT status integer, OUT body json, OUT events json)
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
    SELECT * INTO v FROM payment_verdict(p_payment, 'Stripe', p_kind = 'succeeded', p_code,
        p_message, nullif(p_object_id, ''), p_amount, nullif(p_currency, ''), p_low_threshold);
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

-- Creates a purchase (p_plan set) or top-up payment for p_user with the discount effect C
-- computed (discount.c) and, for Balance or a zero amount, settles it at once. The use
-- counts of the discount are re-checked under its row lock (exhausted / user_limit: 422).
-- An Idempotency-Key already used by this user answers the first payment (200) or 409.
CREATE FUNCTION payment_create(p_user uuid, p_tenant uuid, p_gateway text, p_plan uuid,
                               p_original bigint, p_discount uuid, p_discount_minor bigint,
                               p_free_months integer, p_render_seconds bigint,
                               p_auto_renew boolean, p_title text, p_currency text,
                               p_idem_key text, p_request_hash text, p_low_threshold bigint,
                               OUT status integer, OUT body json, OUT events json)
LANGUAGE plpgsql AS $$
DECLARE
    w wallets;
    p payments;
    d discounts;
    u record;
    s record;
    amount bigint := p_original - p_discount_minor;
BEGIN
    w := wallet_lock(p_user, p_tenant, p_currency);
    IF w.tenant_id <> p_tenant THEN
        status := 422;
        body := op_error('tenant_mismatch', 'The user belongs to another tenant.');
        RETURN;
    END IF;
    IF p_idem_key IS NOT NULL THEN
        SELECT * INTO p FROM payments WHERE user_id = p_user AND idempotency_key = p_idem_key;
        IF p.id IS NOT NULL THEN
            IF p.request_hash <> p_request_hash THEN
                status := 409;
                body := op_error('idempotency_conflict',
                                 'This idempotency key was used with other parameters.');
            ELSE
                status := 200;
                body := payment_start_json(p, NULL, true);
            END IF;
            RETURN;
        END IF;
    END IF;
    IF p_discount IS NOT NULL THEN
        SELECT * INTO d FROM discounts WHERE id = p_discount FOR UPDATE;
        SELECT * INTO u FROM discount_uses(d.id, p_user);
        IF d.max_use_count IS NOT NULL AND u.uses >= d.max_use_count THEN
            status := 422;
            body := op_error('discount_invalid', 'The discount code cannot be used.',
                             json_build_object('reason', 'exhausted'));
            RETURN;
        ELSIF d.per_user_limit IS NOT NULL AND u.user_uses >= d.per_user_limit THEN
            status := 422;
            body := op_error('discount_invalid', 'The discount code cannot be used.',
                             json_build_object('reason', 'user_limit'));
            RETURN;
        END IF;
    END IF;
    IF p_gateway = 'Balance' AND amount > w.balance_minor - w.held_minor THEN
        status := 402;
        body := op_error('insufficient_funds', 'The balance does not cover this purchase.',
                         json_build_object('required', amount,
                                           'available', w.balance_minor - w.held_minor));
        RETURN;
    END IF;
    INSERT INTO payments (user_id, tenant_id, gateway, action, amount_minor,
                          original_amount_minor, discount_id, discount_minor, free_months,
                          render_seconds, currency, plan_id, auto_renew, title,
                          idempotency_key, request_hash)
    VALUES (p_user, p_tenant, p_gateway,
            CASE WHEN p_plan IS NULL THEN 'TopUp' ELSE 'PlanPurchase' END, amount, p_original,
            p_discount, p_discount_minor, p_free_months, p_render_seconds, w.currency, p_plan,
            p_auto_renew, p_title, p_idem_key, p_request_hash)
    RETURNING * INTO p;
    IF p_discount IS NOT NULL THEN
        INSERT INTO discount_redemptions (discount_id, user_id, payment_id)
        VALUES (p_discount, p_user, p.id);
    END IF;
    status := 201;
    events := '[]';
    IF p_gateway = 'Balance' OR amount = 0 THEN
        SELECT * INTO s FROM payment_settle(p, NULL, p_low_threshold);
        body := payment_start_json(s.settled, s.user_plan, false);
        events := s.events;
        RETURN;
    END IF;
    body := payment_start_json(p, NULL, false);
END
$$;

-- Records what the provider's start answered (its reference) on a Pending payment.
CREATE FUNCTION payment_set_provider_ref(p_payment uuid, p_ref text) RETURNS void
LANGUAGE sql AS $$
    UPDATE payments SET provider_ref = p_ref, updated_at = now()
     WHERE id = p_payment AND status = 'Pending'
$$;

-- ---- refunds -------------------------------------------------------------------------------

-- An internal refund (its idempotency record is op.c's): to Balance (a credit), to Plan
-- (seconds back on the active plan), or to the OriginalMethod (the adapter already refunded
-- p_provider_ref; a Balance payment is credited back). With a payment, the amount defaults to
-- what is left and may never exceed it. body: {refund_id, status, ledger_entry}.
CREATE FUNCTION refund_issue(p_payment uuid, p_user uuid, p_tenant uuid, p_amount bigint,
                             p_seconds bigint, p_reason text, p_to text, p_provider_ref text,
                             p_key text, p_low_threshold bigint,
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
    IF credit > 0 OR p_to = 'Plan' THEN
        SELECT * INTO l FROM ledger_append(p_user, 'refund', credit,
            CASE WHEN p_to = 'Plan' THEN secs ELSE 0 END, 'refund', r.id::text,
            'refund:' || r.id, p_reason, 0, p_low_threshold);
        IF l.entry IS NULL THEN
            RAISE EXCEPTION 'refund %: ledger refused a credit', r.id;
        END IF;
        entry := l.entry;
    END IF;
    status := 200;
    body := json_build_object('refund_id', r.id, 'status', r.status, 'refund_to', r.refund_to,
                              'payment_id', r.payment_id, 'amount_minor', r.amount_minor,
                              'seconds', r.seconds, 'ledger_entry', entry);
END
$$;
