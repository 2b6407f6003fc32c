package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/ports"
)

// batchCounter is the memory store's expiry, with a hook after each batch.
type batchCounter struct {
	*memory.Store
	batches []int64
	// after, when set, runs after each batch (n-th from 0) and may replace
	// its error.
	after func(n int, err error) error
}

func (b *batchCounter) DeleteIdempotencyKeysBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	n, err := b.Store.DeleteIdempotencyKeysBefore(ctx, cutoff, limit)
	b.batches = append(b.batches, n)
	if b.after != nil {
		err = b.after(len(b.batches)-1, err)
	}
	return n, err
}

// storeAnswers stores, under scope "acme/lead", expired answers (stored
// before t0 less the retention) and the kept ones, and returns their keys.
func storeAnswers(t *testing.T, s ports.Store, expired int) (expiredKeys, keptKeys []string) {
	t.Helper()
	cutoff := t0.Add(-ports.IdempotencyRetention)
	var answers []ports.IdempotentAnswer
	for i := range expired {
		key := fmt.Sprintf("expired-%d", i)
		expiredKeys = append(expiredKeys, key)
		answers = append(answers, ports.IdempotentAnswer{Scope: "acme/lead", Key: key, RequestHash: "h", StatusCode: 200,
			CreatedAt: cutoff.Add(-time.Duration(i+1) * time.Minute)})
	}
	for key, at := range map[string]time.Time{"at-the-cutoff": cutoff, "an-hour-old": t0.Add(-time.Hour), "now": t0} {
		keptKeys = append(keptKeys, key)
		answers = append(answers, ports.IdempotentAnswer{Scope: "acme/lead", Key: key, RequestHash: "h", StatusCode: 200, CreatedAt: at})
	}
	err := s.Tx(context.Background(), func(ctx context.Context, r ports.Repositories) error {
		for _, a := range answers {
			if err := r.PutIdempotentAnswer(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return expiredKeys, keptKeys
}

// storedKeys returns which of keys the store still answers for.
func storedKeys(t *testing.T, s ports.Store, keys []string) []string {
	t.Helper()
	var left []string
	err := s.Read(context.Background(), func(ctx context.Context, r ports.Repositories) error {
		for _, k := range keys {
			_, err := r.GetIdempotentAnswer(ctx, "acme/lead", k)
			switch {
			case err == nil:
				left = append(left, k)
			case !errors.Is(err, ports.ErrNotFound):
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return left
}

func TestIdempotencyKeyExpiryDeletesInBatches(t *testing.T) {
	for _, tc := range []struct {
		expired int
		batches string
	}{
		{expired: 5, batches: "[2 2 1]"},
		{expired: 4, batches: "[2 2 0]"}, // a full last batch: one more finds none
		{expired: 0, batches: "[0]"},
	} {
		t.Run(fmt.Sprint(tc.expired, " expired"), func(t *testing.T) {
			store := memory.NewStore()
			expiredKeys, keptKeys := storeAnswers(t, store, tc.expired)
			keys := &batchCounter{Store: store}
			var logs bytes.Buffer
			e := app.NewIdempotencyKeyExpiry(keys, memory.NewClock(t0), app.IdempotencyExpiryConfig{Batch: 2},
				slog.New(slog.NewTextHandler(&logs, nil)))
			run, err := e.Run(context.Background())
			if err != nil || run.Deleted != int64(tc.expired) || run.CutShort {
				t.Fatalf("Run: %+v, %v; want %d deleted", run, err, tc.expired)
			}
			if want := t0.Add(-24 * time.Hour); !run.Cutoff.Equal(want) {
				t.Errorf("cutoff %s, want the clock's now less 24 h, %s", run.Cutoff, want)
			}
			if got := fmt.Sprint(keys.batches); got != tc.batches {
				t.Errorf("batches deleted %s, want %s", got, tc.batches)
			}
			if left := storedKeys(t, store, expiredKeys); len(left) != 0 {
				t.Errorf("expired answers left: %q", left)
			}
			if kept := storedKeys(t, store, keptKeys); len(kept) != len(keptKeys) {
				t.Errorf("kept answers %q, want %q", kept, keptKeys)
			}
			// A line when something was deleted, silence otherwise.
			wantLog := fmt.Sprintf("keys_deleted=%d", tc.expired)
			if got := logs.String(); tc.expired > 0 && !strings.Contains(got, wantLog) || tc.expired == 0 && got != "" {
				t.Errorf("log %q, want a line with %s only when something was deleted", got, wantLog)
			}
		})
	}
}

func TestIdempotencyKeyExpiryDefaultBatch(t *testing.T) {
	var limits []int
	e := app.NewIdempotencyKeyExpiry(limitSpy{memory.NewStore(), &limits}, memory.NewClock(t0), app.IdempotencyExpiryConfig{}, nil)
	if _, err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(limits) != "[10000]" {
		t.Errorf("limits asked %v, want one batch of 10000", limits)
	}
}

// limitSpy records the limit of each batch.
type limitSpy struct {
	ports.IdempotencyExpiry
	limits *[]int
}

func (s limitSpy) DeleteIdempotencyKeysBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	*s.limits = append(*s.limits, limit)
	return s.IdempotencyExpiry.DeleteIdempotencyKeysBefore(ctx, cutoff, limit)
}

// TestIdempotencyKeyExpiryStopsWhenContextEnds: the batches done stay
// done, the run says it was cut short, and the next run goes on.
func TestIdempotencyKeyExpiryStopsWhenContextEnds(t *testing.T) {
	store := memory.NewStore()
	expiredKeys, _ := storeAnswers(t, store, 5)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys := &batchCounter{Store: store, after: func(n int, err error) error {
		if n == 0 {
			cancel() // the job's timeout, or the client stopping
		}
		return err
	}}
	var logs bytes.Buffer
	e := app.NewIdempotencyKeyExpiry(keys, memory.NewClock(t0), app.IdempotencyExpiryConfig{Batch: 2}, slog.New(slog.NewTextHandler(&logs, nil)))
	run, err := e.Run(ctx)
	if !errors.Is(err, context.Canceled) || !run.CutShort || run.Deleted != 2 {
		t.Fatalf("Run with ctx ending after the first batch: %+v, %v; want 2 deleted, cut short, context.Canceled", run, err)
	}
	if left := storedKeys(t, store, expiredKeys); len(left) != 3 {
		t.Errorf("expired answers left %q, want 3", left)
	}
	if !strings.Contains(logs.String(), "keys_deleted=2") || strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("log %q, want an info line with keys_deleted=2", logs.String())
	}

	// A batch the ending ctx fails, whatever the error says, is cut short too.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	keys.batches, keys.after = nil, func(int, error) error {
		cancel()
		return errors.New("conn closed")
	}
	run, err = e.Run(ctx)
	if err == nil || !run.CutShort || run.Deleted != 2 {
		t.Errorf("Run with ctx ending during a batch: %+v, %v; want it cut short with the batch's 2", run, err)
	}

	keys.after = nil
	run, err = e.Run(context.Background())
	if err != nil || run.Deleted != 1 || run.CutShort {
		t.Errorf("the next run: %+v, %v; want the last one deleted", run, err)
	}
}

func TestIdempotencyKeyExpiryReportsAFailedBatch(t *testing.T) {
	store := memory.NewStore()
	storeAnswers(t, store, 5)
	broken := errors.New("statement timeout")
	keys := &batchCounter{Store: store, after: func(n int, err error) error {
		if n == 1 {
			return broken
		}
		return err
	}}
	var logs bytes.Buffer
	e := app.NewIdempotencyKeyExpiry(keys, memory.NewClock(t0), app.IdempotencyExpiryConfig{Batch: 2}, slog.New(slog.NewTextHandler(&logs, nil)))
	run, err := e.Run(context.Background())
	if !errors.Is(err, broken) || run.CutShort || run.Deleted != 4 || len(keys.batches) != 2 {
		t.Fatalf("Run: %+v, %v after batches %v; want it failed after 2 batches, their 4 answers counted", run, err, keys.batches)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "statement timeout") {
		t.Errorf("log %q, want a warning with the error", logs.String())
	}
}
