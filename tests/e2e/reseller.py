"""reseller.py - e2e helpers for the reseller API: tenants, API keys and signed requests.

Built on client.py (every response is checked against the contracts like any other). The
signature is the algorithm of contracts/README.md, "Request signing", written here from the
spec and checked against contracts/signing-test-vectors.json by test_reseller.py:

  X-Signature = hex HMAC-SHA256(key = hex SHA-256(full key),
                                msg = timestamp \\n nonce \\n METHOD \\n path \\n
                                      canonical query \\n hex SHA-256(body))
  canonical query = the raw query's '&'-separated name=value pairs (empty ones dropped),
                    sorted bytewise, joined by '&'; no decoding or re-encoding.
"""
import hashlib
import hmac
import http.client
import json
import os
import socket
import time
import urllib.parse
import uuid

import client as c

VECTORS_FILE = os.path.join(c.ROOT, "contracts", "signing-test-vectors.json")
ALL_SCOPES = ["renders:create", "renders:read", "renders:cancel", "projects:read",
              "projects:write", "templates:read", "exports:read", "exports:download",
              "users:read", "users:write", "webhooks:manage"]

_ADMIN_TOKEN = [None]


# ---- tenants and keys -----------------------------------------------------------------------

def platform_admin_token(fresh=False):
    """Access token of the seeded platform admin (client.ADMIN_EMAIL), cached per process."""
    if _ADMIN_TOKEN[0] is None or fresh:
        r = c.expect(c.login(c.ADMIN_EMAIL, c.ADMIN_PASSWORD), 200)
        _ADMIN_TOKEN[0] = r.json["access_token"]
    return _ADMIN_TOKEN[0]


def new_tenant(slug=None, kind="Reseller"):
    """Creates a tenant with its first tenant admin (as the platform admin, through the
    gateway) and signs that admin in. Returns {tenant_id, slug, admin_email, admin_password,
    admin_token}."""
    slug = slug or "e2e-" + uuid.uuid4().hex[:12]
    email, password = c.new_email("tadmin"), c.new_password()
    body = {"slug": slug, "name": "E2E reseller " + slug, "kind": kind,
            "contact_email": email, "admin_email": email, "admin_password": password}
    r = c.gw("POST", "/v1/tenants", body=body, token=platform_admin_token())
    if r.status != 201:
        raise AssertionError("tenant create failed: " + r.describe())
    tenant_id = r.json.get("id") or r.json.get("tenant_id")
    login = c.expect(c.login(email, password, tenant=slug), 200)
    return {"tenant_id": tenant_id, "slug": slug, "admin_email": email,
            "admin_password": password, "admin_token": login.json["access_token"]}


def create_key(admin_token, tenant_id, scopes, allowed_ips=None, rate_limit_rpm=None,
               expires_at=None, environment="Live", name=None):
    """POST /v1/tenants/{tenant_id}/api-keys; returns the 201 body (with secret_key)."""
    body = {"name": name or "e2e key " + uuid.uuid4().hex[:8], "environment": environment,
            "scopes": list(scopes)}
    if allowed_ips is not None:
        body["allowed_ips"] = list(allowed_ips)
    if rate_limit_rpm is not None:
        body["rate_limit_rpm"] = rate_limit_rpm
    if expires_at is not None:
        body["expires_at"] = expires_at
    r = c.gw("POST", "/v1/tenants/%s/api-keys" % tenant_id, body=body, token=admin_token)
    if r.status != 201:
        raise AssertionError("api key create failed: " + r.describe())
    return r.json


def revoke_key(admin_token, tenant_id, api_key_id, reason=None):
    """DELETE /v1/tenants/{tenant_id}/api-keys/{api_key_id}; returns the Response."""
    body = {"reason": reason} if reason is not None else None
    return c.gw("DELETE", "/v1/tenants/%s/api-keys/%s" % (tenant_id, api_key_id), body=body,
                token=admin_token)


# ---- signing --------------------------------------------------------------------------------

def _bytes(v):
    return v if isinstance(v, bytes) else v.encode("utf-8")


def canonical_query(query):
    """The raw query string's non-empty '&'-separated pairs, sorted bytewise, joined by '&'."""
    pairs = [p for p in _bytes(query or b"").split(b"&") if p]
    return b"&".join(sorted(pairs))


def string_to_sign(ts, nonce, method, path, query, body_bytes):
    """The six signed lines joined by '\\n', as bytes."""
    body_hash = hashlib.sha256(_bytes(body_bytes or b"")).hexdigest()
    return b"\n".join([_bytes(str(ts)), _bytes(nonce), _bytes(method.upper()), _bytes(path),
                       canonical_query(query), body_hash.encode("ascii")])


