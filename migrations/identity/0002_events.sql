-- 0002_events.sql - the transactional outbox (libcommon/include/common/outbox.h).
--
-- identity writes identity.user.registered.v1, identity.session.revoked.v1 and
-- identity.tenant.created.v1 here in the same transaction as the change; the relay publishes
-- them. Copied verbatim from migrations/README.md (the libraries rely on these names).
-- identity consumes no events yet, so it has no inbox table.
CREATE TABLE outbox (
    id            bigserial   PRIMARY KEY,
    event_id      uuid        NOT NULL UNIQUE,
    event_type    text        NOT NULL,
    aggregate_id  text,
    payload       text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    attempts      integer     NOT NULL DEFAULT 0
);

-- The relay's "WHERE sent_at IS NULL ORDER BY id" and the depth gauges read only this.
CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL;
