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
