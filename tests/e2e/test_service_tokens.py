"""test_service_tokens.py - service tokens end to end against the real identity and gateway.

identity mints them (POST /internal/v1/service-tokens, client credentials in the body); a
service token is accepted on an internal route that requires one (identity's
GET /internal/v1/whoami) and refused on user routes (GET /v1/users/me, on identity directly
and through the gateway); a user's access token is refused on the internal route.
The local stack leaves IDENTITY_SERVICE_CLIENTS empty, so each default client's secret is
the derivation every daemon uses: hex HMAC-SHA256(FR_INTERNAL_SECRET, "service-client:" + id).
"""
import hashlib
import hmac
import time
import unittest
import uuid

import client as c

MINT = "/internal/v1/service-tokens"
WHOAMI = "/internal/v1/whoami"


def derived_secret(client_id):
    return hmac.new(c.INTERNAL_SECRET.encode(), ("service-client:" + client_id).encode(),
                    hashlib.sha256).hexdigest()


def mint(client_id="gateway", secret=None, audience="identity", **extra):
    body = {"client_id": client_id,
            "client_secret": derived_secret(client_id) if secret is None else secret,
            "audience": audience}
    body.update(extra)
    return c.idn("POST", MINT, body=body)


def service_token(client_id="gateway", audience="identity"):
    return c.expect(mint(client_id, audience=audience), 200).json["access_token"]


@unittest.skipUnless(c.INTERNAL_SECRET, "needs FR_INTERNAL_SECRET (eval scripts/stack.sh env)")
class MintTests(unittest.TestCase):
    def test_mint_returns_a_service_token_with_the_documented_claims(self):
        before = int(time.time())
        r = c.expect(mint("billing", audience="identity"), 200)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        self.assertEqual(r.json["token_type"], "Bearer")
        self.assertEqual(r.json["audience"], "identity")
        self.assertEqual(r.json["expires_in"], 300)
        header, claims, _ = c.jwt_parts(r.json["access_token"])
        self.assertEqual(header["alg"], "ES256")
        self.assertEqual(claims["sub"], "svc:billing")
        self.assertEqual(claims["aud"], "identity")
        self.assertEqual(claims["token_use"], "service")
        self.assertGreaterEqual(claims["iat"], before - 1)
        self.assertEqual(claims["exp"] - claims["iat"], 300)
        self.assertTrue(claims["jti"])
        self.assertTrue(claims["iss"])
        kids = {k["kid"] for k in c.expect(c.idn("GET", "/v1/.well-known/jwks.json"), 200)
                .json["keys"]}
        self.assertIn(header["kid"], kids)  # verifiable by every service from the JWKS

    def test_each_token_is_distinct(self):
        a, b = service_token(), service_token()
        self.assertNotEqual(c.jwt_parts(a)[1]["jti"], c.jwt_parts(b)[1]["jti"])

    def test_wrong_secret_is_401_invalid_client(self):
        c.expect(mint("gateway", secret=derived_secret("billing")), 401, "invalid_client")
        c.expect(mint("gateway", secret="x"), 401, "invalid_client")

    def test_unknown_client_is_401_invalid_client(self):
        # "identity" is a valid audience but not a default client
        c.expect(mint("identity"), 401, "invalid_client")
        c.expect(mint("nobody-" + uuid.uuid4().hex[:8]), 401, "invalid_client")

    def test_unknown_audience_is_422(self):
        r = c.expect(mint("gateway", audience="flatrender"), 422, "validation_failed")
        self.assertEqual(c.detail_fields(r), {"audience"})
        c.expect(mint("gateway", audience="nosuchservice"), 422, "validation_failed")

    def test_missing_and_unknown_fields_are_422(self):
        r = c.expect(c.idn("POST", MINT, body={"client_id": "gateway"}), 422,
                     "validation_failed")
        self.assertEqual(c.detail_fields(r), {"client_secret", "audience"})
        r = c.expect(mint("gateway", scope="all"), 422, "validation_failed")
        self.assertEqual(c.detail_fields(r), {"scope"})
        c.expect(c.idn("POST", MINT, raw=b"{", content_type="application/json"), 400)

    def test_repeated_failures_of_one_client_are_throttled(self):
        name = "brute-" + uuid.uuid4().hex[:8]  # a name of its own: the real clients stay usable
        for _ in range(10):
            c.expect(mint(name, secret="guess"), 401, "invalid_client")
        r = c.expect(mint(name, secret="guess"), 429, "rate_limited")
        self.assertGreaterEqual(int(r.header("Retry-After")), 1)
        c.expect(mint("gateway"), 200)  # other clients are not affected


@unittest.skipUnless(c.INTERNAL_SECRET, "needs FR_INTERNAL_SECRET (eval scripts/stack.sh env)")
class UseTests(unittest.TestCase):
    def test_service_token_is_accepted_on_an_internal_route(self):
        r = c.expect(c.idn("GET", WHOAMI, token=service_token("billing")), 200)
        self.assertEqual(r.json, {"client_id": "billing"})
        r = c.expect(c.idn("GET", WHOAMI, token=service_token("gateway")), 200)
        self.assertEqual(r.json, {"client_id": "gateway"})

    def test_service_token_for_another_audience_is_refused(self):
        tok = service_token("gateway", audience="billing")
        c.expect(c.idn("GET", WHOAMI, token=tok), 401, "token_invalid")

    def test_internal_route_without_or_with_a_forged_token_is_401(self):
        r = c.expect(c.idn("GET", WHOAMI), 401, "token_missing")
        self.assertEqual(r.header("WWW-Authenticate"), "Bearer")
        header, claims, sig = c.jwt_parts(service_token("billing"))
        claims["sub"] = "svc:gateway"  # re-labelled: the signature no longer matches
        c.expect(c.idn("GET", WHOAMI, token=c.jwt_forge(header, claims, sig)), 401,
                 "token_invalid")
        header["alg"] = "none"
        c.expect(c.idn("GET", WHOAMI, token=c.jwt_forge(header, claims)), 401, "token_invalid")

    def test_user_jwt_is_refused_on_the_internal_route(self):
        user = c.Account("svc-user")
        c.expect(c.idn("GET", WHOAMI, token=user.token), 401, "service_token_required")
        c.expect(c.idn("GET", "/v1/users/me", token=user.token), 200)  # it is a valid token

    def test_service_token_is_refused_on_user_routes(self):
        tok = service_token("gateway", audience="identity")
        c.expect(c.idn("GET", "/v1/users/me", token=tok), 401, "token_invalid")
        c.expect(c.gw("GET", "/v1/users/me", token=tok), 401, "token_invalid")
        tok = service_token("gateway", audience="gateway")
        c.expect(c.gw("GET", "/v1/users/me", token=tok), 401, "token_invalid")
        c.expect(c.gw("GET", "/v1/auth/sessions", token=tok), 401, "token_invalid")

    def test_internal_routes_are_not_routed_by_the_gateway(self):
        c.expect(c.gw("GET", WHOAMI, token=service_token("gateway")), 404)
        c.expect(c.gw("POST", MINT, body={"client_id": "gateway",
                                          "client_secret": derived_secret("gateway"),
                                          "audience": "identity"}), 404)


if __name__ == "__main__":
    unittest.main()
