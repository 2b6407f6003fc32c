-- The base schema: environments (tenants), their users, leads and telephony
-- integrations. Optional values are NULL, never '', so that "absent" has one
-- spelling; the CHECKs repeat the domain's invariants so that a row written by
-- hand or by a buggy release cannot poison later reads.

-- +goose Up
CREATE TABLE environments (
    id                   text        PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    name                 text        NOT NULL CHECK (name <> ''),
    public_base_url      text        NOT NULL CHECK (public_base_url ~ '^https?://'),
    time_zone            text        NOT NULL CHECK (time_zone <> ''),
    call_connect_enabled boolean     NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    env_id                  text        NOT NULL REFERENCES environments (id),
    id                      text        NOT NULL CHECK (id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    name                    text        NOT NULL CHECK (name <> ''),
    role                    text        NOT NULL CHECK (role IN ('manager', 'broker', 'agency', 'agency_user')),
    phone                   text        CHECK (phone ~ '^[0-9]{8,15}$'),
    extension               text        CHECK (extension ~ '^[0-9]{1,10}$'),
    agency_id               text        CHECK (agency_id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    can_manage_integrations boolean     NOT NULL DEFAULT false,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (env_id, id),
    -- An agency is its own agency, an agency_user belongs to one, a broker
    -- may, a manager does not.
    CONSTRAINT users_agency_matches_role CHECK (CASE role
        WHEN 'agency' THEN agency_id = id
        WHEN 'agency_user' THEN agency_id IS NOT NULL
        WHEN 'broker' THEN true
        ELSE agency_id IS NULL
    END)
);

-- Agency users are found by their agency (ownership of a lead, rule 5).
CREATE INDEX users_env_agency ON users (env_id, agency_id) WHERE agency_id IS NOT NULL;

CREATE TABLE leads (
    env_id        text        NOT NULL REFERENCES environments (id),
    id            text        NOT NULL CHECK (id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    name          text        NOT NULL CHECK (name <> ''),
    email         text        CHECK (email <> ''),
    phone         text        CHECK (phone ~ '^[0-9]{8,15}$'),
    score         integer     CHECK (score BETWEEN 0 AND 1000000),
    registered_at timestamptz,
    main_media    text        CHECK (main_media <> ''),
    origin        text        CHECK (origin <> ''),
    stage_id      text        CHECK (stage_id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    stage_name    text,
    -- [{"id": "...", "name": "..."}], in the order the CRM sent them.
    developments  jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(developments) = 'array'),
    manager_id    text        CHECK (manager_id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    broker_id     text        CHECK (broker_id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    agency_id     text        CHECK (agency_id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (env_id, id),
    -- A stage is an id with a (possibly empty) name, or nothing.
    CONSTRAINT leads_stage_complete CHECK ((stage_id IS NULL) = (stage_name IS NULL))
);

-- Partners identify leads by e-mail (case-insensitively) or by phone.
CREATE INDEX leads_env_email ON leads (env_id, lower(email)) WHERE email IS NOT NULL;
CREATE INDEX leads_env_phone ON leads (env_id, phone) WHERE phone IS NOT NULL;

CREATE TABLE telephony_integrations (
    env_id          text        NOT NULL REFERENCES environments (id),
    -- Byte order ("C"), whatever the database's locale: integrations are
    -- listed by provider, and Go callers compare slugs as bytes.
    provider        text        COLLATE "C" NOT NULL CHECK (provider ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
    active          boolean     NOT NULL DEFAULT false,
    partner_url     text        CHECK (partner_url ~ '^https?://'),
    dial_mode       text        CHECK (dial_mode IN ('phone', 'extension')),
    -- The signing secrets (current first, then rotated-out ones in their grace
    -- period), sealed with AES-256-GCM under the service's secrets key: they
    -- must sign later, so they are encrypted, not hashed.
    signing_secrets bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (env_id, provider),
    -- Only call-connect has a partner URL, a dial mode and signing secrets.
    CONSTRAINT telephony_integrations_call_connect_only CHECK (
        provider = 'call-connect' OR (partner_url IS NULL AND dial_mode IS NULL AND signing_secrets IS NULL)
    )
);

-- Rule 1 as a constraint: at most one active telephony integration per
-- environment, whoever wins a race. The adapter maps a violation of this index
-- (by name) to ports.ErrActiveElsewhere.
CREATE UNIQUE INDEX telephony_integrations_one_active ON telephony_integrations (env_id) WHERE active;

-- +goose Down
DROP TABLE telephony_integrations;
DROP TABLE leads;
DROP TABLE users;
DROP TABLE environments;
