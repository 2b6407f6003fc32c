-- name: GetCall :one
SELECT env_id, id, lead_id, user_id, status, reason, clicked_at, deadline, payload, attempts, created_at, updated_at, delivered_at
FROM calls
WHERE env_id = $1 AND id = $2;

-- LockCall holds the call's row until the transaction ends, so that two
-- writers of one call (a worker recording an attempt, a redeliver, a partner's
-- result) take turns and the second reads what the first wrote.
-- name: LockCall :one
SELECT env_id, id, lead_id, user_id, status, reason, clicked_at, deadline, payload, attempts, created_at, updated_at, delivered_at
FROM calls
WHERE env_id = $1 AND id = $2
FOR UPDATE;

-- PutCall inserts or replaces the call with its attempts, in one statement.
-- name: PutCall :exec
INSERT INTO calls (env_id, id, lead_id, user_id, status, reason, clicked_at, deadline, payload, attempts, delivered_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (env_id, id) DO UPDATE SET
    lead_id    = excluded.lead_id,
    user_id    = excluded.user_id,
    status     = excluded.status,
    reason     = excluded.reason,
    clicked_at = excluded.clicked_at,
    deadline   = excluded.deadline,
    payload    = excluded.payload,
    attempts   = excluded.attempts,
    delivered_at = excluded.delivered_at,
    updated_at = now();

-- ReplaceCall writes what a delivery attempt changes (status, reason,
-- attempts, delivered_at) only if the call is still in status was_status
-- with was_attempts attempts. When it is not, it fails (division by zero,
-- SQLSTATE 22012): it goes pipelined with the COMMIT, which cannot look at
-- a row count first, and the transaction must not commit what goes with it.
-- name: ReplaceCall :exec
WITH replaced AS (
    UPDATE calls SET
        status       = sqlc.arg(status),
        reason       = sqlc.narg(reason),
        attempts     = sqlc.arg(attempts),
        delivered_at = sqlc.narg(delivered_at),
        updated_at   = now()
    WHERE env_id = sqlc.arg(env_id) AND id = sqlc.arg(id)
      AND status = sqlc.arg(was_status) AND jsonb_array_length(attempts) = sqlc.arg(was_attempts)::int
    RETURNING 1
)
SELECT 1 / count(*) FROM replaced;

-- LatestOpenCall is the lead's newest call without a result, on calls_env_lead.
-- name: LatestOpenCall :one
SELECT env_id, id, lead_id, user_id, status, reason, clicked_at, deadline, payload, attempts, created_at, updated_at, delivered_at
FROM calls
WHERE env_id = $1 AND lead_id = $2 AND status NOT IN ('completed', 'not_completed')
ORDER BY clicked_at DESC, id DESC
LIMIT 1;

-- LockCallForDelivery is LockCall with what a delivery attempt reads besides
-- the call, in the same round trip: the call's environment and the
-- environment's integration of sqlc.arg(provider) (NULLs when it has none).
-- Only the call's row is locked.
-- name: LockCallForDelivery :one
SELECT sqlc.embed(c), sqlc.embed(e),
       i.provider        AS integration_provider,
       i.active          AS integration_active,
       i.partner_url     AS integration_partner_url,
       i.dial_mode       AS integration_dial_mode,
       i.signing_secrets AS integration_signing_secrets
FROM calls c
JOIN environments e ON e.id = c.env_id
LEFT JOIN telephony_integrations i ON i.env_id = c.env_id AND i.provider = sqlc.arg(provider)
WHERE c.env_id = sqlc.arg(env_id) AND c.id = sqlc.arg(id)
FOR UPDATE OF c;

-- GetClickContext reads in one round trip what pressing Ligar needs: the
-- environment, its integration of sqlc.arg(provider), the lead, and the
-- users among the clicking user and the lead's owners, one row each (one
-- row with NULL user columns when there is none). No row: no environment.
-- LockClicks makes the clicks of one user on one lead wait for each other
-- until the transaction ends: the next click's GetClickContext, a statement
-- after it, then sees the call the first one placed.
-- name: LockClicks :exec
SELECT pg_advisory_xact_lock(hashtextextended('callconnect.click/' || sqlc.arg(env_id)::text || '/' || sqlc.arg(user_id)::text || '/' || sqlc.arg(lead_id)::text, 0));

-- name: GetClickContext :many
SELECT sqlc.embed(e),
       i.provider        AS integration_provider,
       i.active          AS integration_active,
       i.partner_url     AS integration_partner_url,
       i.dial_mode       AS integration_dial_mode,
       i.signing_secrets AS integration_signing_secrets,
       l.id AS lead_id, l.name AS lead_name, l.email AS lead_email, l.phone AS lead_phone, l.score AS lead_score,
       l.registered_at AS lead_registered_at, l.main_media AS lead_main_media, l.origin AS lead_origin,
       l.stage_id AS lead_stage_id, l.stage_name AS lead_stage_name, l.developments AS lead_developments,
       l.manager_id AS lead_manager_id, l.broker_id AS lead_broker_id, l.agency_id AS lead_agency_id,
       u.id AS user_id, u.name AS user_name, u.role AS user_role, u.phone AS user_phone, u.extension AS user_extension,
       u.agency_id AS user_agency_id, u.can_manage_integrations AS user_can_manage_integrations,
       COALESCE(oc.id, '')::text AS open_call_id, COALESCE(oc.deadline, 'epoch')::timestamptz AS open_call_deadline
FROM environments e
LEFT JOIN telephony_integrations i ON i.env_id = e.id AND i.provider = sqlc.arg(provider)
LEFT JOIN leads l ON l.env_id = e.id AND l.id = sqlc.arg(lead_id)
-- The clicking user's call to the lead still under way (queued or
-- delivering) with the latest dispatch deadline: while that deadline has
-- not passed, a second click places no call.
LEFT JOIN LATERAL (SELECT c.id, c.deadline FROM calls c
                   WHERE c.env_id = e.id AND c.lead_id = l.id AND c.user_id = sqlc.arg(user_id)
                     AND c.status IN ('queued', 'delivering')
                   ORDER BY c.deadline DESC, c.id DESC LIMIT 1) oc ON true
LEFT JOIN users u ON u.env_id = e.id AND u.id IN (sqlc.arg(user_id), l.manager_id, l.broker_id, l.agency_id)
WHERE e.id = sqlc.arg(env_id);

-- LockCallsAwaitingResult is what the no_result job takes, a batch at a
-- time: the delivered calls the partner accepted at or before accepted_by,
-- earliest first, on calls_awaiting_result. A call another transaction
-- holds (a result being recorded) is skipped rather than waited for: its
-- writer settles it, or the next batch takes it.
-- name: LockCallsAwaitingResult :many
SELECT env_id, id, lead_id, user_id, status, reason, clicked_at, deadline, payload, attempts, created_at, updated_at, delivered_at
FROM calls
WHERE status = 'delivered' AND delivered_at <= sqlc.arg(accepted_by)::timestamptz
ORDER BY delivered_at
LIMIT sqlc.arg(row_limit)
FOR UPDATE SKIP LOCKED;
