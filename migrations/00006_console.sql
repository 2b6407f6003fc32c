-- What the operator console lists: an environment's calls, newest first,
-- continued page by page after the last one shown (click time, then id in
-- byte order).

-- +goose Up
CREATE INDEX calls_env_clicked ON calls (env_id, clicked_at DESC, id COLLATE "C" DESC);

-- +goose Down
DROP INDEX calls_env_clicked;
