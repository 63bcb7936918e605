"""test_users.py - GET and PATCH /v1/users/me through the gateway."""
import unittest

import client as c


class UsersMeTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.acct = c.Account("me", full_name="E2E Me")

    def me(self):
        return c.expect(c.gw("GET", "/v1/users/me", token=self.acct.token), 200).json

    def patch(self, body, status=200, code=None):
        return c.expect(c.gw("PATCH", "/v1/users/me", token=self.acct.token, body=body),
                        status, code)

    def test_get_me_returns_own_profile(self):
        acct = c.Account("me-get", full_name="E2E Me")  # untouched by the PATCH tests
        me = c.expect(c.gw("GET", "/v1/users/me", token=acct.token), 200).json
        self.assertEqual(me["id"], acct.user_id)
        self.assertEqual(me["email"], acct.email)
        self.assertEqual(me["full_name"], "E2E Me")
        self.assertEqual(me["register_mode"], "Email")
        self.assertEqual(me["status"], "Active")
        self.assertIs(me["is_admin"], False)

    def test_get_me_without_token_is_401_token_missing(self):
        c.expect(c.gw("GET", "/v1/users/me"), 401, "token_missing")

    def test_patch_me_updates_and_persists(self):
        update = {"full_name": "Ada E2E", "slogan": "renders all day",
                  "about_me": "line one\nline two \u00e9\u4e2d", "company_name": "E2E Ltd",
                  "website_name": "e2e.example.test", "birth_date": "1990-02-28",
                  "gender": "PreferNotToSay", "email_tell_me": False, "sms_tell_me": True,
                  "push_tell_me": True, "telegram_tell_me": True}
        r = self.patch(update)
        for k, v in update.items():
            self.assertEqual(r.json[k], v, k)
        me = self.me()
        for k, v in update.items():
            self.assertEqual(me[k], v, k)

    def test_patch_me_changes_only_the_fields_sent(self):
        self.patch({"full_name": "Partial Name", "company_name": "Keep Co"})
        r = self.patch({"slogan": "only this"})
        self.assertEqual(r.json["slogan"], "only this")
        self.assertEqual(r.json["full_name"], "Partial Name")
        self.assertEqual(r.json["company_name"], "Keep Co")
        self.assertEqual(r.json["email"], self.acct.email)

    def test_patch_me_invalid_gender_is_422(self):
        for gender in ("Robot", "male", ""):
            with self.subTest(gender=gender):
                r = self.patch({"gender": gender}, 422, "validation_failed")
                self.assertIn("gender", c.detail_fields(r))

    def test_patch_me_invalid_birth_date_is_422(self):
        for date in ("2023-02-30", "1990-13-01", "1990-1-1", "not-a-date",
                     "1990-01-01T00:00:00Z"):
            with self.subTest(birth_date=date):
                r = self.patch({"birth_date": date}, 422, "validation_failed")
                self.assertIn("birth_date", c.detail_fields(r))

    def test_patch_me_leap_day_is_a_real_date(self):
        self.assertEqual(self.patch({"birth_date": "2000-02-29"}).json["birth_date"], "2000-02-29")

    def test_patch_me_unknown_or_privileged_field_is_422(self):
        for field, value in (("is_admin", True), ("email", "x@example.test"), ("status", "Active"),
                             ("tenant_id", self.acct.tokens["tenant"]["id"]), ("nope", 1)):
            with self.subTest(field=field):
                r = self.patch({field: value}, 422, "validation_failed")
                self.assertIn(field, c.detail_fields(r))
        me = self.me()
        self.assertIs(me["is_admin"], False)
        self.assertEqual(me["email"], self.acct.email)

    def test_patch_me_wrong_types_and_lengths_are_422(self):
        cases = ({"email_tell_me": "yes"}, {"full_name": 5}, {"about_me": "x" * 2001},
                 {"slogan": "x" * 201}, {"website_name": "x" * 201}, {"birth_date": 19900101})
        for body in cases:
            with self.subTest(body=list(body)):
                r = self.patch(body, 422, "validation_failed")
                self.assertEqual(c.detail_fields(r), set(body))

    def test_patch_me_malformed_and_wrong_content_type(self):
        r = c.gw("PATCH", "/v1/users/me", token=self.acct.token, raw=b'{"slogan":')
        c.expect(r, 400, "malformed_json")
        r = c.gw("PATCH", "/v1/users/me", token=self.acct.token, raw=b'{"slogan":"x"}',
                 content_type="text/plain")
        c.expect(r, 415, "unsupported_media_type")


if __name__ == "__main__":
    unittest.main()
