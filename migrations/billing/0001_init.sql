-- 0001_init.sql - the billing schema's core: plans, wallets, the ledger, user plans, holds,
-- idempotency records, usage per tenant per day, the outbox and the inbox; the money
-- functions every transaction of services/billing calls; the seeded plan catalog.
--
-- Applied by libcommon's migrate runner with search_path set to "billing", so names are
-- unqualified. Payments, discounts and refunds are in 0002_payments.sql.
--
-- Money rules held here (README "Money model"):
--   wallets.balance_minor == SUM(ledger_entries.amount_minor) of the user (ledger_append is
--   the only writer of balance_minor), balance_after is the running sum, balances never go
--   negative and never below what is held, ledger rows are never updated or deleted.
--   Every function that changes a wallet or a plan first locks the wallet row (wallet_lock),
--   so all money work of one user is serialised; holds are locked after their wallet.

-- ---- plans -------------------------------------------------------------------------------

CREATE TABLE plans (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code                  text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description           text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    price_minor           bigint NOT NULL CHECK (price_minor >= 0),
    before_price_minor    bigint CHECK (before_price_minor >= 0),
    currency              text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    billing_period        text NOT NULL CHECK (billing_period IN ('OneTime', 'Monthly', 'Yearly')),
    seconds_charge        bigint NOT NULL CHECK (seconds_charge >= 0),
    -- the price of one render-second taken from balance by a user of this plan
    second_price_minor    bigint NOT NULL CHECK (second_price_minor >= 0),
    monthly_renders_quota integer CHECK (monthly_renders_quota >= 0),
    storage_gb            integer NOT NULL DEFAULT 1 CHECK (storage_gb >= 0),
    parallel_renders      integer NOT NULL DEFAULT 1 CHECK (parallel_renders >= 1),
    max_resolution        text NOT NULL DEFAULT '1080p' CHECK (length(max_resolution) <= 16),
    render_speed_factor   numeric(6, 2) NOT NULL DEFAULT 1 CHECK (render_speed_factor > 0),
    icon                  text NOT NULL DEFAULT '' CHECK (length(icon) <= 200),
    is_featured           boolean NOT NULL DEFAULT false,
    is_active             boolean NOT NULL DEFAULT true,
    sort_order            integer NOT NULL DEFAULT 0,
    features              jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(features) = 'object'),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- ---- wallets and the ledger ----------------------------------------------------------------

CREATE TABLE wallets (
    user_id        uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL,
    balance_minor  bigint NOT NULL DEFAULT 0 CHECK (balance_minor >= 0),
    held_minor     bigint NOT NULL DEFAULT 0 CHECK (held_minor >= 0),
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (held_minor <= balance_minor)
);

CREATE TABLE ledger_entries (
    seq             bigserial UNIQUE,      -- order of the balance_after chain
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES wallets (user_id),
    tenant_id       uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('grant', 'clawback', 'top_up', 'purchase',
                                                  'hold_capture', 'refund', 'adjustment')),
    amount_minor    bigint NOT NULL,       -- + credit, - debit
    balance_after   bigint NOT NULL CHECK (balance_after >= 0),
    seconds         bigint NOT NULL DEFAULT 0, -- plan render-seconds change (- used, + returned)
    currency        text NOT NULL,
    reference_type  text CHECK (length(reference_type) <= 40),
    reference_id    text CHECK (length(reference_id) <= 128),
    idempotency_key text CHECK (length(idempotency_key) <= 200),
    description     text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX ledger_entries_user_idx ON ledger_entries (user_id, seq DESC);

-- Immutable: a correction is a new row (kind adjustment), never an edit.
CREATE FUNCTION ledger_entries_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries rows are immutable' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER ledger_entries_no_change BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_immutable();

-- ---- user plans ----------------------------------------------------------------------------

CREATE TABLE user_plans (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    plan_id                uuid NOT NULL REFERENCES plans (id),
    user_id                uuid NOT NULL REFERENCES wallets (user_id),
    tenant_id              uuid NOT NULL,
    status                 text NOT NULL DEFAULT 'Active'
                           CHECK (status IN ('Active', 'Expired', 'Cancelled')),
    initial_seconds_charge bigint NOT NULL CHECK (initial_seconds_charge >= 0),
    remain_charge_sec      bigint NOT NULL CHECK (remain_charge_sec >= 0),
    held_seconds           bigint NOT NULL DEFAULT 0 CHECK (held_seconds >= 0),
    monthly_renders_used   integer NOT NULL DEFAULT 0 CHECK (monthly_renders_used >= 0),
    starts_at              timestamptz NOT NULL DEFAULT now(),
    expires_at             timestamptz NOT NULL,
    cancelled_at           timestamptz,
    auto_renew             boolean NOT NULL DEFAULT false,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CHECK (held_seconds <= remain_charge_sec)
);
-- at most one Active plan per user
CREATE UNIQUE INDEX user_plans_one_active ON user_plans (user_id) WHERE status = 'Active';
CREATE INDEX user_plans_expiry_idx ON user_plans (expires_at) WHERE status = 'Active';

