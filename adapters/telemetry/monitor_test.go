package telemetry_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"callconnect/adapters/telemetry"
	"callconnect/domain"
)

func TestExchangeMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := telemetry.NewExchangeMetrics(reg)
	telemetry.NewExchangeMetrics(reg).ExchangeRecorded(domain.Inbound, 401) // shared, not registered twice
	m.ExchangeRecorded(domain.Inbound, 422)
	m.ExchangeRecorded(domain.Outbound, 0)
	m.ExchangeRecorded(domain.Outbound, 200)
	m.ExchangeRecorded("sideways", 200)

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "callconnect_monitor_exchanges_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			var dir, class string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "direction":
					dir = l.GetValue()
				case "status_class":
					class = l.GetValue()
				}
			}
			got[dir+" "+class] = m.GetCounter().GetValue()
		}
	}
	if len(got) != 12 {
		t.Errorf("%d series, want 12 (2 directions × 6 classes, all from the start): %v", len(got), got)
	}
	for series, want := range map[string]float64{"in 4xx": 2, "out 2xx": 1, "out none": 1, "in 2xx": 0, "out 5xx": 0} {
		if got[series] != want {
			t.Errorf("%s = %v, want %v", series, got[series], want)
		}
	}
}
