package telemetry

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"callconnect/adapters/postgres/pgtest"
)

func poolFigures(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if m.GetCounter() != nil {
				out[f.GetName()] = m.GetCounter().GetValue()
			} else {
				out[f.GetName()] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// The pool's figures are read when scraped: a connection held shows as
// acquired, and every acquire is counted.
func TestPoolMetrics(t *testing.T) {
	pool := pgtest.NewPool(t)
	reg := prometheus.NewRegistry()
	if err := RegisterPoolMetrics(reg, pool); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	held := poolFigures(t, reg)
	conn.Release()
	freed := poolFigures(t, reg)

	if held["callconnect_db_pool_acquired_conns"] != 1 || freed["callconnect_db_pool_acquired_conns"] != 0 {
		t.Errorf("acquired: %v while held, %v after", held["callconnect_db_pool_acquired_conns"], freed["callconnect_db_pool_acquired_conns"])
	}
	if freed["callconnect_db_pool_idle_conns"] < 1 || freed["callconnect_db_pool_total_conns"] < 1 {
		t.Errorf("after the release: %v", freed)
	}
	if got, want := freed["callconnect_db_pool_max_conns"], float64(pool.Config().MaxConns); got != want {
		t.Errorf("max_conns %v, want %v", got, want)
	}
	if freed["callconnect_db_pool_acquires_total"] < 1 {
		t.Errorf("acquires_total %v after an acquire", freed["callconnect_db_pool_acquires_total"])
	}
	for _, name := range []string{"acquire_duration_seconds_total", "empty_acquires_total", "empty_acquire_wait_seconds_total", "canceled_acquires_total"} {
		if _, ok := freed["callconnect_db_pool_"+name]; !ok {
			t.Errorf("no callconnect_db_pool_%s", name)
		}
	}
}
