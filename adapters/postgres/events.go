package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"callconnect/adapters/postgres/gen"
	"callconnect/domain"
	"callconnect/ports"
)

var (
	_ ports.Events         = (*Store)(nil)
	_ ports.EventRetention = (*Store)(nil)
)

// The events are written by triggers of the schema, in the transactions of
// the changes (see the migration that made the events table, which says why
// there and why in this order). What is left here:
//
//   - reading an environment's feed in its order, only as far as no
//     transaction still running may add to it (ListEventsAfter);
//   - telling watchers, in this process and the others on the database, that
//     an environment may have new events. Writers do not NOTIFY in their
//     transactions (it would make every click and delivery commit one after
//     another); instead, once a transaction of the Store that may have
//     written events commits, the watchers of its environments in this
//     process are woken at once and, with WithEventNotifications, the
//     environments are handed to the process's notifier, which sends them
//     to the other processes in one statement, a batch every notifyEvery at
//     most, on a connection of its own: off the request's path, and off the
//     pool the requests use. Each process LISTENs on one connection of its
//     own and fans what it hears out to its watchers.
//
// A notification lost (a process stopped between its commit and its
// notifier's statement, a listener reconnecting) delays events, never loses
// them: readers resume after the last event they got, and while the
// listener is down every watcher is woken every listenRetryMax.

// eventsChannel is the NOTIFY channel; the payload is an environment id.
const eventsChannel = "callconnect_events"

// notifyEvery is how long the notifier gathers environments before sending
// them: the most a process sends is one statement per notifyEvery, however
// many transactions commit.
const notifyEvery = 20 * time.Millisecond

// notifyTimeout bounds one notifying statement.
const notifyTimeout = 5 * time.Second

// listenRetryMin and listenRetryMax bound the wait between attempts to
// (re)connect the listener; while it is down, every watcher is woken at
// each attempt, so that watchers poll, slowly, until notifications are back.
const (
	listenRetryMin = 100 * time.Millisecond
	listenRetryMax = 2 * time.Second
)

// WithLogger makes the store log what it does in the background (the events'
// notifier and listener) to l instead of slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) { s.events.logger = l }
}

// WithEventNotifications makes the store tell the other processes on the
// database (their ports.Events watchers) of the events its transactions
// commit, through NOTIFY, on a connection of its own, opened with the first
// commit and closed by Close, which a store with it must be given. Without
// it only this process's watchers are woken by its commits (they still hear
// of the others').
func WithEventNotifications() Option {
	return func(s *Store) { s.events.notifies = true }
}

// ListEventsAfter reads a page of the environment's feed in one statement
// (see ListEventsAfter in queries/events.sql).
func (s *Store) ListEventsAfter(ctx context.Context, envID, after string, limit int) (ports.EventPage, error) {
	if limit <= 0 {
		return ports.EventPage{}, fmt.Errorf("postgres: listing events: the limit must be positive, got %d", limit)
	}
	from, err := domain.ParseEventID("after", after)
	if err != nil {
		return ports.EventPage{}, err
	}
	if from.Seq > math.MaxInt64 {
		from.Seq = math.MaxInt64
	}
	rows, err := gen.New(s.pool).ListEventsAfter(ctx, gen.ListEventsAfterParams{EnvID: envID,
		AfterTxid: strconv.FormatUint(from.Tx, 10), AfterSeq: int64(from.Seq), RowLimit: int32(min(limit, math.MaxInt32))})
	if err != nil {
		return ports.EventPage{}, fmt.Errorf("postgres: listing the events of environment %q: %w", envID, err)
	}
	var page ports.EventPage
	for _, row := range rows {
		if row.Held {
			page.Held = true
			continue
		}
		e, err := eventFromRow(envID, row)
		if err != nil {
			return ports.EventPage{}, err
		}
		page.Events = append(page.Events, e)
	}
	if len(page.Events) > 0 {
		if err := s.awaitFlushed(ctx); err != nil {
			return ports.EventPage{}, fmt.Errorf("postgres: listing the events of environment %q: %w", envID, err)
		}
	}
	return page, nil
}

