"""client.py - the e2e tests' HTTP client: requests, contract validation, tokens, helpers.

Talks to the REAL running stack over HTTP (http.client, no mocks). Every response goes
through check_response(), which fails the calling test (AssertionError) when:
  - the X-Request-Id header is missing or malformed;
  - an error (4xx/5xx) is not the envelope {"error":{code,message,details,trace_id}} or its
    trace_id differs from the X-Request-Id header (every error seen is also recorded in
    ERRORS_SEEN);
  - the contract (gateway-public.openapi.yaml, or reseller-api.openapi.yaml for the reseller
    routes, for the gateway; identity.openapi.yaml for identity; billing.openapi.yaml for
    billing) documents the path + method
    but not this status, or the body, content type or a
    documented header does not match the documented schema (with $refs resolved and
    `nullable` translated), so any shape drift fails the test that saw it.

Environment (defaults fit the test stack of scripts/stack.sh):
  FR_GATEWAY_URL (http://127.0.0.1:17080), FR_IDENTITY_URL (http://127.0.0.1:17081),
  FR_BILLING_URL (http://127.0.0.1:17082),
  FR_INTERNAL_SECRET (tests that sign internal calls skip without it),
  FR_ADMIN_EMAIL (admin@flatrender.local), FR_ADMIN_PASSWORD (flatrender-admin),
  FR_TENANT_SLUG (default), FR_CORS_ORIGIN (http://localhost:3000).
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import select
import socket
import sys
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "contract"))
import oaslib  # noqa: E402  (shared with the contract checker)

GATEWAY_URL = os.environ.get("FR_GATEWAY_URL", "http://127.0.0.1:17080")
IDENTITY_URL = os.environ.get("FR_IDENTITY_URL", "http://127.0.0.1:17081")
BILLING_URL = os.environ.get("FR_BILLING_URL", "http://127.0.0.1:17082")
INTERNAL_SECRET = os.environ.get("FR_INTERNAL_SECRET", "")
ADMIN_EMAIL = os.environ.get("FR_ADMIN_EMAIL", "admin@flatrender.local")
ADMIN_PASSWORD = os.environ.get("FR_ADMIN_PASSWORD", "flatrender-admin")
TENANT = os.environ.get("FR_TENANT_SLUG", "default")
CORS_ORIGIN = os.environ.get("FR_CORS_ORIGIN", "http://localhost:3000")
TIMEOUT_S = float(os.environ.get("FR_E2E_TIMEOUT_S", "15"))
REVOKE_WITHIN_S = 5.0  # a revoked session's access token must die at the gateway this fast

CONTRACTS = {
    "gateway": os.path.join(ROOT, "contracts", "rest", "gateway-public.openapi.yaml"),
    "identity": os.path.join(ROOT, "contracts", "rest", "identity.openapi.yaml"),
    "billing": os.path.join(ROOT, "contracts", "rest", "billing.openapi.yaml"),
}
DAEMON_URLS = {"gateway": GATEWAY_URL, "identity": IDENTITY_URL, "billing": BILLING_URL}
# Further contracts of a daemon, consulted (in order) for a path its main contract lacks.
EXTRA_CONTRACTS = {
    "gateway": [os.path.join(ROOT, "contracts", "rest", "reseller-api.openapi.yaml")],
}
TYPES_FILE = os.path.join(ROOT, "contracts", "common", "types.yaml")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

LOADER = oaslib.Loader()
ERROR_SCHEMA = LOADER.inline({"$ref": "#/components/schemas/Error"}, TYPES_FILE)
ERRORS_SEEN = []  # (daemon, method, path, status, code) of every error response checked
RESPONSES_CHECKED = [0]


class Response:
    """One HTTP response. Unpacks as (status, headers, json): `st, hd, js = gw.get(...)`."""

    def __init__(self, method, path, status, headers, body):
        self.method, self.path, self.status = method, path, status
        self.headers = {}  # lower-case name -> value (repeated headers joined by ", ")
        for name, value in headers:
            key = name.lower()
            self.headers[key] = value if key not in self.headers else \
                self.headers[key] + ", " + value
        self.body = body
        self.json = None
        if body:
            try:
                self.json = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                self.json = None

    def __iter__(self):
        return iter((self.status, self.headers, self.json))

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def code(self):
        """error.code of an error envelope, else None."""
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return self.json["error"].get("code")
        return None

    def describe(self):
        return "%s %s -> %d %s" % (self.method, self.path, self.status,
                                   self.body[:600].decode("utf-8", "replace"))


# ---- contract validation --------------------------------------------------------------------

def _fail(resp, msg):
    raise AssertionError("%s\n  response: %s" % (msg, resp.describe()))


def _check_envelope(resp, daemon):
    if resp.json is None:
        _fail(resp, "error response is not JSON")
    errs = oaslib.validate(resp.json, ERROR_SCHEMA)
    if errs:
        _fail(resp, "error envelope does not match Error schema: %s" % "; ".join(errs))
    rid = resp.header("x-request-id")
    if resp.json["error"]["trace_id"] != rid:
        _fail(resp, "error.trace_id %r != X-Request-Id header %r"
              % (resp.json["error"]["trace_id"], rid))
    ERRORS_SEEN.append((daemon, resp.method, resp.path, resp.status, resp.code))


def _check_headers(resp, documented):
    for name, hdr in (documented or {}).items():
        value = resp.header(name)
        if value is None:
            if hdr.get("required"):
                _fail(resp, "documented header %s is missing" % name)
            continue
        schema = hdr.get("schema") or {}
        inst = value
        if schema.get("type") == "integer":
            if not re.match(r"^-?\d+$", value):
                _fail(resp, "header %s=%r is not an integer" % (name, value))
            inst = int(value)
        errs = oaslib.validate(inst, schema)
        if errs:
            _fail(resp, "header %s=%r: %s" % (name, value, "; ".join(errs)))


def _check_body(resp, documented):
    content = documented.get("content") or {}
    if not content:
        if resp.body:
            _fail(resp, "the contract documents no body for %d, but one was sent" % resp.status)
        return
    ctype = (resp.header("content-type") or "").split(";")[0].strip().lower()
    if ctype not in content:
        _fail(resp, "Content-Type %r is not one of the documented %s" % (ctype, sorted(content)))
    schema = content[ctype].get("schema")
    if ctype == "application/json":
        if resp.json is None:
            _fail(resp, "body is not JSON")
        if schema is not None:
            errs = oaslib.validate(resp.json, schema)
            if errs:
                _fail(resp, "body does not match the contract:\n    " + "\n    ".join(errs))


def check_response(resp, daemon):
    """Validates resp against the contract of daemon ('gateway', 'identity' or 'billing');
    see module doc."""
    RESPONSES_CHECKED[0] += 1
    rid = resp.header("x-request-id")
    if rid is None or not REQUEST_ID_RE.match(rid):
        _fail(resp, "missing or malformed X-Request-Id header: %r" % rid)
    path = urllib.parse.urlsplit(resp.path).path
    for spec_file in [CONTRACTS[daemon]] + EXTRA_CONTRACTS.get(daemon, []):
        template, op = oaslib.find_operation(LOADER.load(spec_file), resp.method, path)
        if op is not None:
            break
    else:
        spec_file = CONTRACTS[daemon]
    if op is not None:
        documented = oaslib.response_object(LOADER, spec_file, op, resp.status)
        if documented is None:
            _fail(resp, "status %d is not documented for %s %s in %s"
                  % (resp.status, resp.method, template, os.path.basename(spec_file)))
        _check_headers(resp, documented.get("headers"))
        _check_body(resp, documented)
        if resp.status >= 400 and documented.get("x-error-envelope") is not False:
            _check_envelope(resp, daemon)
        return
    # Not an operation of the contract: unknown route, wrong method or a CORS preflight.
    if resp.status >= 400:
        _check_envelope(resp, daemon)
    elif not (resp.method == "OPTIONS" and resp.status == 204):
        _fail(resp, "%s %s is not in %s but answered %d"
              % (resp.method, path, os.path.basename(spec_file), resp.status))


# ---- requests -------------------------------------------------------------------------------

def _split(base):
    u = urllib.parse.urlsplit(base)
    return u.hostname, u.port or 80


def request(daemon, method, path, body=None, token=None, headers=None, raw=None,
            content_type="application/json", timeout=TIMEOUT_S):
    """Sends one request to daemon ('gateway', 'identity' or 'billing') and returns a checked
    Response.

    body: a JSON-serialisable object (sent with content_type); raw: bytes sent as is (with
    content_type unless it is None); token: sets Authorization: Bearer."""
    base = DAEMON_URLS[daemon]
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
    elif raw is not None:
        data = raw
    if data is not None and content_type is not None:
        hdrs.setdefault("Content-Type", content_type)
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    conn = http.client.HTTPConnection(*_split(base), timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        resp = Response(method, path, r.status, r.getheaders(), r.read())
    finally:
        conn.close()
    check_response(resp, daemon)
    return resp


def gw(method, path, **kw):
    return request("gateway", method, path, **kw)


def idn(method, path, **kw):
    return request("identity", method, path, **kw)


def bill(method, path, **kw):
    return request("billing", method, path, **kw)


def send_large_body(daemon, method, path, nbytes, headers=None):
    """Sends a JSON body of nbytes, stopping early when the server answers first (it may reply
    413 on Content-Length and close). Returns the checked Response."""
    base = GATEWAY_URL if daemon == "gateway" else IDENTITY_URL
    host, port = _split(base)
    prefix, suffix = b'{"tenant_slug":"default","pad":"', b'"}'
    body = prefix + b"x" * (nbytes - len(prefix) - len(suffix)) + suffix
    head = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n" \
           "Content-Length: %d\r\nConnection: close\r\n" % (method, path, host, port, len(body))
    for k, v in (headers or {}).items():
        head += "%s: %s\r\n" % (k, v)
    sock = socket.create_connection((host, port), timeout=TIMEOUT_S)
    try:
        sock.sendall((head + "\r\n").encode("latin-1"))
        sock.settimeout(5)
        off = 0
        while off < len(body):
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                off += sock.send(body[off:off + 65536])
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                break
        sock.settimeout(TIMEOUT_S)
        r = http.client.HTTPResponse(sock, method=method)
        try:
            r.begin()
            resp = Response(method, path, r.status, r.getheaders(), r.read())
        except (ConnectionResetError, http.client.RemoteDisconnected) as e:
            raise AssertionError("%s %s with a %d-byte body: connection dropped without a "
                                 "response (%s)" % (method, path, nbytes, e)) from e
    finally:
        sock.close()
    check_response(resp, daemon)
    return resp


# ---- tokens ---------------------------------------------------------------------------------

def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url_encode(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def jwt_parts(token):
    """(header dict, claims dict, signature bytes) of a compact JWS, without verifying it."""
    h, p, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), b64url_decode(s)


def jwt_forge(header, claims, signature=b""):
    """A compact JWS from parts (for attacks: the signature is whatever is given)."""
    enc = lambda o: b64url_encode(json.dumps(o, separators=(",", ":")).encode())  # noqa: E731
    return "%s.%s.%s" % (enc(header), enc(claims), b64url_encode(signature))


def iauth_headers(method, target, request_id=None, caller="gateway", user="", tenant="",
                  session="", roles="", client_ip="127.0.0.1", ts=None, secret=None,
                  api_key_id="", scopes=""):
    """The internal-auth headers of libcommon/include/common/iauth.h, signed with secret
    (default FR_INTERNAL_SECRET). Includes X-Request-Id (part of the signed message).
    api_key_id + scopes (space-separated) describe an API-key caller (user/session empty)."""
    request_id = request_id or "e2e-" + uuid.uuid4().hex
    ts = int(time.time()) if ts is None else ts
    secret = INTERNAL_SECRET if secret is None else secret
    msg = "\n".join([str(ts), caller, method.upper(), target, request_id, user, tenant, session,
                     roles, client_ip, api_key_id, scopes])
    sig = hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest()
    return {"X-Request-Id": request_id, "X-FR-Caller": caller, "X-FR-User-Id": user,
            "X-FR-Tenant-Id": tenant, "X-FR-Session-Id": session, "X-FR-Roles": roles,
            "X-FR-Client-Ip": client_ip, "X-FR-Api-Key-Id": api_key_id, "X-FR-Scopes": scopes,
            "X-FR-Auth-Ts": str(ts), "X-FR-Auth-Sig": sig}


def service_secret(client_id):
    """The local derived service client secret (FR_ENV=local, FR_SERVICE_CLIENT_SECRET unset):
    hex HMAC-SHA256(FR_INTERNAL_SECRET, "service-client:<client_id>")."""
    return hmac.new(INTERNAL_SECRET.encode(), ("service-client:" + client_id).encode(),
                    hashlib.sha256).hexdigest()


def service_token(audience, client_id="render"):
    """A service token for audience minted by identity (POST /internal/v1/service-tokens)
    with client_id's local derived secret."""
    r = idn("POST", "/internal/v1/service-tokens",
            body={"client_id": client_id, "client_secret": service_secret(client_id),
                  "audience": audience})
    if r.status != 200:
        raise AssertionError("service token not minted: " + r.describe())
    return r.json["access_token"]


