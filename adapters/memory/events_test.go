package memory_test

import (
	"testing"

	"callconnect/adapters/memory"
	"callconnect/ports/portstest"
)

func TestEventsContract(t *testing.T) {
	portstest.RunEvents(t, func(*testing.T) portstest.EventsHarness {
		s := memory.NewStore()
		return portstest.EventsHarness{Store: s, Events: s, Retention: s}
	})
}
