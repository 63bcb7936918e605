-- 0001_init.sql - the identity schema: tenants, users, sessions, refresh tokens, signing keys.
--
-- Applied by libcommon's migrate runner with search_path set to the service's schema
-- ("identity"), so names are unqualified. gen_random_uuid() is built in since PostgreSQL 13.

CREATE TABLE tenants (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug               text NOT NULL UNIQUE
                       CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind               text NOT NULL DEFAULT 'Reseller'
                       CHECK (kind IN ('Internal', 'Reseller', 'Enterprise')),
    status             text NOT NULL DEFAULT 'Active'
                       CHECK (status IN ('Active', 'Trial', 'Suspended', 'Cancelled')),
    custom_domain      text UNIQUE,
    domain_verified    boolean NOT NULL DEFAULT false,
    contact_email      text NOT NULL DEFAULT '',
    max_users          integer CHECK (max_users >= 0),
    max_storage_gb     integer CHECK (max_storage_gb >= 0),
    monthly_render_qty integer CHECK (monthly_render_qty >= 0),
    trial_ends_at      timestamptz,
    allowed_origins    text[] NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    -- stored lower-cased (api: "stored and compared lower-cased"); email_lower is the key
    email            text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    email_lower      text NOT NULL GENERATED ALWAYS AS (lower(email)) STORED,
    password_hash    text NOT NULL,
    email_verified   boolean NOT NULL DEFAULT false,
    phone_number     text CHECK (length(phone_number) <= 32),
    phone_verified   boolean NOT NULL DEFAULT false,
    full_name        text CHECK (length(full_name) <= 200),
    avatar_url       text,
    is_admin         boolean NOT NULL DEFAULT false,
    is_tenant_admin  boolean NOT NULL DEFAULT false,
    register_mode    text NOT NULL DEFAULT 'Email'
                     CHECK (register_mode IN ('Email', 'Phone', 'Google', 'Telegram')),
    status           text NOT NULL DEFAULT 'Active' CHECK (status IN ('Active', 'Banned')),
    slogan           text CHECK (length(slogan) <= 200),
    about_me         text CHECK (length(about_me) <= 2000),
    company_name     text CHECK (length(company_name) <= 200),
    website_name     text CHECK (length(website_name) <= 200),
    birth_date       date,
    gender           text CHECK (gender IN ('Male', 'Female', 'Other', 'PreferNotToSay')),
    email_tell_me    boolean NOT NULL DEFAULT true,
    sms_tell_me      boolean NOT NULL DEFAULT false,
    push_tell_me     boolean NOT NULL DEFAULT true,
    telegram_tell_me boolean NOT NULL DEFAULT false,
    affiliate_code   text CHECK (length(affiliate_code) <= 64),
    terms_accepted_at timestamptz,
    last_active_at   timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, email_lower)
);

-- One row per login (one refresh-token family). Revoked by logout, DELETE, or reuse of a
-- spent refresh token; never deleted by the API.
CREATE TABLE sessions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    device_id     text CHECK (length(device_id) <= 200),
    device_name   text CHECK (length(device_name) <= 200),
    user_agent    text CHECK (length(user_agent) <= 512),
    ip_address    text CHECK (length(ip_address) <= 64),
    issued_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    revoke_reason text,
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);
-- GET /v1/auth/sessions: a user's active sessions, newest first.
CREATE INDEX sessions_user_active_idx ON sessions (user_id, issued_at DESC)
    WHERE revoked_at IS NULL;

-- Only the SHA-256 (lower-case hex) of a refresh token is stored.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    token_hash  text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    replaced_by uuid
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- ES256 signing keys. The private key is a PKCS#8 PEM sealed with AES-256-GCM under
-- IDENTITY_KEY_ENCRYPTION_KEY (the kid is the associated data). A key signs until
-- sign_until and stays in the JWKS until publish_until (its last token has expired).
CREATE TABLE signing_keys (
    kid                text PRIMARY KEY CHECK (kid ~ '^k-[0-9a-f]{16}$'),
    alg                text NOT NULL DEFAULT 'ES256' CHECK (alg = 'ES256'),
    private_key_sealed bytea NOT NULL,
    public_jwk         jsonb NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    sign_until         timestamptz NOT NULL,
    publish_until      timestamptz NOT NULL,
    CHECK (sign_until > created_at AND publish_until >= sign_until)
);
CREATE INDEX signing_keys_publish_idx ON signing_keys (publish_until);
