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

-- ReplaceIdempotentAnswer turns the answer under the key into another,
-- provided it is still the one the caller read (a reservation becoming its
-- answer, or one taken over): no row affected means it is not, and the
-- caller reports a conflict. Of two concurrent replacements, the second
-- waits for the first and, READ COMMITTED, finds the row changed.
-- name: ReplaceIdempotentAnswer :execrows
UPDATE idempotency_keys SET
    request_hash = sqlc.arg(request_hash),
    status_code  = sqlc.arg(status_code),
    body         = sqlc.arg(body),
    created_at   = sqlc.arg(created_at)
WHERE scope = sqlc.arg(scope) AND key = sqlc.arg(key)
  AND request_hash = sqlc.arg(old_request_hash) AND status_code = sqlc.arg(old_status_code)
  AND created_at = sqlc.arg(old_created_at);

-- DeleteIdempotentAnswer gives the key up, provided it still holds what the
-- caller read (a reservation whose request changed nothing).
-- name: DeleteIdempotentAnswer :exec
DELETE FROM idempotency_keys
WHERE scope = sqlc.arg(scope) AND key = sqlc.arg(key)
  AND request_hash = sqlc.arg(request_hash) AND status_code = sqlc.arg(status_code)
  AND created_at = sqlc.arg(created_at);
