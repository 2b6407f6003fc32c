package jobs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callconnect/adapters/jobs"
	"callconnect/adapters/telemetry"
	"callconnect/domain"
)

// Load of BenchmarkClickToPartner.
const (
	// benchRate is the steady rate of clicks at which latency is measured,
	// for the service and for the floor alike.
	benchRate = 200 // per second
	// benchConcurrency is how many clicks are in flight at once when
	// measuring how many calls per second the service sustains: CRM users
	// pressing Ligar together, as fast as the service takes them.
	benchConcurrency = 16
)

// BenchmarkClickToPartner measures, against a partner on loopback, the
// time from the start of app.Calls.Place (the click) to the partner's
// handler receiving the request, with the whole path in between: the
// transaction that stores the call and inserts the job, the NOTIFY at
// commit, River's fetch, the claim transaction, and the signed request
// through the webhook client. Next to it, in the same run, the floor: a
// plain net/http POST of the same body to the same partner. One River client
// (one process), the production pool size (10 connections) and worker count
// (100).
//
// Two loads, b.N calls each:
//   - latency (p50-ms, p99-ms): clicks arrive at a steady benchRate per
//     second, whether or not earlier ones are done (an open loop, so that a
//     slow service cannot slow the clicks down and hide its queue);
//   - throughput (calls/s): benchConcurrency clicks at a time as fast as
//     they go, from the first click to the last request the partner receives.
//
// The floor is measured the same two ways (floor-p50-ms, floor-p99-ms,
// floor-calls/s); the differences (p50-over-floor-ms, p99-over-floor-ms) and
// ratios are reported too. Goals: p50 within +20 ms of the floor, p99 within
// +100 ms, at least 500 calls/s delivered.
//
// What a call costs, under the throughput load, is reported too, as it
// does not depend on what else the machine runs: cpu-ms/call is this
// process's CPU time per call (the whole service, the partner and the
// clicks; floor-cpu-ms/call is the floor's, the partner and the plain
// POSTs), pg-cpu-ms/call PostgreSQL's (when the cluster runs on this
// machine), and sql-roundtrips/call the queries the service and River make.
// On a machine of C cores, the calls per second cannot exceed
// C×1000/(cpu-ms/call + pg-cpu-ms/call).
//
//	go test ./adapters/jobs -run '^$' -bench ClickToPartner -benchtime 3000x
func BenchmarkClickToPartner(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	partner := newTimingPartner(b)
	queries := &telemetry.QueryCounter{}
	w := newWorld(b, nil, worldOptions{maxConns: 10, partner: partner, tracer: telemetry.NewSQLTracer(nil, queries)})
	cpu := newCPUMeter(b, ctx, w.pool)
	w.startClient(b, w.pool, jobs.Config{})
	body := w.place(b).Payload() // the same bytes the service sends
	w.waitFor(b, ctx, w.place(b).ID(), domain.CallDelivered)
	floorClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1000}}
	defer floorClient.CloseIdleConnections()
	var floorSeq atomic.Int64 // ids unique across the runs below
	floor := func(int) (string, error) {
		return post(ctx, floorClient, w.partner.URL(), body, fmt.Sprintf("floor-%d", floorSeq.Add(1)))
	}
	leads := w.addLeads(b, "lead-of-call", 200+2*b.N) // a lead per click
	var clicked atomic.Int64
	service := func(int) (string, error) {
		call, err := w.calls.Place(ctx, envID, leads[clicked.Add(1)-1], brokerID, "")
		return call.WebhookID(), err
	}
	// Warm both paths (connections, plans, the partner's keep-alives).
	measure(b, ctx, partner, 200, closedLoop, floor)
	measure(b, ctx, partner, 200, closedLoop, service)

	b.ResetTimer()
	floorLatency := measure(b, ctx, partner, b.N, openLoop, floor)
	serviceLatency := measure(b, ctx, partner, b.N, openLoop, service)
	floorStart := cpu.sample()
	floorRate := measure(b, ctx, partner, b.N, closedLoop, floor)
	serviceStart := cpu.sample()
	queries.Reset()
	serviceRate := measure(b, ctx, partner, b.N, closedLoop, service)
	roundTrips := queries.Count()
	serviceEnd := cpu.sample()
	b.StopTimer()

	b.ReportMetric(ms(floorLatency.p50), "floor-p50-ms")
	b.ReportMetric(ms(floorLatency.p99), "floor-p99-ms")
	b.ReportMetric(floorRate.rate, "floor-calls/s")
	b.ReportMetric(ms(serviceLatency.p50), "p50-ms")
	b.ReportMetric(ms(serviceLatency.p99), "p99-ms")
	b.ReportMetric(serviceRate.rate, "calls/s")
	b.ReportMetric(ms(serviceLatency.p50-floorLatency.p50), "p50-over-floor-ms")
	b.ReportMetric(ms(serviceLatency.p99-floorLatency.p99), "p99-over-floor-ms")
	b.ReportMetric(float64(serviceLatency.p50)/float64(floorLatency.p50), "p50-ratio")
	b.ReportMetric(float64(serviceLatency.p99)/float64(floorLatency.p99), "p99-ratio")
	b.ReportMetric(serviceRate.rate/floorRate.rate, "calls/s-ratio")
	perCall := func(d time.Duration) float64 { return ms(d) / float64(b.N) }
	b.ReportMetric(perCall(serviceStart.self-floorStart.self), "floor-cpu-ms/call")
	b.ReportMetric(perCall(serviceEnd.self-serviceStart.self), "cpu-ms/call")
	if serviceStart.pgOK && serviceEnd.pgOK {
		b.ReportMetric(perCall(serviceEnd.pg-serviceStart.pg), "pg-cpu-ms/call")
	}
	b.ReportMetric(float64(roundTrips)/float64(b.N), "sql-roundtrips/call")
	b.Logf("under the throughput load: p50 %.1f ms, p99 %.1f ms (floor %.2f, %.2f)",
		ms(serviceRate.p50), ms(serviceRate.p99), ms(floorRate.p50), ms(floorRate.p99))
}