def sign(full_key, ts, nonce, method, path, query, body_bytes):
    """Lowercase hex X-Signature of one request (contracts/README.md, "Request signing")."""
    key = hashlib.sha256(_bytes(full_key)).hexdigest().encode("ascii")
    msg = string_to_sign(ts, nonce, method, path, query, body_bytes)
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def new_nonce():
    return "n" + uuid.uuid4().hex  # 33 characters of [A-Za-z0-9]


def _query_string(query):
    """query as sent: a raw string, or (name, value) pairs / a dict encoded with quote()."""
    if query is None or isinstance(query, (str, bytes)):
        return (query.decode() if isinstance(query, bytes) else query) or ""
    items = query.items() if isinstance(query, dict) else query
    return "&".join("%s=%s" % (urllib.parse.quote(str(k), safe=""),
                               urllib.parse.quote(str(v), safe="")) for k, v in items)


def _body_bytes(body):
    if body is None:
        return b""
    if isinstance(body, (bytes, str)):
        return _bytes(body)
    return json.dumps(body).encode("utf-8")


def signed(method, path, full_key, body=None, query=None, ts=None, nonce=None, base_url=None,
           headers=None, tamper=None):
    """Signs and sends one request with X-API-Key, X-Timestamp, X-Nonce and X-Signature.

    body: a JSON-serialisable object, str or bytes; query: a raw string, a dict or (name,
    value) pairs; ts defaults to now, nonce to a fresh one; base_url defaults to
    client.GATEWAY_URL (aim at another gateway replica with it); headers are added last and
    override (None as a value drops that header). tamper changes what is sent after signing:
    "body", "query", "method" or "signature". Returns the checked client.Response."""
    ts = int(time.time()) if ts is None else ts
    nonce = new_nonce() if nonce is None else nonce
    qs = _query_string(query)
    data = _body_bytes(body)
    sig = sign(full_key, ts, nonce, method, path, qs, data)
    send_method, send_qs, send_data = method, qs, data
    if tamper == "body":
        send_data = data + b" " if data else b"{}"
    elif tamper == "query":
        send_qs = qs + "&x=1" if qs else "x=1"
    elif tamper == "method":
        send_method = "POST" if method != "POST" else "PUT"
    elif tamper == "signature":
        sig = ("0" if sig[0] != "0" else "1") + sig[1:]
    elif tamper is not None:
        raise ValueError("unknown tamper %r" % tamper)
    hdrs = {"X-API-Key": full_key, "X-Timestamp": str(ts), "X-Nonce": nonce,
            "X-Signature": sig}
    if send_data or body is not None:
        hdrs["Content-Type"] = "application/json"
    for k, v in (headers or {}).items():
        hdrs.pop(k, None)
        if v is not None:
            hdrs[k] = v
    target = path + ("?" + send_qs if send_qs else "")
    return send_raw(send_method, target, hdrs, send_data if send_data or body is not None
                    else None, base_url)


def send_raw(method, target, headers, data=None, base_url=None):
    """One request to the gateway at base_url (default client.GATEWAY_URL), checked against
    the contracts as the gateway's answer."""
    u = urllib.parse.urlsplit(base_url or c.GATEWAY_URL)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=c.TIMEOUT_S)
    try:
        conn.request(method, target, body=data, headers=headers)
        r = conn.getresponse()
        resp = c.Response(method, target, r.status, r.getheaders(), r.read())
    finally:
        conn.close()
    c.check_response(resp, "gateway")
    return resp


def load_vectors():
    with open(VECTORS_FILE, encoding="utf-8") as f:
        return json.load(f)["vectors"]


# ---- Redis, read behind the API (FR_REDIS_PORT) --------------------------------------------

REDIS_HOST = os.environ.get("FR_REDIS_HOST", "127.0.0.1")
REDIS_PORT = os.environ.get("FR_REDIS_PORT")


def _resp_command(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = _bytes(str(a))
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def _resp_reply(f):
    line = f.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode()
    if kind == b":":
        return int(rest)
    if kind == b"+":
        return rest.decode()
    raise AssertionError("redis error or unexpected reply: %r" % line)


def redis(*args):
    """One Redis command over RESP (GET / TTL / ...); needs FR_REDIS_PORT."""
    if not REDIS_PORT:
        raise AssertionError("FR_REDIS_PORT is not set")
    with socket.create_connection((REDIS_HOST, int(REDIS_PORT)), timeout=5) as s:
        f = s.makefile("rb")
        if os.environ.get("FR_REDIS_PASSWORD"):
            s.sendall(_resp_command("AUTH", os.environ["FR_REDIS_PASSWORD"]))
            _resp_reply(f)
        s.sendall(_resp_command(*args))
        return _resp_reply(f)
