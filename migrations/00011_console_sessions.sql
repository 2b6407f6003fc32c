-- The operator console's sessions, kept on the server so that signing out
-- ends a session on every replica at once: the signed cookie alone would
-- stay valid until it expired. A session is a row; signing out deletes it.
--
-- id is the SHA-256 (hex) of the random session id the cookie carries, so
-- that a copy of this table opens no session. token_id identifies the admin
-- token the session was opened with (a keyed hash, never the token): a
-- session opened with a token the deployment no longer accepts is refused.
-- Rows past expires_at are refused too, and deleted as operators sign in
-- (console_sessions_expires finds them).

-- +goose Up
CREATE TABLE console_sessions (
    id         text PRIMARY KEY,
    token_id   text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT console_sessions_id_present CHECK (id <> ''),
    CONSTRAINT console_sessions_ends_after_start CHECK (expires_at > created_at)
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- +goose Down
DROP TABLE console_sessions;
