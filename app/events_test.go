package app_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

func eventTypes(events []domain.Event) []domain.EventType {
	out := make([]domain.EventType, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

func TestEventsListAPlacedAndDeliveredCall(t *testing.T) {
	f := newCallsFixture(t, app.CallsConfig{DispatchDeadline: 2 * time.Minute, RetryMinBackoff: time.Second})
	events := app.NewEvents(f.store, f.mem, app.EventsConfig{})
	ctx := context.Background()
	call, err := f.calls.Place(ctx, "acme", "l1", "b1", "")
	if err != nil {
		t.Fatal(err)
	}
	f.drain(t)

	page, err := events.List(ctx, "acme", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(eventTypes(page.Events)); got != "[call.queued call.delivered]" {
		t.Fatalf("events: %s", got)
	}
	for _, e := range page.Events {
		if e.CallID != call.ID() || e.LeadID != "l1" || e.Call == nil || e.Call.UserID() != "b1" {
			t.Errorf("event %+v is not the call's", e)
		}
	}
	if page.NextAfter != page.Events[1].ID {
		t.Errorf("next_after %q, want the last event's id %q", page.NextAfter, page.Events[1].ID)
	}
	// Paging: one at a time, then none, next_after staying put.
	first, err := events.List(ctx, "acme", "", 1)
	if err != nil || len(first.Events) != 1 || first.NextAfter != page.Events[0].ID {
		t.Fatalf("first page of 1: %+v %v", first, err)
	}
	last, err := events.List(ctx, "acme", page.NextAfter, 0)
	if err != nil || len(last.Events) != 0 || last.NextAfter != page.NextAfter {
		t.Fatalf("after the last: %+v %v", last, err)
	}
}

// holdingFeed is the memory feed holding its events back, as the
// PostgreSQL feed does while an older transaction that may still add
// events runs: the first holds reads list nothing and say Held.
type holdingFeed struct {
	ports.Events
	mu    sync.Mutex
	holds int
	reads int
}

func (f *holdingFeed) ListEventsAfter(ctx context.Context, envID, after string, limit int) (ports.EventPage, error) {
	f.mu.Lock()
	f.reads++
	held := f.reads <= f.holds
	f.mu.Unlock()
	if held {
		return ports.EventPage{Held: true}, nil
	}
	return f.Events.ListEventsAfter(ctx, envID, after, limit)
}

// A page read while the call's events are held back a moment waits for
// them; held longer than app.ListHeldWait, it answers without them, and
// the next page has them.
func TestEventsListWaitsForEventsHeldBack(t *testing.T) {
	f := newCallsFixture(t, app.CallsConfig{DispatchDeadline: 2 * time.Minute, RetryMinBackoff: time.Second})
	ctx := context.Background()
	if _, err := f.calls.Place(ctx, "acme", "l1", "b1", ""); err != nil {
		t.Fatal(err)
	}
	feed := &holdingFeed{Events: f.mem, holds: 3}
	page, err := app.NewEvents(f.store, feed, app.EventsConfig{}).List(ctx, "acme", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(eventTypes(page.Events)); got != "[call.queued]" || feed.reads != 4 {
		t.Fatalf("held for 3 reads: events %s after %d reads, want [call.queued] after 4", got, feed.reads)
	}

	feed = &holdingFeed{Events: f.mem, holds: 1 << 30}
	started := time.Now()
	page, err = app.NewEvents(f.store, feed, app.EventsConfig{}).List(ctx, "acme", "", 0)
	if err != nil || len(page.Events) != 0 || page.NextAfter != "" {
		t.Fatalf("held for good: %+v %v, want an empty page", page, err)
	}
	if waited := time.Since(started); waited < app.ListHeldWait {
		t.Fatalf("answered after %s, before the %s a hold is waited for", waited, app.ListHeldWait)
	}
	feed.holds = 0
	if next, err := app.NewEvents(f.store, feed, app.EventsConfig{}).List(ctx, "acme", page.NextAfter, 0); err != nil || len(next.Events) != 1 {
		t.Fatalf("the next page once the hold ends: %+v %v", next, err)
	}
}

func TestEventsRefuseBadRequests(t *testing.T) {
	f := newFixture(t)
	events := app.NewEvents(f.store, f.store.(*memory.Store), app.EventsConfig{})
	ctx := context.Background()
	for _, tc := range []struct {
		env, after string
		limit      int
		kind       domain.Kind
		code       string
	}{
		{"nope", "", 0, domain.KindNotFound, domain.CodeEnvironmentNotFound},
		{"acme", "not-an-id", 0, domain.KindInvalid, domain.CodeInvalidField},
		{"acme", "", app.MaxEventPage + 1, domain.KindInvalid, domain.CodeInvalidField},
		{"acme", "", -1, domain.KindInvalid, domain.CodeInvalidField},
	} {
		_, err := events.List(ctx, tc.env, tc.after, tc.limit)
		wantCode(t, err, tc.kind, tc.code)
		if tc.limit == 0 { // Follow takes no limit
			stream := &recordingStream{}
			wantCode(t, events.Follow(ctx, tc.env, tc.after, stream), tc.kind, tc.code)
			if stream.opened {
				t.Errorf("Follow(%q, %q) opened the stream of a bad request", tc.env, tc.after)
			}
		}
	}
}

// recordingStream keeps what Follow sends it and tells the test.
type recordingStream struct {
	mu     sync.Mutex
	opened bool
	events []domain.Event
	idles  int
	sent   chan struct{} // a value after each Send or Idle, when not nil
	fail   error         // returned by Send once set
}

func (s *recordingStream) Open() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened = true
	return nil
}

func (s *recordingStream) Send(events []domain.Event) error {
	s.mu.Lock()
	s.events = append(s.events, events...)
	fail := s.fail
	s.mu.Unlock()
	s.tell()
	return fail
}

func (s *recordingStream) Idle() error {
	s.mu.Lock()
	s.idles++
	s.mu.Unlock()
	s.tell()
	return nil
}

func (s *recordingStream) tell() {
	if s.sent != nil {
		select {
		case s.sent <- struct{}{}:
		default:
		}
	}
}

func (s *recordingStream) got() ([]domain.Event, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]domain.Event(nil), s.events...), s.idles
}

// waitFor waits on the stream's signals until cond holds.
func (s *recordingStream) waitFor(t *testing.T, what string, cond func([]domain.Event, int) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if cond(s.got()) {
			return
		}
		select {
		case <-s.sent:
		case <-deadline:
			events, idles := s.got()
			t.Fatalf("%s: never came; the stream got %v and %d heartbeats", what, eventTypes(events), idles)
		}
	}
}

