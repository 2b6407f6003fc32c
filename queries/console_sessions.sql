-- PutConsoleSession records a new session. Session ids are random: a second
-- row under one id is refused and the first kept (no row affected).
-- name: PutConsoleSession :execrows
INSERT INTO console_sessions (id, token_id, created_at, expires_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO NOTHING;

-- name: GetConsoleSession :one
SELECT id, token_id, created_at, expires_at
FROM console_sessions
WHERE id = $1;

-- DeleteConsoleSession ends one session (a sign-out).
-- name: DeleteConsoleSession :exec
DELETE FROM console_sessions WHERE id = $1;

-- DeleteConsoleSessionsExpiredBefore drops the sessions that ended before
-- the cut-off (console_sessions_expires finds them).
-- name: DeleteConsoleSessionsExpiredBefore :execrows
DELETE FROM console_sessions WHERE expires_at < sqlc.arg(cutoff)::timestamptz;
