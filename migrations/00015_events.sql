-- Events: what a CRM hears about its environment, in one ordered feed per
-- environment (GET /v1/environments/{env}/events, and what later pushes it
-- elsewhere): call.queued, call.delivered, call.undeliverable,
-- call.completed, call.not_completed, call.no_result and
-- lead.interaction_added. The feed starts when this migration runs: calls
-- and interactions written before it raised no event.
--
-- Every event is written by a trigger, in the transaction of the change it
-- describes, so the feed has an event exactly when the change committed:
--
-- * The same transaction: a change that rolls back leaves no event, and no
--   committed change lacks its event, whatever crashes when.
-- * No round trip: the event is written by the server as part of the
--   statement that writes the call or the interaction. The click and the
--   delivery send what they sent before, in as many round trips.
-- * No change to the code that writes calls and interactions: every way of
--   writing them, today's and tomorrow's, raises the events, and no writer
--   can forget to.
--
-- No NOTIFY here. NOTIFY in a transaction takes a lock, held through its
-- COMMIT, that every notifying transaction of the cluster shares: with it in
-- these triggers every click and delivery would commit one after another.
-- Measured with pgbench (16 clients, fsync on): single-row inserting
-- transactions went from ~1,700 to ~200-380 a second with a pg_notify in
-- each, while a notifier sending ~80 NOTIFYs a second from its own
-- connection left the inserts' rate as it was. The service notifies from
-- its own connection, after the commit (adapters/postgres/events.go).
--
-- The feed's order is (txid, seq): the writing transaction's id, then the
-- order of writing within it. A reader lists only events whose transaction
-- id is below the oldest transaction of this database still running
-- (events_horizon): every transaction below it has ended, so no event can
-- appear later among those already listed, and a client that resumes after
-- the last event it got misses none and gets none twice. A plain sequence
-- would not do: numbers are taken when rows are written, not when they
-- commit, so a reader could see 11 and move on before 10 commits. A
-- per-environment counter locked until the commit would give commit order
-- too, but every writer of an environment would then wait for the previous
-- one's commit (measured as above: a third to a half of the rate for one
-- environment). The price of the horizon is latency, not loss: a
-- transaction of this database left open holds the feed back until it
-- ends.

-- +goose Up

-- No foreign key to environments: checking it would lock the environment's
-- row in every click and delivery (the rows that wrote the event are keyed
-- to their environment already). call_id and lead_id are references, not
-- keys, as on exchanges: the event stays whatever becomes of them.
CREATE TABLE events (
    env_id      text        NOT NULL,
    -- The writing transaction (pg_current_xact_id(): 64 bits, never wraps).
    txid        xid8        NOT NULL,
    -- Orders the events of one transaction.
    seq         bigint      GENERATED ALWAYS AS IDENTITY,
    type        text        NOT NULL CHECK (type IN ('call.queued', 'call.delivered', 'call.undeliverable',
                    'call.completed', 'call.not_completed', 'call.no_result', 'lead.interaction_added')),
    -- When the change was written: the writing transaction's start (now()).
    occurred_at timestamptz NOT NULL,
    call_id     text,
    lead_id     text,
    -- The call or the interaction right after the change, by the names of
    -- their columns (a call's: id, lead_id, user_id, status, reason,
    -- clicked_at, deadline, delivered_at, attempts and recording_id, the
    -- call's recording then, as GET .../calls/{id} would link it; an
    -- interaction's: its columns but env_id, fingerprint and created_at).
    data        jsonb       NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    -- The feed of an environment, in order, for readers resuming after an
    -- event: one range scan of this key.
    PRIMARY KEY (env_id, txid, seq)
);

-- The retention deletes the oldest events first, a batch at a time.
CREATE INDEX events_occurred ON events (occurred_at);

-- events_horizon is the transaction id below which no event can be added
-- any more, as the calling statement's snapshot sees it: the oldest
-- transaction running when the snapshot was taken, or the next one to
-- start when none was. Transactions of the cluster's other databases cannot
-- write these events, and a long one there must not hold this feed back:
-- those that pg_stat_get_activity shows still running in another database
-- are left out. One it does not show (ended since the snapshot was taken,
-- or prepared) counts: its events may be committed and yet invisible to the
-- snapshot. STABLE, so that it sees the caller's snapshot, the one the
-- caller's scan of events uses.
-- +goose StatementBegin
CREATE FUNCTION events_horizon() RETURNS xid8
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(
        (SELECT min(x) FROM pg_snapshot_xip(s) AS x
         WHERE xid(x) NOT IN (
             SELECT a.backend_xid FROM pg_stat_get_activity(NULL) AS a
             WHERE a.backend_xid IS NOT NULL
               AND a.datid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = current_database()))),
        pg_snapshot_xmax(s))
    FROM pg_current_snapshot() AS s