// flushPollMin and flushPollMax bound the wait between two looks at how far
// PostgreSQL has flushed its WAL (awaitFlushed).
const (
	flushPollMin = time.Millisecond
	flushPollMax = 20 * time.Millisecond
)

// awaitFlushed waits until PostgreSQL has flushed its WAL to disk as far as
// it had written it when awaitFlushed was called, so that every transaction
// committed before then is durable. A transaction marked with
// ports.WithAsyncCommit (a delivery's outcome, with its call.delivered
// event) is visible before it is durable, and a crash of PostgreSQL may
// lose it, its transaction id and its events' sequence numbers with it, to
// be given to other events: a reader that had been handed its event would
// resume after an id that names another one, and could skip events. So the
// feed hands out a page only once the transactions it lists are on disk.
// The wait is short: the next durable commit of the cluster (a click, a
// callback) flushes them, and the WAL writer does within three
// wal_writer_delay (200 ms by default) when there is none.
func (s *Store) awaitFlushed(ctx context.Context) error {
	// The WAL position past the last record written, in bytes; and whether
	// the flush has reached it already. When nothing has been written on
	// the current page yet, the position is just past the page's header
	// (40 bytes on a segment's first page, 24 on the others), which no
	// flush covers until something more is written: the page's start is
	// then the position. Any other offset has record bytes on the page.
	var target int64
	var flushed bool
	//
	// Where the service's sessions commit every transaction so
	// (synchronous_commit off: a cluster kept without durability), a crash
	// may lose any of them, and the feed does not wait: it could promise no
	// more, and only the WAL writer would ever flush (every
	// wal_writer_delay), holding every page back that long.
	err := s.pool.QueryRow(ctx, `
		SELECT t, pg_current_wal_flush_lsn() - '0/0'::pg_lsn >= t OR current_setting('synchronous_commit') = 'off'
		FROM (SELECT CASE WHEN p % b = CASE WHEN p % seg < b THEN 40 ELSE 24 END THEN p - p % b ELSE p END::bigint AS t
		      FROM (SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn AS p,
		                   current_setting('wal_block_size')::numeric AS b,
		                   pg_size_bytes(current_setting('wal_segment_size'))::numeric AS seg) AS w) AS w`).Scan(&target, &flushed)
	if err != nil {
		return fmt.Errorf("reading the WAL position: %w", err)
	}
	// Polled: PostgreSQL tells no one when it flushes.
	for wait := flushPollMin; !flushed; wait = min(2*wait, flushPollMax) {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if err := s.pool.QueryRow(ctx, `SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn >= $1::bigint`, target).Scan(&flushed); err != nil {
			return fmt.Errorf("waiting for the WAL to be flushed: %w", err)
		}
	}
	return nil
}

// DeleteEventsBefore deletes up to limit events that occurred before
// cutoff, the oldest first, in one statement (its own transaction).
func (s *Store) DeleteEventsBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("postgres: deleting old events: the limit must be positive, got %d", limit)
	}
	n, err := gen.New(s.pool).DeleteEventsBefore(ctx, gen.DeleteEventsBeforeParams{
		Cutoff: cutoff, MaxRows: int32(min(limit, math.MaxInt32)),
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: deleting old events: %w", err)
	}
	return n, nil
}

// eventCallData is a call.* event's data, as the trigger writes it.
type eventCallData struct {
	ID          string          `json:"id"`
	LeadID      string          `json:"lead_id"`
	UserID      string          `json:"user_id"`
	Status      string          `json:"status"`
	Reason      *string         `json:"reason"`
	ClickedAt   time.Time       `json:"clicked_at"`
	Deadline    time.Time       `json:"deadline"`
	DeliveredAt *time.Time      `json:"delivered_at"`
	Attempts    json.RawMessage `json:"attempts"`
	RecordingID *string         `json:"recording_id"`
}

