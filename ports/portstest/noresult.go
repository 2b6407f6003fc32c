package portstest

import (
	"context"
	"sync"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// acceptedAt is when the partner accepted the calls of these tests: a
// microsecond part, and a zone other than UTC.
var acceptedAt = time.Date(2026, 3, 19, 14, 0, 7, 654321000, saoPaulo)

// acceptedCall is a call of envID in status that the partner accepted at
// (zero: at an unknown time).
func acceptedCall(envID, id string, status domain.CallStatus, at time.Time) domain.Call {
	return domain.RestoreCall(envID, id, "l1", "1", status, "", clickedAt, clickedAt.Add(2*time.Minute), payload(id),
		attempts()[:1]).WithDeliveredAt(at)
}

func lockAwaiting(t *testing.T, s ports.Store, acceptedBy time.Time, limit int) []string {
	t.Helper()
	var ids []string
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		calls, err := r.LockCallsAwaitingResult(ctx, acceptedBy, limit)
		for _, c := range calls {
			ids = append(ids, c.EnvID()+"/"+c.ID())
		}
		return err
	})
	if err != nil {
		t.Fatalf("LockCallsAwaitingResult(%s, %d): %v", instant(acceptedBy), limit, err)
	}
	return ids
}

// testCallDeliveredAt: the time the partner accepted a call comes back to
// the microsecond, stays when a result settles the call, and is zero when
// it was never known.
func testCallDeliveredAt(t *testing.T, s ports.Store) {
	delivered := placedCall(t, "env-1", "c1")
	if err := delivered.StartAttempt(clickedAt); err != nil {
		t.Fatal(err)
	}
	attempt := domain.Attempt{At: clickedAt.Add(time.Millisecond), StatusCode: 202, Duration: 1534 * time.Millisecond}
	if err := delivered.Delivered(attempt); err != nil {
		t.Fatal(err)
	}
	unknown := acceptedCall("env-1", "c2", domain.CallDelivered, time.Time{})
	fine := acceptedCall("env-1", "c3", domain.CallNoResult, acceptedAt.Add(789*time.Nanosecond))
	put(t, s, environment(t, "env-1"), delivered, unknown, fine)

	got, err := getCall(t, s, "env-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	wantCall(t, "a delivered call", got, delivered)
	if want := attempt.At.Add(attempt.Duration); !got.DeliveredAt().Equal(want) {
		t.Errorf("DeliveredAt: got %s, want the end of the delivering attempt %s", instant(got.DeliveredAt()), instant(want))
	}
	got, err = getCall(t, s, "env-1", "c2")
	if err != nil {
		t.Fatal(err)
	}
	if !got.DeliveredAt().IsZero() {
		t.Errorf("a call delivered at an unknown time came back delivered at %s", instant(got.DeliveredAt()))
	}
	got, err = getCall(t, s, "env-1", "c3")
	if err != nil {
		t.Fatal(err)
	}
	wantCall(t, "a call delivered at a time finer than a microsecond", got, acceptedCall("env-1", "c3", domain.CallNoResult, acceptedAt))

	// A late result settles the call; when it was delivered stays known.
	settled := delivered
	if err := domain.RecordCallResult(&settled, domain.OutcomeNotCompleted, domain.CallReasonNoAnswer); err != nil {
		t.Fatal(err)
	}
	put(t, s, settled)
	got, err = getCall(t, s, "env-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	wantCall(t, "the call after its result", got, settled)
}

// testListCallsAsTheyRead: with NoResultAcceptedBy, the status filter sees
// a delivered call accepted at or before it as no_result, marked or not;
// the calls come back as stored.
func testListCallsAsTheyRead(t *testing.T, s ports.Store) {
	cutoff := acceptedAt
	at := func(id string, status domain.CallStatus, accepted time.Time, clicked time.Duration) domain.Call {
		return domain.RestoreCall("env-1", id, "l1", "1", status, "", clickedAt.Add(clicked), clickedAt.Add(clicked+2*time.Minute),
			payload(id), attempts()[:1]).WithDeliveredAt(accepted)
	}
	overdue := at("overdue", domain.CallDelivered, cutoff.Add(-time.Hour), 0)
	put(t, s, environment(t, "env-1"), environment(t, "env-2"),
		overdue,
		at("at-the-cutoff", domain.CallDelivered, cutoff, time.Second),
		at("waiting", domain.CallDelivered, cutoff.Add(time.Microsecond), 2*time.Second),
		at("marked", domain.CallNoResult, cutoff.Add(-2*time.Hour), 3*time.Second),
		at("unknown", domain.CallDelivered, time.Time{}, 4*time.Second),
		at("settled", domain.CallCompleted, cutoff.Add(-3*time.Hour), 5*time.Second),
		acceptedCall("env-2", "elsewhere", domain.CallDelivered, cutoff.Add(-time.Hour)),
	)
	list := func(status domain.CallStatus, by time.Time) []string {
		return listCalls(t, s, "env-1", ports.CallFilter{Status: status, NoResultAcceptedBy: by, Limit: 100})
	}
	wantIDs(t, "no_result as they read", list(domain.CallNoResult, cutoff), "marked", "at-the-cutoff", "overdue")
	wantIDs(t, "delivered as they read", list(domain.CallDelivered, cutoff), "unknown", "waiting")
	wantIDs(t, "no_result as stored", list(domain.CallNoResult, time.Time{}), "marked")
	wantIDs(t, "delivered as stored", list(domain.CallDelivered, time.Time{}), "unknown", "waiting", "at-the-cutoff", "overdue")
	wantIDs(t, "completed as they read", list(domain.CallCompleted, cutoff), "settled")
	wantIDs(t, "any status", list("", cutoff), "settled", "unknown", "marked", "waiting", "at-the-cutoff", "overdue")
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		calls, err := r.ListCalls(ctx, "env-1", ports.CallFilter{Status: domain.CallNoResult, NoResultAcceptedBy: cutoff, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) != 1 {
			t.Fatalf("ListCalls limit 1: %d calls", len(calls))
		}
		wantCall(t, "a call listed as no_result before it was marked", calls[0], at("marked", domain.CallNoResult, cutoff.Add(-2*time.Hour), 3*time.Second))
		calls, err = r.ListCalls(ctx, "env-1", ports.CallFilter{Status: domain.CallNoResult, NoResultAcceptedBy: cutoff, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		wantCall(t, "an overdue call, listed as stored", calls[2], overdue)
		return nil
	})
}

// testLockCallsAwaitingResult: the delivered calls accepted at or before the
// time, of every environment, earliest accepted first, whole; no other
// status, none delivered at an unknown time; a batch at a time.
func testLockCallsAwaitingResult(t *testing.T, s ports.Store) {
	cutoff := acceptedAt
	put(t, s, environment(t, "env-1"), environment(t, "env-2"),
		acceptedCall("env-1", "a", domain.CallDelivered, cutoff.Add(-3*time.Hour)),
		acceptedCall("env-2", "b", domain.CallDelivered, cutoff.Add(-150*time.Minute)),
		acceptedCall("env-1", "c", domain.CallDelivered, cutoff),
		acceptedCall("env-1", "d", domain.CallDelivered, cutoff.Add(time.Microsecond)),
		acceptedCall("env-2", "marked", domain.CallNoResult, cutoff.Add(-4*time.Hour)),
		acceptedCall("env-1", "settled", domain.CallCompleted, cutoff.Add(-5*time.Hour)),
		acceptedCall("env-1", "failed", domain.CallNotCompleted, cutoff.Add(-5*time.Hour)),
		acceptedCall("env-1", "unknown", domain.CallDelivered, time.Time{}),
		placedCall(t, "env-1", "queued"),
	)
	wantIDs(t, "awaiting a result", lockAwaiting(t, s, cutoff, 100), "env-1/a", "env-2/b", "env-1/c")
	wantIDs(t, "a batch of 2", lockAwaiting(t, s, cutoff, 2), "env-1/a", "env-2/b")
	wantIDs(t, "accepted by an earlier time", lockAwaiting(t, s, cutoff.Add(-3*time.Hour-time.Microsecond), 100))
	wantIDs(t, "by a later time", lockAwaiting(t, s, cutoff.Add(time.Hour), 100), "env-1/a", "env-2/b", "env-1/c", "env-1/d")

	// The calls come back whole; marked and put back, they await no more.
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		calls, err := r.LockCallsAwaitingResult(ctx, cutoff, 2)
		if err != nil {
			return err
		}
		for _, c := range calls {
			wantCall(t, "a call awaiting its result", c, acceptedCall(c.EnvID(), c.ID(), domain.CallDelivered, c.DeliveredAt()))
			if err := c.MarkNoResult(cutoff.Add(2*time.Hour), 2*time.Hour); err != nil {
				return err
			}
			if err := r.PutCall(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "awaiting once the first batch was marked", lockAwaiting(t, s, cutoff, 100), "env-1/c")
	got, err := getCall(t, s, "env-2", "b")
	if err != nil {
		t.Fatal(err)
	}
	wantCall(t, "a marked call", got, acceptedCall("env-2", "b", domain.CallNoResult, cutoff.Add(-150*time.Minute)))

	err = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		_, err := r.LockCallsAwaitingResult(ctx, cutoff, 0)
		return err
	})
	if err == nil {
		t.Error("LockCallsAwaitingResult with limit 0 succeeded")
	}
}

func testLockCallsAwaitingResultInRead(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-1"), acceptedCall("env-1", "a", domain.CallDelivered, acceptedAt))
	err := s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		_, err := r.LockCallsAwaitingResult(ctx, acceptedAt, 10)
		return err
	})
	if err == nil {
		t.Error("LockCallsAwaitingResult inside Read succeeded")
	}
}

