package portstest

import (
	"sync"
	"testing"

	"callconnect/ports"
)

// RunClock runs the contract suite of ports.Clock: the time is set, never
// goes backwards between two readings, and may be read from many goroutines.
func RunClock(t *testing.T, c ports.Clock) {
	t.Helper()
	t.Run("NotZero", func(t *testing.T) {
		if now := c.Now(); now.IsZero() {
			t.Fatal("Now returned the zero time")
		}
	})
	t.Run("NeverGoesBack", func(t *testing.T) {
		prev := c.Now()
		for range 10_000 {
			now := c.Now()
			if now.Before(prev) {
				t.Fatalf("Now went back from %v to %v", prev, now)
			}
			prev = now
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				prev := c.Now()
				for range 1000 {
					now := c.Now()
					if now.Before(prev) {
						t.Errorf("Now went back from %v to %v", prev, now)
						return
					}
					prev = now
				}
			})
		}
		wg.Wait()
	})
}
