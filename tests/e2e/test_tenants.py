"""test_tenants.py - the tenant administration API through the gateway.

POST /v1/tenants creates a tenant with its first tenant admin, who logs in with the new slug;
GET /v1/tenants (paginated), GET and PATCH /v1/tenants/{id} with their permissions (platform
admin everywhere, tenant admin only in its own tenant, others 403 / 404); suspension makes the
tenant admin's access token fail at the gateway within seconds and reactivation brings it
back; identity.tenant.created/updated/suspended.v1 (with the causing X-Request-Id as
trace_id) when FR_AMQP_URL is set. Every response is checked against the contracts.
"""
import os
import unittest
import uuid

import client as c
import reseller as rs


def rid(tag):
    return "e2e-tn-%s-%s" % (tag, uuid.uuid4().hex[:12])


def tenant_body(**over):
    slug = "e2e-" + uuid.uuid4().hex[:12]
    body = {"slug": slug, "name": "Tenant " + slug, "contact_email": c.new_email("contact"),
            "admin_email": c.new_email("tadmin"), "admin_password": c.new_password()}
    body.update(over)
    return body


def admin():
    return rs.platform_admin_token()


class TenantCreateTests(unittest.TestCase):
    def test_create_tenant_and_its_admin_logs_in_with_the_slug(self):
        body = tenant_body(kind="Enterprise", contact_name="Ada", contact_phone="+100")
        r = c.expect(c.gw("POST", "/v1/tenants", body=body, token=admin()), 201)
        t = r.json
        self.assertEqual((t["slug"], t["kind"], t["status"]), (body["slug"], "Enterprise", "Active"))
        self.assertEqual((t["contact_name"], t["contact_phone"]), ("Ada", "+100"))
        self.assertEqual(t["contact_email"], body["contact_email"].lower())
        login = c.expect(c.login(body["admin_email"].upper(), body["admin_password"],
                                 tenant=body["slug"]), 200).json
        self.assertEqual(login["tenant"]["id"], t["id"])
        self.assertTrue(login["user"]["is_tenant_admin"])
        self.assertFalse(login["user"]["is_admin"])
        self.assertEqual(login["user"]["email"], body["admin_email"].lower())
        # the admin belongs to the new tenant only
        c.expect(c.login(body["admin_email"], body["admin_password"]), 401, "invalid_credentials")

    def test_duplicate_slug_is_409(self):
        body = tenant_body()
        c.expect(c.gw("POST", "/v1/tenants", body=body, token=admin()), 201)
        again = tenant_body(slug=body["slug"])
        c.expect(c.gw("POST", "/v1/tenants", body=again, token=admin()), 409, "slug_taken")
        c.expect(c.gw("POST", "/v1/tenants", body=tenant_body(slug="default"), token=admin()),
                 409, "slug_taken")

    def test_validation_names_every_bad_field(self):
        body = tenant_body(slug="Bad_Slug-", kind="Internal", admin_password="short",
                           contact_email="nope", extra=1)
        del body["name"]
        r = c.expect(c.gw("POST", "/v1/tenants", body=body, token=admin()), 422,
                     "validation_failed")
        self.assertEqual(c.detail_fields(r), {"slug", "kind", "admin_password", "contact_email",
                                              "name", "extra"})
        c.expect(c.gw("POST", "/v1/tenants", raw=b"{", token=admin()), 400)

    def test_only_platform_admins_create(self):
        user = c.Account("tn-user")
        c.expect(c.gw("POST", "/v1/tenants", body=tenant_body(), token=user.token), 403,
                 "forbidden")
        t = rs.new_tenant()
        c.expect(c.gw("POST", "/v1/tenants", body=tenant_body(), token=t["admin_token"]), 403,
                 "forbidden")
        c.expect(c.gw("POST", "/v1/tenants", body=tenant_body()), 401, "token_missing")


class TenantReadTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = rs.new_tenant()
        cls.b = rs.new_tenant()

    def test_list_is_paginated_for_platform_admins(self):
        r = c.expect(c.gw("GET", "/v1/tenants?page=1&page_size=1", token=admin()), 200)
        self.assertEqual(len(r.json["data"]), 1)
        meta = r.json["meta"]
        self.assertEqual((meta["page"], meta["page_size"]), (1, 1))
        self.assertGreaterEqual(meta["total"], 3)
        self.assertTrue(meta["has_more"])
        seen, page = set(), 1
        while True:
            r = c.expect(c.gw("GET", "/v1/tenants?page=%d&page_size=100" % page,
                              token=admin()), 200)
            seen |= {t["id"] for t in r.json["data"]}
            if not r.json["meta"]["has_more"]:
                break
            page += 1
        self.assertLessEqual({self.a["tenant_id"], self.b["tenant_id"]}, seen)
        past = c.expect(c.gw("GET", "/v1/tenants?page=100000", token=admin()), 200)
        self.assertEqual(past.json["data"], [])
        self.assertFalse(past.json["meta"]["has_more"])
        for q in ("page=0", "page_size=101", "page=x", "page_size=-1"):
            r = c.expect(c.gw("GET", "/v1/tenants?" + q, token=admin()), 422)
            self.assertTrue(c.detail_fields(r) & {"page", "page_size"}, q)

    def test_list_is_refused_to_everyone_else(self):
        c.expect(c.gw("GET", "/v1/tenants", token=self.a["admin_token"]), 403, "forbidden")
        c.expect(c.gw("GET", "/v1/tenants", token=c.Account("tn-list").token), 403, "forbidden")

    def test_get_own_tenant_only(self):
        a, b = self.a, self.b
        r = c.expect(c.gw("GET", "/v1/tenants/" + a["tenant_id"], token=a["admin_token"]), 200)
        self.assertEqual(r.json["slug"], a["slug"])
        c.expect(c.gw("GET", "/v1/tenants/" + b["tenant_id"], token=a["admin_token"]), 404,
                 "tenant_not_found")
        c.expect(c.gw("GET", "/v1/tenants/" + b["tenant_id"], token=admin()), 200)
        c.expect(c.gw("GET", "/v1/tenants/" + str(uuid.uuid4()), token=admin()), 404,
                 "tenant_not_found")
        c.expect(c.gw("GET", "/v1/tenants/not-a-uuid", token=admin()), 400, "invalid_parameter")
        user = c.Account("tn-get")  # a plain user of "default"
        default_id = user.tokens["tenant"]["id"]
        c.expect(c.gw("GET", "/v1/tenants/" + default_id, token=user.token), 403, "forbidden")


class TenantPatchTests(unittest.TestCase):
    def setUp(self):
        self.t = rs.new_tenant()
        self.path = "/v1/tenants/" + self.t["tenant_id"]

    def test_tenant_admin_updates_settings(self):
        body = {"name": "Renamed", "contact_name": "Bob", "billing_email": "bill@example.test",
                "allowed_origins": ["https://app.example.test", "http://localhost:3000"]}
        r = c.expect(c.gw("PATCH", self.path, body=body, token=self.t["admin_token"]), 200)
        for k, v in body.items():
            self.assertEqual(r.json[k], v, k)
        r = c.expect(c.gw("PATCH", self.path, body={"contact_name": None},
                          token=self.t["admin_token"]), 200)
        self.assertIsNone(r.json["contact_name"])
        self.assertEqual(r.json["name"], "Renamed")
        got = c.expect(c.gw("GET", self.path, token=self.t["admin_token"]), 200).json
        self.assertEqual(got, r.json)
        c.expect(c.gw("PATCH", self.path, body={}, token=self.t["admin_token"]), 200)

    def test_bad_fields_are_422(self):
        bad = {"name": None, "allowed_origins": ["https://x.test/path"], "contact_email": "x",
               "status": "Frozen", "slug": "renamed"}
        r = c.expect(c.gw("PATCH", self.path, body=bad, token=admin()), 422)
        self.assertEqual(c.detail_fields(r), set(bad))
        c.expect(c.gw("PATCH", self.path, body={"allowed_origins": ["ftp://x.test"]},
                      token=admin()), 422)

    def test_status_is_for_platform_admins_only(self):
        c.expect(c.gw("PATCH", self.path, body={"status": "Suspended"},
                      token=self.t["admin_token"]), 403, "forbidden")
        other = rs.new_tenant()
        c.expect(c.gw("PATCH", self.path, body={"name": "x"}, token=other["admin_token"]), 404,
                 "tenant_not_found")
        default_id = c.expect(c.login(c.ADMIN_EMAIL, c.ADMIN_PASSWORD), 200).json["tenant"]["id"]
        r = c.expect(c.gw("PATCH", "/v1/tenants/" + default_id, body={"status": "Suspended"},
                          token=admin()), 422)
        self.assertEqual(c.detail_fields(r), {"status"})

    def test_suspension_stops_the_tenant_admin_and_reactivation_restores(self):
        token = self.t["admin_token"]
        c.expect(c.gw("GET", "/v1/users/me", token=token), 200)
        r = c.expect(c.gw("PATCH", self.path, body={"status": "Suspended"}, token=admin()), 200)
        self.assertEqual(r.json["status"], "Suspended")
        refused, _ = c.poll(lambda: c.gw("GET", "/v1/users/me", token=token),
                            lambda x: x.status in (401, 403))
        self.assertIn(refused.code, ("session_revoked", "tenant_suspended"))
        c.expect(c.login(self.t["admin_email"], self.t["admin_password"], tenant=self.t["slug"]),
                 403, "tenant_suspended")
        c.expect(c.gw("PATCH", self.path, body={"status": "Active"}, token=admin()), 200)
        c.poll(lambda: c.gw("GET", "/v1/users/me", token=token), lambda x: x.status == 200)
        c.expect(c.login(self.t["admin_email"], self.t["admin_password"], tenant=self.t["slug"]),
                 200)


