/*
 * test_identity_events.c - identity's event payloads versus contracts/events/identity.yaml
 * and tenant.yaml: exactly the schema's keys (closed schemas, every field required, nulls
 * present), the JSON type of each, the reason enum, refusal of a missing required field,
 * and the envelope (producer, tenant_id taken from the payload, trace_id, event_id).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/crypto.h"
#include "common/event.h"
#include "common/json.h"
#include "identity_events.h"

#define TENANT_ID "0d6c8f52-3b1e-4a7d-8c9f-2e4b6a8d0c13"
#define USER_ID "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
#define SESSION_ID "2a4c6e80-1b3d-4f57-9a8c-0e2d4f6a8b1c"

/* Asserts o has exactly the keys in the NULL-terminated list. */
static void assert_keys(json_object *o, const char *const *keys)
{
	size_t n = 0;

	assert_non_null(o);
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
	assert_int_equal(json_object_get_type(v), json_type_string);
	return json_object_get_string(v);
}

/* As user_create.c passes it after the INSERT (register_date with milliseconds). */
static const struct user USER = {
	.id = USER_ID,
	.tenant_id = TENANT_ID,
	.email = "ada@example.test",
	.full_name = NULL,
	.register_mode = "Email",
	.register_date = "2026-05-27T10:15:00.123Z",
};

static const struct revoked_session REVOKED = {
	.session_id = SESSION_ID,
	.user_id = USER_ID,
	.tenant_id = TENANT_ID,
	.revoked_at = "2026-05-27T10:15:00.123Z",
};

/* As tenant_created_from_row() fills it. */
static const struct tenant TENANT = {
	.id = TENANT_ID,
	.slug = "default",
	.name = "Default",
	.kind = "Internal",
	.status = "Active",
	.created_at = "2026-05-27T10:15:00.456Z",
};

/* identity.yaml#/$defs/identity.user.registered.v1 required */
static const char *const registered_keys[] = {"user_id",       "tenant_id",
					      "email",         "full_name",
					      "register_mode", "verification_required",
					      "registered_at", NULL};
/* identity.yaml#/$defs/identity.session.revoked.v1 required */
static const char *const revoked_keys[] = {"session_id", "user_id",    "tenant_id",
					   "reason",     "revoked_at", NULL};
/* tenant.yaml#/$defs/identity.tenant.created.v1 required */
static const char *const created_keys[] = {"tenant_id", "slug",       "name", "kind",
					   "status",    "created_at", NULL};
/* envelope.yaml required */
static const char *const envelope_keys[] = {"event_id",  "event_type", "occurred_at", "producer",
					    "tenant_id", "trace_id",   "data",        NULL};

static void test_identity_events_user_registered_shape(void **state)
{
	json_object *o = user_registered_data(&USER, false);

	(void)state;
	assert_keys(o, registered_keys);
	assert_string_equal(str_of(o, "user_id"), USER_ID);
	assert_string_equal(str_of(o, "tenant_id"), TENANT_ID);
	assert_string_equal(str_of(o, "email"), "ada@example.test");
	assert_int_equal(type_of(o, "full_name"), json_type_null); /* nullable, present */
	assert_string_equal(str_of(o, "register_mode"), "Email");
	assert_int_equal(type_of(o, "verification_required"), json_type_boolean);
	assert_false(json_object_get_boolean(json_object_object_get(o, "verification_required")));
	assert_string_equal(str_of(o, "registered_at"), "2026-05-27T10:15:00.123Z");
	json_object_put(o);
}

static void test_identity_events_user_registered_name_and_verification(void **state)
{
	struct user u = USER;
	json_object *o;

	(void)state;
	u.full_name = "Ada Lovelace";
	o = user_registered_data(&u, true);
	assert_keys(o, registered_keys);
	assert_string_equal(str_of(o, "full_name"), "Ada Lovelace");
	assert_true(json_object_get_boolean(json_object_object_get(o, "verification_required")));
	json_object_put(o);
}

static void test_identity_events_session_revoked_reasons(void **state)
{
	static const struct {
		enum revoke_reason why;
		const char *text;
	} cases[] = {{REVOKE_LOGOUT, "logout"},
		     {REVOKE_DELETED, "deleted"},
		     {REVOKE_REFRESH_REUSE, "refresh_reuse"}};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *o = session_revoked_data(&REVOKED, cases[i].why);

		assert_keys(o, revoked_keys);
		assert_string_equal(str_of(o, "session_id"), SESSION_ID);
		assert_string_equal(str_of(o, "user_id"), USER_ID);
		assert_string_equal(str_of(o, "tenant_id"), TENANT_ID);
		assert_string_equal(str_of(o, "reason"), cases[i].text);
		assert_string_equal(str_of(o, "revoked_at"), "2026-05-27T10:15:00.123Z");
		assert_string_equal(revoke_reason_str(cases[i].why), cases[i].text);
		json_object_put(o);
	}
	assert_null(revoke_reason_str((enum revoke_reason)42));
	assert_null(session_revoked_data(&REVOKED, (enum revoke_reason)42));
}

