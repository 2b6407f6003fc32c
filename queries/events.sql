-- ListEventsAfter reads a page of an environment's feed after the position
-- (after_txid, after_seq), in feed order, on the events key. It lists only
-- events whose transaction is older than every transaction of the database
-- still running (events_horizon, of the statement's own snapshot, which its
-- scans use too): all of those have ended, so nothing can be added later
-- before what it lists.
-- A last row with held set (and no event) says that committed events lie
-- beyond that horizon, listable once the older transactions end: the caller
-- asks again shortly instead of waiting for a notification.
-- name: ListEventsAfter :many
WITH horizon AS MATERIALIZED (
    SELECT events_horizon() AS xmin
),
page AS (
    SELECT false AS held, e.txid, e.seq, e.type, e.occurred_at, e.call_id, e.lead_id, e.data
    FROM events e
    WHERE e.env_id = sqlc.arg(env_id) AND e.txid < (SELECT xmin FROM horizon)
      AND (e.txid, e.seq) > (sqlc.arg(after_txid)::text::xid8, sqlc.arg(after_seq)::bigint)
    ORDER BY e.txid, e.seq
    LIMIT sqlc.arg(row_limit)::integer
)
SELECT r.held, r.txid::text AS txid, r.seq, r.type, r.occurred_at, r.call_id, r.lead_id, r.data
FROM (
    SELECT * FROM page
    UNION ALL
    SELECT true, h.xmin, 0, '', now(), NULL, NULL, '{}'::jsonb
    FROM horizon h
    WHERE EXISTS (
        SELECT 1 FROM events b
        WHERE b.env_id = sqlc.arg(env_id) AND b.txid >= h.xmin
          AND (b.txid, b.seq) > (sqlc.arg(after_txid)::text::xid8, sqlc.arg(after_seq)::bigint)
    )
) r
ORDER BY r.held, r.txid, r.seq;

-- DeleteEventsBefore deletes up to max_rows events that occurred before the
-- cut-off, the oldest first (events_occurred finds them), so that one
-- statement never holds a large transaction. The rows are picked by their
-- place (ctid) in an initplan, so that each batch reads its own rows only.
-- name: DeleteEventsBefore :execrows
DELETE FROM events
WHERE occurred_at < sqlc.arg(cutoff)::timestamptz
  AND ctid = ANY (ARRAY(
    SELECT old.ctid FROM events AS old
    WHERE old.occurred_at < sqlc.arg(cutoff)::timestamptz
    ORDER BY old.occurred_at
    LIMIT sqlc.arg(max_rows)::integer
  ));
