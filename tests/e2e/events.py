"""events.py - the e2e suite's window on the event bus: EventTap and the event contract checks.

EventTap connects to RabbitMQ (FR_AMQP_URL, e.g. amqp://guest:guest@127.0.0.1:45672/%2F),
binds a private queue (exclusive, auto-delete, server-named: it disappears with the
connection) to the topic exchange flatrender.events with '#', and collects every message on a
background thread. Each message is checked against contracts/events/:

  - body: strict JSON (no duplicate keys, no NaN) matching envelope.yaml, with `data`
    matching the per-type schema <file>.yaml#/$defs/<event_type> (strict uuid v4 / date-time
    / email formats, as the REST tests);
  - AMQP: routing key == event_type, content_type application/json, delivery_mode 2
    (persistent), message_id == event_id;
  - catalog (contracts/events/README.md): the type has a row, its status is `emitted`, the
    envelope's producer is the row's producer; envelope tenant_id == data.tenant_id when the
    payload has one.

Anything wrong is recorded as a violation (nothing raises on the consumer thread);
assert_all_valid() fails the calling test with the list. wait_for(predicate, timeout) waits
for a message the predicate accepts.

    with EventTap() as tap:
        ... cause something over HTTP ...
        msg = tap.expect("identity.session.revoked.v1", session_id=sid)
        tap.assert_all_valid()

The exchange is declared passively; when it does not exist yet it is declared exactly as the
daemons declare it (topic, durable), so a tap started before the stack does not break it.
Needs python3-pika (Debian: apt-get install -y python3-pika), python3-yaml, python3-jsonschema.
"""
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "contract"))
import check_events  # noqa: E402  (schema + catalog loaders, shared with the contract checker)

try:
    import pika  # noqa: E402
    import pika.exceptions  # noqa: E402
except ImportError as _e:  # pragma: no cover - depends on the machine
    raise ImportError("tests/e2e/events.py needs python3-pika "
                      "(apt-get install -y python3-pika): %s" % _e) from _e

EXCHANGE = "flatrender.events"
EVENTS_DIR = os.path.join(ROOT, "contracts", "events")
DEFAULT_TIMEOUT_S = float(os.environ.get("FR_EVENT_TIMEOUT_S", "10"))


def amqp_url():
    """FR_AMQP_URL, or None when the suite runs without a broker."""
    return os.environ.get("FR_AMQP_URL") or None


class ContractSet:
    """The event contracts loaded once: envelope validator, per-type validators, catalog."""

    def __init__(self, events_dir=EVENTS_DIR):
        envelope, types, problems = check_events.load_schemas(events_dir)
        rows, cat_problems = check_events.parse_catalog(os.path.join(events_dir, "README.md"))
        problems += cat_problems
        if envelope is None or problems:
            raise RuntimeError("event contracts do not load (run tests/contract/"
                               "check_events.py): %s" % "; ".join(problems))
        self.envelope = check_events.validator(envelope)
        self.types = {t: check_events.validator(s) for t, (_, s) in types.items()}
        self.catalog = rows

    def problems(self, routing_key, props, body):
        """Everything wrong with one message; returns (envelope or None, [problem, ...])."""
        problems = []
        if props.content_type != "application/json":
            problems.append("content_type is %r, not application/json" % props.content_type)
        if props.delivery_mode != 2:
            problems.append("delivery_mode is %r, not 2 (persistent)" % props.delivery_mode)
        env, why = parse_strict_json(body)
        if why:
            return None, problems + [why]
        problems += ["envelope %s" % e for e in check_events.errors(self.envelope, env)]
        if not isinstance(env, dict):
            return None, problems
        etype = env.get("event_type")
        if routing_key != etype:
            problems.append("routing key %r != event_type %r" % (routing_key, etype))
        if props.message_id != env.get("event_id"):
            problems.append("message_id %r != event_id %r" % (props.message_id, env.get("event_id")))
        problems += self._type_problems(etype, env)
        return env, problems

    def _type_problems(self, etype, env):
        problems = []
        row = self.catalog.get(etype)
        if row is None:
            problems.append("event type %r has no catalog row (contracts/events/README.md)" % etype)
        else:
            if row["status"] != "emitted":
                problems.append("%s is emitted but the catalog says %r: update its row"
                                % (etype, row["status"]))
            if env.get("producer") != row["producer"]:
                problems.append("producer %r, the catalog says %r" % (env.get("producer"),
                                                                      row["producer"]))
        schema = self.types.get(etype)
        data = env.get("data")
        if schema is None:
            problems.append("event type %r has no schema in contracts/events/" % etype)
        elif isinstance(data, dict):
            problems += ["data %s" % e for e in check_events.errors(schema, data)]
        if isinstance(data, dict) and "tenant_id" in data and data["tenant_id"] != env.get("tenant_id"):
            problems.append("envelope tenant_id %r != data.tenant_id %r"
                            % (env.get("tenant_id"), data["tenant_id"]))
        return problems


