"""test_storage.py - what the API promises about storage, checked behind it: refresh tokens
only as SHA-256, passwords only as argon2id hashes, signing keys sealed, and the Redis session
key (session_cache.h) written by the gateway and deleted by identity on revocation.

Needs FR_PG_URL (superuser URL of the stack's database) and psql for the PostgreSQL checks,
FR_REDIS_PORT (and FR_REDIS_PASSWORD if set) for the Redis check; skipped without them.
Only reads; nothing is written behind the API.
"""
import hashlib
import os
import shutil
import socket
import subprocess
import unittest

import client as c

PG_URL = os.environ.get("FR_PG_URL", "")
REDIS_PORT = os.environ.get("FR_REDIS_PORT", "")
REDIS_HOST = os.environ.get("FR_REDIS_HOST", "127.0.0.1")


def sql(query):
    """Runs one read-only query with psql; returns the rows as lists of strings."""
    out = subprocess.run(["psql", PG_URL, "-XAtq", "-v", "ON_ERROR_STOP=1", "-F", "\t",
                          "-c", query], capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0:
        raise AssertionError("psql failed: %s" % out.stderr.strip())
    return [line.split("\t") for line in out.stdout.splitlines()]


def sql_one(query):
    rows = sql(query)
    if len(rows) != 1 or len(rows[0]) != 1:
        raise AssertionError("expected one value from %r, got %r" % (query, rows))
    return rows[0][0]


def _resp_command(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def _resp_reply(f):
    line = f.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode()
    if kind in (b"+", b":"):
        return rest.decode()
    raise AssertionError("redis error or unexpected reply: %r" % line)


def redis_get(key):
    """GET key over RESP (standard library only); None when the key does not exist."""
    with socket.create_connection((REDIS_HOST, int(REDIS_PORT)), timeout=5) as s:
        f = s.makefile("rb")
        if os.environ.get("FR_REDIS_PASSWORD"):
            s.sendall(_resp_command("AUTH", os.environ["FR_REDIS_PASSWORD"]))
            _resp_reply(f)
        s.sendall(_resp_command("GET", key))
        return _resp_reply(f)


@unittest.skipUnless(PG_URL and shutil.which("psql"), "FR_PG_URL or psql not available")
class DatabaseTests(unittest.TestCase):
    def test_refresh_tokens_are_stored_only_as_sha256(self):
        acct = c.Account("store-rt")
        rt = acct.tokens["refresh_token"]
        digest = hashlib.sha256(rt.encode()).hexdigest()
        self.assertEqual(sql_one("SELECT count(*) FROM identity.refresh_tokens "
                                 "WHERE token_hash = '%s'" % digest), "1")
        secret_part = rt[len("frt_"):]
        for table in ("refresh_tokens", "sessions"):
            with self.subTest(table=table):
                self.assertEqual(sql_one(
                    "SELECT count(*) FROM identity.%s t WHERE strpos(t::text, '%s') > 0"
                    % (table, secret_part)), "0")

    def test_passwords_are_stored_only_as_argon2id(self):
        acct = c.Account("store-pw")
        row = sql("SELECT password_hash, strpos(u::text, '%s') FROM identity.users u "
                  "WHERE id = '%s'" % (acct.password, acct.user_id))
        self.assertEqual(len(row), 1)
        self.assertTrue(row[0][0].startswith("$argon2id$"), row[0][0][:12])
        self.assertEqual(row[0][1], "0")

    def test_signing_keys_are_sealed(self):
        self.assertNotEqual(sql_one("SELECT count(*) FROM identity.signing_keys"), "0")
        pem_marker = "-----BEGIN".encode().hex()
        self.assertEqual(sql_one("SELECT count(*) FROM identity.signing_keys WHERE "
                                 "position('\\x%s'::bytea in private_key_sealed) > 0"
                                 % pem_marker), "0")
        self.assertEqual(sql_one("SELECT count(*) FROM identity.signing_keys "
                                 "WHERE public_jwk ? 'd'"), "0")


@unittest.skipUnless(REDIS_PORT, "FR_REDIS_PORT not set")
class SessionCacheTests(unittest.TestCase):
    def test_revocation_leaves_a_revoked_marker_in_redis(self):
        # session_cache.h: revocation writes "revoked|<reason>" (not a DEL), so a gateway
        # lookup that was in flight cannot put "active" back (it writes with NX).
        acct = c.Account("store-redis")
        other = acct.login()
        sid = c.jwt_parts(other["access_token"])[1]["sid"]
        c.expect(c.gw("GET", "/v1/users/me", token=other["access_token"]), 200)
        cached = redis_get("fr:sess:" + sid)
        self.assertIsNotNone(cached, "the gateway did not cache the session in Redis")
        self.assertTrue(cached.startswith("active|%s|%s|" % (acct.user_id,
                                                             acct.tokens["tenant"]["id"])),
                        cached)
        c.expect(c.gw("DELETE", "/v1/auth/sessions/" + sid, token=acct.token), 204)
        after = redis_get("fr:sess:" + sid)
        self.assertIsNotNone(after, "no revocation marker in Redis")
        self.assertTrue(after.startswith("revoked|"), after)


if __name__ == "__main__":
    unittest.main()
