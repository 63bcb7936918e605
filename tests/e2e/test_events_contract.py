"""test_events_contract.py - events on the bus versus contracts/events/, through EventTap.

Skipped as a whole when FR_AMQP_URL is unset. Two parts:
  - TapSelfTest: the tap itself, on a private throwaway exchange (nothing of the stack sees
    it): a valid hand-made envelope is accepted, each kind of broken message is flagged.
  - IdentityEventTests: drives identity through the gateway (register, login, logout, delete
    a session, refresh reuse) and expects identity.user.registered.v1 and
    identity.session.revoked.v1 for exactly those ids, with trace_id = the X-Request-Id of the
    HTTP call that caused them, one event per change, and every message seen valid.
"""
import json
import os
import time
import unittest
import uuid

if not os.environ.get("FR_AMQP_URL"):
    raise unittest.SkipTest("FR_AMQP_URL is not set (no broker for the event tests)")

import pika  # noqa: E402

import client as c  # noqa: E402
import events  # noqa: E402

REGISTERED = "identity.user.registered.v1"
REVOKED = "identity.session.revoked.v1"


def request_id(tag):
    return "e2e-ev-%s-%s" % (tag, uuid.uuid4().hex[:12])


def envelope(event_type, data, **over):
    env = {"event_id": str(uuid.uuid4()), "event_type": event_type,
           "occurred_at": "2026-05-27T10:15:00.123Z", "producer": "identity",
           "tenant_id": data.get("tenant_id"), "trace_id": request_id("self"), "data": data}
    env.update(over)
    return env


def registered_data(**over):
    data = {"user_id": str(uuid.uuid4()), "tenant_id": str(uuid.uuid4()),
            "email": "tap@example.test", "full_name": None, "register_mode": "Email",
            "verification_required": False, "registered_at": "2026-05-27T10:15:00Z"}
    data.update(over)
    return data


class TapSelfTest(unittest.TestCase):
    """EventTap must accept a valid message and flag every kind of broken one."""

    @classmethod
    def setUpClass(cls):
        cls.exchange = "fr.e2e.tap-selftest." + uuid.uuid4().hex[:12]
        cls.conn = pika.BlockingConnection(pika.URLParameters(events.amqp_url()))
        cls.ch = cls.conn.channel()
        cls.ch.exchange_declare(cls.exchange, exchange_type="topic", durable=False,
                                auto_delete=True)
        cls.tap = events.EventTap(exchange=cls.exchange).start()

    @classmethod
    def tearDownClass(cls):
        cls.tap.stop()
        try:
            cls.ch.exchange_delete(cls.exchange)
        finally:
            cls.conn.close()

    def publish(self, body, routing_key, message_id=None, content_type="application/json",
                delivery_mode=2):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        props = pika.BasicProperties(content_type=content_type, delivery_mode=delivery_mode,
                                     message_id=message_id)
        self.ch.basic_publish(self.exchange, routing_key, raw, props)

    def send(self, env, **kw):
        """Publishes env (routing key = its type, message_id = its id unless overridden) and
        returns the tap's Message for it."""
        self.publish(env, kw.pop("routing_key", env["event_type"]),
                     kw.pop("message_id", env["event_id"]), **kw)
        return self.tap.wait_for(lambda m: m.event_id == env["event_id"], timeout=5)

    def assertFlagged(self, msg, fragment):
        self.assertFalse(msg.ok, "expected a violation: " + msg.describe())
        self.assertTrue(any(fragment in p for p in msg.problems),
                        "no problem mentions %r: %s" % (fragment, msg.problems))

    def test_tap_accepts_a_valid_event(self):
        msg = self.send(envelope(REGISTERED, registered_data()))
        self.assertTrue(msg.ok, msg.describe())
        self.assertEqual(msg.data["register_mode"], "Email")
        self.assertNotIn(msg.describe(), self.tap.violations())

    def test_tap_flags_payload_against_the_type_schema(self):
        data = registered_data()
        del data["registered_at"]
        data["extra"] = 1
        msg = self.send(envelope(REGISTERED, data))
        self.assertFlagged(msg, "'registered_at' is a required property")
        self.assertFlagged(msg, "Additional properties")
        self.assertIn(msg.describe(), self.tap.violations())

    def test_tap_flags_envelope_problems(self):
        msg = self.send(envelope(REGISTERED, registered_data(), occurred_at="yesterday",
                                 trace_id="bad id!"))
        self.assertFlagged(msg, "occurred_at")
        self.assertFlagged(msg, "trace_id")
        env = envelope(REGISTERED, registered_data())
        env["event_id"] = env["event_id"].upper()  # not the lower-case UUID v4 convention
        self.assertFlagged(self.send(env), "event_id")
        env = envelope(REGISTERED, registered_data(), tenant_id=str(uuid.uuid4()))
        self.assertFlagged(self.send(env), "data.tenant_id")

    def test_tap_flags_amqp_properties(self):
        env = envelope(REGISTERED, registered_data())
        self.assertFlagged(self.send(env, routing_key="identity.user.other.v1"), "routing key")
        self.assertFlagged(self.send(envelope(REGISTERED, registered_data()), delivery_mode=1),
                           "delivery_mode")
        self.assertFlagged(self.send(envelope(REGISTERED, registered_data()),
                                     content_type="text/plain"), "content_type")
        self.assertFlagged(self.send(envelope(REGISTERED, registered_data()),
                                     message_id=str(uuid.uuid4())), "message_id")

    def test_tap_flags_catalog_problems(self):
        msg = self.send(envelope("identity.user.exploded.v1", registered_data()))
        self.assertFlagged(msg, "no catalog row")
        self.assertIn("identity.user.exploded.v1 has no catalog row", self.tap.catalog_problems())
        planned = envelope("render.job.started.v1", {
            "job_id": str(uuid.uuid4()), "tenant_id": str(uuid.uuid4()),
            "user_id": str(uuid.uuid4()), "attempt": 1, "node_id": str(uuid.uuid4()),
            "lease_expires_at": "2026-05-27T10:16:00Z", "started_at": "2026-05-27T10:15:00Z"},
            producer="render")
        self.assertFlagged(self.send(planned), "catalog says 'planned'")
        self.assertFlagged(self.send(envelope(REGISTERED, registered_data(), producer="render")),
                           "producer")

    def test_tap_flags_bodies_that_are_not_strict_json(self):
        key = "identity.user.registered.v1"
        for raw in (b"not json", b'{"event_id": "a", "event_id": "b"}', b'{"x": NaN}',
                    b'\xff\xfe'):
            mid = "m-" + uuid.uuid4().hex
            self.publish(raw, key, message_id=mid)
            msg = self.tap.wait_for(lambda m, mid=mid: m.properties.message_id == mid, timeout=5)
            self.assertFlagged(msg, "not strict JSON")
        with self.assertRaises(AssertionError):
            self.tap.assert_all_valid()

    def test_wait_for_times_out_with_a_summary(self):
        with self.assertRaisesRegex(AssertionError, "no matching event within"):
            self.tap.wait_for(lambda m: False, timeout=0.3)


