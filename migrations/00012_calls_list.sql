-- /v1's calls list filters an environment's calls by the user who pressed
-- Ligar and by status, newest first, continued page by page after the last
-- one shown (click time, then id in byte order), as calls_env_clicked
-- orders the whole environment and calls_env_lead a lead's. Without these a
-- page of one user's calls, or of the few undeliverable ones, would walk
-- the environment's calls until enough turned up.
--
-- Built CONCURRENTLY (NO TRANSACTION), so that clicks and results keep
-- writing to calls while they build; each statement can run again after a
-- failure half-way. On a large calls table the builds can outlast serve's
-- start-up limit: run `callconnect migrate` first (see the README, Scaling).

-- +goose NO TRANSACTION

-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS calls_env_user_clicked;
CREATE INDEX CONCURRENTLY calls_env_user_clicked ON calls (env_id, user_id, clicked_at DESC, id COLLATE "C" DESC);
DROP INDEX CONCURRENTLY IF EXISTS calls_env_status_clicked;
CREATE INDEX CONCURRENTLY calls_env_status_clicked ON calls (env_id, status, clicked_at DESC, id COLLATE "C" DESC);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS calls_env_status_clicked;
DROP INDEX CONCURRENTLY IF EXISTS calls_env_user_clicked;
