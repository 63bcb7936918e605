-- 0003_api_keys.sql - tenant contact settings and the API keys of the reseller API.
--
-- A full key is fr_live_ / fr_test_ + 8 base62 characters (the lookup id) + 32 base62
-- characters (the secret). Only key_prefix (its first 16 characters), last4 and key_hash
-- (lower-case hex SHA-256 of the full key) are stored; the key itself never is.

ALTER TABLE tenants
    ADD COLUMN IF NOT EXISTS contact_name  text CHECK (length(contact_name) <= 200),
    ADD COLUMN IF NOT EXISTS contact_phone text CHECK (length(contact_phone) <= 32),
    ADD COLUMN IF NOT EXISTS billing_email text CHECK (length(billing_email) <= 254),
    ADD COLUMN IF NOT EXISTS allowed_origins text[] NOT NULL DEFAULT '{}';

CREATE TABLE api_keys (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    environment    text NOT NULL CHECK (environment IN ('Live', 'Test')),
    key_prefix     text NOT NULL UNIQUE CHECK (key_prefix ~ '^fr_(live|test)_[A-Za-z0-9]{8}$'),
    last4          text NOT NULL CHECK (last4 ~ '^[A-Za-z0-9]{4}$'),
    key_hash       text NOT NULL CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    -- the scope enum of the seed's ApiKeyCreate
    scopes         text[] NOT NULL CHECK (cardinality(scopes) >= 1 AND scopes <@ ARRAY[
                       'renders:create', 'renders:read', 'renders:cancel', 'projects:read',
                       'projects:write', 'templates:read', 'exports:read', 'exports:download',
                       'users:read', 'users:write', 'webhooks:manage']::text[]),
    allowed_ips    cidr[] NOT NULL DEFAULT '{}',
    rate_limit_rpm integer NOT NULL DEFAULT 60 CHECK (rate_limit_rpm BETWEEN 1 AND 100000),
    expires_at     timestamptz,
    revoked_at     timestamptz,
    revoke_reason  text CHECK (length(revoke_reason) <= 500),
    -- added by the gateway's batched usage reports, never per request
    usage_count    bigint NOT NULL DEFAULT 0 CHECK (usage_count >= 0),
    last_used_at   timestamptz,
    created_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (substr(key_prefix, 4, 4) = lower(environment)),
    CHECK (revoke_reason IS NULL OR revoked_at IS NOT NULL)
);
-- GET /v1/tenants/{tenant_id}/api-keys: a tenant's keys, newest first.
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, created_at DESC, id);