class IdentityEventTests(unittest.TestCase):
    """identity's events for real HTTP actions (needs identity publishing to the broker). Each
    test ends with assert_all_valid(): every message the tap saw so far (from any producer)
    must match the contracts, so the tap assumes the stack has its broker to itself."""

    @classmethod
    def setUpClass(cls):
        cls.tap = events.EventTap().start()

    @classmethod
    def tearDownClass(cls):
        cls.tap.stop()

    def expect_one(self, event_type, trace_id, **fields):
        """The event for these data fields; there must be exactly one event_id for it (a
        redelivery may repeat the same event_id, never a second event)."""
        msg = self.tap.expect(event_type, **fields)
        self.assertTrue(msg.ok, msg.describe())
        self.assertEqual(msg.trace_id, trace_id, msg.describe())
        self.assertEqual(msg.envelope["producer"], "identity")
        return msg

    def assert_single_event(self, event_type, settle_s=1.0, **fields):
        """Exactly one event_id for these fields, after giving a wrongly emitted second event
        settle_s seconds to arrive."""
        time.sleep(settle_s)
        same = self.tap.find(lambda m: m.event_type == event_type and
                             all(m.data.get(k) == v for k, v in fields.items()))
        self.assertEqual(len({m.event_id for m in same}), 1,
                         "expected one event, got: " + " | ".join(m.describe() for m in same))

    def register(self, email, password, rid):
        r = c.expect(c.gw("POST", "/v1/auth/register", headers={"X-Request-Id": rid},
                          body={"tenant_slug": c.TENANT, "email": email, "password": password}),
                     201)
        self.assertEqual(r.header("x-request-id"), rid, "the gateway must propagate X-Request-Id")
        return r.json["user_id"]

    def login(self, email, password, rid=None, **extra):
        body = {"tenant_slug": c.TENANT, "email": email, "password": password}
        body.update(extra)
        return c.expect(c.gw("POST", "/v1/auth/login", body=body,
                             headers={"X-Request-Id": rid or request_id("login")}), 200).json

    def test_register_emits_user_registered(self):
        email, password, rid = c.new_email("ev-reg"), c.new_password(), request_id("reg")
        mixed = email[:4].upper() + email[4:]  # stored (and sent) lower-cased
        user_id = self.register(mixed, password, rid)
        tokens = self.login(email, password)
        tenant_id = tokens["user"]["tenant_id"]
        msg = self.expect_one(REGISTERED, rid, user_id=user_id)
        self.assertEqual(msg.data["email"], email.lower())
        self.assertEqual(msg.data["tenant_id"], tenant_id)
        self.assertEqual(msg.envelope["tenant_id"], tenant_id)
        self.assertEqual(msg.data["register_mode"], "Email")
        self.assertIs(msg.data["verification_required"],
                      os.environ.get("IDENTITY_REQUIRE_EMAIL_VERIFICATION", "false") == "true")
        self.assertEqual(msg.properties.message_id, msg.event_id)
        self.assert_single_event(REGISTERED, user_id=user_id)
        self.tap.assert_all_valid()

    def test_logout_emits_session_revoked(self):
        email, password = c.new_email("ev-logout"), c.new_password()
        user_id = self.register(email, password, request_id("reg"))
        tokens = self.login(email, password)
        sid = c.jwt_parts(tokens["access_token"])[1]["sid"]
        rid = request_id("logout")
        c.expect(c.gw("POST", "/v1/auth/logout", token=tokens["access_token"],
                      headers={"X-Request-Id": rid}), 204)
        msg = self.expect_one(REVOKED, rid, session_id=sid)
        self.assertEqual(msg.data["reason"], "logout")
        self.assertEqual(msg.data["user_id"], user_id)
        self.assertEqual(msg.data["tenant_id"], tokens["user"]["tenant_id"])
        self.assertEqual(msg.envelope["tenant_id"], tokens["user"]["tenant_id"])
        # Logging out again (204 while the gateway's cache catches up, else 401) changes
        # nothing and must not emit a second event for the session.
        again = c.gw("POST", "/v1/auth/logout", token=tokens["access_token"])
        self.assertIn(again.status, (204, 401), again.describe())
        self.assert_single_event(REVOKED, session_id=sid)
        self.tap.assert_all_valid()

    def test_deleting_a_session_emits_session_revoked(self):
        email, password = c.new_email("ev-del"), c.new_password()
        self.register(email, password, request_id("reg"))
        a = self.login(email, password, device_name="e2e-ev-A")
        b = self.login(email, password, device_name="e2e-ev-B")
        sid_b = c.jwt_parts(b["access_token"])[1]["sid"]
        rid = request_id("del")
        c.expect(c.gw("DELETE", "/v1/auth/sessions/" + sid_b, token=a["access_token"],
                      headers={"X-Request-Id": rid}), 204)
        msg = self.expect_one(REVOKED, rid, session_id=sid_b)
        self.assertEqual(msg.data["reason"], "deleted")
        self.assertEqual(msg.data["user_id"], a["user"]["id"])
        self.assert_single_event(REVOKED, session_id=sid_b)
        sid_a = c.jwt_parts(a["access_token"])[1]["sid"]
        self.assertEqual(self.tap.find(lambda m: m.event_type == REVOKED and
                                       m.data.get("session_id") == sid_a), [],
                         "the caller's own session was not revoked")
        self.tap.assert_all_valid()

    def test_refresh_reuse_emits_session_revoked(self):
        email, password = c.new_email("ev-reuse"), c.new_password()
        self.register(email, password, request_id("reg"))
        tokens = self.login(email, password)
        sid = c.jwt_parts(tokens["access_token"])[1]["sid"]
        r1 = tokens["refresh_token"]
        c.expect(c.gw("POST", "/v1/auth/refresh", body={"refresh_token": r1}), 200)
        rid = request_id("reuse")
        c.expect(c.gw("POST", "/v1/auth/refresh", body={"refresh_token": r1},
                      headers={"X-Request-Id": rid}), 401, "refresh_token_reused")
        msg = self.expect_one(REVOKED, rid, session_id=sid)
        self.assertEqual(msg.data["reason"], "refresh_reuse")
        self.assert_single_event(REVOKED, session_id=sid)
        self.tap.assert_all_valid()

    def test_every_observed_event_type_has_a_catalog_row(self):
        email, password = c.new_email("ev-cat"), c.new_password()
        user_id = self.register(email, password, request_id("reg"))
        self.tap.expect(REGISTERED, user_id=user_id)
        self.tap.assert_catalog_covers_observed()
        self.assertTrue(self.tap.messages(), "the tap saw no events at all")
        self.tap.assert_all_valid()