-- ---- holds ---------------------------------------------------------------------------------

CREATE TABLE holds (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                uuid NOT NULL REFERENCES wallets (user_id),
    tenant_id              uuid NOT NULL,
    user_plan_id           uuid REFERENCES user_plans (id), -- where plan_seconds came from
    status                 text NOT NULL DEFAULT 'Held'
                           CHECK (status IN ('Held', 'Captured', 'Released', 'Expired')),
    seconds                bigint NOT NULL CHECK (seconds > 0),
    plan_seconds           bigint NOT NULL CHECK (plan_seconds >= 0),
    amount_minor           bigint NOT NULL CHECK (amount_minor >= 0),
    second_price_minor     bigint NOT NULL CHECK (second_price_minor >= 0),
    currency               text NOT NULL,
    captured_seconds       bigint NOT NULL DEFAULT 0 CHECK (captured_seconds >= 0),
    captured_plan_seconds  bigint NOT NULL DEFAULT 0 CHECK (captured_plan_seconds >= 0),
    captured_amount_minor  bigint NOT NULL DEFAULT 0 CHECK (captured_amount_minor >= 0),
    reference_type         text NOT NULL CHECK (length(reference_type) BETWEEN 1 AND 40),
    reference_id           text NOT NULL CHECK (length(reference_id) BETWEEN 1 AND 128),
    expires_at             timestamptz NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CHECK (plan_seconds <= seconds),
    CHECK (captured_seconds <= seconds AND captured_plan_seconds <= plan_seconds
           AND captured_amount_minor <= amount_minor)
);
CREATE INDEX holds_expiry_idx ON holds (expires_at) WHERE status = 'Held';
CREATE INDEX holds_user_idx ON holds (user_id) WHERE status = 'Held';

-- ---- idempotency ---------------------------------------------------------------------------

