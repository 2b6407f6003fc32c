package portstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callconnect/ports"
)

// reservation is a key held in flight, as a request holds it while it is
// being answered.
func reservation(scope, key, hash string, at time.Time) ports.IdempotentAnswer {
	return ports.IdempotentAnswer{Scope: scope, Key: key, RequestHash: hash, StatusCode: ports.IdempotencyInFlight, CreatedAt: at}
}

func replaceAnswer(s ports.Store, ctx context.Context, old, a ports.IdempotentAnswer) error {
	return s.Tx(ctx, func(ctx context.Context, r ports.Repositories) error { return r.ReplaceIdempotentAnswer(ctx, old, a) })
}

// testIdempotencyReplace: a reservation becomes its answer only while it is
// still what was read: hash, status and time; any other answer, or none,
// is a conflict that changes nothing.
func testIdempotencyReplace(t *testing.T, s ports.Store) {
	held := reservation("env-a/v1/placeCall", "k", "hash-1", answeredAt)
	put(t, s, held)
	wantAnswer(t, s, "the reservation", held)

	final := ports.IdempotentAnswer{Scope: held.Scope, Key: held.Key, RequestHash: held.RequestHash, StatusCode: 202,
		Body: []byte("{\"id\":\"c1\"}\n\x00"), CreatedAt: answeredAt.Add(time.Second)}
	for _, c := range []struct {
		what string
		old  ports.IdempotentAnswer
	}{
		{"another request's hash", reservation(held.Scope, held.Key, "hash-2", held.CreatedAt)},
		{"another status", ports.IdempotentAnswer{Scope: held.Scope, Key: held.Key, RequestHash: held.RequestHash, StatusCode: 202, CreatedAt: held.CreatedAt}},
		{"another time", reservation(held.Scope, held.Key, held.RequestHash, held.CreatedAt.Add(time.Microsecond))},
	} {
		err := replaceAnswer(s, t.Context(), c.old, final)
		if !errors.Is(err, ports.ErrIdempotencyConflict) {
			t.Errorf("ReplaceIdempotentAnswer of %s: want ErrIdempotencyConflict, got %v", c.what, err)
		}
		wantAnswer(t, s, "the reservation after replacing "+c.what, held)
	}
	// The time read back, in another zone, is the same instant.
	if err := replaceAnswer(s, t.Context(), reservation(held.Scope, held.Key, held.RequestHash, held.CreatedAt.In(time.UTC)), final); err != nil {
		t.Fatalf("ReplaceIdempotentAnswer of the reservation: %v", err)
	}
	wantAnswer(t, s, "the answer that replaced the reservation", final)
	if err := replaceAnswer(s, t.Context(), held, final); !errors.Is(err, ports.ErrIdempotencyConflict) {
		t.Errorf("replacing the reservation again: want ErrIdempotencyConflict, got %v", err)
	}
	missing := reservation(held.Scope, "none", "hash-1", answeredAt)
	if err := replaceAnswer(s, t.Context(), missing, reservation(held.Scope, "none", "hash-1", answeredAt.Add(time.Second))); !errors.Is(err, ports.ErrIdempotencyConflict) {
		t.Errorf("replacing a key that holds nothing: want ErrIdempotencyConflict, got %v", err)
	}
	if _, err := getAnswer(t, s, held.Scope, "none"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("replacing a key that holds nothing stored something: %v", err)
	}

	// A replacement rolled back leaves the reservation; inside Read it is refused.
	other := reservation(held.Scope, "k2", "hash-3", answeredAt)
	put(t, s, other)
	taken := reservation(other.Scope, other.Key, other.RequestHash, answeredAt.Add(time.Minute))
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.ReplaceIdempotentAnswer(ctx, other, taken); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Tx: %v", err)
	}
	wantAnswer(t, s, "the reservation after a rolled-back replacement", other)
	err = s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		return r.ReplaceIdempotentAnswer(ctx, other, taken)
	})
	if err == nil {
		t.Error("ReplaceIdempotentAnswer inside Read succeeded")
	}
	wantAnswer(t, s, "the reservation after a replacement inside Read", other)
}

// testIdempotencyDelete: a reservation given up frees its key, but only
// while it is still the one read.
func testIdempotencyDelete(t *testing.T, s ports.Store) {
	held := reservation("env-a/v1/placeCall", "k", "hash-1", answeredAt)
	put(t, s, held)
	del := func(a ports.IdempotentAnswer) {
		t.Helper()
		if err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.DeleteIdempotentAnswer(ctx, a) }); err != nil {
			t.Fatalf("DeleteIdempotentAnswer(%s): %v", answerString(a), err)
		}
	}
	del(reservation(held.Scope, held.Key, "hash-2", held.CreatedAt))
	del(reservation(held.Scope, held.Key, held.RequestHash, held.CreatedAt.Add(time.Second)))
	del(reservation("env-b/v1/placeCall", held.Key, held.RequestHash, held.CreatedAt))
	wantAnswer(t, s, "the reservation after deleting other answers", held)
	del(held)
	_, err := getAnswer(t, s, held.Scope, held.Key)
	wantNotFound(t, "GetIdempotentAnswer after the reservation was deleted", err)
	del(held) // nothing there: no error
	// The key is free for the next request.
	again := reservation(held.Scope, held.Key, "hash-2", answeredAt.Add(time.Second))
	put(t, s, again)
	wantAnswer(t, s, "a new reservation of the freed key", again)

	err = s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.DeleteIdempotentAnswer(ctx, again) })
	if err == nil {
		t.Error("DeleteIdempotentAnswer inside Read succeeded")
	}
	wantAnswer(t, s, "the reservation after a delete inside Read", again)
}

// testIdempotencyConcurrentReplace: requests racing to take over one stale
// reservation: exactly one does, the others get ErrIdempotencyConflict.
func testIdempotencyConcurrentReplace(t *testing.T, h Harness) {
	s := h.Store
	stale := reservation("env-a/v1/placeCall", "k", "hash-1", answeredAt)
	put(t, s, stale)
	const racers = 8
	var left atomic.Int32 // the racers not done yet
	left.Store(racers)
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for n := range racers {
		wg.Go(func() {
			defer left.Add(-1)
			<-start
			mine := reservation(stale.Scope, stale.Key, fmt.Sprintf("hash-%d", n), answeredAt.Add(time.Duration(n+1)*time.Second))
			errs[n] = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
				if err := r.ReplaceIdempotentAnswer(ctx, stale, mine); err != nil {
					return err
				}
				// Hold the row until another racer waits for it, while one
				// not done yet may still come.
				return lockWaitedFor(ctx, h, func() bool { return left.Load() > 1 })
			})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for n, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("racers %d and %d both took the reservation over", winner, n)
		case err == nil:
			winner = n
		case !errors.Is(err, ports.ErrIdempotencyConflict):
			t.Errorf("racer %d: want ErrIdempotencyConflict, got %v", n, err)
		}
	}
	if winner < 0 {
		t.Fatal("no racer took the reservation over")
	}
	wantAnswer(t, s, "the reservation after the race",
		reservation(stale.Scope, stale.Key, fmt.Sprintf("hash-%d", winner), answeredAt.Add(time.Duration(winner+1)*time.Second)))
}