// post is the floor: one plain POST of body.
func post(ctx context.Context, client *http.Client, url string, body []byte, webhookID string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", webhookID)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return webhookID, resp.Body.Close()
}

type measurement struct {
	p50, p99 time.Duration
	rate     float64 // deliveries per second, first start to last arrival
}

// load is how clicks are issued.
type load int

const (
	openLoop   load = iota // benchRate per second, regardless of completion
	closedLoop             // benchConcurrency at a time, each as soon as one ends
)

// measure runs do n times under the load and times each from its start to
// the partner receiving the request it names.
func measure(b *testing.B, ctx context.Context, partner *timingPartner, n int, how load, do func(i int) (webhookID string, err error)) measurement {
	b.Helper()
	starts := make([]time.Time, n)
	ids := make([]string, n)
	one := func(i int) {
		starts[i] = time.Now()
		id, err := do(i)
		if err != nil {
			b.Error(err)
		}
		ids[i] = id
	}
	var wg sync.WaitGroup
	switch how {
	case openLoop:
		tick := time.NewTicker(time.Second / benchRate)
		for i := range n {
			wg.Go(func() { one(i) })
			<-tick.C
		}
		tick.Stop()
	case closedLoop:
		next := make(chan int)
		for range benchConcurrency {
			wg.Go(func() {
				for i := range next {
					one(i)
				}
			})
		}
		for i := range n {
			next <- i
		}
		close(next)
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	arrivals := partner.await(b, ctx, ids)
	latencies := make([]time.Duration, n)
	first, last := starts[0], arrivals[0]
	for i, at := range arrivals {
		latencies[i] = at.Sub(starts[i])
		if starts[i].Before(first) {
			first = starts[i]
		}
		if at.After(last) {
			last = at
		}
	}
	slices.Sort(latencies)
	return measurement{
		p50:  percentile(latencies, 0.50),
		p99:  percentile(latencies, 0.99),
		rate: float64(n) / last.Sub(first).Seconds(),
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// timingPartner answers 200 at once and notes when each webhook-id
// arrived (the first time).
type timingPartner struct {
	mu      sync.Mutex
	arrived map[string]time.Time
	changed chan struct{}
}

func newTimingPartner(b *testing.B) *timingPartner {
	b.Helper()
	return &timingPartner{arrived: map[string]time.Time{}, changed: make(chan struct{}, 1)}
}

var _ http.Handler = (*timingPartner)(nil)

func (p *timingPartner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	_, _ = io.Copy(io.Discard, r.Body)
	id := r.Header.Get("webhook-id")
	p.mu.Lock()
	if _, ok := p.arrived[id]; !ok {
		p.arrived[id] = at
	}
	p.mu.Unlock()
	select {
	case p.changed <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusOK)
}

// await waits until every id has arrived and returns the arrival times in
// the order of ids.
func (p *timingPartner) await(b *testing.B, ctx context.Context, ids []string) []time.Time {
	b.Helper()
	for {
		p.mu.Lock()
		out := make([]time.Time, len(ids))
		missing := 0
		for i, id := range ids {
			at, ok := p.arrived[id]
			if !ok {
				missing++
			}
			out[i] = at
		}
		p.mu.Unlock()
		if missing == 0 {
			return out
		}
		select {
		case <-ctx.Done():
			b.Fatalf("%d of %d requests never reached the partner", missing, len(ids))
		case <-p.changed:
		case <-time.After(50 * time.Millisecond):
		}
	}
}