// testAwaitingResultSettledMeanwhile: while one transaction holds a call to
// record its result, another takes the calls awaiting theirs and marks them
// no_result. The held call is not among them (skipped while held, or
// settled by the time it is read), so the result is not overwritten; the
// other call is marked.
func testAwaitingResultSettledMeanwhile(t *testing.T, h Harness) {
	s := h.Store
	put(t, s, environment(t, "env-1"),
		acceptedCall("env-1", "held", domain.CallDelivered, acceptedAt.Add(-time.Hour)),
		acceptedCall("env-1", "free", domain.CallDelivered, acceptedAt.Add(-time.Minute)))
	locked, marked := make(chan struct{}), make(chan struct{})
	var (
		errs  [2]error
		taken []string
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		errs[0] = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			c, err := r.LockCall(ctx, "env-1", "held")
			close(locked)
			if err != nil {
				return err
			}
			// A store that skips held calls lets the marking commit now; one
			// that makes it wait lets it run after this result, once it waits.
			if err := lockWaitedFor(ctx, h, func() bool {
				select {
				case <-marked:
					return false
				default:
					return true
				}
			}); err != nil {
				return err
			}
			if err := domain.RecordCallResult(&c, domain.OutcomeNotCompleted, domain.CallReasonNoAnswer); err != nil {
				return err
			}
			return r.PutCall(ctx, c)
		})
	})
	<-locked
	wg.Go(func() {
		defer close(marked)
		errs[1] = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			calls, err := r.LockCallsAwaitingResult(ctx, acceptedAt, 10)
			if err != nil {
				return err
			}
			for _, c := range calls {
				taken = append(taken, c.ID())
				if err := c.MarkNoResult(acceptedAt.Add(time.Hour), time.Hour); err != nil {
					return err
				}
				if err := r.PutCall(ctx, c); err != nil {
					return err
				}
			}
			return nil
		})
	})
	wg.Wait()
	for n, err := range errs {
		if err != nil {
			t.Fatalf("transaction %d: %v", n+1, err)
		}
	}
	wantIDs(t, "the calls taken while one was held", taken, "free")
	got, err := getCall(t, s, "env-1", "held")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status() != domain.CallNotCompleted || got.Reason() != domain.CallReasonNoAnswer {
		t.Errorf("the held call: %s %q, want not_completed no_answer (its result)", got.Status(), got.Reason())
	}
	got, err = getCall(t, s, "env-1", "free")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status() != domain.CallNoResult {
		t.Errorf("the free call: %s, want no_result", got.Status())
	}
}
