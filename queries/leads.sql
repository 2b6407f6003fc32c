-- name: GetLead :one
SELECT env_id, id, name, email, phone, score, registered_at, main_media, origin,
       stage_id, stage_name, developments, manager_id, broker_id, agency_id, created_at, updated_at, phone_key
FROM leads
WHERE env_id = $1 AND id = $2;

-- GetLeads reads a batch in one round trip, however many ids are asked.
-- name: GetLeads :many
SELECT env_id, id, name, email, phone, score, registered_at, main_media, origin,
       stage_id, stage_name, developments, manager_id, broker_id, agency_id, created_at, updated_at, phone_key
FROM leads
WHERE env_id = $1 AND id = ANY(sqlc.arg(ids)::text[]);

-- phone_key is domain.Phone.MatchKey, which only the service can compute
-- for a foreign number typed with '+' (migrations/00010_lead_phone_key.sql).
-- name: PutLead :exec
INSERT INTO leads (env_id, id, name, email, phone, phone_key, score, registered_at, main_media, origin,
                   stage_id, stage_name, developments, manager_id, broker_id, agency_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
ON CONFLICT (env_id, id) DO UPDATE SET
    name          = excluded.name,
    email         = excluded.email,
    phone         = excluded.phone,
    phone_key     = excluded.phone_key,
    score         = excluded.score,
    registered_at = excluded.registered_at,
    main_media    = excluded.main_media,
    origin        = excluded.origin,
    stage_id      = excluded.stage_id,
    stage_name    = excluded.stage_name,
    developments  = excluded.developments,
    manager_id    = excluded.manager_id,
    broker_id     = excluded.broker_id,
    agency_id     = excluded.agency_id,
    updated_at    = now();

-- FindLeadsByPhoneKey finds the leads whose phone has the key (domain.Phone's
-- MatchKey), on the index leads_env_phone_key.
-- name: FindLeadsByPhoneKey :many
SELECT env_id, id, name, email, phone, score, registered_at, main_media, origin,
       stage_id, stage_name, developments, manager_id, broker_id, agency_id, created_at, updated_at, phone_key
FROM leads
WHERE env_id = sqlc.arg(env_id) AND phone_key = sqlc.arg(phone_key)::text
ORDER BY id;

-- FindLeadsByEmail compares as leads_env_email indexes: lower() on both sides.
-- name: FindLeadsByEmail :many
SELECT env_id, id, name, email, phone, score, registered_at, main_media, origin,
       stage_id, stage_name, developments, manager_id, broker_id, agency_id, created_at, updated_at, phone_key
FROM leads
WHERE env_id = sqlc.arg(env_id) AND email IS NOT NULL AND lower(email) = lower(sqlc.arg(email)::text)
ORDER BY id;
