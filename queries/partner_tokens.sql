-- PutPartnerToken inserts the token or replaces it in its own environment.
-- An id that another environment's token holds updates nothing: the caller
-- sees no row affected and refuses.
-- name: PutPartnerToken :execrows
INSERT INTO partner_tokens (id, env_id, email, description, secret_hash, created_at, revoked_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO UPDATE SET
    email       = excluded.email,
    description = excluded.description,
    secret_hash = excluded.secret_hash,
    created_at  = excluded.created_at,
    revoked_at  = excluded.revoked_at
WHERE partner_tokens.env_id = excluded.env_id;

-- name: GetPartnerToken :one
SELECT id, env_id, email, description, secret_hash, created_at, revoked_at
FROM partner_tokens
WHERE id = $1;

-- name: ListPartnerTokens :many
SELECT id, env_id, email, description, secret_hash, created_at, revoked_at
FROM partner_tokens
WHERE env_id = $1
ORDER BY created_at DESC, id DESC;
