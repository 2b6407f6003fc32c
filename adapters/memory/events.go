package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

var (
	_ ports.Events         = (*Store)(nil)
	_ ports.EventRetention = (*Store)(nil)
)

// eventLog is the store's feed: the events of committed transactions, per
// environment, in commit order (transactions are serialised by the store's
// mutex, so commit order is the order they ran in), and the watchers to
// tell of new ones. Its zero value is ready.
type eventLog struct {
	mu       sync.Mutex
	byEnv    map[string][]domain.Event
	lastTx   uint64 // the EventID.Tx of the last transaction that wrote events
	lastSeq  uint64 // the EventID.Seq of the last event
	watchers map[string]map[*eventWatcher]struct{}
	clock    ports.Clock // nil: the system's
}

type eventWatcher struct{ ready chan struct{} }

// SetEventClock makes the store time its events (domain.Event.OccurredAt)
// by c instead of the system clock, for tests that move time.
func (s *Store) SetEventClock(c ports.Clock) {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	s.events.clock = c
}

// callChanged records, with the transaction, the event a call stored with
// status after from ("" for a new call) raises, if any (the rule the
// PostgreSQL schema's trigger follows: domain.CallEventType). stored is the
// call as kept.
func (r *repositories) callChanged(from domain.CallStatus, stored domain.Call) {
	typ, ok := domain.CallEventType(from, stored.Status())
	if !ok {
		return
	}
	recording := ""
	if from != "" {
		recording, _ = r.LatestCallRecording(context.Background(), stored.EnvID(), stored.LeadID(), stored.ID())
	}
	// Events show the call as the API does: without the partner's payload.
	c := domain.RestoreCall(stored.EnvID(), stored.ID(), stored.LeadID(), stored.UserID(), stored.Status(), stored.Reason(),
		stored.ClickedAt(), stored.Deadline(), nil, stored.Attempts()).WithDeliveredAt(stored.DeliveredAt())
	r.events = append(r.events, domain.Event{EnvID: c.EnvID(), Type: typ, CallID: c.ID(), LeadID: c.LeadID(),
		Call: &c, CallRecordingID: recording})
}

// interactionAdded records, with the transaction, the event of an added
// interaction (as kept).
func (r *repositories) interactionAdded(stored domain.Interaction) {
	r.events = append(r.events, domain.Event{EnvID: stored.EnvID(), Type: domain.EventInteractionAdded,
		CallID: stored.CallID(), LeadID: stored.LeadID(), Interaction: &stored})
}

// commit appends the events of a committed transaction, in the order they
// were written, numbering them, and tells the watchers of their
// environments. The caller holds the store's mutex, so transactions commit
// here in the order they ran.
func (l *eventLog) commit(events []domain.Event) {
	if len(events) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.clock != nil {
		now = l.clock.Now()
	}
	now = now.Truncate(time.Microsecond)
	if l.byEnv == nil {
		l.byEnv = map[string][]domain.Event{}
	}
	l.lastTx++
	envs := map[string]bool{}
	for _, e := range events {
		l.lastSeq++
		e.ID = domain.EventID{Tx: l.lastTx, Seq: l.lastSeq}.String()
		e.OccurredAt = now
		l.byEnv[e.EnvID] = append(l.byEnv[e.EnvID], e)
		envs[e.EnvID] = true
	}
	for env := range envs {
		for w := range l.watchers[env] {
			select {
			case w.ready <- struct{}{}:
			default:
			}
		}
	}
}

// ListEventsAfter reads the committed events; none is ever held back, as
// transactions commit one at a time.
func (s *Store) ListEventsAfter(_ context.Context, envID, after string, limit int) (ports.EventPage, error) {
	if limit <= 0 {
		return ports.EventPage{}, fmt.Errorf("memory: listing events: the limit must be positive, got %d", limit)
	}
	from, err := domain.ParseEventID("after", after)
	if err != nil {
		return ports.EventPage{}, err
	}
	l := &s.events
	l.mu.Lock()
	defer l.mu.Unlock()
	feed := l.byEnv[envID]
	i, _ := slices.BinarySearchFunc(feed, from, func(e domain.Event, id domain.EventID) int {
		eid, _ := domain.ParseEventID("id", e.ID)
		if eid.Less(id) || eid == id {
			return -1
		}
		return 1
	})
	page := slices.Clone(feed[i:min(len(feed), i+limit)])
	return ports.EventPage{Events: page}, nil
}

// WatchEvents registers a watcher, told by every commit with events of the
// environment.
func (s *Store) WatchEvents(envID string) (<-chan struct{}, func()) {
	l := &s.events
	w := &eventWatcher{ready: make(chan struct{}, 1)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.watchers == nil {
		l.watchers = map[string]map[*eventWatcher]struct{}{}
	}
	if l.watchers[envID] == nil {
		l.watchers[envID] = map[*eventWatcher]struct{}{}
	}
	l.watchers[envID][w] = struct{}{}
	var once sync.Once
	return w.ready, func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			delete(l.watchers[envID], w)
			if len(l.watchers[envID]) == 0 {
				delete(l.watchers, envID)
			}
		})
	}
}

// DeleteEventsBefore deletes up to limit events that occurred before
// cutoff, the oldest first (feed order among events of the same time), as
// the PostgreSQL store does.
func (s *Store) DeleteEventsBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("memory: deleting old events: the limit must be positive, got %d", limit)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l := &s.events
	l.mu.Lock()
	defer l.mu.Unlock()
	type old struct {
		env string
		at  time.Time
		id  string
	}
	var olds []old
	for env, feed := range l.byEnv {
		for _, e := range feed {
			if e.OccurredAt.Before(cutoff) {
				olds = append(olds, old{env, e.OccurredAt, e.ID})
			}
		}
	}
	slices.SortFunc(olds, func(a, b old) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.id, b.id)) })
	gone := map[string]map[string]bool{}
	for _, o := range olds[:min(limit, len(olds))] {
		if gone[o.env] == nil {
			gone[o.env] = map[string]bool{}
		}
		gone[o.env][o.id] = true
	}
	for env, ids := range gone {
		// A new slice: readers may hold the old one.
		l.byEnv[env] = slices.DeleteFunc(slices.Clone(l.byEnv[env]), func(e domain.Event) bool { return ids[e.ID] })
	}
	return int64(min(limit, len(olds))), nil
}
