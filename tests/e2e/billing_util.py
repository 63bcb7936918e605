"""billing_util.py - helpers shared by the billing e2e tests (test_billing_*.py).

Users and the platform admin act through the gateway with their access tokens; the holds API
is called on billing directly with a service token minted by identity (client "render").
Reads behind the API (psql with FR_PG_URL) are read-only checks of the money invariants.
"""
import http.client
import os
import subprocess
import threading
import uuid

import client as c
import procs

PG_URL = os.environ.get("FR_PG_URL", "")


def admin_token():
    r = c.login(c.ADMIN_EMAIL, c.ADMIN_PASSWORD)
    if r.status != 200:
        raise AssertionError("admin login failed: " + r.describe())
    return r.json["access_token"]


def tenant_of(token):
    return c.jwt_parts(token)[1]["tid"]


class BillingUser(c.Account):
    """A registered user (through the gateway) with helpers for its money."""

    @property
    def tenant_id(self):
        return tenant_of(self.token)

    def balance(self):
        return c.expect(c.gw("GET", "/v1/users/me/balance", token=self.token), 200).json

    def transactions(self, page=1, page_size=100):
        return c.expect(c.gw("GET", "/v1/users/me/transactions?page=%d&page_size=%d"
                             % (page, page_size), token=self.token), 200).json


def grant(admin, user, amount, description="e2e grant", tenant_id=None, key=None):
    body = {"amount_minor": amount, "description": description}
    if tenant_id is not None:
        body["tenant_id"] = tenant_id
    headers = {"Idempotency-Key": key} if key else None
    return c.gw("POST", "/v1/admin/users/%s/credits/grant" % user, body=body, token=admin,
                headers=headers)


def clawback(admin, user, amount, description="e2e clawback", key=None):
    headers = {"Idempotency-Key": key} if key else None
    return c.gw("POST", "/v1/admin/users/%s/credits/clawback" % user,
                body={"amount_minor": amount, "description": description}, token=admin,
                headers=headers)


def funded_user(admin, amount):
    """A new user whose wallet holds amount (granted by the admin)."""
    u = BillingUser("bill")
    if amount > 0:
        c.expect(grant(admin, u.user_id, amount, tenant_id=u.tenant_id), 201)
    return u


class Holds:
    """The internal holds API with one service token (aud billing)."""

    def __init__(self, client_id="render"):
        self.token = c.service_token("billing", client_id)

    def reserve(self, user, seconds, key=None, ttl_s=None, reference_id=None, tenant_id=None):
        body = {"idempotency_key": key or uuid.uuid4().hex, "user_id": user.user_id,
                "tenant_id": tenant_id or user.tenant_id, "seconds": seconds,
                "reference_type": "render_job",
                "reference_id": reference_id or str(uuid.uuid4())}
        if ttl_s is not None:
            body["ttl_s"] = ttl_s
        return c.bill("POST", "/internal/v1/holds", body=body, token=self.token)

    def reserve_body(self, body):
        return c.bill("POST", "/internal/v1/holds", body=body, token=self.token)

    def capture(self, hold_id, seconds, key=None):
        return c.bill("POST", "/internal/v1/holds/%s/capture" % hold_id, token=self.token,
                      body={"idempotency_key": key or uuid.uuid4().hex, "seconds": seconds})

    def release(self, hold_id, key=None):
        return c.bill("POST", "/internal/v1/holds/%s/release" % hold_id, token=self.token,
                      body={"idempotency_key": key or uuid.uuid4().hex})

    def get(self, hold_id):
        return c.bill("GET", "/internal/v1/holds/%s" % hold_id, token=self.token)


def parallel(fns):
    """Runs every callable of fns at once (one thread each, released together); returns their
    results (or raised exceptions) in order."""
    results = [None] * len(fns)
    gate = threading.Barrier(len(fns))

    def run(i):
        gate.wait()
        try:
            results[i] = fns[i]()
        except Exception as e:  # noqa: BLE001 (reported to the test by the caller)
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        if isinstance(r, Exception):
            raise r
    return results


def psql(sql):
    """Runs one read-only query on the stack's database (FR_PG_URL); returns rows of '|'-split
    text columns."""
    out = subprocess.run(["psql", PG_URL, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                          "-c", sql], check=True, stdout=subprocess.PIPE, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def ledger_sum(user_id):
    """(wallet balance, SUM(ledger amounts)) read from the database."""
    rows = psql("SELECT w.balance_minor, (SELECT coalesce(sum(amount_minor), 0) FROM "
                "billing.ledger_entries l WHERE l.user_id = w.user_id) FROM billing.wallets w "
                "WHERE w.user_id = '%s'" % uuid.UUID(user_id))
    return int(rows[0][0]), int(rows[0][1])


def _answers(port, path):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return None


def second_billing(test, name, overrides, ready_path="/readyz"):
    """Starts another billing process beside the stack's (its environment read from /proc,
    a free port, the same database) with overrides applied (a value of None removes the
    variable), stopped at the test's cleanup. Waits until GET ready_path answers (200 for
    /readyz, any status otherwise). Returns (proc, port)."""
    env, exe = procs.daemon_environ("billing")
    port = procs.free_port()
    env["BILLING_PORT"] = str(port)
    for k, v in overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    env.pop("ASAN_OPTIONS", None)  # Proc sets its own sanitizer log paths
    env.pop("UBSAN_OPTIONS", None)
    proc = procs.Proc(name, exe, env=env).start()
    test.addCleanup(proc.stop)

    def ready():
        if not proc.alive():
            raise AssertionError("%s died at start: %s" % (name, proc.describe_exit()))
        status = _answers(port, ready_path)
        return status == 200 if ready_path == "/readyz" else status is not None
    c.poll(ready, lambda ok: ok, timeout=30, interval=0.2)
    return proc, port