@unittest.skipUnless(os.environ.get("FR_AMQP_URL"), "FR_AMQP_URL is not set")
class TenantEventTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import events
        cls.tap = events.EventTap().start()

    @classmethod
    def tearDownClass(cls):
        cls.tap.stop()

    def expect(self, event_type, trace_id, **fields):
        """The event of this type caused by the request trace_id, with these data fields."""
        msg = self.tap.wait_for(lambda m: m.event_type == event_type and m.trace_id == trace_id
                                and all(m.data.get(k) == v for k, v in fields.items()))
        self.assertTrue(msg.ok, msg.describe())
        self.assertEqual(msg.envelope["producer"], "identity")
        return msg

    def test_create_update_suspend_events(self):
        body = tenant_body()
        r = c.expect(c.gw("POST", "/v1/tenants", body=body, token=admin(),
                          headers={"X-Request-Id": rid("create")}), 201)
        tid = r.json["id"]
        trace = r.header("x-request-id")
        created = self.expect("identity.tenant.created.v1", trace, tenant_id=tid)
        self.assertEqual((created.data["slug"], created.data["status"]), (body["slug"], "Active"))
        self.expect("identity.user.registered.v1", trace, tenant_id=tid,
                    email=body["admin_email"].lower())

        r = c.expect(c.gw("PATCH", "/v1/tenants/" + tid, body={"name": "New name"},
                          token=admin(), headers={"X-Request-Id": rid("rename")}), 200)
        upd = self.expect("identity.tenant.updated.v1", r.header("x-request-id"), tenant_id=tid)
        self.assertEqual(upd.data["changed_fields"], ["name"])
        self.assertEqual(upd.data["name"], "New name")

        r = c.expect(c.gw("PATCH", "/v1/tenants/" + tid, body={"status": "Suspended"},
                          token=admin(), headers={"X-Request-Id": rid("suspend")}), 200)
        trace = r.header("x-request-id")
        upd = self.expect("identity.tenant.updated.v1", trace, tenant_id=tid, status="Suspended")
        self.assertEqual(upd.data["changed_fields"], ["status"])
        sus = self.expect("identity.tenant.suspended.v1", trace, tenant_id=tid)
        self.assertEqual(sus.data["previous_status"], "Active")
        self.assertIsNotNone(sus.data["suspended_by_user_id"])

        r = c.expect(c.gw("PATCH", "/v1/tenants/" + tid, body={"status": "Active"},
                          token=admin(), headers={"X-Request-Id": rid("resume")}), 200)
        self.expect("identity.tenant.updated.v1", r.header("x-request-id"), tenant_id=tid,
                    status="Active")
        self.tap.assert_all_valid()


if __name__ == "__main__":
    unittest.main()
