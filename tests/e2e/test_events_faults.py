"""test_events_faults.py - the event backbone under faults, on the real broker and daemons.

Skipped as a whole when FR_AMQP_URL is unset; the tests that read the database (all but the
two-gateway one) also need FR_PG_URL (superuser URL of the stack's database, used with psql).
A real consumer, tests/tools/event_probe (build/<mode>/tools/, next to FR_BIN_DIR), consumes
identity.user.registered.v1 through libcommon's consumer with its inbox and counts every
application in probe.applied(event_id, user_id, applied_count): a count of 2 would be an
event applied twice. Each test uses its own probe queue and deletes it (with .retry and .dlq)
at the end; every process a test starts is stopped with SIGTERM and must exit 0 with no
sanitizer report (procs.py), except the deliberate exit 3 of the crash test.

  - broker outage: the stack's RabbitMQ is stopped (`scripts/stack.sh down rabbitmq`, this
    stack only), 20 users register (201 each) while it is down, it is started again, and
    within 60 s every one of the 20 events is in probe.applied exactly once;
  - crash between commit and ack: the probe runs with FR_FAULT_EXIT_AFTER_COMMIT=<its queue>
    and exits 3 after committing one event; the broker still holds it; a normal probe then
    gets the redelivery, counts a duplicate, and applied_count stays 1;
  - poison: a body that is not JSON and an envelope without data.user_id go to <queue>.dlq with
    an x-dead-reason, while a real registration behind them is applied;
  - two gateways: a second gateway (the environment the stack started its gateway with, read
    from /proc, on another port, and with GATEWAY_SESSION_L1_TTL_MS=60000 so that cache expiry
    cannot pass for the event) drops a session revoked through the first within 1 s
    (identity.session.revoked.v1 on its private queue).
"""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import time
import unittest
import uuid

if not os.environ.get("FR_AMQP_URL"):
    raise unittest.SkipTest("FR_AMQP_URL is not set (no broker for the event fault tests)")

import pika  # noqa: E402
import pika.exceptions  # noqa: E402

import client as c  # noqa: E402
import events  # noqa: E402
import procs  # noqa: E402

REGISTERED = "identity.user.registered.v1"
PG_URL = os.environ.get("FR_PG_URL")
OUTAGE_USERS = 20
OUTAGE_DEADLINE_S = 60.0
EVENT_DEADLINE_S = 30.0
REVOKE_DEADLINE_S = 1.0
POLL_S = 0.05


def psql(sql):
    """Rows of sql (lists of text) in the stack's database, as superuser."""
    r = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                        PG_URL, "-c", sql], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError("psql failed: %s" % r.stderr.strip())
    return [line.split("\t") for line in r.stdout.splitlines() if line]


def sql_list(values):
    for v in values:
        if not re.match(r"^[0-9a-f-]{36}$", v):
            raise ValueError("not a uuid: %r" % v)
    return ",".join("'%s'" % v for v in values)


def amqp_connection():
    params = pika.URLParameters(events.amqp_url())
    params.connection_attempts, params.retry_delay, params.socket_timeout = 5, 1, 5
    params.client_properties = {"connection_name": "e2e-events-faults"}
    return pika.BlockingConnection(params)


