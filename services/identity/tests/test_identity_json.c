/*
 * test_identity_json.c - User, Tenant, Session, SessionStatus and AuthTokens rendered exactly
 * as api.md / contracts/common/types.yaml: every key present (nulls included), no extra key,
 * the right JSON types.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "identity_json.h"

/* Asserts o has exactly the keys in the NULL-terminated list. */
static void assert_keys(json_object *o, const char *const *keys)
{
	size_t n = 0;

	for (; keys[n] != NULL; n++) {
		if (!json_object_object_get_ex(o, keys[n], NULL))
			fail_msg("missing key %s", keys[n]);
	}
	assert_int_equal(json_object_object_length(o), n);
}

static json_type type_of(json_object *o, const char *key)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_type(v); /* json_type_null for NULL */
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

static const struct tenant TENANT = {
	.id = "7b0c0b9e-5d0c-4c51-9a5e-0d8b8b2f1a11",
	.slug = "default",
	.name = "Default",
	.kind = "Internal",
	.status = "Active",
	.custom_domain = NULL,
	.domain_verified = false,
	.contact_email = "admin@flatrender.local",
	.max_users = {true, 50},
	.max_storage_gb = {false, 0},
	.monthly_render_qty = {false, 0},
	.trial_ends_at = NULL,
	.created_at = "2026-05-27T10:15:00Z",
};

static const struct user USER = {
	.id = "0d6f5f2c-0e5b-4b1a-8f5e-3c1d2b4a5e6f",
	.tenant_id = "7b0c0b9e-5d0c-4c51-9a5e-0d8b8b2f1a11",
	.email = "ada@example.com",
	.full_name = "Ada",
	.register_mode = "Email",
	.status = "Active",
	.birth_date = "1815-12-10",
	.gender = "Female",
	.email_tell_me = true,
	.push_tell_me = true,
	.is_admin = true,
	.register_date = "2026-05-27T10:15:00Z",
};

static const char *const user_keys[] = {"id",
					"tenant_id",
					"email",
					"email_verified",
					"phone_number",
					"phone_verified",
					"full_name",
					"avatar_url",
					"is_admin",
					"is_tenant_admin",
					"register_mode",
					"status",
					"slogan",
					"about_me",
					"company_name",
					"website_name",
					"birth_date",
					"gender",
					"email_tell_me",
					"sms_tell_me",
					"push_tell_me",
					"telegram_tell_me",
					"last_active_date",
					"register_date",
					NULL};
static const char *const tenant_keys[] = {"id",
					  "slug",
					  "name",
					  "kind",
					  "status",
					  "custom_domain",
					  "domain_verified",
					  "contact_email",
					  "max_users",
					  "max_storage_gb",
					  "monthly_render_qty",
					  "trial_ends_at",
					  "created_at",
					  NULL};

static void test_identity_json_tenant_shape(void **state)
{
	json_object *o = tenant_to_json(&TENANT);

	(void)state;
	assert_keys(o, tenant_keys);
	assert_int_equal(type_of(o, "custom_domain"), json_type_null);
	assert_int_equal(type_of(o, "max_users"), json_type_int);
	assert_int_equal(json_object_get_int(json_object_object_get(o, "max_users")), 50);
	assert_int_equal(type_of(o, "max_storage_gb"), json_type_null);
	assert_int_equal(type_of(o, "trial_ends_at"), json_type_null);
	assert_int_equal(type_of(o, "domain_verified"), json_type_boolean);
	assert_string_equal(str_of(o, "kind"), "Internal");
	assert_string_equal(str_of(o, "created_at"), "2026-05-27T10:15:00Z");
	json_object_put(o);
}

static void test_identity_json_user_shape(void **state)
{
	json_object *o = user_to_json(&USER);

	(void)state;
	assert_keys(o, user_keys);
	assert_int_equal(type_of(o, "phone_number"), json_type_null);
	assert_int_equal(type_of(o, "last_active_date"), json_type_null);
	assert_int_equal(type_of(o, "slogan"), json_type_null);
	assert_int_equal(type_of(o, "is_admin"), json_type_boolean);
	assert_true(json_object_get_boolean(json_object_object_get(o, "is_admin")));
	assert_false(json_object_get_boolean(json_object_object_get(o, "sms_tell_me")));
	assert_string_equal(str_of(o, "birth_date"), "1815-12-10");
	assert_string_equal(str_of(o, "gender"), "Female");
	assert_null(json_object_object_get(o, "password_hash"));
	json_object_put(o);
}

