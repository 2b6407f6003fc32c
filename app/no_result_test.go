package app_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// deliveredCalls places n calls of broker b1 on lead l1 and delivers them,
// a second apart on the fixture's clock, and returns their ids, oldest
// first. Each is delivered 20 ms after its click (the fake partner's time).
func (f *callsFixture) deliveredCalls(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		c, err := f.calls.Place(context.Background(), "acme", "l1", "b1", "")
		if err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		ids = append(ids, c.ID())
		f.clock.Advance(time.Second)
	}
	return ids
}

// storedStatus is the call's status as stored, not as read.
func storedStatus(t *testing.T, s ports.Store, id string) domain.CallStatus {
	t.Helper()
	var c domain.Call
	err := s.Read(context.Background(), func(ctx context.Context, r ports.Repositories) error {
		var err error
		c, err = r.GetCall(ctx, "acme", id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c.Status()
}

func listIDs(t *testing.T, calls *app.Calls, status domain.CallStatus) []string {
	t.Helper()
	page, err := calls.List(context.Background(), "acme", ports.CallFilter{Status: status})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range page.Calls {
		if status != "" && c.Status() != status {
			t.Errorf("listing %s gave call %s as %s", status, c.ID(), c.Status())
		}
		ids = append(ids, c.ID())
	}
	return ids
}

// A delivered call reads no_result as soon as its result deadline has
// passed, in GetCall and in List (filters included), before anything is
// written; the deadline counts from the partner's answer, not the click.
func TestCallReadsNoResultOnceItsDeadlinePassed(t *testing.T) {
	const deadline = time.Hour
	f := newCallsFixture(t, app.CallsConfig{ResultDeadline: deadline})
	ctx := context.Background()
	clicked := f.clock.Now()
	ids := f.deliveredCalls(t, 2)
	if f.calls.ResultDeadline() != deadline {
		t.Fatalf("ResultDeadline: %s", f.calls.ResultDeadline())
	}
	accepted := clicked.Add(20 * time.Millisecond) // the first call's

	for _, tc := range []struct {
		at   time.Time
		want domain.CallStatus
	}{
		{clicked.Add(deadline), domain.CallDelivered},
		{accepted.Add(deadline - time.Microsecond), domain.CallDelivered},
		{accepted.Add(deadline), domain.CallNoResult},
		{accepted.Add(30 * 24 * time.Hour), domain.CallNoResult},
	} {
		f.clock.Set(tc.at)
		got, err := f.calls.GetCall(ctx, "acme", ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if got.Status() != tc.want {
			t.Errorf("%s after the partner accepted it: reads %s, want %s", tc.at.Sub(accepted), got.Status(), tc.want)
		}
	}
	f.clock.Set(accepted.Add(deadline))
	if got := listIDs(t, f.calls, domain.CallNoResult); !slices.Equal(got, ids[:1]) {
		t.Errorf("no_result calls: %q, want %q", got, ids[:1])
	}
	if got := listIDs(t, f.calls, domain.CallDelivered); !slices.Equal(got, ids[1:]) {
		t.Errorf("delivered calls: %q, want %q", got, ids[1:])
	}
	page, err := f.calls.List(ctx, "acme", ports.CallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Calls) != 2 || page.Calls[1].Status() != domain.CallNoResult || page.Calls[0].Status() != domain.CallDelivered {
		t.Errorf("every call, newest first: %v", page.Calls)
	}
	if got := storedStatus(t, f.store, ids[0]); got != domain.CallDelivered {
		t.Errorf("reading wrote the status: %s", got)
	}
}

// NoResultMarker writes no_result down, a batch at a time, for the calls
// due and only those; a second run finds nothing; a late result still
// settles a marked call.
func TestNoResultMarkerMarksTheCallsDue(t *testing.T) {
	const deadline = 2 * time.Hour
	f := newCallsFixture(t, app.CallsConfig{ResultDeadline: deadline})
	ctx := context.Background()
	start := f.clock.Now()
	due := f.deliveredCalls(t, 5) // delivered at start+20ms … start+4s+20ms
	f.clock.Set(start.Add(time.Hour))
	waiting := f.deliveredCalls(t, 2)
	queued, err := f.calls.Place(ctx, "acme", "l1", "b1", "")
	if err != nil {
		t.Fatal(err)
	}
	f.mem.TakeDeliveries() // left queued

	var logs bytes.Buffer
	f.clock.Set(start.Add(4*time.Second + 20*time.Millisecond + deadline))
	batches := &txHook{Store: f.store}
	marker := app.NewNoResultMarker(batches, f.clock, app.CallsConfig{ResultDeadline: deadline}, app.NoResultConfig{Batch: 2},
		slog.New(slog.NewTextHandler(&logs, nil)))
	run, err := marker.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if run.Marked != 5 || run.CutShort || !run.AcceptedBy.Equal(f.clock.Now().Add(-deadline)) {
		t.Errorf("run: %+v, want 5 marked", run)
	}
	if batches.n != 3 {
		t.Errorf("%d transactions, want 3 (batches of 2, the last one short)", batches.n)
	}
	for _, id := range due {
		if got := storedStatus(t, f.store, id); got != domain.CallNoResult {
			t.Errorf("due call %s: stored %s, want no_result", id, got)
		}
	}
	for _, id := range append(waiting, queued.ID()) {
		if got := storedStatus(t, f.store, id); got == domain.CallNoResult {
			t.Errorf("call %s marked no_result before its deadline", id)
		}
	}
	if !strings.Contains(logs.String(), "calls_marked=5") {
		t.Errorf("the run's log: %s", logs.String())
	}
	if again, err := marker.Run(ctx); err != nil || again.Marked != 0 {
		t.Errorf("a second run: %+v, %v; want nothing marked", again, err)
	}

	// The partner's result, however late, settles the call.
	err = f.store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		c, err := r.LockCall(ctx, "acme", due[0])
		if err != nil {
			return err
		}
		if err := domain.RecordCallResult(&c, domain.OutcomeNotCompleted, domain.CallReasonNoAnswer); err != nil {
			return err
		}
		return r.PutCall(ctx, c)
	})
	if err != nil {
		t.Fatalf("a late result on a no_result call: %v", err)
	}
	got, err := f.calls.GetCall(ctx, "acme", due[0])
	if err != nil || got.Status() != domain.CallNotCompleted || got.Reason() != domain.CallReasonNoAnswer {
		t.Fatalf("after the late result: %v %v", got.Status(), err)
	}
}

// A run whose context ends is cut short, not failed, and keeps what its
// batches did; a failing store fails the run and says so in the log.
func TestNoResultMarkerCutShortAndFailures(t *testing.T) {
	const deadline = time.Hour
	f := newCallsFixture(t, app.CallsConfig{ResultDeadline: deadline})
	ids := f.deliveredCalls(t, 3)
	f.clock.Advance(deadline)

	ctx, cancel := context.WithCancel(context.Background())
	cutting := &txHook{Store: f.store, after: func(n int) {
		if n == 1 {
			cancel()
		}
	}}
	run, err := app.NewNoResultMarker(cutting, f.clock, app.CallsConfig{ResultDeadline: deadline}, app.NoResultConfig{Batch: 1}, nil).Run(ctx)
	if !errors.Is(err, context.Canceled) || !run.CutShort || run.Marked != 1 {
		t.Errorf("cut short: %+v, %v; want 1 marked and the cancellation", run, err)
	}
	if got := storedStatus(t, f.store, ids[0]); got != domain.CallNoResult {
		t.Errorf("the batch done before the cut: %s", got)
	}

	var logs bytes.Buffer
	broken := &txHook{Store: f.store, err: errors.New("connection reset")}
	run, err = app.NewNoResultMarker(broken, f.clock, app.CallsConfig{ResultDeadline: deadline}, app.NoResultConfig{},
		slog.New(slog.NewTextHandler(&logs, nil))).Run(context.Background())
	if err == nil || run.CutShort || run.Marked != 0 {
		t.Errorf("a failing store: %+v, %v", run, err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "connection reset") {
		t.Errorf("the failure's log: %s", logs.String())
	}
	if got := storedStatus(t, f.store, ids[1]); got != domain.CallDelivered {
		t.Errorf("a failed batch wrote %s", got)
	}
}

// txHook counts the store's transactions and runs after after each (n from
// 1); with err, it fails every one instead.
type txHook struct {
	ports.Store
	n     int
	after func(n int)
	err   error
}

func (h *txHook) Tx(ctx context.Context, fn func(ctx context.Context, r ports.Repositories) error) error {
	if h.err != nil {
		return h.err
	}
	err := h.Store.Tx(ctx, fn)
	h.n++
	if h.after != nil {
		h.after(h.n)
	}
	return err
}
