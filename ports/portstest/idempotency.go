package portstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callconnect/ports"
)

// answeredAt has a microsecond part and a zone other than UTC.
var answeredAt = time.Date(2026, 5, 4, 10, 0, 0, 123456000, saoPaulo)

func answer(scope, key string, status int, body string, at time.Time) ports.IdempotentAnswer {
	return ports.IdempotentAnswer{Scope: scope, Key: key, RequestHash: fmt.Sprintf("%064x", len(body)+status),
		StatusCode: status, Body: []byte(body), CreatedAt: at}
}

func answerString(a ports.IdempotentAnswer) string {
	return fmt.Sprintf("{scope:%q key:%q request_hash:%q status:%d body:%q created_at:%s}",
		a.Scope, a.Key, a.RequestHash, a.StatusCode, a.Body, instant(a.CreatedAt))
}

func getAnswer(t *testing.T, s ports.Store, scope, key string) (a ports.IdempotentAnswer, err error) {
	t.Helper()
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		a, err = r.GetIdempotentAnswer(ctx, scope, key)
		return nil
	})
	return a, err
}

func wantAnswer(t *testing.T, s ports.Store, what string, want ports.IdempotentAnswer) {
	t.Helper()
	got, err := getAnswer(t, s, want.Scope, want.Key)
	if err != nil {
		t.Errorf("%s: GetIdempotentAnswer: %v", what, err)
		return
	}
	if g, w := answerString(got), answerString(want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func putAnswer(s ports.Store, ctx context.Context, a ports.IdempotentAnswer) error {
	return s.Tx(ctx, func(ctx context.Context, r ports.Repositories) error { return r.PutIdempotentAnswer(ctx, a) })
}

func testIdempotencyRoundTrip(t *testing.T, s ports.Store) {
	// Bytes that are not text, and an empty body.
	binary := answer("env-a/lead_tarefas", "k-1", 201, "{\"ok\":true}\n\x00\xff", answeredAt)
	empty := answer("env-a/lead_tarefas", "k-2", 204, "", answeredAt.In(manaus))
	sameKey := answer("env-b/lead_tarefas", "k-1", 422, `{"type":"about:blank"}`, answeredAt)
	put(t, s, binary, empty, sameKey)
	wantAnswer(t, s, "GetIdempotentAnswer(k-1)", binary)
	wantAnswer(t, s, "GetIdempotentAnswer(k-2), empty body", empty)
	wantAnswer(t, s, "GetIdempotentAnswer of the same key in another scope", sameKey)
	if got, err := getAnswer(t, s, empty.Scope, empty.Key); err != nil || len(got.Body) != 0 {
		t.Errorf("empty body came back as %q (%v)", got.Body, err)
	}
	for _, c := range []struct{ scope, key string }{{"env-a/lead_tarefas", "k-3"}, {"env-c/lead_tarefas", "k-1"}, {"env-a/lead_tarefas", "K-1"}} {
		_, err := getAnswer(t, s, c.scope, c.key)
		wantNotFound(t, fmt.Sprintf("GetIdempotentAnswer(%s, %s)", c.scope, c.key), err)
	}
	// The caller's slice does not alias the stored body.
	got, err := getAnswer(t, s, binary.Scope, binary.Key)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Body) > 0 {
		got.Body[0] = 'X'
	}
	wantAnswer(t, s, "GetIdempotentAnswer after the caller wrote into a body it got", binary)
}

func testIdempotencyConflict(t *testing.T, s ports.Store) {
	first := answer("env-a/lead", "k", 200, `{"first":true}`, answeredAt)
	put(t, s, first)
	// A second answer under the key, any time within the retention, is refused;
	// the transaction stays usable and its other writes commit.
	other := answer("env-a/lead", "other", 200, `{}`, answeredAt)
	for _, later := range []time.Duration{0, time.Second, ports.IdempotencyRetention - time.Microsecond} {
		second := answer("env-a/lead", "k", 409, `{"second":true}`, answeredAt.Add(later))
		err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			err := r.PutIdempotentAnswer(ctx, second)
			if !errors.Is(err, ports.ErrIdempotencyConflict) {
				t.Errorf("a second PutIdempotentAnswer %v later: want ErrIdempotencyConflict, got %v", later, err)
			}
			if _, err := r.GetIdempotentAnswer(ctx, "env-a/lead", "k"); err != nil {
				return fmt.Errorf("GetIdempotentAnswer after the conflict: %w", err)
			}
			if later == 0 {
				return r.PutIdempotentAnswer(ctx, other)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("the Tx after a conflict: %v", err)
		}
		wantAnswer(t, s, fmt.Sprintf("the first answer after a second Put %v later", later), first)
	}
	wantAnswer(t, s, "another key written in the Tx that met the conflict", other)

	// Once expired, the answer is replaced (the clean-up may not have run yet).
	expired := answer("env-a/lead", "k", 201, `{"after":"a day"}`, answeredAt.Add(ports.IdempotencyRetention+time.Second))
	put(t, s, expired)
	wantAnswer(t, s, "the answer after the first expired", expired)
}

func testIdempotencyRollback(t *testing.T, s ports.Store) {
	a := answer("env-a/lead", "k", 200, `{}`, answeredAt)
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutIdempotentAnswer(ctx, a); err != nil {
			return err
		}
		if _, err := r.GetIdempotentAnswer(ctx, a.Scope, a.Key); err != nil {
			t.Errorf("GetIdempotentAnswer in the writing Tx: %v", err)
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Tx: %v", err)
	}
	_, err = getAnswer(t, s, a.Scope, a.Key)
	wantNotFound(t, "GetIdempotentAnswer after a rollback", err)
	if err := putAnswer(s, t.Context(), a); err != nil {
		t.Errorf("PutIdempotentAnswer after the first one rolled back: %v", err)
	}
	wantAnswer(t, s, "the answer put after a rollback", a)

	err = s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		return r.PutIdempotentAnswer(ctx, answer("env-a/lead", "in-read", 200, `{}`, answeredAt))
	})
	if err == nil {
		t.Error("PutIdempotentAnswer inside Read succeeded")
	}
}

