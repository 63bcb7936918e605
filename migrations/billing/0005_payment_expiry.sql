-- 0005_payment_expiry.sql - the expiry of abandoned payments (services/billing/src/pay_sweep.c).
--
-- A payment still Pending BILLING_PAYMENT_PENDING_TTL_S after it was created (a checkout the
-- user walked away from, a Stripe payment whose retries ended without a verdict) becomes
-- Failed with failure_code 'expired' through payment_fail_locked(), exactly like a declined
-- one: its discount redemption stops counting and billing.payment.failed.v1 is emitted.
-- A verdict arriving after that (sandbox approval, webhook, ZarinPal verify) finds the
-- payment no longer Pending: payment_verdict / stripe_webhook_apply answer its current state
-- and change nothing (payment_settle is only reached for a Pending payment), so an expired
-- payment is never credited.

CREATE INDEX payments_pending_idx ON payments (created_at) WHERE status = 'Pending';

-- Fails payment p_payment as expired when it is still Pending and older than p_ttl_s
-- seconds (checked again under the lock: a verdict may have committed since the caller chose
-- it). Returns (status, body, events): 200 + the Failed payment + its event, or 409 with no
-- events when it is no longer due.
CREATE FUNCTION payment_expire(p_payment uuid, p_ttl_s bigint,
                               OUT status integer, OUT body json, OUT events json)
LANGUAGE plpgsql AS $$
DECLARE
    p payments;
    s record;
BEGIN
    p := payment_lock(p_payment);
    IF p.id IS NULL OR p.status <> 'Pending'
       OR p.created_at > now() - make_interval(secs => p_ttl_s) THEN
        status := 409;
        body := op_error('payment_not_pending', 'The payment is no longer due to expire.');
        RETURN;
    END IF;
    SELECT * INTO s FROM payment_fail_locked(p, 'expired',
        'The payment was not completed within ' || p_ttl_s || ' s.');
    status := 200;
    body := payment_json(s.failed);
    events := s.events;
END
$$;
