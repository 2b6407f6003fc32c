-- What comes back from partners: the tokens they authenticate with, the
-- lead's history (interactions with their tasks, and the recordings they
-- point to) and the first answers to requests that carried an
-- Idempotency-Key.

-- +goose Up

-- A partner token's id is global (the token names its environment, so a
-- callback is authenticated before any environment is known); only the
-- SHA-256 of the secret is kept.
CREATE TABLE partner_tokens (
    -- Byte order ("C"): tokens created at the same time are listed by id
    -- descending, as Go compares strings.
    id          text        COLLATE "C" PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9-]{1,32}$'),
    env_id      text        NOT NULL REFERENCES environments (id),
    email       text        NOT NULL CHECK (email <> ''),
    description text        CHECK (description <> ''),
    secret_hash bytea       NOT NULL CHECK (octet_length(secret_hash) = 32),
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

-- An environment's tokens, newest first.
CREATE INDEX partner_tokens_env_created ON partner_tokens (env_id, created_at DESC, id DESC);

-- One entry of a lead's history. lead_id, call_id and recording_id are
-- references without foreign keys, as on calls: the history is a record of
-- what happened and outlives what it mentions.
--
-- The task is spread over task_* columns; task_reminder is NULL exactly when
-- there is no task (a task may have every other field empty).
CREATE TABLE interactions (
    env_id                text        NOT NULL REFERENCES environments (id),
    -- Byte order ("C"): ties in time are listed by id descending, as Go
    -- compares strings.
    id                    text        COLLATE "C" NOT NULL CHECK (id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    lead_id               text        NOT NULL CHECK (lead_id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    type                  text        NOT NULL CHECK (type = 'L'),
    description           text        CHECK (description <> ''),
    task_name             text        CHECK (task_name <> ''),
    task_due_at           timestamptz,
    task_status           text        CHECK (task_status ~ '^[A-Za-z]{1,2}$'),
    task_priority         text        CHECK (task_priority ~ '^[A-Za-z]{1,2}$'),
    task_responsible_type text        CHECK (task_responsible_type ~ '^[A-Za-z]{1,2}$'),
    task_responsible_id   text        CHECK (task_responsible_id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    task_reminder         boolean,
    call_id               text        CHECK (call_id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    recording_id          text        CHECK (recording_id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    recording_sha256      text        CHECK (recording_sha256 ~ '^[0-9a-f]{64}$'),
    -- domain.Interaction.Fingerprint of what was added: a partner's repeat of
    -- a result is found by it (HasInteraction).
    fingerprint           text        NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    occurred_at           timestamptz NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (env_id, id),
    CONSTRAINT interactions_task_complete CHECK (task_reminder IS NOT NULL OR (task_name IS NULL
        AND task_due_at IS NULL AND task_status IS NULL AND task_priority IS NULL
        AND task_responsible_type IS NULL AND task_responsible_id IS NULL)),
    CONSTRAINT interactions_recording_complete CHECK ((recording_id IS NULL) = (recording_sha256 IS NULL))
);

-- The lead's history, newest first, the id breaking ties.
CREATE INDEX interactions_env_lead_time ON interactions (env_id, lead_id, occurred_at DESC, id DESC);
-- A repeated result (HasInteraction). Not unique: the same words may
-- legitimately be recorded twice (with an Idempotency-Key, or by a release
-- that did not look).
CREATE INDEX interactions_env_lead_fingerprint ON interactions (env_id, lead_id, fingerprint);

-- A recording's row; the audio is in the audio store under its SHA-256, shared
-- by every recording of the same content, whatever the environment.
CREATE TABLE recordings (
    env_id       text        NOT NULL REFERENCES environments (id),
    id           text        NOT NULL CHECK (id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    lead_id      text        NOT NULL CHECK (lead_id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    call_id      text        CHECK (call_id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size         bigint      NOT NULL CHECK (size > 0),
    content_type text        NOT NULL CHECK (content_type <> ''),
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (env_id, id)
);

-- Whether an audio object is still referred to (RecordingsWithSHA256).
CREATE INDEX recordings_sha256 ON recordings (sha256);

-- The first answer to a request with an Idempotency-Key, kept 24 hours
-- (ports.IdempotencyRetention). scope is the environment and endpoint; no
-- foreign key: the row is the answer, whatever became of what it mentions.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL CHECK (scope <> ''),
    key          text        NOT NULL CHECK (key <> ''),
    request_hash text        NOT NULL,
    status_code  integer     NOT NULL CHECK (status_code BETWEEN 100 AND 999),
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);

-- The periodic clean-up of expired keys.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE recordings;
DROP TABLE interactions;
DROP TABLE partner_tokens;
