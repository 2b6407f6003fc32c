-- The recording link of a call (GET .../calls/{id}) is the recording of the
-- newest interaction of the call's lead that belongs to the call and carries
-- one (queries/history.sql, LatestCallRecording). On the lead's history index
-- alone that query filters every entry of the lead, thousands on a busy
-- lead, and all of them for a call without a recording; this index finds the
-- answer, or its absence, in one probe. Partial: only entries with a
-- recording are indexed, the ones the query can return.
--
-- Built CONCURRENTLY, so that partners' callbacks go on adding to the history
-- while it is built; that cannot run in a transaction. An attempt that failed
-- half-way leaves an invalid index behind: it is dropped before building.
-- On a large interactions table the build can outlast serve's start-up
-- limit: run `callconnect migrate` first (see the README, Scaling).

-- +goose NO TRANSACTION

-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS interactions_env_lead_call_recording;
CREATE INDEX CONCURRENTLY interactions_env_lead_call_recording
    ON interactions (env_id, lead_id, call_id, occurred_at DESC, id DESC)
    WHERE recording_id IS NOT NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS interactions_env_lead_call_recording;