static void test_identity_json_session_shape(void **state)
{
	static const char *const keys[] = {"id",         "device_name", "user_agent",
					   "ip_address", "issued_at",   "last_used_at",
					   "expires_at", "is_current",  NULL};
	struct session_view s = {.id = "1b6f5f2c-0e5b-4b1a-8f5e-3c1d2b4a5e6f",
				 .device_name = "laptop",
				 .issued_at = "2026-05-27T10:15:00Z",
				 .last_used_at = "2026-05-27T10:16:00Z",
				 .expires_at = "2026-06-26T10:16:00Z",
				 .is_current = true};
	json_object *o = session_view_to_json(&s);

	(void)state;
	assert_keys(o, keys);
	assert_int_equal(type_of(o, "user_agent"), json_type_null);
	assert_int_equal(type_of(o, "ip_address"), json_type_null);
	assert_true(json_object_get_boolean(json_object_object_get(o, "is_current")));
	json_object_put(o);
}

static void test_identity_json_session_status_reasons(void **state)
{
	static const char *const keys[] = {"session_id", "user_id",  "tenant_id",       "active",
					   "reason",     "is_admin", "is_tenant_admin", NULL};
	struct session_state st = {.session_id = "1b6f5f2c-0e5b-4b1a-8f5e-3c1d2b4a5e6f",
				   .user_id = USER.id,
				   .tenant_id = TENANT.id,
				   .is_tenant_admin = true};
	json_object *o = session_state_to_json(&st);

	(void)state;
	assert_keys(o, keys);
	assert_true(json_object_get_boolean(json_object_object_get(o, "active")));
	assert_int_equal(type_of(o, "reason"), json_type_null);
	json_object_put(o);

	st.tenant_suspended = true;
	st.user_banned = true;
	o = session_state_to_json(&st);
	assert_false(json_object_get_boolean(json_object_object_get(o, "active")));
	assert_string_equal(str_of(o, "reason"), "user_banned"); /* banned wins over suspended */
	json_object_put(o);

	st.revoked = true;
	st.expired = true;
	o = session_state_to_json(&st);
	assert_string_equal(str_of(o, "reason"), "revoked"); /* revoked wins over everything */
	json_object_put(o);
	st.revoked = false;
	assert_int_equal(session_state_reason(&st), SESSION_EXPIRED);
}

static void test_identity_json_auth_tokens_shape(void **state)
{
	static const char *const keys[] = {
		"access_token", "refresh_token", "token_type", "expires_in",
		"user",         "tenant",        NULL};
	json_object *o = auth_tokens_to_json("a.b.c", "frt_x", 900, &USER, &TENANT);

	(void)state;
	assert_keys(o, keys);
	assert_string_equal(str_of(o, "token_type"), "Bearer");
	assert_int_equal(type_of(o, "expires_in"), json_type_int);
	assert_int_equal(json_object_get_int(json_object_object_get(o, "expires_in")), 900);
	assert_keys(json_object_object_get(o, "user"), user_keys);
	assert_keys(json_object_object_get(o, "tenant"), tenant_keys);
	json_object_put(o);
}

static void test_identity_json_tenant_status_blocks(void **state)
{
	(void)state;
	assert_true(tenant_status_blocks("Suspended"));
	assert_true(tenant_status_blocks("Cancelled"));
	assert_false(tenant_status_blocks("Active"));
	assert_false(tenant_status_blocks("Trial"));
	assert_false(tenant_status_blocks(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_json_tenant_shape),
		cmocka_unit_test(test_identity_json_user_shape),
		cmocka_unit_test(test_identity_json_session_shape),
		cmocka_unit_test(test_identity_json_session_status_reasons),
		cmocka_unit_test(test_identity_json_auth_tokens_shape),
		cmocka_unit_test(test_identity_json_tenant_status_blocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