// testIdempotencyConcurrentFirstUse: requests with one key racing to store
// their answer: exactly one succeeds, the others get ErrIdempotencyConflict.
func testIdempotencyConcurrentFirstUse(t *testing.T, h Harness) {
	s := h.Store
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
			errs[n] = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
				if err := r.PutIdempotentAnswer(ctx, answer("env-a/lead", "k", 200+n, fmt.Sprint(n), answeredAt)); err != nil {
					return err
				}
				// Hold the key until another racer waits for it, while one
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
			t.Errorf("racers %d and %d both stored an answer", winner, n)
		case err == nil:
			winner = n
		case !errors.Is(err, ports.ErrIdempotencyConflict):
			t.Errorf("racer %d: want ErrIdempotencyConflict, got %v", n, err)
		}
	}
	if winner < 0 {
		t.Fatal("no racer stored its answer")
	}
	got, err := getAnswer(t, s, "env-a/lead", "k")
	if err != nil {
		t.Fatal(err)
	}
	if got.StatusCode != 200+winner || !bytes.Equal(got.Body, []byte(fmt.Sprint(winner))) {
		t.Errorf("stored answer %s, want racer %d's", answerString(got), winner)
	}
}

// testIdempotencyExpiry deletes the expired answers in batches, as the
// periodic clean-up does: each call deletes at most its limit, only answers
// stored before the cutoff, and the loop ends on a batch that comes back
// short; the answers at or after the cutoff stay as they were.
func testIdempotencyExpiry(t *testing.T, h Harness) {
	s, expiry := h.Store, h.Expiry
	cutoff := answeredAt.Add(-ports.IdempotencyRetention)
	expired := []ports.IdempotentAnswer{
		answer("env-a/lead", "a-week-ago", 200, `{"n":1}`, cutoff.Add(-6*24*time.Hour)),
		answer("env-a/lead", "two-days-ago", 200, `{"n":2}`, cutoff.Add(-24*time.Hour)),
		answer("env-b/lead", "an-hour-before", 422, `{"n":3}`, cutoff.Add(-time.Hour).In(manaus)),
		answer("env-a/lead_tarefas", "just-before", 200, `{"n":4}`, cutoff.Add(-time.Microsecond)),
		answer("env-b/lead_tarefas", "just-before", 201, `{"n":5}`, cutoff.Add(-time.Microsecond)),
	}
	// The first answer under "reused" expires and is replaced by a fresh one,
	// which the clean-up keeps.
	reusedFirst := answer("env-a/lead", "reused", 200, `{"first":true}`, cutoff.Add(-2*time.Hour))
	kept := []ports.IdempotentAnswer{
		answer("env-a/lead", "at-the-cutoff", 200, `{"n":6}`, cutoff),
		answer("env-b/lead", "just-after", 200, `{"n":7}`, cutoff.Add(time.Microsecond)),
		answer("env-a/lead", "now", 200, `{"n":8}`, answeredAt),
		answer("env-a/lead", "reused", 201, `{"second":true}`, answeredAt.Add(-time.Minute)),
	}
	put(t, s, reusedFirst)
	var values []any
	for _, a := range slices.Concat(expired, kept) {
		values = append(values, a)
	}
	put(t, s, values...)

	remaining := func() int {
		t.Helper()
		n := 0
		for _, a := range expired {
			if _, err := getAnswer(t, s, a.Scope, a.Key); err == nil {
				n++
			} else {
				wantNotFound(t, fmt.Sprintf("GetIdempotentAnswer(%s, %s)", a.Scope, a.Key), err)
			}
		}
		return n
	}
	wantKept := func(what string) {
		t.Helper()
		for _, a := range kept {
			wantAnswer(t, s, what+": "+a.Key, a)
		}
	}

	for _, limit := range []int{0, -1} {
		if n, err := expiry.DeleteIdempotencyKeysBefore(t.Context(), cutoff, limit); err == nil || n != 0 {
			t.Errorf("DeleteIdempotencyKeysBefore with limit %d: %d, %v; want it refused", limit, n, err)
		}
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if n, err := expiry.DeleteIdempotencyKeysBefore(cancelled, cutoff, 10); err == nil || n != 0 {
		t.Errorf("DeleteIdempotencyKeysBefore with a cancelled context: %d, %v; want an error", n, err)
	}
	if got := remaining(); got != len(expired) {
		t.Fatalf("%d expired answers left after the refused calls, want all %d", got, len(expired))
	}

	// Batches of 2: 2, 2, then 1, which is short and ends the loop.
	for i, want := range []int64{2, 2, 1} {
		n, err := expiry.DeleteIdempotencyKeysBefore(t.Context(), cutoff, 2)
		if err != nil {
			t.Fatalf("batch %d: DeleteIdempotencyKeysBefore: %v", i, err)
		}
		if n != want {
			t.Errorf("batch %d deleted %d answers, want %d", i, n, want)
		}
		if got, left := remaining(), len(expired)-2*i-int(want); got != left {
			t.Errorf("after batch %d: %d expired answers left, want %d", i, got, left)
		}
		wantKept(fmt.Sprintf("after batch %d", i))
	}
	n, err := expiry.DeleteIdempotencyKeysBefore(t.Context(), cutoff, 2)
	if err != nil || n != 0 {
		t.Errorf("DeleteIdempotencyKeysBefore with nothing expired: %d, %v; want 0", n, err)
	}
	wantKept("after the clean-up")
}