def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError("duplicate key %r" % k)
        obj[k] = v
    return obj


def _no_constants(name):
    raise ValueError("non-JSON constant %s" % name)


def parse_strict_json(body):
    """(value, None) or (None, why): UTF-8, no duplicate keys, no NaN/Infinity."""
    try:
        text = body.decode("utf-8")
        return json.loads(text, object_pairs_hook=_no_duplicates,
                          parse_constant=_no_constants), None
    except (UnicodeDecodeError, ValueError) as e:
        return None, "body is not strict JSON: %s" % e


class Message:
    """One message the tap received, with what is wrong with it (problems empty = valid)."""

    def __init__(self, routing_key, exchange, props, body, envelope, problems):
        self.routing_key, self.exchange = routing_key, exchange
        self.properties, self.body = props, body
        self.envelope, self.problems = envelope, problems
        self.received_at = time.time()

    @property
    def ok(self):
        return not self.problems

    @property
    def event_type(self):
        return (self.envelope or {}).get("event_type")

    @property
    def event_id(self):
        return (self.envelope or {}).get("event_id")

    @property
    def trace_id(self):
        return (self.envelope or {}).get("trace_id")

    @property
    def data(self):
        d = (self.envelope or {}).get("data")
        return d if isinstance(d, dict) else {}

    def describe(self):
        return "%s %s (routing key %s)%s: %s" % (
            self.event_type, self.event_id, self.routing_key,
            "" if self.ok else " INVALID [" + "; ".join(self.problems) + "]",
            self.body[:400].decode("utf-8", "replace"))


