package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"callconnect/adapters/postgres/pgtest"
	"callconnect/ports"
	"callconnect/ports/portstest"
)

func TestConsoleSessionsContract(t *testing.T) {
	t.Parallel()
	portstest.RunConsoleSessions(t, func(t *testing.T) (ports.ConsoleSessions, ports.ConsoleSessions) {
		pool := pgtest.NewPool(t)
		// A second replica: its own pool on the same database.
		other, err := pgxpool.New(context.Background(), pool.Config().ConnString())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(other.Close)
		return newStore(t, pool, testKey), newStore(t, other, testKey)
	})
}
