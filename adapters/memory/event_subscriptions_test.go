package memory_test

import (
	"testing"

	"callconnect/adapters/memory"
	"callconnect/ports/portstest"
)

func TestEventSubscriptionsContract(t *testing.T) {
	portstest.RunEventSubscriptions(t, func(*testing.T) portstest.EventSubscriptionsHarness {
		s := memory.NewStore()
		return portstest.EventSubscriptionsHarness{Store: s, Events: s, Retention: s, Runs: s.EventDeliveryRuns}
	})
}
