"""billing_pay_util.py - helpers of the payment e2e tests (test_billing_payments.py,
test_billing_webhooks.py, test_billing_discounts.py, test_billing_refunds.py).

Users act through the gateway; a browser's checkout is a plain GET of redirect_url that
follows redirects (urllib, like a browser); Stripe webhooks are signed here with the stack's
BILLING_STRIPE_WEBHOOK_SECRET (the local default unless set); the refund route is called on
billing directly with a service token. Reads behind the API (psql, FR_PG_URL) count ledger rows
and outbox events: "the effect of one" is checked there.
"""
import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request
import uuid

import billing_util as bu
import client as c

STRIPE_SECRET = os.environ.get("BILLING_STRIPE_WEBHOOK_SECRET", "whsec_flatrender_local")


def plan(code):
    for p in c.expect(c.gw("GET", "/v1/plans"), 200).json["data"]:
        if p["code"] == code:
            return p
    raise AssertionError("no plan " + code)


def purchase(user, plan_id, gateway, code=None, key=None, auto_renew=None):
    body = {"plan_id": plan_id, "gateway": gateway}
    if code is not None:
        body["discount_code"] = code
    if auto_renew is not None:
        body["auto_renew"] = auto_renew
    headers = {"Idempotency-Key": key} if key else None
    return c.gw("POST", "/v1/users/me/plan/purchase", body=body, token=user.token,
                headers=headers)


def top_up(user, amount, gateway="Sandbox", code=None, key=None):
    body = {"amount_minor": amount, "gateway": gateway}
    if code is not None:
        body["discount_code"] = code
    headers = {"Idempotency-Key": key} if key else None
    return c.gw("POST", "/v1/users/me/balance/top-up", body=body, token=user.token,
                headers=headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def browse(url):
    """GET url following redirects like a browser: (final status, final url, JSON body)."""
    try:
        with urllib.request.urlopen(url, timeout=c.TIMEOUT_S) as r:
            return r.status, r.geturl(), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, url, json.loads(e.read() or b"null")


def browse_once(url):
    """GET url without following: (status, Location)."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=c.TIMEOUT_S) as r:
            return r.status, r.headers.get("Location")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location")


def payment(user, payment_id):
    return c.expect(c.gw("GET", "/v1/payments/" + payment_id, token=user.token), 200).json


def stripe_event(payment_id, kind="succeeded", amount=None, currency="usd", event_id=None):
    obj = {"id": "pi_" + uuid.uuid4().hex[:24], "object": "payment_intent",
           "metadata": {"payment_id": payment_id}}
    if amount is not None:
        obj["amount"] = amount
        obj["currency"] = currency
    if kind == "failed":
        obj["last_payment_error"] = {"code": "card_declined", "message": "Your card was declined."}
    etype = {"succeeded": "payment_intent.succeeded",
             "failed": "payment_intent.payment_failed"}.get(kind, kind)
    return json.dumps({"id": event_id or "evt_" + uuid.uuid4().hex, "object": "event",
                       "type": etype, "data": {"object": obj}}).encode()


def stripe_sign(body, secret=STRIPE_SECRET, t=None):
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (t, mac)


def stripe_post(body, signature):
    return c.gw("POST", "/v1/payments/callback/stripe", raw=body,
                headers={"Stripe-Signature": signature})


def refund(token, body):
    return c.bill("POST", "/v1/payments/refund", body=body, token=token)


def ledger_rows(user_id, reference_id=None):
    """Ledger rows of a user (of one reference): [(kind, amount, seconds, reference_id)]."""
    where = "user_id = '%s'" % uuid.UUID(user_id)
    if reference_id is not None:
        where += " AND reference_id = '%s'" % uuid.UUID(reference_id)
    return [(k, int(a), int(s), r) for k, a, s, r in bu.psql(
        "SELECT kind, amount_minor, seconds, reference_id FROM billing.ledger_entries"
        " WHERE %s ORDER BY seq" % where)]


def outbox_count(event_type, aggregate_id):
    return int(bu.psql("SELECT count(*) FROM billing.outbox WHERE event_type = '%s'"
                       " AND aggregate_id = '%s'" % (event_type, uuid.UUID(aggregate_id)))[0][0])


def admin_discount(admin, **fields):
    body = {"name": "e2e", "code": "E2E" + uuid.uuid4().hex[:12].upper()}
    body.update(fields)
    return c.gw("POST", "/v1/discounts", body=body, token=admin)
