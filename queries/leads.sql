-- name: GetLead :one
SELECT env_id, id, name, email, phone, score, registered_at, main_media, origin,
       stage_id, stage_name, developments, manager_id, broker_id, agency_id, created_at, updated_at
FROM leads
WHERE env_id = $1 AND id = $2;

-- GetLeads reads a batch in one round trip, however many ids are asked.
-- name: GetLeads :many
SELECT env_id, id, name, email, phone, score, registered_at, main_media, origin,
       stage_id, stage_name, developments, manager_id, broker_id, agency_id, created_at, updated_at
FROM leads
WHERE env_id = $1 AND id = ANY(sqlc.arg(ids)::text[]);

-- name: PutLead :exec
INSERT INTO leads (env_id, id, name, email, phone, score, registered_at, main_media, origin,
                   stage_id, stage_name, developments, manager_id, broker_id, agency_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (env_id, id) DO UPDATE SET
    name          = excluded.name,
    email         = excluded.email,
    phone         = excluded.phone,
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

-- FindLeadsByPhone finds the leads whose phone, without the Brazilian country
-- code, is sqlc.arg(national): the phone is one of the two candidates (an
-- index condition on leads_env_phone), and the CASE is
-- domain.Phone.NationalDigits, which strips a leading 55 only from numbers of
-- 12 digits or more.
-- name: FindLeadsByPhone :many
SELECT env_id, id, name, email, phone, score, registered_at, main_media, origin,
       stage_id, stage_name, developments, manager_id, broker_id, agency_id, created_at, updated_at
FROM leads
WHERE env_id = sqlc.arg(env_id)
  AND phone IN (sqlc.arg(national)::text, '55' || sqlc.arg(national)::text)
  AND CASE WHEN length(phone) >= 12 AND phone LIKE '55%' THEN substr(phone, 3) ELSE phone END = sqlc.arg(national)::text
ORDER BY id;

-- FindLeadsByEmail compares as leads_env_email indexes: lower() on both sides.
-- name: FindLeadsByEmail :many
SELECT env_id, id, name, email, phone, score, registered_at, main_media, origin,
       stage_id, stage_name, developments, manager_id, broker_id, agency_id, created_at, updated_at
FROM leads
WHERE env_id = sqlc.arg(env_id) AND email IS NOT NULL AND lower(email) = lower(sqlc.arg(email)::text)
ORDER BY id;
