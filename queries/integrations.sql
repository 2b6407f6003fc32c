-- ListIntegrations orders by provider in byte order: the column is COLLATE "C".
-- name: ListIntegrations :many
SELECT env_id, provider, active, partner_url, dial_mode, signing_secrets, created_at, updated_at
FROM telephony_integrations
WHERE env_id = $1
ORDER BY provider;

-- A second active integration of the environment violates the partial unique
-- index telephony_integrations_one_active (rule 1).
-- name: PutIntegration :exec
INSERT INTO telephony_integrations (env_id, provider, active, partner_url, dial_mode, signing_secrets)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (env_id, provider) DO UPDATE SET
    active          = excluded.active,
    partner_url     = excluded.partner_url,
    dial_mode       = excluded.dial_mode,
    signing_secrets = excluded.signing_secrets,
    updated_at      = now();
