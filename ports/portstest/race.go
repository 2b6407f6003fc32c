package portstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// testRacingActivations has two transactions switch on different providers of
// one environment at the same moment, the way a use case does it: (lock the
// environment,) list its integrations, Activate through the domain, put. Rule 1
// must hold whoever wins: exactly one transaction succeeds, the other fails
// with the domain's integration_active_elsewhere or with storage's
// ErrActiveElsewhere, and one integration is active at the end.
//
// With the lock, the loser sees the winner's integration and the domain
// refuses; without it, only the storage constraint stands between the two.
func testRacingActivations(t *testing.T, s ports.Store, lock bool) {
	const rounds = 8
	providers := [2]string{domain.ProviderCallConnect, "other-pbx"}
	for round := range rounds {
		envID := fmt.Sprintf("race-%d", round)
		// Even rounds switch on integrations that exist; odd rounds create them.
		existing := round%2 == 0
		fresh := map[string]domain.Integration{
			providers[0]: callConnect(t, envID),
			providers[1]: otherProvider(envID, providers[1], false),
		}
		values := []any{environment(t, envID)}
		if existing {
			values = append(values, fresh[providers[0]], fresh[providers[1]])
		}
		put(t, s, values...)

		start := make(chan struct{})
		var errs [2]error
		var wg sync.WaitGroup
		for n, provider := range providers {
			wg.Go(func() {
				<-start
				errs[n] = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
					if lock {
						if _, err := r.LockEnvironment(ctx, envID); err != nil {
							return err
						}
					}
					list, err := r.ListIntegrations(ctx, envID)
					if err != nil {
						return err
					}
					mine, found := fresh[provider], false
					var others []domain.Integration
					for _, i := range list {
						if i.Provider() == provider {
							mine, found = i, true
						} else {
							others = append(others, i)
						}
					}
					if found != existing {
						return fmt.Errorf("%s: found its own integration: %t, want %t", provider, found, existing)
					}
					if err := mine.Activate(others); err != nil {
						return err
					}
					// shapes load: keeps both transactions open at once where the
					// store runs them at once, so that without the lock both read
					// before either writes; the outcome is checked whoever wins.
					time.Sleep(5 * time.Millisecond)
					return r.PutIntegration(ctx, mine)
				})
			})
		}
		close(start)
		wg.Wait()

		winners, winner := 0, ""
		for n, err := range errs {
			de, isDomain := domain.AsError(err)
			switch {
			case err == nil:
				winners++
				winner = providers[n]
			case errors.Is(err, ports.ErrActiveElsewhere):
			case isDomain && de.Code == domain.CodeIntegrationActiveElsewhere:
			default:
				t.Errorf("round %d: activating %s failed with an unexpected error: %v", round, providers[n], err)
			}
		}
		if winners != 1 {
			t.Errorf("round %d: %d transactions succeeded, want exactly one (errors: %v)", round, winners, errs)
		}
		var active []string
		for _, i := range listIntegrations(t, s, envID) {
			if i.Active() {
				active = append(active, i.Provider())
			}
		}
		switch {
		case len(active) > 1:
			t.Errorf("round %d: %d integrations active at once: %q", round, len(active), active)
		case winners == 1 && (len(active) != 1 || active[0] != winner):
			t.Errorf("round %d: %s won, but the active integrations are %q", round, winner, active)
		}
	}
}

// testLockCallTakesTurns: while one transaction holds a call (LockCall), a
// second one's LockCall of it waits, and then reads what the first wrote.
func testLockCallTakesTurns(t *testing.T, h Harness) {
	s := h.Store
	put(t, s, environment(t, "env-1"), placedCall(t, "env-1", "c1"))
	first := domain.Attempt{At: clickedAt.Add(time.Second), StatusCode: 503, Error: "first", Duration: time.Millisecond}
	second := domain.Attempt{At: clickedAt.Add(2 * time.Second), StatusCode: 200, Duration: 2 * time.Millisecond}

	locked, release, secondLocked := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var errs [2]error
	var seen domain.Call
	var wg sync.WaitGroup
	wg.Go(func() {
		errs[0] = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			c, err := r.LockCall(ctx, "env-1", "c1")
			close(locked)
			if err != nil {
				return err
			}
			<-release
			return r.PutCall(ctx, withAttempt(c, first))
		})
	})
	<-locked
	wg.Go(func() {
		errs[1] = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			c, err := r.LockCall(ctx, "env-1", "c1")
			close(secondLocked)
			if err != nil {
				return err
			}
			seen = c
			return r.PutCall(ctx, withAttempt(c, second))
		})
	})
	awaitLockWaiter(t, h, "the second LockCall of the call", secondLocked)
	select {
	case <-secondLocked:
		t.Error("a second LockCall of the call returned while the first transaction held it")
	default:
	}
	close(release)
	wg.Wait()
	for n, err := range errs {
		if err != nil {
			t.Fatalf("transaction %d: %v", n+1, err)
		}
	}
	if got := seen.Attempts(); len(got) != 1 || got[0].Error != "first" {
		t.Errorf("the second LockCall read %s, want the first transaction's attempt", callString(seen))
	}
	got, err := getCall(t, s, "env-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	wantCall(t, "the call after both transactions", got, withAttempt(withAttempt(placedCall(t, "env-1", "c1"), first), second))
}

// testLockCallLosesNoUpdate: writers that each lock the call, add one attempt
// and put it back lose none of them, however they interleave.
func testLockCallLosesNoUpdate(t *testing.T, h Harness) {
	s := h.Store
	const writers = 8
	var left atomic.Int32 // the writers not done yet
	left.Store(writers)
	put(t, s, environment(t, "env-1"), placedCall(t, "env-1", "c1"))
	errs := make([]error, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for n := range writers {
		wg.Go(func() {
			<-start
			defer left.Add(-1)
			errs[n] = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
				c, err := r.LockCall(ctx, "env-1", "c1")
				if err != nil {
					return err
				}
				// While a writer not done yet may still arrive, the lock is
				// held until one waits behind it.
				if err := lockWaitedFor(ctx, h, func() bool { return left.Load() > 1 }); err != nil {
					return err
				}
				return r.PutCall(ctx, withAttempt(c, domain.Attempt{At: clickedAt, StatusCode: 500 + n, Error: fmt.Sprint("writer ", n)}))
			})
		})
	}
	close(start)
	wg.Wait()
	for n, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", n, err)
		}
	}
	got, err := getCall(t, s, "env-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, a := range got.Attempts() {
		seen[a.StatusCode] = true
	}
	if len(got.Attempts()) != writers || len(seen) != writers {
		t.Errorf("after %d writers added one attempt each: %s, want %d distinct attempts", writers, callString(got), writers)
	}
}
