-- name: GetEventSubscription :one
SELECT * FROM event_subscriptions WHERE env_id = $1 AND id = $2;

-- name: LockEventSubscription :one
SELECT * FROM event_subscriptions WHERE env_id = $1 AND id = $2 FOR UPDATE;

-- ListEventSubscriptions orders by id in byte order: the column is COLLATE "C".
-- name: ListEventSubscriptions :many
SELECT * FROM event_subscriptions WHERE env_id = $1 ORDER BY id;

-- ListActiveEventSubscriptions walks every environment's active
-- subscriptions on event_subscriptions_active, a page at a time.
-- name: ListActiveEventSubscriptions :many
SELECT * FROM event_subscriptions
WHERE status = 'active' AND (env_id, id) > (sqlc.arg(after_env)::text, sqlc.arg(after_id)::text)
ORDER BY env_id, id
LIMIT sqlc.arg(row_limit)::integer;

-- PutEventSubscription inserts or replaces a subscription. A new one
-- without a cursor starts at the end of its environment's feed: after
-- every event of the transactions that had ended when this statement's
-- snapshot was taken (events_horizon: the events table's migration says
-- why that is the feed's end). The cursor never goes back.
-- name: PutEventSubscription :exec
INSERT INTO event_subscriptions (env_id, id, url, types, signing_secrets, status, disabled_reason, disabled_at,
    failing_since, cursor, created_at, updated_at)
VALUES (sqlc.arg(env_id), sqlc.arg(id), sqlc.arg(url), sqlc.arg(types)::text[], sqlc.arg(signing_secrets),
    sqlc.arg(status), sqlc.narg(disabled_reason), sqlc.narg(disabled_at), sqlc.narg(failing_since),
    COALESCE(NULLIF(sqlc.arg(cursor)::text, ''), lpad(events_horizon()::text, 16, '0') || '-0000000000000000'),
    sqlc.arg(created_at), sqlc.arg(updated_at))
ON CONFLICT (env_id, id) DO UPDATE SET
    url             = excluded.url,
    types           = excluded.types,
    signing_secrets = excluded.signing_secrets,
    status          = excluded.status,
    disabled_reason = excluded.disabled_reason,
    disabled_at     = excluded.disabled_at,
    failing_since   = excluded.failing_since,
    cursor          = CASE WHEN sqlc.arg(cursor)::text > event_subscriptions.cursor THEN sqlc.arg(cursor)::text
                           ELSE event_subscriptions.cursor END,
    updated_at      = excluded.updated_at;

-- name: DeleteEventSubscription :execrows
DELETE FROM event_subscriptions WHERE env_id = $1 AND id = $2;

-- name: PendingEventDelivery :one
SELECT * FROM event_deliveries
WHERE env_id = $1 AND subscription_id = $2 AND status = 'pending';

-- name: PutEventDelivery :exec
INSERT INTO event_deliveries (env_id, subscription_id, event_id, event_type, payload, status, attempts, created_at,
    next_attempt_at, sending_until, last_attempt_at, last_status_code, last_error, finished_at)
VALUES (sqlc.arg(env_id), sqlc.arg(subscription_id), sqlc.arg(event_id), sqlc.arg(event_type), sqlc.arg(payload),
    sqlc.arg(status), sqlc.arg(attempts), sqlc.arg(created_at), sqlc.narg(next_attempt_at), sqlc.narg(sending_until),
    sqlc.narg(last_attempt_at), sqlc.narg(last_status_code), sqlc.narg(last_error), sqlc.narg(finished_at))
ON CONFLICT (env_id, subscription_id, event_id) DO UPDATE SET
    status           = excluded.status,
    attempts         = excluded.attempts,
    created_at       = excluded.created_at,
    next_attempt_at  = excluded.next_attempt_at,
    sending_until    = excluded.sending_until,
    last_attempt_at  = excluded.last_attempt_at,
    last_status_code = excluded.last_status_code,
    last_error       = excluded.last_error,
    finished_at      = excluded.finished_at;

-- ListEventDeliveries pages a subscription's deliveries, newest event
-- first, on the primary key.
-- name: ListEventDeliveries :many
SELECT * FROM event_deliveries
WHERE env_id = sqlc.arg(env_id) AND subscription_id = sqlc.arg(subscription_id)
  AND (sqlc.arg(before)::text = '' OR event_id < sqlc.arg(before)::text)
ORDER BY event_id DESC
LIMIT sqlc.arg(row_limit)::integer;

-- DeleteEventDeliveriesFinishedBefore deletes up to max_rows deliveries
-- finished before the cut-off, the oldest first (event_deliveries_finished_at
-- finds them), the rows picked by their place (ctid) as the events'
-- retention does.
-- name: DeleteEventDeliveriesFinishedBefore :execrows
DELETE FROM event_deliveries
WHERE finished_at < sqlc.arg(cutoff)::timestamptz
  AND ctid = ANY (ARRAY(
    SELECT old.ctid FROM event_deliveries AS old
    WHERE old.finished_at < sqlc.arg(cutoff)::timestamptz
    ORDER BY old.finished_at
    LIMIT sqlc.arg(max_rows)::integer
  ));
