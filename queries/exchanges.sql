-- name: RecordExchange :exec
INSERT INTO exchanges (id, env_id, direction, method, url, status_code, duration_ms, call_id, lead_id,
                       occurred_at, request_headers, request_body, response_body, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14);
