-- Purging a day of the monitor's exchanges no longer blocks anybody: the
-- retention DETACHes a day's partition CONCURRENTLY (its locks let every
-- reader and writer of exchanges carry on) and then drops the detached
-- table, which nobody else uses. Two things stood in the way:
--
-- * The default partition: PostgreSQL refuses DETACH ... CONCURRENTLY on a
--   table that has one. It caught rows of a day without a partition; the
--   store now makes a day's partition before it records the day's first
--   exchange (see Store.readyDay), so nothing is left to catch. Rows it
--   holds move to their day's partition here.
-- * The foreign key to environments, which every click and callback reads:
--   detaching turned the partition's inherited key into one of its own
--   (SHARE ROW EXCLUSIVE on environments), and dropping the detached table
--   removed its triggers under ACCESS EXCLUSIVE on environments, held until
--   the table's files were gone at COMMIT. The environment of an exchange is
--   still checked when it is recorded (RecordExchange in
--   queries/exchanges.sql), without the row lock a key check takes;
--   environments are never deleted.

-- +goose Up
-- The key of exchanges goes, and the copy of it that the table of a day a
-- purge detached but did not drop yet kept of its own.
-- +goose StatementBegin
DO $$
DECLARE
    fk record;
BEGIN
    FOR fk IN
        SELECT c.relname, k.conname
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        WHERE k.contype = 'f' AND k.confrelid = 'environments'::regclass
          AND (c.oid = 'exchanges'::regclass OR (c.relname ~ '^exchanges_p[0-9]{8}$' AND NOT c.relispartition))
    LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', fk.relname, fk.conname);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- The rows the default partition caught go to their days' partitions (the
-- function of 00005 moves them), and the emptied default partition goes.
-- Rows it still holds then are of days whose table a purge had already
-- detached (days past the retention): they go as their day went.
SELECT exchanges_add_partition(day)
FROM (SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date AS day FROM exchanges_default) AS days
ORDER BY day;
DELETE FROM exchanges_default;
ALTER TABLE exchanges DETACH PARTITION exchanges_default;
DROP TABLE exchanges_default;

-- exchanges_add_partition makes the partition exchanges_pYYYYMMDD for the UTC
-- day, unless it exists; it answers whether it made one. It creates a
-- free-standing table and ATTACHes it rather than using CREATE TABLE ...
-- PARTITION OF: ATTACH locks exchanges in SHARE UPDATE EXCLUSIVE mode, which
-- lets every reader and writer carry on (CREATE ... PARTITION OF would take
-- ACCESS EXCLUSIVE). The bounds, given first as a CHECK, let ATTACH skip
-- scanning the new table. Sessions making a day (replicas meeting a day
-- nobody readied) take turns on that same lock, taken first, so that the
-- second finds the first's table rather than failing to create it (taking
-- the lock also brings the session's view of the catalog up to date).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION exchanges_add_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text        := 'exchanges_p' || to_char(day, 'YYYYMMDD');
    lo   timestamptz := day::timestamp AT TIME ZONE 'UTC';
    hi   timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass(quote_ident(part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    LOCK TABLE ONLY exchanges IN SHARE UPDATE EXCLUSIVE MODE;
    IF to_regclass(quote_ident(part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE exchanges INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (occurred_at >= %L AND occurred_at < %L)',
                   part, part || '_day', lo, hi);
    EXECUTE format('ALTER TABLE exchanges ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    RETURN true;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The code of 00005 cannot finish a concurrent detach left pending: finish
-- them here.
-- +goose StatementBegin
DO $$
DECLARE
    part text;
BEGIN
    FOR part IN
        SELECT inhrelid::regclass::text FROM pg_inherits
        WHERE inhparent = 'exchanges'::regclass AND inhdetachpending
    LOOP
        EXECUTE format('ALTER TABLE exchanges DETACH PARTITION %s FINALIZE', part);
    END LOOP;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION exchanges_add_partition(day date) RETURNS boolean
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
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (occurred_at >= %L AND occurred_at < %L)',
                   part, part || '_day', lo, hi);
    EXECUTE format('WITH moved AS (DELETE FROM exchanges_default WHERE occurred_at >= %L AND occurred_at < %L RETURNING *)
                    INSERT INTO %I SELECT * FROM moved', lo, hi, part);
    EXECUTE format('ALTER TABLE exchanges ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    RETURN true;
END
$$;
-- +goose StatementEnd
CREATE TABLE exchanges_default PARTITION OF exchanges DEFAULT;
ALTER TABLE exchanges ADD CONSTRAINT exchanges_env_id_fkey1 FOREIGN KEY (env_id) REFERENCES environments (id);
