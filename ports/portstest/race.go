package portstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
					time.Sleep(5 * time.Millisecond) // keep both transactions open at once
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
