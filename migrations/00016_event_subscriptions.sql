-- Event subscriptions: CRM endpoints that an environment's events (the
-- events table's feed) are pushed to as signed webhooks, and the delivery
-- of each event to each subscription.
--
-- A subscription walks its environment's feed in order with a cursor (the
-- id of the last event it took), one event at a time: the event it is on
-- is its head, the one pending row of event_deliveries, and the next event
-- is taken only once the head is delivered or given up, in the
-- transaction that records that. So the endpoint receives the events in
-- the feed's order, and a crash between two steps loses none and skips
-- none (an attempt cut short is sent again, under the same webhook-id).

-- +goose Up
CREATE TABLE event_subscriptions (
    -- Byte order ("C"): subscriptions are listed by environment and id,
    -- and Go callers compare ids as bytes.
    env_id          text        COLLATE "C" NOT NULL REFERENCES environments (id),
    id              text        COLLATE "C" NOT NULL CHECK (id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    url             text        NOT NULL CHECK (url ~ '^https?://'),
    -- The subscribed event types; '{}' for every type (the API's "*").
    types           text[]      NOT NULL,
    -- The signing secrets (current first, then rotated-out ones in their
    -- grace period), sealed with AES-256-GCM under the service's secrets
    -- key as the integrations' are: they must sign later, so they are
    -- encrypted, not hashed.
    signing_secrets bytea       NOT NULL,
    status          text        NOT NULL CHECK (status IN ('active', 'disabled')),
    disabled_reason text,
    disabled_at     timestamptz,
    -- The first failed attempt since the last delivered one.
    failing_since   timestamptz,
    -- The id of the last event taken (domain.EventID's string, which
    -- sorts as the feed does in byte order).
    cursor          text        COLLATE "C" NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (env_id, id),
    CONSTRAINT event_subscriptions_disabled_reason CHECK ((status = 'disabled') = (disabled_reason IS NOT NULL))
);

-- The dispatcher's walk over every active subscription.
CREATE INDEX event_subscriptions_active ON event_subscriptions (env_id, id) WHERE status = 'active';

CREATE TABLE event_deliveries (
    env_id           text        COLLATE "C" NOT NULL,
    subscription_id  text        COLLATE "C" NOT NULL,
    event_id         text        COLLATE "C" NOT NULL,
    event_type       text        NOT NULL,
    -- The body every attempt sends, byte for byte (bytea, not jsonb, for
    -- the signature's sake).
    payload          bytea       NOT NULL,
    status           text        NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer     NOT NULL CHECK (attempts >= 0),
    -- When the event became the head: its retry window counts from there.
    created_at       timestamptz NOT NULL,
    next_attempt_at  timestamptz,
    -- While an attempt is on the wire: when its sender's claim lapses.
    sending_until    timestamptz,
    last_attempt_at  timestamptz,
    last_status_code integer     CHECK (last_status_code BETWEEN 100 AND 999),
    last_error       text,
    finished_at      timestamptz,
    PRIMARY KEY (env_id, subscription_id, event_id),
    FOREIGN KEY (env_id, subscription_id) REFERENCES event_subscriptions (env_id, id) ON DELETE CASCADE,
    CONSTRAINT event_deliveries_finished CHECK ((status = 'pending') = (finished_at IS NULL))
);

-- A subscription has one head at most: what keeps its events in order
-- whoever sends them.
CREATE UNIQUE INDEX event_deliveries_one_pending ON event_deliveries (env_id, subscription_id) WHERE status = 'pending';

-- The retention deletes the oldest finished deliveries first.
CREATE INDEX event_deliveries_finished_at ON event_deliveries (finished_at) WHERE finished_at IS NOT NULL;

-- +goose Down
DROP TABLE event_deliveries;
DROP TABLE event_subscriptions;
