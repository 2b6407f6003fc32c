-- A click reads the clicking user's call to the lead still under way
-- (queued or delivering) to refuse a second one (call_in_progress). This
-- partial index holds only those calls, few at any time, keyed as the click
-- asks: without it the planner may walk every open call of the environment
-- (calls_env_status_clicked) for each click, a cost that grows with the
-- backlog it causes.
--
-- Built CONCURRENTLY (NO TRANSACTION), so that clicks and results keep
-- writing to calls while it builds; the statement can run again after a
-- failure half-way.

-- +goose NO TRANSACTION

-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS calls_open;
CREATE INDEX CONCURRENTLY calls_open ON calls (env_id, lead_id, user_id, deadline DESC)
    WHERE status IN ('queued', 'delivering');

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS calls_open;