class EventTap:
    """Collects and validates every message published to the exchange (see module doc).

    url: default FR_AMQP_URL. exchange: default flatrender.events (tests of the tap itself
    use a private one). binding_keys: default ('#',). contracts: a ContractSet (default: the
    repository's contracts/events/). Every message on the exchange is checked, whoever sent
    it: the tap assumes the stack has its broker to itself."""

    def __init__(self, url=None, exchange=EXCHANGE, binding_keys=("#",), contracts=None):
        self.url = url or amqp_url()
        if not self.url:
            raise RuntimeError("EventTap needs FR_AMQP_URL (or url=)")
        self.exchange, self.binding_keys = exchange, tuple(binding_keys)
        self.contracts = contracts or ContractSet()
        self.queue = None
        self._messages, self._violations = [], []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._start_error = None
        self._thread = None

    # ---- life cycle (the connection lives on the tap's own thread only) -------------------

    def start(self, timeout=15.0):
        self._thread = threading.Thread(target=self._run, name="event-tap", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self._stop.set()
            raise RuntimeError("EventTap: not consuming after %.0f s (%s)" % (timeout, self.url_safe))
        if self._start_error is not None:
            raise RuntimeError("EventTap: cannot start: %s" % self._start_error)
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url_safe(self):
        """The URL without its password (for messages)."""
        p = pika.URLParameters(self.url)
        return "amqp://%s@%s:%d%s" % (p.credentials.username, p.host, p.port, p.virtual_host)

    def _connect(self):
        params = pika.URLParameters(self.url)
        params.connection_attempts, params.retry_delay = 3, 1
        params.socket_timeout, params.blocked_connection_timeout = 5, 10
        params.client_properties = {"connection_name": "e2e-event-tap"}
        conn = pika.BlockingConnection(params)
        ch = conn.channel()
        try:
            ch.exchange_declare(self.exchange, exchange_type="topic", durable=True, passive=True)
        except pika.exceptions.ChannelClosedByBroker as e:
            if e.reply_code != 404:
                raise
            ch = conn.channel()  # the failed passive declare closed the channel
            ch.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        self.queue = ch.queue_declare("", exclusive=True, auto_delete=True).method.queue
        for key in self.binding_keys:
            ch.queue_bind(self.queue, self.exchange, routing_key=key)
        ch.basic_consume(self.queue, self._on_message, auto_ack=True)
        return conn

    def _run(self):
        conn = None
        try:
            conn = self._connect()
        except Exception as e:  # reported by start()
            self._start_error = "%s: %s" % (type(e).__name__, e)
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                conn.process_data_events(time_limit=0.1)
        except Exception as e:  # a dropped connection must fail the tests, not hide events
            self._violate("tap connection lost: %s: %s" % (type(e).__name__, e))
        finally:
            try:
                if conn.is_open:
                    conn.close()  # the exclusive queue goes with it
            except Exception:  # noqa: BLE001 - already broken; nothing left to clean
                pass

    def _on_message(self, _ch, method, props, body):
        try:
            env, problems = self.contracts.problems(method.routing_key, props, body)
        except Exception as e:  # a checker bug must not kill the consumer thread
            env, problems = None, ["tap could not check the message: %s: %s" % (type(e).__name__, e)]
        msg = Message(method.routing_key, method.exchange, props, body, env, problems)
        with self._cond:
            self._messages.append(msg)
            if problems:
                self._violations.append(msg.describe())
            self._cond.notify_all()

    def _violate(self, text):
        with self._cond:
            self._violations.append(text)
            self._cond.notify_all()

    # ---- queries ---------------------------------------------------------------------------

    def messages(self):
        """Snapshot of every message received so far, in arrival order."""
        with self._cond:
            return list(self._messages)

    def find(self, predicate):
        return [m for m in self.messages() if predicate(m)]

    def wait_for(self, predicate, timeout=DEFAULT_TIMEOUT_S):
        """The first message (valid or not) for which predicate(message) is true, waiting up to
        timeout seconds. AssertionError on timeout, listing what was seen."""
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = 0
            while True:
                for m in self._messages[seen:]:
                    if predicate(m):
                        return m
                seen = len(self._messages)
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
            got = ", ".join("%s %s" % (m.routing_key, m.event_id or "-")
                            for m in self._messages[-10:])
            nbad, first_bad = len(self._violations), self._violations[:3]
        raise AssertionError("no matching event within %.1f s; %d received (last: %s)%s"
                             % (timeout, len(self._messages), got or "none",
                                "; %d violation(s), first: %s" % (nbad, " | ".join(
                                    v[:300] for v in first_bad)) if nbad else ""))

    def expect(self, event_type, timeout=DEFAULT_TIMEOUT_S, **data_fields):
        """Waits for an event of event_type whose data has every given field value."""
        def match(m):
            return m.event_type == event_type and \
                all(m.data.get(k) == v for k, v in data_fields.items())
        return self.wait_for(match, timeout)

    def violations(self):
        with self._cond:
            return list(self._violations)

    def assert_all_valid(self):
        """Fails when any message seen so far broke the contract (or the tap lost its link)."""
        v = self.violations()
        if v:
            raise AssertionError("%d event contract violation(s):\n  %s%s"
                                 % (len(v), "\n  ".join(x[:1000] for x in v[:20]),
                                    "\n  ..." if len(v) > 20 else ""))

    def catalog_problems(self):
        """Observed event types that have no catalog row (also part of violations())."""
        seen = {m.event_type for m in self.messages() if m.event_type}
        return ["%s has no catalog row" % t for t in sorted(seen)
                if t not in self.contracts.catalog]

    def assert_catalog_covers_observed(self):
        problems = self.catalog_problems()
        if problems:
            raise AssertionError("; ".join(problems))
