-- name: AddInteraction :exec
INSERT INTO interactions (env_id, id, lead_id, type, description, task_name, task_due_at, task_status,
                          task_priority, task_responsible_type, task_responsible_id, task_reminder,
                          call_id, recording_id, recording_sha256, fingerprint, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17);

-- name: ListInteractions :many
SELECT env_id, id, lead_id, type, description, task_name, task_due_at, task_status,
       task_priority, task_responsible_type, task_responsible_id, task_reminder,
       call_id, recording_id, recording_sha256, fingerprint, occurred_at, created_at
FROM interactions
WHERE env_id = $1 AND lead_id = $2
ORDER BY occurred_at DESC, id DESC;

-- name: HasInteraction :one
SELECT EXISTS (
    SELECT 1 FROM interactions WHERE env_id = $1 AND lead_id = $2 AND fingerprint = $3
);

-- name: PutRecording :exec
INSERT INTO recordings (env_id, id, lead_id, call_id, sha256, size, content_type, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (env_id, id) DO UPDATE SET
    lead_id      = excluded.lead_id,
    call_id      = excluded.call_id,
    sha256       = excluded.sha256,
    size         = excluded.size,
    content_type = excluded.content_type,
    created_at   = excluded.created_at;

-- name: GetRecording :one
SELECT env_id, id, lead_id, call_id, sha256, size, content_type, created_at
FROM recordings
WHERE env_id = $1 AND id = $2;

-- LockRecordingContent serialises writers and deleters of one audio object.
-- name: LockRecordingContent :exec
SELECT pg_advisory_xact_lock(hashtextextended('recording:' || @sha256::text, 0));

-- RecordingsWithSHA256 counts across environments, on recordings_sha256.
-- name: RecordingsWithSHA256 :one
SELECT count(*) FROM recordings WHERE sha256 = $1;

-- ReferencedAudio is which of a batch of contents some recording has, in one
-- scan of recordings_sha256.
-- name: ReferencedAudio :many
SELECT DISTINCT sha256 FROM recordings WHERE sha256 = ANY(@sha256s::text[]);

-- LatestCallRecording is the recording of the newest interaction of the lead
-- that belongs to the call and carries one, in ListInteractions' order.
-- name: LatestCallRecording :one
SELECT recording_id::text
FROM interactions
WHERE env_id = $1 AND lead_id = $2 AND call_id = sqlc.arg(call_id)::text AND recording_id IS NOT NULL
ORDER BY occurred_at DESC, id DESC
LIMIT 1;

-- LatestCallRecordings is LatestCallRecording for a page of calls in one
-- round trip: each call of the environment among call_ids (by its primary
-- key) with the recording of the newest interaction of its lead that
-- belongs to it and carries one (one probe of
-- interactions_env_lead_call_recording each); calls without a recording
-- have no row.
-- name: LatestCallRecordings :many
SELECT c.id AS call_id, latest.recording_id::text AS recording_id
FROM calls c
CROSS JOIN LATERAL (
    SELECT i.recording_id
    FROM interactions i
    WHERE i.env_id = c.env_id AND i.lead_id = c.lead_id AND i.call_id = c.id AND i.recording_id IS NOT NULL
    ORDER BY i.occurred_at DESC, i.id DESC
    LIMIT 1
) latest
WHERE c.env_id = @env_id AND c.id = ANY(@call_ids::text[]);