-- One row per (scope, key), written in the same transaction as the effect it remembers.
CREATE TABLE idempotency_keys (
    scope        text NOT NULL CHECK (length(scope) BETWEEN 1 AND 200),
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_hash text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
    status_code  integer,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

-- ---- usage ---------------------------------------------------------------------------------

-- A tenant's day is spread over 16 shard rows (a capture adds to the shard of its hold), so
-- concurrent captures of one tenant do not all queue on one row lock; readers sum the shards.
CREATE TABLE usage_daily (
    tenant_id           uuid NOT NULL,
    day                 date NOT NULL,
    shard               smallint NOT NULL CHECK (shard BETWEEN 0 AND 15),
    renders             bigint NOT NULL DEFAULT 0 CHECK (renders >= 0),
    render_seconds      bigint NOT NULL DEFAULT 0 CHECK (render_seconds >= 0),
    amount_billed_minor bigint NOT NULL DEFAULT 0 CHECK (amount_billed_minor >= 0),
    PRIMARY KEY (tenant_id, day, shard)
);

-- ---- events (verbatim from migrations/README.md) -------------------------------------------

CREATE TABLE outbox (
    id            bigserial   PRIMARY KEY,
    event_id      uuid        NOT NULL UNIQUE,
    event_type    text        NOT NULL,
    aggregate_id  text,
    payload       text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    attempts      integer     NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL;

CREATE TABLE inbox (
    event_id     uuid        PRIMARY KEY,
    event_type   text        NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

-- ---- JSON renderings (the REST contract's schemas) ----------------------------------------

CREATE FUNCTION iso(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE FUNCTION plan_json(p plans) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', p.id, 'code', p.code, 'name', p.name, 'description', p.description,
        'price_minor', p.price_minor, 'before_price_minor', p.before_price_minor,
        'currency', p.currency, 'billing_period', p.billing_period,
        'seconds_charge', p.seconds_charge, 'second_price_minor', p.second_price_minor,
        'monthly_renders_quota', p.monthly_renders_quota, 'storage_gb', p.storage_gb,
        'parallel_renders', p.parallel_renders, 'max_resolution', p.max_resolution,
        'render_speed_factor', p.render_speed_factor::float8, 'icon', p.icon,
        'is_featured', p.is_featured, 'is_active', p.is_active, 'features', p.features,
        'created_at', iso(p.created_at), 'updated_at', iso(p.updated_at))
$$;

CREATE FUNCTION user_plan_json(up user_plans) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', up.id, 'plan_id', up.plan_id, 'plan_code', p.code, 'plan_name', p.name,
        'status', CASE WHEN up.status = 'Active' AND up.expires_at <= now() THEN 'Expired'
                       ELSE up.status END,
        'initial_seconds_charge', up.initial_seconds_charge,
        'remain_charge_sec', up.remain_charge_sec, 'held_seconds', up.held_seconds,
        'monthly_renders_used', up.monthly_renders_used, 'starts_at', iso(up.starts_at),
        'expires_at', iso(up.expires_at), 'cancelled_at', iso(up.cancelled_at),
        'auto_renew', up.auto_renew)
    FROM plans p WHERE p.id = up.plan_id
$$;

CREATE FUNCTION ledger_json(l ledger_entries) RETURNS json LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object(
        'id', l.id, 'user_id', l.user_id, 'kind', l.kind, 'amount_minor', l.amount_minor,
        'balance_after', l.balance_after, 'seconds', l.seconds, 'currency', l.currency,
        'reference_type', l.reference_type, 'reference_id', l.reference_id,
        'description', l.description, 'created_at', iso(l.created_at))
$$;

CREATE FUNCTION hold_json(h holds) RETURNS json LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object(
        'id', h.id, 'user_id', h.user_id, 'tenant_id', h.tenant_id, 'status', h.status,
        'seconds', h.seconds, 'plan_seconds', h.plan_seconds,
        'amount_minor', h.amount_minor, 'second_price_minor', h.second_price_minor,
        'currency', h.currency, 'captured_seconds', h.captured_seconds,
        'captured_plan_seconds', h.captured_plan_seconds,
        'captured_amount_minor', h.captured_amount_minor,
        'reference_type', h.reference_type, 'reference_id', h.reference_id,
        'expires_at', iso(h.expires_at), 'created_at', iso(h.created_at),
        'updated_at', iso(h.updated_at))
$$;

-- An error answer of the op functions below: {"code","message","details"}.
CREATE FUNCTION op_error(code text, message text, details json DEFAULT NULL) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object('code', code, 'message', message, 'details', details)
$$;

-- One event for the caller to put into the outbox: {"type","aggregate_id","data"}.
CREATE FUNCTION op_event(type text, aggregate_id text, data json) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object('type', type, 'aggregate_id', aggregate_id, 'data', data)
$$;

-- ---- wallets and the ledger: the shared in-transaction helpers ------------------------------

-- Locks the user's wallet (FOR UPDATE) and returns it; creates it first when p_tenant is not
-- null and it does not exist yet. NULL (all fields) when there is none.
CREATE FUNCTION wallet_lock(p_user uuid, p_tenant uuid, p_currency text) RETURNS wallets
LANGUAGE plpgsql AS $$
DECLARE
    w wallets;
BEGIN
    IF p_tenant IS NOT NULL THEN
        INSERT INTO wallets (user_id, tenant_id, currency) VALUES (p_user, p_tenant, p_currency)
        ON CONFLICT (user_id) DO NOTHING;
    END IF;
    SELECT * INTO w FROM wallets WHERE user_id = p_user FOR UPDATE;
    RETURN w;
END
$$;

-- Appends one immutable ledger row and moves the wallet's balance by p_amount (and its held
-- amount by p_held_delta) in the same statement. The wallet must be locked by the caller
-- (wallet_lock). Refuses (returns entry NULL) when the wallet is missing or the result would
-- be negative or below what stays held. low is the billing.balance.low.v1 event when this
-- debit took the balance from >= p_low_threshold to below it, else NULL.
CREATE FUNCTION ledger_append(p_user uuid, p_kind text, p_amount bigint, p_seconds bigint,
                              p_reference_type text, p_reference_id text,
                              p_idempotency_key text, p_description text,
                              p_held_delta bigint, p_low_threshold bigint,
                              OUT entry json, OUT low json)
LANGUAGE plpgsql AS $$
DECLARE
    w wallets;
    before bigint;
    l ledger_entries;
BEGIN
    UPDATE wallets SET balance_minor = balance_minor + p_amount,
                       held_minor = held_minor + p_held_delta, updated_at = now()
     WHERE user_id = p_user AND balance_minor + p_amount >= held_minor + p_held_delta
       AND held_minor + p_held_delta >= 0
    RETURNING * INTO w;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    before := w.balance_minor - p_amount;
    INSERT INTO ledger_entries (user_id, tenant_id, kind, amount_minor, balance_after, seconds,
                                currency, reference_type, reference_id, idempotency_key,
                                description)
    VALUES (p_user, w.tenant_id, p_kind, p_amount, w.balance_minor, p_seconds, w.currency,
            p_reference_type, p_reference_id, p_idempotency_key, coalesce(p_description, ''))
    RETURNING * INTO l;
    entry := ledger_json(l);
    IF p_amount < 0 AND before >= p_low_threshold AND w.balance_minor < p_low_threshold THEN
        low := op_event('billing.balance.low.v1', p_user::text, json_build_object(
            'user_id', p_user, 'tenant_id', w.tenant_id, 'balance_minor', w.balance_minor,
            'threshold_minor', p_low_threshold, 'currency', w.currency,
            'observed_at', iso(now())));
    END IF;
END
$$;

-- The user's usable plan (Active and not past expires_at), locked; NULL fields when none.
CREATE FUNCTION user_plan_current(p_user uuid) RETURNS user_plans LANGUAGE plpgsql AS $$
DECLARE
    up user_plans;
BEGIN
    SELECT * INTO up FROM user_plans
     WHERE user_id = p_user AND status = 'Active' AND expires_at > now() FOR UPDATE;
    RETURN up;
END
$$;

-- Activates plan p_plan for the user (wallet locked by the caller): the same plan still
-- running is extended (seconds added, expiry pushed by one period); any other Active plan is
-- ended (status Expired) and a new one starts. p_extra_seconds and p_extra_periods come from
-- discounts (RenderCredits, FreeMonths). Returns the UserPlan JSON, NULL for an unknown plan.
CREATE FUNCTION user_plan_activate(p_user uuid, p_tenant uuid, p_plan uuid,
                                   p_extra_seconds bigint, p_extra_periods integer,
                                   p_auto_renew boolean) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    p plans;
    up user_plans;
    period interval;
    secs bigint;
BEGIN
    SELECT * INTO p FROM plans WHERE id = p_plan;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    period := CASE p.billing_period WHEN 'Monthly' THEN interval '1 month'
                                    WHEN 'Yearly' THEN interval '1 year'
                                    ELSE interval '1 year' END;
    secs := p.seconds_charge + coalesce(p_extra_seconds, 0);
    up := user_plan_current(p_user);
    IF up.id IS NOT NULL AND up.plan_id = p_plan THEN
        UPDATE user_plans SET initial_seconds_charge = initial_seconds_charge + secs,
               remain_charge_sec = remain_charge_sec + secs,
               expires_at = expires_at + period * (1 + coalesce(p_extra_periods, 0)),
               auto_renew = p_auto_renew, cancelled_at = NULL, updated_at = now()
         WHERE id = up.id RETURNING * INTO up;
        RETURN user_plan_json(up);
    END IF;
    UPDATE user_plans SET status = 'Expired', updated_at = now()
     WHERE user_id = p_user AND status = 'Active';
    INSERT INTO user_plans (plan_id, user_id, tenant_id, initial_seconds_charge,
                            remain_charge_sec, expires_at, auto_renew)
    VALUES (p_plan, p_user, p_tenant, secs, secs,
            now() + period * (1 + coalesce(p_extra_periods, 0)), p_auto_renew)
    RETURNING * INTO up;
    RETURN user_plan_json(up);
END
$$;

-- ---- holds ---------------------------------------------------------------------------------
-- Each op function returns (status, body, events): the HTTP status, the body (a Hold, or an
-- op_error), and a JSON array of op_event()s for the outbox. Nothing is changed when status
-- is >= 400.

-- The split of a reservation (unit-tested in C as hold_split, services/billing/src/hold.c):
-- plan seconds first, up to what the plan has free, the rest from balance at price.
CREATE FUNCTION hold_reserve(p_user uuid, p_tenant uuid, p_seconds bigint,
                             p_reference_type text, p_reference_id text, p_ttl_s integer,
                             p_currency text, p_default_price bigint,
                             OUT status integer, OUT body json, OUT events json)
LANGUAGE plpgsql AS $$
DECLARE
    w wallets;
    up user_plans;
    plan_free bigint := 0;
    price bigint := p_default_price;
    from_plan bigint;
    amount bigint;
    h holds;
BEGIN
    w := wallet_lock(p_user, p_tenant, p_currency);
    IF w.tenant_id <> p_tenant THEN
        status := 409;
        body := op_error('tenant_mismatch', 'The user belongs to another tenant.');
        RETURN;
    END IF;
    up := user_plan_current(p_user);
    IF up.id IS NOT NULL THEN
        plan_free := up.remain_charge_sec - up.held_seconds;
        SELECT second_price_minor INTO price FROM plans WHERE id = up.plan_id;
    END IF;
    from_plan := least(p_seconds, plan_free);
    amount := (p_seconds - from_plan) * price;
    IF amount > w.balance_minor - w.held_minor THEN
        status := 402;
        body := op_error('insufficient_funds', 'The balance does not cover this reservation.',
                         json_build_object('required', amount,
                                           'available', w.balance_minor - w.held_minor,
                                           'plan_seconds_available', plan_free));
        RETURN;
    END IF;
    INSERT INTO holds (user_id, tenant_id, user_plan_id, seconds, plan_seconds, amount_minor,
                       second_price_minor, currency, reference_type, reference_id, expires_at)
    VALUES (p_user, p_tenant, CASE WHEN from_plan > 0 THEN up.id END, p_seconds, from_plan,
            amount, price, w.currency, p_reference_type, p_reference_id,
            now() + make_interval(secs => p_ttl_s))
    RETURNING * INTO h;
    UPDATE wallets SET held_minor = held_minor + amount, updated_at = now()
     WHERE user_id = p_user;
    IF from_plan > 0 THEN
        UPDATE user_plans SET held_seconds = held_seconds + from_plan, updated_at = now()
         WHERE id = up.id;
    END IF;
    status := 201;
    body := hold_json(h);
    events := json_build_array(op_event('billing.hold.created.v1', h.id::text,
        json_build_object('hold_id', h.id, 'tenant_id', h.tenant_id, 'user_id', h.user_id,
                          'reference_type', h.reference_type, 'reference_id', h.reference_id,
                          'seconds', h.seconds, 'reserved_plan_seconds', h.plan_seconds,
                          'reserved_balance_minor', h.amount_minor, 'currency', h.currency,
                          'expires_at', iso(h.expires_at), 'created_at', iso(h.created_at))));
END
$$;

-- Locks the hold's wallet, then the hold. NULL fields when the hold does not exist.
CREATE FUNCTION hold_lock(p_hold uuid) RETURNS holds LANGUAGE plpgsql AS $$
DECLARE
    h holds;
BEGIN
    SELECT * INTO h FROM holds WHERE id = p_hold;
    IF NOT FOUND THEN
        RETURN h;
    END IF;
    PERFORM wallet_lock(h.user_id, NULL, NULL);
    SELECT * INTO h FROM holds WHERE id = p_hold FOR UPDATE;
    RETURN h;
END
$$;

CREATE FUNCTION hold_not_held(h holds) RETURNS json LANGUAGE sql IMMUTABLE AS $$
    SELECT op_error('hold_not_held', 'The hold is not held any more.',
                    json_build_object('status', h.status))
$$;

-- Charges p_used seconds of a Held hold (plan seconds first, then balance at the hold's
-- price) in ONE ledger row, releases the rest, counts the render in usage_daily.
CREATE FUNCTION hold_capture(p_hold uuid, p_used bigint, p_low_threshold bigint,
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
    VALUES (h.tenant_id, (now() AT TIME ZONE 'UTC')::date, abs(hashtext(h.id::text)) % 16, 1,
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

-- Gives a Held hold back in full: status p_status (Released, or Expired from the sweep).
CREATE FUNCTION hold_release(p_hold uuid, p_status text,
                             OUT status integer, OUT body json, OUT events json)
LANGUAGE plpgsql AS $$
DECLARE
    h holds;
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
    END IF;
    UPDATE wallets SET held_minor = held_minor - h.amount_minor, updated_at = now()
     WHERE user_id = h.user_id;
    IF h.plan_seconds > 0 THEN
        UPDATE user_plans SET held_seconds = held_seconds - h.plan_seconds, updated_at = now()
         WHERE id = h.user_plan_id;
    END IF;
    UPDATE holds SET status = p_status, updated_at = now() WHERE id = h.id RETURNING * INTO h;
    status := 200;
    body := hold_json(h);
    events := json_build_array(op_event('billing.hold.released.v1', h.id::text,
        json_build_object('hold_id', h.id, 'tenant_id', h.tenant_id, 'user_id', h.user_id,
                          'reference_type', h.reference_type, 'reference_id', h.reference_id,
                          'reason', CASE p_status WHEN 'Expired' THEN 'expired'
                                                  ELSE 'released' END,
                          'released_plan_seconds', h.plan_seconds,
                          'released_balance_minor', h.amount_minor, 'currency', h.currency,
                          'released_at', iso(h.updated_at))));
END
$$;

-- ---- credits (admin grant / clawback) -------------------------------------------------------

CREATE FUNCTION credits_adjust(p_user uuid, p_tenant uuid, p_kind text, p_amount bigint,
                               p_description text, p_idempotency_key text, p_admin uuid,
                               p_currency text, p_low_threshold bigint,
                               OUT status integer, OUT body json, OUT events json)
LANGUAGE plpgsql AS $$
DECLARE
    w wallets;
    l record;
BEGIN
    w := wallet_lock(p_user, p_tenant, p_currency);
    IF w.user_id IS NULL THEN
        status := 404;
        body := op_error('wallet_not_found',
                         'The user has no wallet yet; send tenant_id to open one.');
        RETURN;
    ELSIF p_tenant IS NOT NULL AND w.tenant_id <> p_tenant THEN
        status := 409;
        body := op_error('tenant_mismatch', 'The user belongs to another tenant.');
        RETURN;
    END IF;
    SELECT * INTO l FROM ledger_append(p_user, p_kind, p_amount, 0, 'admin', p_admin::text,
        p_idempotency_key, p_description, 0, p_low_threshold);
    IF l.entry IS NULL THEN
        status := 409;
        body := op_error('insufficient_balance', 'The available balance is smaller.',
                         json_build_object('required', -p_amount,
                                           'available', w.balance_minor - w.held_minor));
        RETURN;
    END IF;
    status := 201;
    body := l.entry;
    events := CASE WHEN l.low IS NULL THEN '[]'::json ELSE json_build_array(l.low) END;
END
$$;

-- ---- identity.user.registered.v1 ---------------------------------------------------------

-- Opens the new user's wallet and, when p_starter_plan names an active plan and the user
-- never had a plan, starts it. Idempotent on its own (the consumer's inbox also is).
-- Returns 'wallet' or 'wallet+plan'.
CREATE FUNCTION user_registered(p_user uuid, p_tenant uuid, p_currency text,
                                p_starter_plan text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    p plans;
BEGIN
    PERFORM wallet_lock(p_user, p_tenant, p_currency);
    IF p_starter_plan IS NULL OR p_starter_plan = '' THEN
        RETURN 'wallet';
    END IF;
    SELECT * INTO p FROM plans WHERE code = p_starter_plan AND is_active;
    IF NOT FOUND OR EXISTS (SELECT 1 FROM user_plans WHERE user_id = p_user) THEN
        RETURN 'wallet';
    END IF;
    PERFORM user_plan_activate(p_user, p_tenant, p.id, 0, 0, false);
    RETURN 'wallet+plan';
END
$$;

-- ---- the seeded catalog --------------------------------------------------------------------

INSERT INTO plans (code, name, description, price_minor, currency, billing_period,
                   seconds_charge, second_price_minor, monthly_renders_quota, storage_gb,
                   parallel_renders, max_resolution, render_speed_factor, is_featured,
                   sort_order, features)
VALUES
    ('free', 'Free', 'Try FlatRender: one minute of rendering.', 0, 'USD', 'OneTime',
     60, 10, 5, 1, 1, '720p', 1, false, 0,
     '{"watermark": true, "priority_support": false}'),
    ('starter', 'Starter', 'For occasional renders.', 900, 'USD', 'Monthly',
     3600, 8, 100, 10, 1, '1080p', 1, false, 10,
     '{"watermark": false, "priority_support": false}'),
    ('pro', 'Pro', 'For studios rendering every day.', 2900, 'USD', 'Monthly',
     18000, 6, 1000, 100, 4, '4k', 1.5, true, 20,
     '{"watermark": false, "priority_support": true}'),
    ('business', 'Business', 'Teams with heavy workloads.', 9900, 'USD', 'Monthly',
     72000, 4, NULL, 1000, 16, '8k', 2, false, 30,
     '{"watermark": false, "priority_support": true, "sla": "99.9"}');
