-- 0003_op_exec.sql - one money operation in ONE statement: the idempotency record, the op
-- function, its events into the outbox and the stored answer, for services/billing/src/op.c.
--
-- The daemon sends `SELECT * FROM op_exec(...)` outside any explicit transaction, so the
-- statement is its own transaction and PostgreSQL commits it before it answers: one round
-- trip per operation instead of BEGIN, INSERT key, the op, an INSERT per event, UPDATE key,
-- COMMIT (seven), and the wallet row lock taken by the op is held for one commit only, not
-- for four more round trips. The rules themselves stay in the op functions (0001, 0002).

-- ---- cheaper op functions ------------------------------------------------------------------

-- The JSON helpers of 0001 are declared IMMUTABLE but call STABLE functions (to_char,
-- json_build_object), so the planner never inlines them: every call parsed and planned its
-- one-line body again (fmgr_sql), about ten times per hold operation. Declared STABLE (what
-- they are), each is inlined into the calling expression, whose plan PL/pgSQL caches.
ALTER FUNCTION iso(timestamptz) STABLE;
ALTER FUNCTION ledger_json(ledger_entries) STABLE;
ALTER FUNCTION hold_json(holds) STABLE;
ALTER FUNCTION op_error(text, text, json) STABLE;
ALTER FUNCTION op_event(text, text, json) STABLE;
ALTER FUNCTION hold_not_held(holds) STABLE;

-- wallet_lock of 0001 with the lock first: an existing wallet (every call but a user's first)
-- is locked by one SELECT ... FOR UPDATE, without the INSERT ... ON CONFLICT statement before
-- it. Same contract: locks the user's wallet and returns it; creates it first when p_tenant is
-- not null and it does not exist yet; NULL (all fields) when there is none.
CREATE OR REPLACE FUNCTION wallet_lock(p_user uuid, p_tenant uuid, p_currency text)
RETURNS wallets LANGUAGE plpgsql AS $$
DECLARE
    w wallets;
BEGIN
    SELECT * INTO w FROM wallets WHERE user_id = p_user FOR UPDATE;
    IF FOUND OR p_tenant IS NULL THEN
        RETURN w;
    END IF;
    INSERT INTO wallets (user_id, tenant_id, currency) VALUES (p_user, p_tenant, p_currency)
    ON CONFLICT (user_id) DO NOTHING;
    SELECT * INTO w FROM wallets WHERE user_id = p_user FOR UPDATE;
    RETURN w;
END
$$;

-- ---- op_exec ------------------------------------------------------------------------------

-- Runs the op statement p_sql (one row: status integer, body json, events json; its
-- parameters $1..$16 are a1..a16 as text, so p_sql casts them: `hold_capture($1::uuid, ...)`)
-- and returns what the daemon answers:
--   outcome 'done'      status < 400: the effect, its events (events = how many rows went
--                       into the outbox) and, with p_scope, the idempotency record (status +
--                       body) commit together with this statement;
--   outcome 'refused'   status >= 400: everything the op did is rolled back (the block's
--                       savepoint), the key too, so a retry is evaluated afresh; body is the
--                       op_error() {"code","message","details"};
--   outcome 'replay'    the key was used with the same p_hash: its stored status + body;
--   outcome 'conflict'  the key was used with another p_hash (nothing done).
-- p_scope NULL: no idempotency record. A concurrent duplicate waits on the transaction-level
-- advisory lock of (scope, key) until the first call ends, then replays its committed answer
-- (each statement of this VOLATILE function takes a new snapshot), or does the work itself
-- when the first stored nothing (refused, or rolled back). The record is written once, at
-- the end, with the answer (one INSERT instead of an INSERT and an UPDATE); the primary key
-- still refuses a second record. Any SQL error aborts the whole statement (nothing commits).
CREATE FUNCTION op_exec(p_scope text, p_key text, p_hash text, p_producer text, p_trace text,
                        p_sql text,
                        a1 text, a2 text, a3 text, a4 text, a5 text, a6 text, a7 text, a8 text,
                        a9 text, a10 text, a11 text, a12 text, a13 text, a14 text, a15 text,
                        a16 text,
                        OUT outcome text, OUT status integer, OUT body text, OUT events integer)
LANGUAGE plpgsql AS $$
DECLARE
    k idempotency_keys;
    b json;
    ev json;
    e_type text;
    e_agg text;
    e_data json;
    tenant text;
    id uuid;
BEGIN
    events := 0;
    BEGIN
        IF p_scope IS NOT NULL THEN
            -- concurrent calls with this key queue here until the first one's transaction
            -- ends; the SELECT (a new snapshot) then sees what it committed
            PERFORM pg_advisory_xact_lock(hashtextextended(p_scope || ' ' || p_key, 0));
            SELECT * INTO k FROM idempotency_keys WHERE scope = p_scope AND key = p_key;
            IF FOUND THEN
                IF k.request_hash = p_hash THEN
                    outcome := 'replay';
                    status := k.status_code;
                    body := k.response::text;
                ELSE
                    outcome := 'conflict';
                END IF;
                RETURN;
            END IF;
        END IF;
        EXECUTE p_sql INTO status, b, ev
          USING a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16;
        IF status IS NULL OR b IS NULL THEN
            RAISE EXCEPTION 'op_exec: the op statement returned no status or body';
        END IF;
        IF status >= 400 THEN
            RAISE EXCEPTION USING ERRCODE = 'BL400'; -- undo the block, answer below
        END IF;
    EXCEPTION WHEN SQLSTATE 'BL400' THEN
        outcome := 'refused';
        body := b::text;
        RETURN;
    END;
    -- json_to_recordset reads each element once (every ->> on json parses the text again)
    FOR e_type, e_agg, e_data IN
        SELECT x.type, x.aggregate_id, x.data
          FROM json_to_recordset(coalesce(ev, '[]'))
               AS x(type text, aggregate_id text, data json)
    LOOP
        tenant := CASE WHEN json_typeof(e_data) = 'object' THEN e_data->>'tenant_id' END;
        IF e_type IS NULL OR tenant IS NULL
           OR e_type !~ '^[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+\.v[1-9][0-9]*$' THEN
            RAISE EXCEPTION 'op_exec: malformed event %', e_type;
        END IF;
        id := gen_random_uuid();
        -- the envelope of common/event.h (event_envelope_new), tenant_id = data.tenant_id
        INSERT INTO outbox (event_id, event_type, aggregate_id, payload)
        VALUES (id, e_type, e_agg, json_build_object(
                    'event_id', id, 'event_type', e_type,
                    'occurred_at', iso(clock_timestamp()), 'producer', p_producer,
                    'tenant_id', tenant::uuid, 'trace_id', p_trace, 'data', e_data)::text);
        events := events + 1;
    END LOOP;
    IF p_scope IS NOT NULL THEN
        INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response)
        VALUES (p_scope, p_key, p_hash, status, b::jsonb);
    END IF;
    outcome := 'done';
    body := b::text;
END
$$;
