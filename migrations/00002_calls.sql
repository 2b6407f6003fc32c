-- Calls (each press of Ligar, from the click to the partner's result) and
-- the integration monitor's record of every exchange with a partner.

-- +goose Up

-- A call refers to its lead and user without a foreign key: the call is a
-- record of what happened and must outlive whatever later becomes of the
-- lead or the user (a PUT replaces them wholesale; the CRM may retire ids).
--
-- The attempts are a JSON array on the call row rather than a table of their
-- own: they belong to the call (always read and written with it, never queried
-- across calls — the monitor reads exchanges for that), they are few (the
-- dispatch deadline bounds them), and PutCall stays one statement on the
-- delivery path instead of a delete and a batch of inserts.
CREATE TABLE calls (
    env_id     text        NOT NULL REFERENCES environments (id),
    id         text        NOT NULL CHECK (id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    lead_id    text        NOT NULL CHECK (lead_id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    user_id    text        NOT NULL CHECK (user_id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    status     text        NOT NULL CHECK (status IN
                   ('queued', 'delivering', 'delivered', 'completed', 'not_completed', 'undeliverable')),
    reason     text        CHECK (reason <> ''),
    clicked_at timestamptz NOT NULL,
    deadline   timestamptz NOT NULL,
    -- The JSON sent to the partner, byte for byte: bytea, not jsonb, which
    -- would reorder keys and drop whitespace, and every retry must send the
    -- bytes of the first attempt.
    payload    bytea       NOT NULL,
    -- [{"at": RFC 3339, "status_code": 0, "error": "...", "duration_ms": 0}], oldest first.
    attempts   jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(attempts) = 'array'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (env_id, id)
);

-- A lead's calls, newest first (the lead's history, redelivery by lead).
CREATE INDEX calls_env_lead ON calls (env_id, lead_id, clicked_at DESC);

-- What the integration monitor (CVIO) shows: one row per HTTP exchange with a
-- partner, either direction, secrets already redacted and bodies bounded by
-- the domain. Rows are only ever inserted, and deleted when they age out. A
-- later migration turns this into a table partitioned by day of occurred_at,
-- so that ageing out is dropping a partition; the columns stay as they are.
-- call_id and lead_id are references for filtering, not foreign keys: the
-- record must stay whatever happens to what it mentions.
CREATE TABLE exchanges (
    -- Byte order ("C"): ids sort by creation time as bytes, and the
    -- monitor's cursor compares them so.
    id              text        COLLATE "C" NOT NULL CHECK (id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    env_id          text        NOT NULL REFERENCES environments (id),
    direction       text        NOT NULL CHECK (direction IN ('in', 'out')),
    method          text        NOT NULL,
    url             text        NOT NULL,
    -- 0 when no HTTP answer came back.
    status_code     integer     NOT NULL CHECK (status_code BETWEEN 0 AND 999),
    duration_ms     bigint      NOT NULL CHECK (duration_ms >= 0),
    call_id         text,
    lead_id         text,
    occurred_at     timestamptz NOT NULL,
    -- {"Header-Name": ["value", ...]}, names canonical.
    request_headers jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(request_headers) = 'object'),
    request_body    text,
    response_body   text,
    error           text,
    PRIMARY KEY (id)
);

-- The monitor's list: newest first, with the id breaking ties for a stable cursor.
CREATE INDEX exchanges_env_time ON exchanges (env_id, occurred_at DESC, id DESC);
-- The monitor filtered by call.
CREATE INDEX exchanges_env_call ON exchanges (env_id, call_id) WHERE call_id IS NOT NULL;

-- +goose Down
DROP TABLE exchanges;
DROP TABLE calls;
