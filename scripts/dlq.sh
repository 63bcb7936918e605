#!/usr/bin/env bash
#
# dlq.sh - inspect and repair FlatRender's dead-letter queues (<service>.<purpose>.dlq).
#
# Management-plugin free: `rabbitmqctl list_queues` for the counts, python3-pika (Debian
# package python3-pika) for reading, replaying and purging over AMQP. Never declares or
# deletes a queue. Owns no state. Topology and headers: contracts/events/README.md and
# libcommon/include/common/amqp.h. Run `scripts/dlq.sh --help` for the usage.
set -euo pipefail

PYTHON=${FR_PYTHON:-/usr/bin/python3}
if ! "$PYTHON" -c 'import pika' 2>/dev/null; then
	echo "dlq.sh: python3-pika is missing: apt-get install -y python3-pika" >&2
	exit 2
fi

DLQ_PY=$(
	cat <<'PY'
import argparse
import datetime
import json
import os
import subprocess
import sys

import pika
import pika.exceptions

EXCHANGE = "flatrender.events"
DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
# Headers that describe one trip to the DLQ; a replay starts afresh without them.
DEAD_HEADERS = {"x-dead-reason", "x-attempt", "x-original-routing-key", "x-death",
                "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
                "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason",
                "x-delivery-count"}
SECRET_KEYS = {"token", "password", "secret", "refresh_token", "access_token", "api_key"}

USAGE = """dlq.sh [--amqp-url URL] COMMAND QUEUE [options]

Inspect and replay FlatRender dead letters. Each consumer queue Q has Q.retry (delayed
retries) and Q.dlq: messages that failed max_attempts times or were poison, with headers
x-dead-reason, x-attempt and x-original-routing-key (the event type they were published with).

commands:
  list [QUEUE ...]        message counts of every *.dlq (rabbitmqctl list_queues; --all for
                          every queue); with QUEUE names: counted over AMQP instead
  show QUEUE              print up to --limit messages without removing them: message_id,
                          x-dead-reason, x-attempt, x-original-routing-key, the envelope
                          (token / password / secret fields masked unless --reveal)
  replay QUEUE            republish to flatrender.events with the original routing key,
                          persistent, with publisher confirms; ack from the DLQ only after the
                          broker confirmed (and routed) it. Dead-letter headers are dropped,
                          x-replayed-from / x-replay-count / x-replayed-at added. Every queue
                          bound to that event type receives it (consumers are idempotent by
                          event_id); --direct sends it to Q alone instead
  purge QUEUE --yes       delete every message of the DLQ, or only --id EVENT_ID

options:
  --amqp-url URL          broker (default $FR_AMQP_URL, else %s)
  --node NODE             rabbitmqctl node name for list (default $RABBITMQ_NODENAME)
  --limit N               show: at most N (default 10); replay: at most N (default all)
  --id EVENT_ID           replay / purge only the message with this message_id (= event_id)
  --direct                replay to Q itself (default exchange, routing key Q), not the exchange
  --dry-run               replay: print what would be replayed, change nothing
  --json                  show: one JSON object per message and line
  --reveal                show: do not mask secrets
  --all                   list: every queue, not only *.dlq
  --yes                   purge: really delete

examples:
  scripts/dlq.sh list --node frdev@localhost
  scripts/dlq.sh show gateway.session-revoked.dlq --limit 3
  scripts/dlq.sh replay gateway.session-revoked.dlq --id 5b0f3c8e-2d4a-4c61-9a57-0b1e6c3d9f20
  scripts/dlq.sh replay gateway.session-revoked.dlq --limit 100 --direct
  scripts/dlq.sh purge gateway.session-revoked.dlq --yes

exit status: 0 done, 1 something was not replayed / found, 2 usage or connection error
""" % DEFAULT_URL


class Fail(Exception):
    """An error for the user: message printed, exit status 2."""


def options(defaults):
    """The shared options, accepted before or after the command (defaults only once)."""
    d = (lambda v: v) if defaults else (lambda v: argparse.SUPPRESS)
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--amqp-url", default=d(os.environ.get("FR_AMQP_URL") or DEFAULT_URL))
    p.add_argument("--node", default=d(os.environ.get("RABBITMQ_NODENAME") or None))
    return p


def parse_args(argv):
    if "-h" in argv or "--help" in argv:
        print(USAGE, end="")
        sys.exit(0)
    ap = argparse.ArgumentParser(prog="dlq.sh", add_help=False, parents=[options(True)],
                                 usage="dlq.sh [--amqp-url URL] {list,show,replay,purge} ... "
                                       "(--help for more)")
    ap.add_argument("-h", "--help", action="store_true")
    sub = ap.add_subparsers(dest="cmd")
    common = options(False)
    p = sub.add_parser("list", parents=[common], add_help=False, prog="dlq.sh list")
    p.add_argument("queues", nargs="*")
    p.add_argument("--all", action="store_true")
    p = sub.add_parser("show", parents=[common], add_help=False, prog="dlq.sh show")
    p.add_argument("queue")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--reveal", action="store_true")
    p = sub.add_parser("replay", parents=[common], add_help=False, prog="dlq.sh replay")
    p.add_argument("queue")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--id", dest="event_id")
    p.add_argument("--direct", action="store_true")
    p.add_argument("--dry-run", action="store_true")
    p = sub.add_parser("purge", parents=[common], add_help=False, prog="dlq.sh purge")
    p.add_argument("queue")
    p.add_argument("--id", dest="event_id")
    p.add_argument("--yes", action="store_true")
    for name in ("list", "show", "replay", "purge"):
        sub.choices[name].add_argument("-h", "--help", action="store_true")
    args = ap.parse_args(argv)
    if args.help or not args.cmd:
        print(USAGE, end="")
        sys.exit(0 if args.help else 2)
    return args


# ---- AMQP helpers ---------------------------------------------------------------------------

def connect(url):
    try:
        params = pika.URLParameters(url)
        params.connection_attempts, params.socket_timeout = 2, 10
        params.client_properties = {"connection_name": "dlq.sh"}
        return pika.BlockingConnection(params)
    except (pika.exceptions.AMQPError, ValueError, OSError) as e:
        raise Fail("cannot connect to %s: %s %s" % (safe_url(url), type(e).__name__, e))


def safe_url(url):
    try:
        p = pika.URLParameters(url)
        return "amqp://%s@%s:%d%s" % (p.credentials.username, p.host, p.port, p.virtual_host)
    except Exception:  # noqa: BLE001 - only for messages
        return "<the AMQP URL>"


def queue_count(conn, queue):
    """(ready messages, consumers) of an existing queue; Fail when it does not exist."""
    ch = conn.channel()
    try:
        ok = ch.queue_declare(queue, passive=True).method
    except pika.exceptions.ChannelClosedByBroker as e:
        if e.reply_code == 404:
            raise Fail("no queue %r on this broker" % queue)
        raise
    ch.close()
    return ok.message_count, ok.consumer_count


def text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


def headers_of(props):
    return {k: text(v) for k, v in (props.headers or {}).items()}


def envelope_of(body):
    try:
        env = json.loads(body.decode("utf-8"))
        return env if isinstance(env, dict) else None
    except (UnicodeDecodeError, ValueError):
        return None


def mask(node):
    if isinstance(node, dict):
        return {k: ("***" if k in SECRET_KEYS or k.endswith(("_token", "_secret"))
                    else mask(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [mask(v) for v in node]
    return node


class Held:
    """Messages taken with basic_get and not settled; the broker puts every unsettled one back
    when the channel closes (this is how show and a selective replay leave messages alone)."""

    def __init__(self, conn, queue):
        self.ch = conn.channel()
        self.queue = queue
        self.taken = 0

    def get(self):
        method, props, body = self.ch.basic_get(self.queue, auto_ack=False)
        if method is None:
            return None
        self.taken += 1
        return method, props, body

    def close(self):
        if self.ch.is_open:
            self.ch.close()


# ---- commands -------------------------------------------------------------------------------

def cmd_list(args):
    if args.queues:
        conn = connect(args.amqp_url)
        try:
            print("%-48s %8s %9s" % ("queue", "ready", "consumers"))
            for q in args.queues:
                ready, consumers = queue_count(conn, q)
                print("%-48s %8d %9d" % (q, ready, consumers))
        finally:
            conn.close()
        return 0
    vhost = pika.URLParameters(args.amqp_url).virtual_host
    cmd = ["rabbitmqctl"] + (["-n", args.node] if args.node else []) + \
        ["-q", "list_queues", "-p", vhost, "--no-table-headers",
         "name", "type", "messages", "messages_ready", "messages_unacknowledged"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Fail("%s: %s (give queue names to count them over AMQP)" % (" ".join(cmd), e))
    if out.returncode != 0:
        raise Fail("%s failed (exit %d): %s\n(wrong node? --node / RABBITMQ_NODENAME; or give "
                   "queue names to count them over AMQP)"
                   % (" ".join(cmd), out.returncode,
                      "\n".join((out.stderr or out.stdout).strip().splitlines()[:8])))
    rows = [line.split("\t") for line in out.stdout.splitlines() if line.strip()]
    rows = sorted(r for r in rows if len(r) == 5 and (args.all or r[0].endswith(".dlq")))
    print("%-48s %-8s %8s %8s %8s" % ("queue", "type", "messages", "ready", "unacked"))
    for r in rows:
        print("%-48s %-8s %8s %8s %8s" % tuple(r))
    if not rows:
        print("(no %squeues)" % ("" if args.all else "dead-letter "))
    return 0


def show_one(n, method, props, body, args):
    hdrs = headers_of(props)
    env = envelope_of(body)
    if args.json:
        rec = {"n": n, "message_id": props.message_id, "routing_key": method.routing_key,
               "headers": hdrs}
        if env is not None:
            rec["envelope"] = env if args.reveal else mask(env)
        else:
            rec["body"] = body.decode("utf-8", "replace")[:4000]
        print(json.dumps(rec, default=str, sort_keys=True))
        return
    print("--- #%d  message_id %s" % (n, props.message_id))
    print("    x-dead-reason:          %s" % hdrs.get("x-dead-reason"))
    print("    x-attempt:              %s" % hdrs.get("x-attempt"))
    print("    x-original-routing-key: %s" % hdrs.get("x-original-routing-key"))
    other = {k: v for k, v in hdrs.items()
             if k not in ("x-dead-reason", "x-attempt", "x-original-routing-key")}
    if other:
        print("    other headers:          %s" % json.dumps(other, default=str, sort_keys=True))
    if env is None:
        print("    body (not a JSON object, %d bytes): %r" % (len(body), body[:2000]))
        return
    for k in ("event_type", "event_id", "producer", "occurred_at", "tenant_id", "trace_id"):
        print("    %-23s %s" % (k + ":", env.get(k)))
    data = env.get("data") if args.reveal else mask(env.get("data"))
    print("    data: %s" % json.dumps(data, sort_keys=True, ensure_ascii=False))


def cmd_show(args):
    conn = connect(args.amqp_url)
    try:
        ready, _ = queue_count(conn, args.queue)
        if not args.json:
            print("%s: %d ready message(s); showing up to %d (left in place)"
                  % (args.queue, ready, args.limit))
        held = Held(conn, args.queue)
        for n in range(1, max(args.limit, 0) + 1):
            got = held.get()
            if got is None:
                break
            show_one(n, *got, args)
        held.close()
    finally:
        conn.close()
    return 0


def replay_properties(props, queue):
    hdrs = {k: v for k, v in (props.headers or {}).items() if k not in DEAD_HEADERS}
    count = text(hdrs.get("x-replay-count", 0))
    try:
        count = int(count)
    except (TypeError, ValueError):
        count = 0
    hdrs.update({"x-replayed-from": queue, "x-replay-count": count + 1,
                 "x-replayed-at": datetime.datetime.now(datetime.timezone.utc)
                 .strftime("%Y-%m-%dT%H:%M:%SZ")})
    return pika.BasicProperties(
        content_type=props.content_type or "application/json", delivery_mode=2,
        message_id=props.message_id, correlation_id=props.correlation_id,
        timestamp=props.timestamp, type=props.type, app_id=props.app_id, headers=hdrs)


def matches(props, body, event_id):
    if event_id is None:
        return True
    env = envelope_of(body) or {}
    return event_id in (props.message_id, env.get("event_id"))


def target_of(args, props, body):
    """(exchange, routing key) for a replay, or (None, why)."""
    if args.direct:
        return "", args.queue[:-len(".dlq")]
    rk = text((props.headers or {}).get("x-original-routing-key"))
    if not rk:
        rk = (envelope_of(body) or {}).get("event_type")
    if not isinstance(rk, str) or not rk:
        return None, "no x-original-routing-key header and no event_type in the body"
    return EXCHANGE, rk


def require_dlq(queue):
    if not queue.endswith(".dlq") or queue == ".dlq":
        raise Fail("%r is not a dead-letter queue (<queue>.dlq)" % queue)


def cmd_replay(args):
    require_dlq(args.queue)
    conn = connect(args.amqp_url)
    replayed = skipped = failed = found = 0
    try:
        budget, _ = queue_count(conn, args.queue)  # never loop over what we just re-dead-lettered
        held = Held(conn, args.queue)
        pub = conn.channel()
        pub.confirm_delivery()
        done_ids = set()
        while held.taken < budget and (args.limit <= 0 or replayed < args.limit):
            got = held.get()
            if got is None:
                break
            method, props, body = got
            if not matches(props, body, args.event_id) or props.message_id in done_ids:
                skipped += 1
                continue  # held, so put back when the channel closes
            found += 1
            exchange, rk = target_of(args, props, body)
            if exchange is None:
                print("NOT replayed %s: %s" % (props.message_id, rk))
                failed += 1
                continue
            where = "%s -> %s" % (props.message_id, "queue " + rk if exchange == "" else
                                  "%s with key %s" % (exchange, rk))
            if args.dry_run:
                print("would replay %s" % where)
                done_ids.add(props.message_id)
                replayed += 1
                continue
            try:
                pub.basic_publish(exchange, rk, body, replay_properties(props, args.queue),
                                  mandatory=True)
            except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as e:
                print("NOT replayed %s: the broker %s it (is anything bound to %s?)"
                      % (where, "could not route" if isinstance(
                          e, pika.exceptions.UnroutableError) else "refused", rk))
                failed += 1
                break
            held.ch.basic_ack(method.delivery_tag)
            done_ids.add(props.message_id)
            replayed += 1
            print("replayed %s" % where)
            if args.event_id:
                break
        held.close()
    finally:
        conn.close()
    print("%s %d, not replayed %d, left untouched %d" % (
        "would replay" if args.dry_run else "replayed", replayed, failed, skipped))
    if args.event_id and found == 0:
        print("no message with id %s in %s" % (args.event_id, args.queue))
        return 1
    return 1 if failed else 0


def cmd_purge(args):
    require_dlq(args.queue)
    if not args.yes:
        raise Fail("purge deletes dead letters for good: add --yes")
    conn = connect(args.amqp_url)
    try:
        budget, _ = queue_count(conn, args.queue)
        if args.event_id is None:
            ch = conn.channel()
            n = ch.queue_purge(args.queue).method.message_count
            print("purged %d message(s) from %s" % (n, args.queue))
            return 0
        held, dropped = Held(conn, args.queue), 0
        while held.taken < budget:
            got = held.get()
            if got is None:
                break
            method, props, body = got
            if matches(props, body, args.event_id):
                held.ch.basic_ack(method.delivery_tag)
                dropped += 1
        held.close()
    finally:
        conn.close()
    print("dropped %d message(s) with id %s from %s" % (dropped, args.event_id, args.queue))
    return 0 if dropped else 1


def main(argv):
    args = parse_args(argv)
    try:
        return {"list": cmd_list, "show": cmd_show, "replay": cmd_replay,
                "purge": cmd_purge}[args.cmd](args)
    except Fail as e:
        print("dlq.sh: %s" % e, file=sys.stderr)
        return 2
    except pika.exceptions.AMQPError as e:
        print("dlq.sh: AMQP error: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 2


sys.exit(main(sys.argv[1:]))
PY
)

exec "$PYTHON" -c "$DLQ_PY" "$@"