$$;
-- +goose StatementEnd

-- A call raises an event when it is placed and whenever its status changes,
-- except to delivering (an attempt on the wire) and back to queued from it
-- (a retry: the call never left the queue as far as the CRM is concerned).
-- Back to queued from undeliverable (a redelivery) is call.queued again.
-- domain.CallEventType is the same rule; the stores' contract suite holds
-- them to it.
-- +goose StatementBegin
CREATE FUNCTION events_call_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    recording text;
BEGIN
    IF NEW.status = 'delivering' OR (TG_OP = 'UPDATE' AND NEW.status = 'queued' AND OLD.status = 'delivering') THEN
        RETURN NULL;
    END IF;
    -- The recording GET .../calls/{id} would link now (LatestCallRecording):
    -- one probe of interactions_env_lead_call_recording. A new call has none.
    IF TG_OP = 'UPDATE' THEN
        SELECT i.recording_id INTO recording
        FROM interactions i
        WHERE i.env_id = NEW.env_id AND i.lead_id = NEW.lead_id AND i.call_id = NEW.id AND i.recording_id IS NOT NULL
        ORDER BY i.occurred_at DESC, i.id DESC
        LIMIT 1;
    END IF;
    INSERT INTO events (env_id, txid, type, occurred_at, call_id, lead_id, data)
    VALUES (NEW.env_id, pg_current_xact_id(), 'call.' || NEW.status, now(), NEW.id, NEW.lead_id,
            jsonb_build_object('id', NEW.id, 'lead_id', NEW.lead_id, 'user_id', NEW.user_id, 'status', NEW.status,
                               'reason', NEW.reason, 'clicked_at', NEW.clicked_at, 'deadline', NEW.deadline,
                               'delivered_at', NEW.delivered_at, 'attempts', NEW.attempts, 'recording_id', recording));
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION events_interaction_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (env_id, txid, type, occurred_at, call_id, lead_id, data)
    VALUES (NEW.env_id, pg_current_xact_id(), 'lead.interaction_added', now(), NEW.call_id, NEW.lead_id,
            jsonb_build_object('id', NEW.id, 'lead_id', NEW.lead_id, 'type', NEW.type, 'description', NEW.description,
                               'task_name', NEW.task_name, 'task_due_at', NEW.task_due_at, 'task_status', NEW.task_status,
                               'task_priority', NEW.task_priority, 'task_responsible_type', NEW.task_responsible_type,
                               'task_responsible_id', NEW.task_responsible_id, 'task_reminder', NEW.task_reminder,
                               'call_id', NEW.call_id, 'recording_id', NEW.recording_id,
                               'recording_sha256', NEW.recording_sha256, 'occurred_at', NEW.occurred_at));
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- PutCall's INSERT ... ON CONFLICT DO UPDATE fires the INSERT trigger when
-- it inserts and the UPDATE one when it updates.
CREATE TRIGGER calls_events_placed AFTER INSERT ON calls
    FOR EACH ROW EXECUTE FUNCTION events_call_changed();
CREATE TRIGGER calls_events_status AFTER UPDATE OF status ON calls
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION events_call_changed();
CREATE TRIGGER interactions_events_added AFTER INSERT ON interactions
    FOR EACH ROW EXECUTE FUNCTION events_interaction_added();

-- +goose Down
DROP TRIGGER interactions_events_added ON interactions;
DROP TRIGGER calls_events_status ON calls;
DROP TRIGGER calls_events_placed ON calls;
DROP FUNCTION events_interaction_added();
DROP FUNCTION events_call_changed();
DROP FUNCTION events_horizon();
DROP TABLE events;