// eventInteractionData is lead.interaction_added's data, as the trigger
// writes it.
type eventInteractionData struct {
	ID                  string     `json:"id"`
	LeadID              string     `json:"lead_id"`
	Type                string     `json:"type"`
	Description         *string    `json:"description"`
	TaskName            *string    `json:"task_name"`
	TaskDueAt           *time.Time `json:"task_due_at"`
	TaskStatus          *string    `json:"task_status"`
	TaskPriority        *string    `json:"task_priority"`
	TaskResponsibleType *string    `json:"task_responsible_type"`
	TaskResponsibleID   *string    `json:"task_responsible_id"`
	TaskReminder        *bool      `json:"task_reminder"`
	CallID              *string    `json:"call_id"`
	RecordingID         *string    `json:"recording_id"`
	RecordingSha256     *string    `json:"recording_sha256"`
	OccurredAt          time.Time  `json:"occurred_at"`
}

func eventFromRow(envID string, row gen.ListEventsAfterRow) (domain.Event, error) {
	tx, err := strconv.ParseUint(row.Txid, 10, 64)
	if err != nil || row.Seq < 0 || !domain.ValidEventNumber(tx) || !domain.ValidEventNumber(uint64(row.Seq)) {
		return domain.Event{}, fmt.Errorf("postgres: an event of environment %q has a position (%s, %d) its id cannot hold", envID, row.Txid, row.Seq)
	}
	e := domain.Event{ID: domain.EventID{Tx: tx, Seq: uint64(row.Seq)}.String(), EnvID: envID, Type: domain.EventType(row.Type),
		OccurredAt: row.OccurredAt.UTC(), CallID: deref(row.CallID), LeadID: deref(row.LeadID)}
	bad := func(err error) (domain.Event, error) {
		return domain.Event{}, fmt.Errorf("postgres: event %s of environment %q: %v", e.ID, envID, err)
	}
	if e.Type == domain.EventInteractionAdded {
		var d eventInteractionData
		if err := json.Unmarshal(row.Data, &d); err != nil {
			return bad(err)
		}
		i, err := interactionFromRow(gen.Interaction{EnvID: envID, ID: d.ID, LeadID: d.LeadID, Type: d.Type,
			Description: d.Description, TaskName: d.TaskName, TaskDueAt: d.TaskDueAt, TaskStatus: d.TaskStatus,
			TaskPriority: d.TaskPriority, TaskResponsibleType: d.TaskResponsibleType, TaskResponsibleID: d.TaskResponsibleID,
			TaskReminder: d.TaskReminder, CallID: d.CallID, RecordingID: d.RecordingID, RecordingSha256: d.RecordingSha256,
			OccurredAt: d.OccurredAt})
		if err != nil {
			return bad(err)
		}
		e.Interaction = &i
		return e, nil
	}
	var d eventCallData
	if err := json.Unmarshal(row.Data, &d); err != nil {
		return bad(err)
	}
	c, err := callFromRow(gen.Call{EnvID: envID, ID: d.ID, LeadID: d.LeadID, UserID: d.UserID, Status: d.Status, Reason: d.Reason,
		ClickedAt: d.ClickedAt, Deadline: d.Deadline, DeliveredAt: d.DeliveredAt, Attempts: d.Attempts})
	if err != nil {
		return bad(err)
	}
	e.Call, e.CallRecordingID = &c, deref(d.RecordingID)
	return e, nil
}

// eventBus is a store's notifier and listener. Its zero value is ready; the
// listener starts with the first watcher.
type eventBus struct {
	logger   *slog.Logger // nil: slog.Default()
	notifies bool         // WithEventNotifications

	mu sync.Mutex
	// pending are the environments to notify; sending whether the notifier
	// is running (it stops once nothing is pending, and sent closes when it
	// has); notifyConn its connection between runs.
	pending    map[string]struct{}
	sending    bool
	sent       chan struct{}
	notifyConn *pgx.Conn
	// watchers by environment; listening whether the listener runs, up
	// whether it is LISTENing now.
	watchers  map[string]map[*eventWatcher]struct{}
	listening bool
	up        bool
	closed    bool
	stop      context.CancelFunc // ends the listener
	done      chan struct{}      // closed when the listener has ended
}

type eventWatcher struct{ ready chan struct{} }

func (b *eventBus) log() *slog.Logger {
	if b.logger != nil {
		return b.logger
	}
	return slog.Default()
}