func TestFollowSendsEachEventOnceAsItCommits(t *testing.T) {
	f := newCallsFixture(t, app.CallsConfig{DispatchDeadline: 2 * time.Minute, RetryMinBackoff: time.Second})
	events := app.NewEvents(f.store, f.mem, app.EventsConfig{Heartbeat: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, err := f.calls.Place(ctx, "acme", "l1", "b1", "")
	if err != nil {
		t.Fatal(err)
	}
	stream := &recordingStream{sent: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() { done <- events.Follow(ctx, "acme", "", stream) }()
	stream.waitFor(t, "the event committed before", func(e []domain.Event, _ int) bool { return len(e) == 1 })

	// Committed while followed: delivered, then a second call.
	f.drain(t)
	second, err := f.calls.Place(ctx, "acme", "l1", "m1", "")
	if err != nil {
		t.Fatal(err)
	}
	stream.waitFor(t, "the events committed since", func(e []domain.Event, _ int) bool { return len(e) == 3 })
	got, _ := stream.got()
	if fmt.Sprint(eventTypes(got)) != "[call.queued call.delivered call.queued]" ||
		got[0].CallID != first.ID() || got[2].CallID != second.ID() {
		t.Fatalf("followed: %v", got)
	}

	// The client goes away: Follow returns, without an error.
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Follow after the client went away: %v", err)
	}

	// Resuming after the first event sends the others, once.
	resumed := &recordingStream{sent: make(chan struct{}, 1)}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go func() { done <- events.Follow(ctx2, "acme", got[0].ID, resumed) }()
	resumed.waitFor(t, "the events after the first", func(e []domain.Event, _ int) bool { return len(e) == 2 })
	again, _ := resumed.got()
	if again[0].ID != got[1].ID || again[1].ID != got[2].ID {
		t.Fatalf("resumed after %s: %v", got[0].ID, again)
	}
	cancel2()
	<-done
}

func TestFollowHeartbeatsAndEndsWhenTheStreamFails(t *testing.T) {
	f := newCallsFixture(t, app.CallsConfig{DispatchDeadline: 2 * time.Minute, RetryMinBackoff: time.Second})
	events := app.NewEvents(f.store, f.mem, app.EventsConfig{Heartbeat: 10 * time.Millisecond})
	ctx := context.Background()
	stream := &recordingStream{sent: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() { done <- events.Follow(ctx, "acme", "", stream) }()
	stream.waitFor(t, "two heartbeats", func(_ []domain.Event, idles int) bool { return idles >= 2 })

	broken := errors.New("connection reset")
	stream.mu.Lock()
	stream.fail = broken
	stream.mu.Unlock()
	if _, err := f.calls.Place(ctx, "acme", "l1", "b1", ""); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, broken) {
		t.Fatalf("Follow when sending failed: %v", err)
	}
}

func TestEventRetentionDeletesWhatTheMonitorNoLongerKeeps(t *testing.T) {
	store := memory.NewStore()
	clock := memory.NewClock(t0)
	store.SetEventClock(clock)
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "acme", Name: "Acme", PublicBaseURL: "https://acme.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error { return r.PutEnvironment(ctx, env) }); err != nil {
		t.Fatal(err)
	}
	// Five calls a day apart: t0-4d ... t0.
	for n := 4; n >= 0; n-- {
		clock.Set(t0.AddDate(0, 0, -n))
		c := domain.RestoreCall("acme", fmt.Sprintf("c%d", n), "l1", "u1", domain.CallQueued, "", clock.Now(), clock.Now().Add(time.Minute), nil, nil)
		if err := store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error { return r.PutCall(ctx, c) }); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(t0.Add(app.DefaultMonitorRetention).Add(-36 * time.Hour))
	retention := app.NewEventRetention(store, clock, app.EventRetentionConfig{Batch: 1}, nil)
	run, err := retention.Run(ctx)
	if err != nil || run.Deleted != 3 {
		t.Fatalf("30 days after the third call plus 12 hours: %+v %v; want the three oldest deleted", run, err)
	}
	page, err := store.ListEventsAfter(ctx, "acme", "", 10)
	if err != nil || len(page.Events) != 2 || page.Events[0].CallID != "c1" {
		t.Fatalf("left: %+v %v", page, err)
	}
	// Cut short: nothing more deleted, the run says so.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	clock.Set(t0.AddDate(1, 0, 0))
	if run, err := retention.Run(cancelled); err == nil || !run.CutShort || run.Deleted != 0 {
		t.Fatalf("a cancelled run: %+v %v", run, err)
	}
}
