-- The integration monitor's exchanges, partitioned by day (UTC) of
-- occurred_at, so that ageing out after the retention is dropping a day's
-- partition, never deleting rows one by one. The columns stay as 00002 made
-- them; existing rows are kept.

-- +goose Up

-- The plain table steps aside under another name (its indexes too: index
-- names are unique in a schema), its rows are copied into the partitioned
-- table, and it is dropped. The table is written only by the service, which
-- migrates before it serves, so nothing writes to it meanwhile.
ALTER TABLE exchanges RENAME TO exchanges_unpartitioned;
ALTER INDEX exchanges_pkey RENAME TO exchanges_unpartitioned_pkey;
ALTER INDEX exchanges_env_time RENAME TO exchanges_unpartitioned_env_time;
ALTER INDEX exchanges_env_call RENAME TO exchanges_unpartitioned_env_call;

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
    -- A unique index of a partitioned table must hold the partition key, so
    -- the key is (id, occurred_at). Ids are unique by construction (each is
    -- made once, from 80 random bits and the time: see ports.Random); with
    -- id first, reading an exchange by id is one index probe per partition.
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);

-- The monitor's list: newest first, with the id breaking ties for a stable
-- (keyset) cursor over (occurred_at, id).
CREATE INDEX exchanges_env_time ON exchanges (env_id, occurred_at DESC, id DESC);
-- The monitor filtered by call or by lead, in the list's order.
CREATE INDEX exchanges_env_call ON exchanges (env_id, call_id, occurred_at DESC, id DESC) WHERE call_id IS NOT NULL;
CREATE INDEX exchanges_env_lead ON exchanges (env_id, lead_id, occurred_at DESC, id DESC) WHERE lead_id IS NOT NULL;

-- Catches rows of a day that has no partition yet (the maintenance job did
-- not run for days, a clock far off), so that recording never fails the
-- exchange it describes. exchanges_add_partition moves such rows into their
-- day's partition when it creates it; normally this partition stays empty.
CREATE TABLE exchanges_default PARTITION OF exchanges DEFAULT;

-- exchanges_add_partition makes the partition exchanges_pYYYYMMDD for the UTC
-- day, unless it exists; it answers whether it made one.
--
-- It creates a free-standing table and ATTACHes it rather than using CREATE
-- TABLE ... PARTITION OF: ATTACH locks the parent in SHARE UPDATE EXCLUSIVE
-- mode, which lets every reader and writer of the monitor carry on (CREATE
-- ... PARTITION OF would take ACCESS EXCLUSIVE). ATTACH still locks the
-- default partition and checks that it holds no row of the day; rows it
-- holds for the day are moved over first. The caller bounds the waits with
-- lock_timeout.
-- +goose StatementBegin
CREATE FUNCTION exchanges_add_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text        := 'exchanges_p' || to_char(day, 'YYYYMMDD');
    lo   timestamptz := day::timestamp AT TIME ZONE 'UTC';
    hi   timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass(quote_ident(part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE exchanges INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    -- The bounds as a CHECK let ATTACH skip scanning the new table.
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (occurred_at >= %L AND occurred_at < %L)',
                   part, part || '_day', lo, hi);
    EXECUTE format('WITH moved AS (DELETE FROM exchanges_default WHERE occurred_at >= %L AND occurred_at < %L RETURNING *)
                    INSERT INTO %I SELECT * FROM moved', lo, hi, part);
    EXECUTE format('ALTER TABLE exchanges ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    RETURN true;
END
$$;
-- +goose StatementEnd

-- A partition for every day the old rows fall on, and for yesterday to a
-- week ahead (the maintenance job keeps that window from then on).
SELECT exchanges_add_partition(day)
FROM (
    SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date AS day FROM exchanges_unpartitioned
    UNION
    SELECT generate_series((now() AT TIME ZONE 'UTC')::date - 1, (now() AT TIME ZONE 'UTC')::date + 7, interval '1 day')::date
) AS days
ORDER BY day;

INSERT INTO exchanges SELECT * FROM exchanges_unpartitioned;
DROP TABLE exchanges_unpartitioned;

-- +goose Down
CREATE TABLE exchanges_unpartitioned (
    id              text        COLLATE "C" NOT NULL CHECK (id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    env_id          text        NOT NULL REFERENCES environments (id),
    direction       text        NOT NULL CHECK (direction IN ('in', 'out')),
    method          text        NOT NULL,
    url             text        NOT NULL,
    status_code     integer     NOT NULL CHECK (status_code BETWEEN 0 AND 999),
    duration_ms     bigint      NOT NULL CHECK (duration_ms >= 0),
    call_id         text,
    lead_id         text,
    occurred_at     timestamptz NOT NULL,
    request_headers jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(request_headers) = 'object'),
    request_body    text,
    response_body   text,
    error           text,
    PRIMARY KEY (id)
);
INSERT INTO exchanges_unpartitioned SELECT * FROM exchanges;
DROP TABLE exchanges;
DROP FUNCTION exchanges_add_partition(date);
ALTER TABLE exchanges_unpartitioned RENAME TO exchanges;
ALTER INDEX exchanges_unpartitioned_pkey RENAME TO exchanges_pkey;
CREATE INDEX exchanges_env_time ON exchanges (env_id, occurred_at DESC, id DESC);
CREATE INDEX exchanges_env_call ON exchanges (env_id, call_id) WHERE call_id IS NOT NULL;