# ---- account helpers ------------------------------------------------------------------------

def new_email(tag="user"):
    return "e2e-%s-%s@example.test" % (tag, uuid.uuid4().hex[:16])


def new_password():
    return "pw-" + uuid.uuid4().hex


def register(email, password, **extra):
    body = {"tenant_slug": TENANT, "email": email, "password": password}
    body.update(extra)
    return gw("POST", "/v1/auth/register", body=body)


def login(email, password, tenant=TENANT, **extra):
    body = {"tenant_slug": tenant, "email": email, "password": password}
    body.update(extra)
    return gw("POST", "/v1/auth/login", body=body)


class Account:
    """A freshly registered user and its first login."""

    def __init__(self, tag="user", **extra):
        self.email, self.password = new_email(tag), new_password()
        r = register(self.email, self.password, **extra)
        if r.status != 201:
            raise AssertionError("register failed: " + r.describe())
        self.user_id = r.json["user_id"]
        self.tokens = self.login()

    def login(self, **extra):
        r = login(self.email, self.password, **extra)
        if r.status != 200:
            raise AssertionError("login failed: " + r.describe())
        return r.json

    @property
    def token(self):
        return self.tokens["access_token"]

    @property
    def session_id(self):
        return jwt_parts(self.token)[1]["sid"]