// wake tells the watchers of env (all of them for "") without blocking.
// The caller holds b.mu.
func (b *eventBus) wake(env string) {
	tell := func(ws map[*eventWatcher]struct{}) {
		for w := range ws {
			select {
			case w.ready <- struct{}{}:
			default:
			}
		}
	}
	if env != "" {
		tell(b.watchers[env])
		return
	}
	for _, ws := range b.watchers {
		tell(ws)
	}
}

// WatchEvents registers a watcher of the environment, starting the
// process's listener if it does not run yet.
func (s *Store) WatchEvents(envID string) (<-chan struct{}, func()) {
	b := &s.events
	w := &eventWatcher{ready: make(chan struct{}, 1)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.watchers == nil {
		b.watchers = map[string]map[*eventWatcher]struct{}{}
	}
	if b.watchers[envID] == nil {
		b.watchers[envID] = map[*eventWatcher]struct{}{}
	}
	b.watchers[envID][w] = struct{}{}
	if !b.listening && !b.closed {
		ctx, cancel := context.WithCancel(context.Background())
		b.listening, b.stop, b.done = true, cancel, make(chan struct{})
		go s.listen(ctx)
	}
	var once sync.Once
	return w.ready, func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			delete(b.watchers[envID], w)
			if len(b.watchers[envID]) == 0 {
				delete(b.watchers, envID)
			}
		})
	}
}

// Close stops the listener, if it runs, and waits for it to end; watchers
// are told once more (the events after their last are still there to read)
// and then no more. It waits for the notifier to send what is pending, and
// closes its connection. Close does not close the pool.
func (s *Store) Close() {
	b := &s.events
	b.mu.Lock()
	b.closed = true
	stop, done := b.stop, b.done
	var sent chan struct{}
	if b.sending {
		sent = b.sent
	}
	conn := b.notifyConn
	b.notifyConn = nil
	b.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	if sent != nil {
		<-sent // the notifier closes its connection itself
	}
	if conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
		defer cancel()
		_ = conn.Close(ctx)
	}
}

// listen LISTENs on a connection of its own until ctx ends, reconnecting
// when the connection is lost, and wakes the watchers of each environment
// it hears of.
func (s *Store) listen(ctx context.Context) {
	b := &s.events
	defer func() {
		b.mu.Lock()
		b.listening, b.up = false, false
		b.wake("")
		b.mu.Unlock()
		close(b.done)
	}()
	retry := listenRetryMin
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		b.mu.Lock()
		wasUp := b.up
		b.up = false
		// Down: the watchers read what they may have missed, and again at
		// every attempt until the listener is back.
		b.wake("")
		b.mu.Unlock()
		if wasUp {
			retry = listenRetryMin
		}
		b.log().WarnContext(ctx, "listening for events failed; watchers read every few seconds until it is back",
			"error", err, "retry_ms", retry.Milliseconds())
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(2*retry, listenRetryMax)
	}
}

// listenOnce connects, LISTENs and hands on notifications until the
// connection fails or ctx ends.
func (s *Store) listenOnce(ctx context.Context) error {
	b := &s.events
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+eventsChannel); err != nil {
		return fmt.Errorf("LISTEN: %w", err)
	}
	b.mu.Lock()
	b.up = true
	// Whatever committed before the LISTEN took effect was not heard.
	b.wake("")
	b.mu.Unlock()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		b.mu.Lock()
		b.wake(n.Payload)
		b.mu.Unlock()
	}
}

// eventsWritten is called once a transaction that may have written events
// of envs has committed: this process's watchers of those environments are
// woken, and with WithEventNotifications the notifier is asked to tell the
// other processes.
func (s *Store) eventsWritten(envs map[string]struct{}) {
	if len(envs) == 0 {
		return
	}
	b := &s.events
	b.mu.Lock()
	defer b.mu.Unlock()
	for env := range envs {
		b.wake(env)
	}
	if !b.notifies || b.closed {
		return
	}
	if b.pending == nil {
		b.pending = map[string]struct{}{}
	}
	for env := range envs {
		b.pending[env] = struct{}{}
	}
	if !b.sending {
		b.sending, b.sent = true, make(chan struct{})
		go s.notify(b.sent)
	}
}

