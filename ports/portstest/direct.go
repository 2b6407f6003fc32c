package portstest

import (
	"context"
	"errors"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// testReplaceCall: ReplaceCall writes the call only if it is still in the
// status and with the attempts its writer read; otherwise the transaction
// fails with ErrCallChanged and writes nothing, not even what came before
// ReplaceCall in it.
func testReplaceCall(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-1"))
	placed := placedCall(t, "env-1", "c1")
	put(t, s, placed)

	attempt := domain.Attempt{At: clickedAt.Add(time.Second), StatusCode: 202, Duration: 80 * time.Millisecond}
	delivering := placed
	if err := delivering.StartAttempt(attempt.At); err != nil {
		t.Fatal(err)
	}
	delivered := delivering
	if err := delivered.Delivered(attempt); err != nil {
		t.Fatal(err)
	}
	replace := func(c domain.Call, was domain.CallStatus, attempts int) error {
		return s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			// A write before ReplaceCall, which must go or stay with it.
			if err := r.PutEnvironment(ctx, environment(t, "env-"+c.ID())); err != nil {
				return err
			}
			return r.ReplaceCall(ctx, c, was, attempts)
		})
	}

	for _, tc := range []struct {
		what     string
		call     domain.Call
		was      domain.CallStatus
		attempts int
	}{
		{"another status than the stored one", delivered, domain.CallDelivering, 0},
		{"another number of attempts", delivered, domain.CallQueued, 1},
		{"a call that is not stored", restoredCall("env-1", "missing"), domain.CallQueued, 0},
	} {
		err := replace(tc.call, tc.was, tc.attempts)
		if !errors.Is(err, ports.ErrCallChanged) {
			t.Errorf("ReplaceCall of %s: %v, want ErrCallChanged", tc.what, err)
		}
		got, err := getCall(t, s, "env-1", "c1")
		if err != nil {
			t.Fatal(err)
		}
		wantCall(t, "the call after ReplaceCall of "+tc.what, got, placed)
		wantEnvironmentMissing(t, s, "the write before ReplaceCall of "+tc.what, "env-"+tc.call.ID())
	}

	if err := replace(delivered, domain.CallQueued, 0); err != nil {
		t.Fatalf("ReplaceCall of the call as stored: %v", err)
	}
	got, err := getCall(t, s, "env-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	wantCall(t, "the call after ReplaceCall", got, delivered)
	if _, err := getEnvironment(t, s, "env-c1"); err != nil {
		t.Errorf("the write before a ReplaceCall that succeeded: %v", err)
	}
	// The same change again: the call is no longer as read.
	if err := replace(delivered, domain.CallQueued, 0); !errors.Is(err, ports.ErrCallChanged) {
		t.Errorf("ReplaceCall of a call replaced meanwhile: %v, want ErrCallChanged", err)
	}
}

func wantEnvironmentMissing(t *testing.T, s ports.Store, what, envID string) {
	t.Helper()
	_, err := getEnvironment(t, s, envID)
	if !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("%s: environment %s: %v, want it rolled back", what, envID, err)
	}
}

// testDirectDelivery: a delivery enqueued with NotBefore is held from the
// queue; ReleaseDelivery drops it, or makes it due at retryAt, with the
// transaction that calls it, and leaves alone a delivery that is not held,
// or not held as given (another NotBefore).
func testDirectDelivery(t *testing.T, h Harness) {
	put(t, h.Store, environment(t, "env-1"))
	due := time.Date(2026, 3, 19, 17, 0, 27, 123456000, time.UTC)
	held := func(id string) ports.Delivery {
		return ports.Delivery{EnvID: "env-1", CallID: id, TraceParent: traceParent, NotBefore: due}
	}
	release := func(id string, retryAt time.Time, abort bool) error {
		return h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			if err := r.ReleaseDelivery(ctx, held(id), retryAt); err != nil {
				return err
			}
			if abort {
				return errAbort
			}
			return nil
		})
	}
	put(t, h.Store, placedCall(t, "env-1", "c1"), held("c1"), placedCall(t, "env-1", "c2"), held("c2"))
	wantNoDeliveries(t, h, "direct deliveries, held")

	// Released with no retry: it is over, and the queue never sees it.
	if err := release("c1", time.Time{}, false); err != nil {
		t.Fatalf("ReleaseDelivery: %v", err)
	}
	wantNoDeliveries(t, h, "a direct delivery released with no retry")
	if err := release("c1", due.Add(time.Minute), false); err != nil {
		t.Fatalf("ReleaseDelivery of a delivery released already: %v", err)
	}
	wantNoDeliveries(t, h, "a direct delivery released twice")

	// Released as held at another time: not this one.
	err := h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		other := held("c2")
		other.NotBefore = due.Add(time.Second)
		return r.ReleaseDelivery(ctx, other, due.Add(time.Minute))
	})
	if err != nil {
		t.Fatalf("ReleaseDelivery of another NotBefore: %v", err)
	}
	wantNoDeliveries(t, h, "a direct delivery released with another NotBefore")

	// Released with a retry, rolled back: still held.
	retryAt := due.Add(1500 * time.Millisecond)
	if err := release("c2", retryAt, true); !errors.Is(err, errAbort) {
		t.Fatalf("Tx: %v, want errAbort", err)
	}
	wantNoDeliveries(t, h, "a direct delivery whose release was rolled back")
	// Then committed: due at retryAt, for the queue.
	if err := release("c2", retryAt, false); err != nil {
		t.Fatalf("ReleaseDelivery: %v", err)
	}
	again := held("c2")
	again.NotBefore = retryAt
	wantDeliveries(t, h, "a direct delivery released with a retry", again)

	// A delivery that is not held is left alone.
	put(t, h.Store, ports.Delivery{EnvID: "env-1", CallID: "c3"})
	if err := release("c3", time.Time{}, false); err != nil {
		t.Fatalf("ReleaseDelivery of a delivery that is not held: %v", err)
	}
	wantDeliveries(t, h, "a queued delivery after ReleaseDelivery", ports.Delivery{EnvID: "env-1", CallID: "c3"})
}
