package jobs_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river/rivertype"

	"callconnect/adapters/jobs"
	"callconnect/domain"
)

// queueFigures reads callconnect_jobs as "kind state" → jobs, and the
// sample count and sum of callconnect_job_wait_seconds by kind.
func queueFigures(t *testing.T, g prometheus.Gatherer) (jobsNow map[string]float64, waits map[string]uint64, waited map[string]float64) {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	jobsNow, waits, waited = map[string]float64{}, map[string]uint64{}, map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetName() {
			case "callconnect_jobs":
				jobsNow[labels["kind"]+" "+labels["state"]] = m.GetGauge().GetValue()
			case "callconnect_job_wait_seconds":
				waits[labels["kind"]] = m.GetHistogram().GetSampleCount()
				waited[labels["kind"]] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return jobsNow, waits, waited
}

// The queue's metrics count the jobs waiting by kind and state, and the
// wait of every job a worker takes.
func TestQueueMetrics(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	w := newWorld(t, always(http.StatusOK), worldOptions{})
	reg := prometheus.NewRegistry()
	if err := jobs.RegisterQueueMetrics(reg, w.pool, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	wait, err := jobs.NewJobWaitMiddleware(reg)
	if err != nil {
		t.Fatal(err)
	}

	// Two clicks, and no worker yet: two deliveries wait.
	first, second := w.place(t), w.place(t)
	now, waits, _ := queueFigures(t, reg)
	if now["deliver_call available"] != 2 || now["deliver_call running"] != 0 || now["deliver_call retryable"] != 0 {
		t.Errorf("two clicks without a worker: %v", now)
	}
	for _, series := range []string{"sweep_recordings available", "mark_no_result scheduled", "monitor_retention running"} {
		if v, ok := now[series]; !ok || v != 0 {
			t.Errorf("%s: %v, %v; want the series at zero", series, v, ok)
		}
	}
	if len(waits) != 0 {
		t.Errorf("waits observed before any job ran: %v", waits)
	}

	// A worker takes them: none waits any more, and each one's wait is observed.
	w.startClient(t, w.pool, jobs.Config{MaxWorkers: 2, Middleware: []rivertype.Middleware{wait}})
	for _, c := range []domain.Call{first, second} {
		w.waitFor(t, ctx, c.ID(), domain.CallDelivered)
	}
	now, waits, waited := queueFigures(t, reg)
	if now["deliver_call available"] != 0 {
		t.Errorf("after the deliveries: %v", now)
	}
	if waits["deliver_call"] != 2 || waited["deliver_call"] <= 0 {
		t.Errorf("callconnect_job_wait_seconds{kind=deliver_call}: %d samples summing %gs, want 2 that waited",
			waits["deliver_call"], waited["deliver_call"])
	}
}
