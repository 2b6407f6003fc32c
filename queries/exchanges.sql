-- name: RecordExchange :exec
-- The environment is looked up rather than referenced by a foreign key (see
-- migration 00007): an unknown one leaves env_id NULL, which the column
-- refuses (23502 on env_id, which the store reports as not found).
INSERT INTO exchanges (id, env_id, direction, method, url, status_code, duration_ms, call_id, lead_id,
                       occurred_at, request_headers, request_body, response_body, error)
VALUES ($1, (SELECT e.id FROM environments e WHERE e.id = sqlc.arg(env_id)::text),
        $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13);

-- name: GetExchange :one
-- One probe per day's partition: the key (id, occurred_at) leads with the id.
SELECT id, env_id, direction, method, url, status_code, duration_ms, call_id, lead_id, occurred_at,
       request_headers, request_body, response_body, error
FROM exchanges
WHERE env_id = $1 AND id = $2
LIMIT 1;

