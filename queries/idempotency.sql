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

-- DeleteIdempotencyKeysBefore deletes up to max_rows answers stored
-- before the cut-off, the oldest first (idempotency_keys_created finds them),
-- so that one statement never holds a large transaction. The rows are
-- picked by their place (ctid) in an initplan, so that each batch reads its
-- own rows only, whatever plan the statement is given, however long the
-- backlog. The outer test of created_at is re-checked on a row a concurrent
-- PutIdempotentAnswer has just replaced: the fresh answer stays.
-- name: DeleteIdempotencyKeysBefore :execrows
DELETE FROM idempotency_keys
WHERE created_at < sqlc.arg(cutoff)::timestamptz
  AND ctid = ANY (ARRAY(
    SELECT expired.ctid FROM idempotency_keys AS expired
    WHERE expired.created_at < sqlc.arg(cutoff)::timestamptz
    ORDER BY expired.created_at
    LIMIT sqlc.arg(max_rows)::integer
  ));
