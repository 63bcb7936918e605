"""test_sessions.py - sessions, refresh rotation and reuse detection, logout; revocation must
reach the gateway within seconds (client.REVOKE_WITHIN_S)."""
import unittest
import uuid

import client as c


def refresh(token):
    return c.gw("POST", "/v1/auth/refresh", body={"refresh_token": token})


def sessions(access_token):
    return c.expect(c.gw("GET", "/v1/auth/sessions", token=access_token), 200).json["sessions"]


def sid_of(access_token):
    return c.jwt_parts(access_token)[1]["sid"]


class SessionTests(unittest.TestCase):
    def test_sessions_list_marks_exactly_one_current(self):
        acct = c.Account("sess")
        other = acct.login(device_name="e2e-device-B", device_id="dev-b")
        sid_a, sid_b = acct.session_id, sid_of(other["access_token"])
        for token, current in ((acct.token, sid_a), (other["access_token"], sid_b)):
            listed = sessions(token)
            ids = [s["id"] for s in listed]
            self.assertEqual(sorted(ids), sorted([sid_a, sid_b]))
            self.assertEqual([s["id"] for s in listed if s["is_current"]], [current])
        by_id = {s["id"]: s for s in sessions(acct.token)}
        self.assertEqual(by_id[sid_b]["device_name"], "e2e-device-B")

    def test_delete_other_session_revokes_its_access_token(self):
        acct = c.Account("sess-del")
        other = acct.login(device_name="to-be-revoked")
        c.expect(c.gw("GET", "/v1/users/me", token=other["access_token"]), 200)  # cached valid
        sid_b = sid_of(other["access_token"])
        c.expect(c.gw("DELETE", "/v1/auth/sessions/" + sid_b, token=acct.token), 204)
        c.wait_revoked(other["access_token"])
        c.expect(c.gw("GET", "/v1/users/me", token=acct.token), 200)
        self.assertNotIn(sid_b, [s["id"] for s in sessions(acct.token)])
        c.expect(refresh(other["refresh_token"]), 401, "invalid_refresh_token")

    def test_delete_session_errors(self):
        acct, stranger = c.Account("sess-err"), c.Account("sess-stranger")
        path = "/v1/auth/sessions/"
        c.expect(c.gw("DELETE", path + str(uuid.uuid4()), token=acct.token), 404,
                 "session_not_found")
        c.expect(c.gw("DELETE", path + "not-a-uuid", token=acct.token), 400, "invalid_parameter")
        # Someone else's session is not yours to revoke, and it keeps working.
        c.expect(c.gw("DELETE", path + stranger.session_id, token=acct.token), 404,
                 "session_not_found")
        c.expect(c.gw("GET", "/v1/users/me", token=stranger.token), 200)
        c.expect(c.gw("DELETE", path + stranger.session_id), 401, "token_missing")


class RefreshTests(unittest.TestCase):
    def test_refresh_rotates_tokens(self):
        acct = c.Account("refresh")
        r1 = acct.tokens["refresh_token"]
        t2 = c.expect(refresh(r1), 200).json
        self.assertNotEqual(t2["refresh_token"], r1)
        self.assertNotEqual(t2["access_token"], acct.token)
        self.assertEqual(sid_of(t2["access_token"]), acct.session_id)
        self.assertEqual(t2["user"]["id"], acct.user_id)
        me = c.expect(c.gw("GET", "/v1/users/me", token=t2["access_token"]), 200).json
        self.assertEqual(me["id"], acct.user_id)
        t3 = c.expect(refresh(t2["refresh_token"]), 200).json  # the new one works once too
        self.assertNotIn(t3["refresh_token"], (r1, t2["refresh_token"]))

    def test_refresh_reuse_revokes_the_whole_session(self):
        acct = c.Account("reuse")
        r1 = acct.tokens["refresh_token"]
        t2 = c.expect(refresh(r1), 200).json
        c.expect(c.gw("GET", "/v1/users/me", token=t2["access_token"]), 200)
        c.expect(refresh(r1), 401, "refresh_token_reused")
        # The family is revoked: the newest refresh token is dead too ...
        dead = c.expect(refresh(t2["refresh_token"]), 401)
        self.assertIn(dead.code, ("invalid_refresh_token", "refresh_token_reused"))
        # ... and so are the session's access tokens, at the gateway, within seconds.
        c.wait_revoked(t2["access_token"])
        c.wait_revoked(acct.token)
        # Other sessions of the same user are untouched.
        fresh = acct.login()
        c.expect(c.gw("GET", "/v1/users/me", token=fresh["access_token"]), 200)

    def test_refresh_unknown_token_is_401(self):
        fake = "frt_" + c.b64url_encode(uuid.uuid4().bytes + uuid.uuid4().bytes)
        c.expect(refresh(fake), 401, "invalid_refresh_token")

    def test_refresh_rejects_an_access_token(self):
        acct = c.Account("refresh-access")
        c.expect(refresh(acct.token), 401, "invalid_refresh_token")

    def test_refresh_missing_field_is_422(self):
        r = c.expect(c.gw("POST", "/v1/auth/refresh", body={}), 422, "validation_failed")
        self.assertIn("refresh_token", c.detail_fields(r))


class LogoutTests(unittest.TestCase):
    def test_logout_revokes_the_session(self):
        acct = c.Account("logout")
        other = acct.login()
        c.expect(c.gw("GET", "/v1/users/me", token=acct.token), 200)  # warm every cache
        c.expect(c.gw("POST", "/v1/auth/logout", token=acct.token), 204)
        c.wait_revoked(acct.token)
        c.expect(refresh(acct.tokens["refresh_token"]), 401, "invalid_refresh_token")
        c.expect(c.gw("POST", "/v1/auth/logout", token=acct.token), 401, "session_revoked")
        # Identity itself checks the session in its database: refused at once.
        c.expect(c.idn("GET", "/v1/users/me", token=acct.token), 401)
        # Only that session: the other login still works.
        c.expect(c.gw("GET", "/v1/users/me", token=other["access_token"]), 200)

    def test_logout_is_immediate_at_the_same_gateway(self):
        # The gateway that proxied the logout marks the session revoked itself: the very next
        # request is refused, with no cache TTL to wait out.
        acct = c.Account("logout-now")
        other = acct.login()
        c.expect(c.gw("GET", "/v1/users/me", token=acct.token), 200)  # warm every cache
        c.expect(c.gw("GET", "/v1/users/me", token=other["access_token"]), 200)
        c.expect(c.gw("POST", "/v1/auth/logout", token=acct.token), 204)
        c.expect(c.gw("GET", "/v1/users/me", token=acct.token), 401, "session_revoked")
        # Likewise a session deleted from another one.
        sid = c.jwt_parts(other["access_token"])[1]["sid"]
        third = acct.login()
        c.expect(c.gw("DELETE", f"/v1/auth/sessions/{sid}", token=third["access_token"]), 204)
        c.expect(c.gw("GET", "/v1/users/me", token=other["access_token"]), 401, "session_revoked")
        c.expect(c.gw("GET", "/v1/users/me", token=third["access_token"]), 200)

    def test_logout_without_token_is_401(self):
        c.expect(c.gw("POST", "/v1/auth/logout"), 401, "token_missing")


if __name__ == "__main__":
    unittest.main()
