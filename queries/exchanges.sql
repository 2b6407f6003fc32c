-- name: RecordExchange :exec
INSERT INTO exchanges (id, env_id, direction, method, url, status_code, duration_ms, call_id, lead_id,
                       occurred_at, request_headers, request_body, response_body, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14);

-- name: GetExchange :one
-- One probe per day's partition: the key (id, occurred_at) leads with the id.
SELECT id, env_id, direction, method, url, status_code, duration_ms, call_id, lead_id, occurred_at,
       request_headers, request_body, response_body, error
FROM exchanges
WHERE env_id = $1 AND id = $2
LIMIT 1;

-- name: DefaultPartitionDays :many
-- The UTC days of the rows the default partition caught (normally none),
-- before a bound (or all of them with 'infinity').
SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date AS day
FROM exchanges_default
WHERE occurred_at < sqlc.arg(before)
ORDER BY day;