// notify sends the pending environments, a batch every notifyEvery, until
// none is pending, then leaves its connection for the next run (or closes
// it, once the store is closed) and closes sent. A failure is logged and
// the batch dropped: watchers elsewhere read it later (see eventBus).
func (s *Store) notify(sent chan struct{}) {
	b := &s.events
	b.mu.Lock()
	conn := b.notifyConn
	b.notifyConn = nil
	b.mu.Unlock()
	defer close(sent)
	for {
		time.Sleep(notifyEvery)
		b.mu.Lock()
		envs := make([]string, 0, len(b.pending))
		for env := range b.pending {
			envs = append(envs, env)
		}
		clear(b.pending)
		if len(envs) == 0 {
			b.sending = false
			keep := !b.closed
			if keep {
				b.notifyConn = conn
			}
			b.mu.Unlock()
			if !keep && conn != nil {
				ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
				_ = conn.Close(ctx)
				cancel()
			}
			return
		}
		b.mu.Unlock()
		var err error
		conn, err = s.sendNotifications(conn, envs)
		if err != nil {
			b.log().Warn("notifying new events failed; other processes read them later", "error", err, "environments", len(envs))
		}
	}
}

// sendNotifications NOTIFYs the environments on conn, connecting first when
// conn is nil, and returns the connection to use next time (nil after a
// failure, which closes it). The connection is not traced: it serves no
// request.
func (s *Store) sendNotifications(conn *pgx.Conn, envs []string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	if conn == nil {
		cfg := s.pool.Config().ConnConfig.Copy()
		cfg.Tracer = nil
		var err error
		if conn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
			return nil, fmt.Errorf("connecting: %w", err)
		}
	}
	if _, err := conn.Exec(ctx, `SELECT pg_notify('`+eventsChannel+`', env) FROM unnest($1::text[]) AS env`, envs); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return conn, nil
}

// eventNotes is a transaction's repositories noting the environments whose
// events it may write: those of the calls it writes or locks (a call is
// locked to be changed), of the interactions it adds, and of the exchanges
// and deliveries it records (the delivery of a call records both with the
// call's new status). Once the transaction commits, the store tells their
// watchers (eventsWritten). Noting too many costs a notification; too few,
// a watcher's wait.
type eventNotes struct {
	*repositories
	envs map[string]struct{}
}

// ports hands n out as every port of its unit of work.
func (n *eventNotes) ports() ports.Repositories {
	return ports.Repositories{Environments: n, Users: n, Leads: n, Integrations: n, Calls: n, CallContexts: n,
		Exchanges: n, PartnerTokens: n, History: n, Idempotency: n, EventSubscriptions: n}
}

func (n *eventNotes) note(envID string) {
	if n.envs == nil {
		n.envs = map[string]struct{}{}
	}
	n.envs[envID] = struct{}{}
}

func (n *eventNotes) PutCall(ctx context.Context, c domain.Call) error {
	n.note(c.EnvID())
	return n.repositories.PutCall(ctx, c)
}

func (n *eventNotes) LockCall(ctx context.Context, envID, id string) (domain.Call, error) {
	n.note(envID)
	return n.repositories.LockCall(ctx, envID, id)
}

func (n *eventNotes) LockCallForDelivery(ctx context.Context, envID, callID string) (ports.DeliveryContext, error) {
	n.note(envID)
	return n.repositories.LockCallForDelivery(ctx, envID, callID)
}

func (n *eventNotes) LockCallsAwaitingResult(ctx context.Context, acceptedBy time.Time, limit int) ([]domain.Call, error) {
	calls, err := n.repositories.LockCallsAwaitingResult(ctx, acceptedBy, limit)
	for _, c := range calls {
		n.note(c.EnvID())
	}
	return calls, err
}

func (n *eventNotes) AddInteraction(ctx context.Context, i domain.Interaction) error {
	n.note(i.EnvID())
	return n.repositories.AddInteraction(ctx, i)
}

func (n *eventNotes) RecordExchange(ctx context.Context, e domain.Exchange) error {
	n.note(e.EnvID)
	return n.repositories.RecordExchange(ctx, e)
}

func (n *eventNotes) EnqueueDelivery(ctx context.Context, d ports.Delivery) error {
	n.note(d.EnvID)
	return n.repositories.EnqueueDelivery(ctx, d)
}
