package postgres_test

import (
	"os"
	"strings"
	"testing"

	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
)

func TestNewPool(t *testing.T) {
	t.Parallel()
	pgtest.Config(t) // fails clearly when the test cluster is missing
	url := os.Getenv(pgtest.EnvURL)

	pool, err := postgres.NewPool(t.Context(), url, nil)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	defer pool.Close()
	if got := pool.Config().MaxConns; got != 10 {
		t.Errorf("MaxConns without pool_max_conns in the URL: got %d, want the default 10", got)
	}
	var app string
	if err := pool.QueryRow(t.Context(), "SHOW application_name").Scan(&app); err != nil || app != "callconnect" {
		t.Errorf("application_name: got %q (%v), want callconnect", app, err)
	}

	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	small, err := postgres.NewPool(t.Context(), url+sep+"pool_max_conns=3", nil)
	if err != nil {
		t.Fatalf("NewPool with pool_max_conns: %v", err)
	}
	defer small.Close()
	if got := small.Config().MaxConns; got != 3 {
		t.Errorf("MaxConns with pool_max_conns=3: got %d", got)
	}
}

func TestNewPoolErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, url, want string
	}{
		{"empty", "", "database URL is empty"},
		{"malformed", "postgres://callconnect:s3cret@127.0.0.1:5432/db?sslmode=sometimes", "invalid database URL"},
		// Port 1 on loopback refuses at once.
		{"unreachable", "postgres://callconnect:s3cret@127.0.0.1:1/db?sslmode=disable", "cannot reach the database callconnect@127.0.0.1:1/db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool, err := postgres.NewPool(t.Context(), tc.url, nil)
			if err == nil {
				pool.Close()
				t.Fatal("NewPool succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}
