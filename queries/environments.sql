-- name: GetEnvironment :one
SELECT id, name, public_base_url, time_zone, call_connect_enabled, created_at, updated_at, widget_origins
FROM environments
WHERE id = $1;

-- LockEnvironment takes FOR NO KEY UPDATE rather than FOR UPDATE: it
-- serialises every writer of the environment's integrations (and of the
-- environment itself) just the same, but does not block the FOR KEY SHARE
-- locks that foreign-key checks take when users and leads are written.
-- name: LockEnvironment :one
SELECT id, name, public_base_url, time_zone, call_connect_enabled, created_at, updated_at, widget_origins
FROM environments
WHERE id = $1
FOR NO KEY UPDATE;

-- name: PutEnvironment :exec
INSERT INTO environments (id, name, public_base_url, time_zone, call_connect_enabled, widget_origins)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET
    name                 = excluded.name,
    public_base_url      = excluded.public_base_url,
    time_zone            = excluded.time_zone,
    call_connect_enabled = excluded.call_connect_enabled,
    widget_origins       = excluded.widget_origins,
    updated_at           = now();

-- ListEnvironments pages through the environments by id in byte order.
-- name: ListEnvironments :many
SELECT id, name, public_base_url, time_zone, call_connect_enabled, created_at, updated_at, widget_origins
FROM environments
WHERE id COLLATE "C" > sqlc.arg(after)::text
ORDER BY id COLLATE "C"
LIMIT sqlc.arg(row_limit);