def wait_until(what, fn, timeout, interval=0.2):
    """fn()'s first truthy result within timeout seconds, else AssertionError naming what."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %.0f s (last: %r)" % (what, timeout, last))
        time.sleep(interval)


class Probe:
    """One event_probe process consuming `queue` (bound to identity.user.registered.v1)."""

    def __init__(self, queue, fault=False, prefetch=None):
        self.queue, self.port = queue, procs.free_port()
        env = {
            "FR_LOG_LEVEL": "info",
            "FR_PROBE_DATABASE_URL": PG_URL,
            "FR_PROBE_QUEUE": queue,
            "FR_PROBE_BINDING": REGISTERED,
            "FR_PROBE_PORT": str(self.port),
        }
        p = pika.URLParameters(events.amqp_url())
        env.update({"FR_AMQP_HOST": p.host, "FR_AMQP_PORT": str(p.port),
                    "FR_AMQP_USER": p.credentials.username,
                    "FR_AMQP_PASSWORD": p.credentials.password,
                    "FR_AMQP_VHOST": p.virtual_host})
        if fault:
            env["FR_FAULT_EXIT_AFTER_COMMIT"] = queue
        if prefetch:
            env["FR_PROBE_PREFETCH"] = str(prefetch)
        self.proc = procs.Proc("event_probe", procs.tool("event_probe"), env=env)

    def start(self, testcase):
        self.proc.start()
        wait_until("event_probe ready (postgres + amqp, queue %s)" % self.queue,
                   lambda: self.ready() or self._died(testcase), EVENT_DEADLINE_S)
        return self

    def _died(self, testcase):
        if not self.proc.alive():
            self.proc.wait_exit(1)
            testcase.fail("event_probe ended before it was ready: " + self.proc.describe_exit())
        return False

    def _get(self, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def ready(self):
        try:
            return self._get("/readyz")[0] == 200
        except OSError:
            return False

    def outcome(self, outcome):
        """consumer_messages_total{queue=<queue>, outcome=...} (0 when absent)."""
        _, text = self._get("/metrics")
        key = 'consumer_messages_total{queue="%s",outcome="%s"} ' % (self.queue, outcome)
        for line in text.splitlines():
            if line.startswith(key):
                return float(line[len(key):])
        return 0.0


class FaultTestBase(unittest.TestCase):
    def setUp(self):
        if not PG_URL:
            self.skipTest("FR_PG_URL is not set (the probe needs the stack's database)")
        if not shutil.which("psql"):
            self.skipTest("psql is not installed")
        self.amqp = amqp_connection()
        self.addCleanup(self._close_amqp)

    def _close_amqp(self):
        try:
            if self.amqp.is_open:
                self.amqp.close()
        except Exception:  # noqa: BLE001 - the broker may have gone in a failed test
            pass

    def new_queue(self, tag):
        q = "probe.user-registered.e2e-%s-%s" % (tag, uuid.uuid4().hex[:8])
        self.addCleanup(self.delete_queues, q)
        return q

    def channel(self):
        if not self.amqp.is_open:
            self.amqp = amqp_connection()
        return self.amqp.channel()

    def ready_count(self, queue):
        """Ready messages in queue (passive declare)."""
        ch = self.channel()
        try:
            return ch.queue_declare(queue, passive=True).method.message_count
        finally:
            if ch.is_open:
                ch.close()

    def delete_queues(self, queue):
        for q in (queue, queue + ".retry", queue + ".dlq"):
            try:
                ch = self.channel()
                ch.queue_delete(q)
                ch.close()
            except (pika.exceptions.AMQPError, OSError):
                pass

    def start_probe(self, queue, **kw):
        probe = Probe(queue, **kw)
        self.addCleanup(self._stop_if_running, probe)
        return probe.start(self)

    def _stop_if_running(self, probe):
        if probe.proc.alive():
            probe.proc.stop()

    def stop_probe(self, probe):
        probe.proc.assert_stopped_cleanly(self)

    def register(self, tag):
        email, password = c.new_email(tag), c.new_password()
        r = c.expect(c.register(email, password), 201)
        return r.json["user_id"]

    def applied(self, user_ids):
        """{user_id: (event_id, applied_count)} from probe.applied for these users; a user with
        more than one event shows as a list."""
        out = {}
        for event_id, user_id, count in psql(
                "SELECT event_id, user_id, applied_count FROM probe.applied WHERE user_id IN (%s)"
                % sql_list(user_ids)):
            row = (event_id, int(count))
            if user_id in out:
                prev = out[user_id]
                out[user_id] = (prev if isinstance(prev, list) else [prev]) + [row]
            else:
                out[user_id] = row
        return out


class BrokerOutageTests(FaultTestBase):
    def setUp(self):
        super().setUp()
        if not procs.run_dir() or not os.environ.get("FR_EPMD_PORT"):
            self.skipTest("FR_RUN_DIR / FR_EPMD_PORT not set: cannot stop this stack's broker")

    def _broker_back(self):
        if not procs.broker_running():
            procs.broker_up()

    def test_events_survive_a_broker_outage(self):
        queue = self.new_queue("outage")
        probe = self.start_probe(queue)
        self.addCleanup(self._broker_back)  # runs before the probe is stopped
        self._close_amqp()
        procs.broker_down()
        port = int(os.environ["FR_AMQP_PORT"])
        with self.assertRaises(OSError, msg="the broker still accepts connections"):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()

        users = [self.register("outage") for _ in range(OUTAGE_USERS)]  # each 201

        procs.broker_up()
        with events.EventTap() as tap:
            t0 = time.monotonic()
            wait_until("all %d events applied by the probe" % OUTAGE_USERS,
                       lambda: len(self.applied(users)) == OUTAGE_USERS, OUTAGE_DEADLINE_S,
                       interval=0.5)
            time.sleep(1.0)  # a wrongly repeated event would show up now
            got = self.applied(users)
            missing = [u for u in users if u not in got]
            self.assertEqual(missing, [])
            twice = {u: v for u, v in got.items() if isinstance(v, list) or v[1] != 1}
            self.assertEqual(twice, {}, "events applied more than once or per user twice")
            self.assertEqual(len({v[0] for v in got.values()}), OUTAGE_USERS)
            print("  [outage] %d events applied %.1f s after the broker came back"
                  % (OUTAGE_USERS, time.monotonic() - t0))
            tap.assert_all_valid()
        self.assertTrue(probe.proc.alive(), probe.proc.describe_exit())
        self.stop_probe(probe)


class CrashAndPoisonTests(FaultTestBase):
    def test_crash_between_commit_and_ack_applies_once(self):
        queue = self.new_queue("crash")
        faulty = self.start_probe(queue, fault=True, prefetch=1)
        user = self.register("crash")
        rc = faulty.proc.wait_exit(EVENT_DEADLINE_S)
        self.assertEqual(rc, 3, "the probe did not exit 3 after the commit: "
                         + faulty.proc.describe_exit())
        faulty.proc.assert_clean_exit(self, 3)
        got = self.applied([user])
        self.assertIn(user, got, "the committed effect is missing")
        event_id, count = got[user]
        self.assertEqual(count, 1)
        self.assertEqual(psql("SELECT count(*) FROM probe.inbox WHERE event_id = '%s'"
                              % event_id), [["1"]])
        # never acked: the broker holds the message again once the connection is gone
        wait_until("the unacked message back in %s" % queue,
                   lambda: self.ready_count(queue) == 1, EVENT_DEADLINE_S)

        probe = self.start_probe(queue)
        wait_until("the redelivery counted as a duplicate",
                   lambda: probe.outcome("duplicate") >= 1, EVENT_DEADLINE_S)
        wait_until("%s drained" % queue, lambda: self.ready_count(queue) == 0, EVENT_DEADLINE_S)
        self.assertEqual(probe.outcome("ok"), 0, "the redelivered event was applied again")
        self.assertEqual(self.applied([user]), {user: (event_id, 1)})
        self.stop_probe(probe)
        self.assertEqual(self.ready_count(queue), 0, "the duplicate was not acked")

    def test_poison_goes_to_the_dlq_and_does_not_block(self):
        queue = self.new_queue("poison")
        probe = self.start_probe(queue)
        ch = self.channel()
        not_json = b"this is not json {"
        env = {"event_id": str(uuid.uuid4()), "event_type": REGISTERED,
               "occurred_at": "2026-05-27T10:15:00.123Z", "producer": "identity",
               "tenant_id": None, "trace_id": "e2e-poison-" + uuid.uuid4().hex[:8],
               "data": {"tenant_id": None, "email": "poison@example.test"}}
        no_user = json.dumps(env).encode()
        sent = {not_json: "e2e-poison-" + uuid.uuid4().hex, no_user: env["event_id"]}
        for body, mid in sent.items():
            ch.basic_publish(events.EXCHANGE, REGISTERED, body, pika.BasicProperties(
                content_type="application/json", delivery_mode=2, message_id=mid))
        ch.close()
        user = self.register("poison")  # its event queues up behind the poison

        dead = {}
        dlq = queue + ".dlq"
        ch = self.channel()

        def take():
            method, props, body = ch.basic_get(dlq, auto_ack=False)
            if method is not None:
                dead[body] = (props, method.delivery_tag)
            return len(dead) >= 2
        wait_until("both poison messages in %s" % dlq, take, EVENT_DEADLINE_S)
        self.assertEqual(set(dead), set(sent), "the DLQ holds other messages than the poison")
        reason = {b: (p.headers or {}).get("x-dead-reason") for b, (p, _) in dead.items()}
        self.assertRegex(reason[not_json] or "", r"^malformed envelope: .+")
        self.assertEqual(reason[no_user], "data.user_id is missing")
        for body, (props, tag) in dead.items():
            self.assertEqual((props.headers or {}).get("x-original-routing-key"), REGISTERED)
            ch.basic_ack(tag)
        ch.close()
        self.assertEqual(self.ready_count(dlq), 0)
        got = wait_until("the real event applied behind the poison",
                         lambda: self.applied([user]), EVENT_DEADLINE_S)
        self.assertEqual(got[user][1], 1)
        self.assertEqual(probe.outcome("poison"), 2)
        self.assertEqual(self.ready_count(queue), 0)
        self.stop_probe(probe)


class TwoGatewayTests(unittest.TestCase):
    """A revocation through gateway A reaches gateway B's cache through the broker."""

    def setUp(self):
        if procs.daemon_pid("gateway") is None:
            self.skipTest("no gateway pid in FR_RUN_DIR (the stack's gateway is needed)")
        env, exe = procs.daemon_environ("gateway")
        self.port = procs.free_port()
        env["GATEWAY_PORT"] = str(self.port)
        env["GATEWAY_BIND"] = "127.0.0.1"
        # Only the event may revoke within the deadline: with the default 1 s L1 TTL the cache
        # entry would expire (and Redis say "revoked") at about the same time without it.
        env["GATEWAY_SESSION_L1_TTL_MS"] = "60000"
        # "gateway.b": its sanitizer logs match the suite's $FR_RUN_DIR/asan/gateway.* check too
        self.gw_b = procs.Proc("gateway.b", exe, env=env)
        self.addCleanup(self._stop)
        self.gw_b.start()
        wait_until("gateway B ready with its event consumer (/readyz checks.amqp true)",
                   self._ready, EVENT_DEADLINE_S)

    def _stop(self):
        if self.gw_b.alive():
            self.gw_b.stop()

    def _ready(self):
        if not self.gw_b.alive():
            self.gw_b.wait_exit(1)
            self.fail("gateway B ended: " + self.gw_b.describe_exit())
        try:
            r = self.request_b("GET", "/readyz", check=False)
        except OSError:
            return False
        return r.status == 200 and (r.json or {}).get("checks", {}).get("amqp") is True

    def request_b(self, method, path, token=None, check=True):
        """One request to gateway B, validated against the gateway contract like client.gw."""
        headers = {"Authorization": "Bearer " + token} if token else {}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=c.TIMEOUT_S)
        try:
            conn.request(method, path, headers=headers)
            r = conn.getresponse()
            resp = c.Response(method, path, r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        if check:
            c.check_response(resp, "gateway")
        return resp

    def test_revocation_reaches_a_second_gateway_within_a_second(self):
        acct = c.Account("two-gw")  # registered and logged in through gateway A
        c.expect(self.request_b("GET", "/v1/users/me", token=acct.token), 200)  # B caches it
        c.expect(c.gw("POST", "/v1/auth/logout", token=acct.token), 204)
        t0 = time.monotonic()
        while True:
            r = self.request_b("GET", "/v1/users/me", token=acct.token)
            elapsed = time.monotonic() - t0
            if r.status != 200 or elapsed > REVOKE_DEADLINE_S + 2:
                break
            time.sleep(POLL_S)
        c.expect(r, 401, "session_revoked")
        self.assertLess(elapsed, REVOKE_DEADLINE_S,
                        "gateway B refused the revoked session only after %.2f s" % elapsed)
        print("  [two gateways] B refused the revoked session after %.3f s" % elapsed)
        self.gw_b.assert_stopped_cleanly(self)


if __name__ == "__main__":
    unittest.main()
