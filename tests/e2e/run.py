#!/usr/bin/python3
"""run.py - runs the end-to-end tests (tests/e2e/test_*.py) against a running stack.

    /usr/bin/python3 tests/e2e/run.py [-k PATTERN ...] [-q]

The stack must already be up (scripts/stack.sh up); see tests/e2e/README.md for the
environment. Exit status: 0 all passed, 1 a test failed, 2 the stack is not reachable.
"""
import argparse
import os
import socket
import sys
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import client  # noqa: E402


def reachable(url):
    u = urllib.parse.urlsplit(url)
    try:
        socket.create_connection((u.hostname, u.port or 80), timeout=3).close()
        return True
    except OSError:
        return False


def main(argv):
    ap = argparse.ArgumentParser(description="FlatRender end-to-end tests")
    ap.add_argument("-k", dest="patterns", action="append",
                    help="only tests whose name contains this (unittest -k), repeatable")
    ap.add_argument("-q", action="store_true", help="less output")
    args = ap.parse_args(argv)
    for name, url in (("gateway", client.GATEWAY_URL), ("identity", client.IDENTITY_URL)):
        if not reachable(url):
            print("e2e: %s is not reachable at %s (is the stack up?)" % (name, url))
            return 2
    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = ["*%s*" % p for p in args.patterns]
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    start = time.monotonic()
    result = unittest.TextTestRunner(verbosity=1 if args.q else 2).run(suite)
    codes = sorted({e[4] for e in client.ERRORS_SEEN if e[4]})
    print("e2e: %d responses validated against the contracts in %.1f s; %d error responses "
          "matched the envelope (%d codes: %s)"
          % (client.RESPONSES_CHECKED[0], time.monotonic() - start, len(client.ERRORS_SEEN),
             len(codes), ", ".join(codes)))
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
