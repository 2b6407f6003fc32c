-- A call the partner accepted but never reported on becomes no_result (sem
-- retorno) once CALLCONNECT_RESULT_DEADLINE has passed since the partner
-- accepted it; a late result still settles it.
--
-- delivered_at is when the partner accepted the call (its 2xx came back).
-- It cannot be read reliably from the attempts: an attempt recorded after
-- the call was settled may carry a 2xx too, and a query over the jsonb array
-- could not use an index. NULL until the call is delivered, and for calls
-- whose result overtook the record of their delivery.
--
-- Each statement runs on its own (NO TRANSACTION), so that none holds the
-- calls table locked for long while clicks and results keep coming: the new
-- CHECK is added NOT VALID and validated apart (validation does not block
-- writes), and the index is built CONCURRENTLY. Every statement can run
-- again after a failure half-way. On a large calls table the index build
-- can outlast serve's start-up limit: run `callconnect migrate` first (see
-- the README, Scaling).

-- +goose NO TRANSACTION

-- +goose Up
ALTER TABLE calls ADD COLUMN IF NOT EXISTS delivered_at timestamptz;

ALTER TABLE calls DROP CONSTRAINT IF EXISTS calls_status_known;
ALTER TABLE calls ADD CONSTRAINT calls_status_known CHECK (status IN
    ('queued', 'delivering', 'delivered', 'completed', 'not_completed', 'undeliverable', 'no_result')) NOT VALID;
ALTER TABLE calls VALIDATE CONSTRAINT calls_status_known;
ALTER TABLE calls DROP CONSTRAINT IF EXISTS calls_status_check;

-- The calls delivered before this column existed: the end of their last
-- attempt the partner answered 2xx, else the last time the row was written
-- (when it became delivered, or later).
UPDATE calls c SET delivered_at = COALESCE(
    (SELECT max((a ->> 'at')::timestamptz + (a ->> 'duration_ms')::bigint * interval '1 millisecond')
     FROM jsonb_array_elements(c.attempts) a
     WHERE (a ->> 'status_code')::int BETWEEN 200 AND 299),
    c.updated_at)
WHERE c.status = 'delivered' AND c.delivered_at IS NULL;

-- What the no_result job reads every minute: the delivered calls, earliest
-- accepted first. Partial, so it holds only the calls awaiting a result (a
-- few hours of them), not the table's history.
DROP INDEX CONCURRENTLY IF EXISTS calls_awaiting_result;
CREATE INDEX CONCURRENTLY calls_awaiting_result ON calls (delivered_at) WHERE status = 'delivered';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS calls_awaiting_result;
-- An older binary knows no no_result: the calls go back to waiting for
-- their result.
UPDATE calls SET status = 'delivered' WHERE status = 'no_result';
ALTER TABLE calls DROP CONSTRAINT IF EXISTS calls_status_check;
ALTER TABLE calls ADD CONSTRAINT calls_status_check CHECK (status IN
    ('queued', 'delivering', 'delivered', 'completed', 'not_completed', 'undeliverable')) NOT VALID;
ALTER TABLE calls VALIDATE CONSTRAINT calls_status_check;
ALTER TABLE calls DROP CONSTRAINT IF EXISTS calls_status_known;
ALTER TABLE calls DROP COLUMN IF EXISTS delivered_at;
