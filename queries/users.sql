-- name: GetUser :one
SELECT env_id, id, name, role, phone, extension, agency_id, can_manage_integrations, created_at, updated_at
FROM users
WHERE env_id = $1 AND id = $2;

-- name: PutUser :exec
INSERT INTO users (env_id, id, name, role, phone, extension, agency_id, can_manage_integrations)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (env_id, id) DO UPDATE SET
    name                    = excluded.name,
    role                    = excluded.role,
    phone                   = excluded.phone,
    extension               = excluded.extension,
    agency_id               = excluded.agency_id,
    can_manage_integrations = excluded.can_manage_integrations,
    updated_at              = now();

-- GetUsers reads a batch in one round trip, however many ids are asked.
-- name: GetUsers :many
SELECT env_id, id, name, role, phone, extension, agency_id, can_manage_integrations, created_at, updated_at
FROM users
WHERE env_id = $1 AND id = ANY(sqlc.arg(ids)::text[]);

-- ListIntegrationManagers: the users who may act on the environment's
-- integrations, by id in byte order.
-- name: ListIntegrationManagers :many
SELECT env_id, id, name, role, phone, extension, agency_id, can_manage_integrations, created_at, updated_at
FROM users
WHERE env_id = $1 AND can_manage_integrations
ORDER BY id COLLATE "C"
LIMIT sqlc.arg(row_limit);