def poll(fn, until, timeout=REVOKE_WITHIN_S, interval=0.2):
    """Calls fn() until until(result) holds; returns (result, seconds waited). Fails when it
    does not hold within timeout."""
    start = time.monotonic()
    while True:
        result = fn()
        waited = time.monotonic() - start
        if until(result):
            return result, waited
        if waited > timeout:
            desc = result.describe() if isinstance(result, Response) else repr(result)
            raise AssertionError("condition not reached within %.1f s; last: %s" % (timeout, desc))
        time.sleep(interval)


def wait_revoked(token, timeout=REVOKE_WITHIN_S):
    """Polls GET /v1/users/me at the gateway until token is refused 401 session_revoked."""
    r, waited = poll(lambda: gw("GET", "/v1/users/me", token=token),
                     lambda r: r.status == 401, timeout=timeout)
    if r.code != "session_revoked":
        raise AssertionError("expected 401 session_revoked, got: " + r.describe())
    return waited


# ---- assertions -----------------------------------------------------------------------------

def expect(resp, status, code=None):
    """Fails unless resp has this status (and error code, when given). Returns resp."""
    if resp.status != status or (code is not None and resp.code != code):
        raise AssertionError("expected %d%s, got: %s"
                             % (status, " " + code if code else "", resp.describe()))
    return resp


def detail_fields(resp):
    """The field names of a 422's details list."""
    details = (resp.json or {}).get("error", {}).get("details") or []
    return {d.get("field") for d in details if isinstance(d, dict)}


def header_tokens(value):
    """'GET, PATCH' -> {'get', 'patch'} (case-insensitive comma list)."""
    return {t.strip().lower() for t in (value or "").split(",") if t.strip()}
