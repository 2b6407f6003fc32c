-- name: GetIdempotentAnswer :one
SELECT scope, key, request_hash, status_code, body, created_at
FROM idempotency_keys
WHERE scope = $1 AND key = $2;

-- PutIdempotentAnswer stores the first answer under the key. A key whose
-- answer is still kept (younger than sqlc.arg(retention) at the new answer's
-- time) is left alone and no row is affected: the caller reports a conflict.
-- A concurrent first use waits here for the other transaction and, if that
-- one commits, affects nothing either. An expired answer the clean-up has
-- not deleted yet is replaced.
-- name: PutIdempotentAnswer :execrows
INSERT INTO idempotency_keys (scope, key, request_hash, status_code, body, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (scope, key) DO UPDATE SET
    request_hash = excluded.request_hash,
    status_code  = excluded.status_code,
    body         = excluded.body,
    created_at   = excluded.created_at
WHERE idempotency_keys.created_at <= sqlc.arg(expired_before)::timestamptz;

-- name: DeleteIdempotencyKeysBefore :execrows
DELETE FROM idempotency_keys WHERE created_at < $1;