static void test_identity_events_tenant_created_shape(void **state)
{
	json_object *o = tenant_created_data(&TENANT);

	(void)state;
	assert_keys(o, created_keys);
	assert_string_equal(str_of(o, "tenant_id"), TENANT_ID);
	assert_string_equal(str_of(o, "slug"), "default");
	assert_string_equal(str_of(o, "name"), "Default");
	assert_string_equal(str_of(o, "kind"), "Internal");
	assert_string_equal(str_of(o, "status"), "Active");
	assert_string_equal(str_of(o, "created_at"), "2026-05-27T10:15:00.456Z");
	json_object_put(o);
}

static void test_identity_events_missing_required_field_is_refused(void **state)
{
	struct user u = USER;
	struct revoked_session s = REVOKED;
	struct tenant t = TENANT;

	(void)state;
	u.register_date = NULL;
	assert_null(user_registered_data(&u, false));
	u = USER;
	u.email = NULL;
	assert_null(user_registered_data(&u, false));
	s.revoked_at = NULL;
	assert_null(session_revoked_data(&s, REVOKE_LOGOUT));
	s = REVOKED;
	s.user_id = NULL;
	assert_null(session_revoked_data(&s, REVOKE_LOGOUT));
	t.kind = NULL;
	assert_null(tenant_created_data(&t));
	t = TENANT;
	t.created_at = NULL;
	assert_null(tenant_created_data(&t));
}

static void test_identity_events_envelope(void **state)
{
	char id[UUID_STR_LEN] = "";
	json_object *data = session_revoked_data(&REVOKED, REVOKE_LOGOUT);
	json_object *env = identity_event_envelope(EV_SESSION_REVOKED, "req-42", data, id);
	json_object *d = NULL;

	(void)state;
	assert_keys(env, envelope_keys);
	assert_true(uuid_valid(id));
	assert_string_equal(str_of(env, "event_id"), id);
	assert_string_equal(str_of(env, "event_type"), "identity.session.revoked.v1");
	assert_string_equal(str_of(env, "producer"), "identity");
	assert_string_equal(str_of(env, "tenant_id"), TENANT_ID); /* = data.tenant_id */
	assert_string_equal(str_of(env, "trace_id"), "req-42");
	assert_int_equal(str_of(env, "occurred_at")[23], 'Z');
	assert_true(json_object_object_get_ex(env, "data", &d));
	assert_ptr_equal(d, data); /* taken, not copied */
	assert_keys(d, revoked_keys);
	json_object_put(env);
}

static void test_identity_events_envelope_without_request(void **state)
{
	json_object *env = identity_event_envelope(EV_TENANT_CREATED, NULL,
						   tenant_created_data(&TENANT), NULL);
	struct event_msg ev;
	const char *text;

	(void)state;
	assert_keys(env, envelope_keys);
	assert_int_equal(type_of(env, "trace_id"), json_type_null); /* the seed: no request */
	/* what the outbox stores is an envelope consumers accept */
	text = json_compact(env, NULL);
	assert_int_equal(event_parse(text, strlen(text), &ev, NULL), 0);
	assert_string_equal(ev.event_type, EV_TENANT_CREATED);
	assert_string_equal(ev.tenant_id, TENANT_ID);
	assert_null(ev.trace_id);
	event_msg_free(&ev);
	json_object_put(env);
}

static void test_identity_events_envelope_refuses_bad_data(void **state)
{
	json_object *no_tenant = json_object_new_object();

	(void)state;
	assert_null(identity_event_envelope(EV_USER_REGISTERED, "r", NULL, NULL));
	json_set_str(no_tenant, "user_id", USER_ID);
	assert_null(identity_event_envelope(EV_USER_REGISTERED, "r", no_tenant, NULL)); /* put */
	assert_null(identity_event_envelope("not a type", "r", tenant_created_data(&TENANT), NULL));
	/* identity_event_add refuses before touching a transaction, and still takes data (the
	 * leak checker would see it otherwise) */
	assert_int_equal(identity_event_add(NULL, "identity", EV_USER_REGISTERED, "r", NULL, NULL,
					    NULL, NULL),
			 -1);
	assert_int_equal(identity_event_add(NULL, "identity", EV_TENANT_CREATED, NULL,
					    tenant_created_data(&TENANT), TENANT_ID, NULL, NULL),
			 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_events_user_registered_shape),
		cmocka_unit_test(test_identity_events_user_registered_name_and_verification),
		cmocka_unit_test(test_identity_events_session_revoked_reasons),
		cmocka_unit_test(test_identity_events_tenant_created_shape),
		cmocka_unit_test(test_identity_events_missing_required_field_is_refused),
		cmocka_unit_test(test_identity_events_envelope),
		cmocka_unit_test(test_identity_events_envelope_without_request),
		cmocka_unit_test(test_identity_events_envelope_refuses_bad_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
