package main

import (
	"io"
	"testing"

	"go.uber.org/fx"
)

// TestPlanOf: the configuration decides what a process runs; with no
// delivery workers it is an API-only replica, which runs no job at all.
func TestPlanOf(t *testing.T) {
	for _, tc := range []struct {
		workers string
		want    processPlan
	}{
		{"0", processPlan{DeliveryWorkers: 0, Migrate: true, MetricsAddr: "127.0.0.1:9100"}},
		{"3", processPlan{DeliveryWorkers: 3, Migrate: true, MetricsAddr: "127.0.0.1:9100", Maintenance: true, EventDeliveries: true}},
	} {
		cfg := serveConfig(t, map[string]string{"CALLCONNECT_DELIVERY_WORKERS": tc.workers, "CALLCONNECT_METRICS_ADDR": "127.0.0.1:9100"})
		if got := planOf(cfg, true); got != tc.want {
			t.Errorf("CALLCONNECT_DELIVERY_WORKERS=%s: plan %+v, want %+v", tc.workers, got, tc.want)
		}
	}
}

// TestProcessGraphIsComplete: every plan's graph has every dependency its
// modules name (fx.ValidateApp builds nothing, so no database is needed).
func TestProcessGraphIsComplete(t *testing.T) {
	for _, workers := range []string{"0", "2"} {
		for _, side := range [][2]string{{"", ""}, {"127.0.0.1:9100", "127.0.0.1:6060"}} {
			metrics := side[0]
			cfg := serveConfig(t, map[string]string{"CALLCONNECT_DELIVERY_WORKERS": workers, "CALLCONNECT_METRICS_ADDR": metrics,
				"CALLCONNECT_PPROF_ADDR": side[1]})
			if err := fx.ValidateApp(options(cfg, envOf(nil), true, io.Discard, io.Discard)...); err != nil {
				t.Errorf("CALLCONNECT_DELIVERY_WORKERS=%s CALLCONNECT_METRICS_ADDR=%q: %v", workers, metrics, err)
			}
		}
	}
}

// serveConfig is a configuration that serve accepts, with env besides.
func serveConfig(t *testing.T, env map[string]string) Config {
	t.Helper()
	all := map[string]string{
		"DATABASE_URL":            "postgres://x@127.0.0.1/db",
		"CALLCONNECT_ADMIN_TOKEN": "Zk3v9QpL2xR7mT1wY8nB4cF6hJ0sD5gA3eU9iO2kXq8",
		"CALLCONNECT_SECRETS_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	}
	for k, v := range env {
		all[k] = v
	}
	cfg, err := LoadConfig(envOf(all))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.RequireServe(); err != nil {
		t.Fatal(err)
	}
	return cfg
}
