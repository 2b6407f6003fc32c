-- name: GetCall :one
SELECT env_id, id, lead_id, user_id, status, reason, clicked_at, deadline, payload, attempts, created_at, updated_at
FROM calls
WHERE env_id = $1 AND id = $2;

-- LockCall holds the call's row until the transaction ends, so that two
-- writers of one call (a worker recording an attempt, a redeliver, a partner's
-- result) take turns and the second reads what the first wrote.
-- name: LockCall :one
SELECT env_id, id, lead_id, user_id, status, reason, clicked_at, deadline, payload, attempts, created_at, updated_at
FROM calls
WHERE env_id = $1 AND id = $2
FOR UPDATE;

-- PutCall inserts or replaces the call with its attempts, in one statement.
-- name: PutCall :exec
INSERT INTO calls (env_id, id, lead_id, user_id, status, reason, clicked_at, deadline, payload, attempts)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (env_id, id) DO UPDATE SET
    lead_id    = excluded.lead_id,
    user_id    = excluded.user_id,
    status     = excluded.status,
    reason     = excluded.reason,
    clicked_at = excluded.clicked_at,
    deadline   = excluded.deadline,
    payload    = excluded.payload,
    attempts   = excluded.attempts,
    updated_at = now();

-- LatestOpenCall is the lead's newest call without a result, on calls_env_lead.
-- name: LatestOpenCall :one
SELECT env_id, id, lead_id, user_id, status, reason, clicked_at, deadline, payload, attempts, created_at, updated_at
FROM calls
WHERE env_id = $1 AND lead_id = $2 AND status NOT IN ('completed', 'not_completed')
ORDER BY clicked_at DESC, id DESC
LIMIT 1;

-- ListCalls is the console's list of an environment's calls, newest first,
-- each filter applied only when given; on calls_env_clicked. The cursor
-- (before_clicked_at, before_id) continues after the last call of a page.
-- name: ListCalls :many
SELECT env_id, id, lead_id, user_id, status, reason, clicked_at, deadline, payload, attempts, created_at, updated_at
FROM calls
WHERE env_id = sqlc.arg(env_id)
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(lead_id)::text IS NULL OR lead_id = sqlc.narg(lead_id)::text)
  AND (sqlc.narg(user_id)::text IS NULL OR user_id = sqlc.narg(user_id)::text)
  AND (sqlc.narg(clicked_from)::timestamptz IS NULL OR clicked_at >= sqlc.narg(clicked_from)::timestamptz)
  AND (sqlc.narg(clicked_to)::timestamptz IS NULL OR clicked_at < sqlc.narg(clicked_to)::timestamptz)
  AND (sqlc.narg(before_clicked_at)::timestamptz IS NULL
       OR clicked_at < sqlc.narg(before_clicked_at)::timestamptz
       OR (clicked_at = sqlc.narg(before_clicked_at)::timestamptz AND id COLLATE "C" < sqlc.arg(before_id)::text))
ORDER BY clicked_at DESC, id COLLATE "C" DESC
LIMIT sqlc.arg(row_limit);
