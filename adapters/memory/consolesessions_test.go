package memory_test

import (
	"testing"

	"callconnect/adapters/memory"
	"callconnect/ports"
	"callconnect/ports/portstest"
)

func TestConsoleSessionsContract(t *testing.T) {
	portstest.RunConsoleSessions(t, func(*testing.T) (ports.ConsoleSessions, ports.ConsoleSessions) {
		s := memory.NewConsoleSessions()
		return s, s // one process: both replicas share the map
	})
}
