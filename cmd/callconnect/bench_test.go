package main

import (
	"cmp"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callconnect/adapters/postgres/pgtest"
)

// benchClickers is how many clicks are in flight at once: CRM users
// pressing Ligar together, as fast as the service takes them.
const benchClickers = 16

// BenchmarkServiceProcesses measures how many calls per second the built
// binary delivers with one and with two service processes on one
// PostgreSQL: b.N clicks through the HTTP API, benchClickers at a time,
// spread over the processes, from the first click to the partner (on
// loopback) receiving the last call. The floor, in the same run: b.N plain
// net/http POSTs of a call's body to the same partner, benchClickers at a
// time. Reported: calls/s, floor-calls/s and their ratio. Processes,
// PostgreSQL and the load share the machine's cores, so a second process
// adds workers and connections, not CPUs.
//
//	go test ./cmd/callconnect -run '^$' -bench ServiceProcesses -benchtime 2000x
func BenchmarkServiceProcesses(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("processes=%d", n), func(b *testing.B) { benchProcesses(b, n) })
	}
}

func benchProcesses(b *testing.B, processes int) {
	url := pgtest.NewEmptyPool(b).Config().ConnString()
	fake := newPartner(b)
	procs := make([]*process, processes)
	for i := range procs {
		procs[i] = startServiceEnv(b, url, deliveryEnv)
		if i == 0 {
			configure(b, procs[0], fake.srv.URL+"/calls", 1)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchClickers}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	post := func(url, body string, header ...string) error {
		code, answer, err := send(client, http.MethodPost, url, body, header...)
		if err == nil && code >= 300 {
			err = fmt.Errorf("POST %s: %d %s", url, code, answer)
		}
		return err
	}
	click := func(i int) error {
		p := procs[i%len(procs)]
		return post("http://"+p.addr+"/v1/environments/acme/leads/l0/calls", `{"user_id":"c1"}`, "Authorization", "Bearer "+testAdminToken)
	}
	// delivered waits until the partner has received n requests in all and
	// returns when the last one arrived.
	delivered := func(n int) time.Time {
		waitFor(b, 5*time.Minute, fmt.Sprintf("%d requests reach the partner", n), func() bool { _, got := fake.counts(); return got >= n })
		fake.mu.Lock()
		defer fake.mu.Unlock()
		return fake.last
	}

	// Warm up: connections, plans, every process's workers.
	for i := range 20 * processes {
		if err := click(i); err != nil {
			b.Fatal(err)
		}
	}
	delivered(20 * processes)
	fake.mu.Lock()
	callBody := string(fake.body)
	fake.mu.Unlock()
	floor := func(i int) error {
		return post(fake.srv.URL+"/calls", callBody, "webhook-id", fmt.Sprintf("floor-%d", i))
	}

	b.ResetTimer()
	_, before := fake.counts()
	start := time.Now()
	if err := together(b.N, floor); err != nil {
		b.Fatal(err)
	}
	floorRate := float64(b.N) / delivered(before+b.N).Sub(start).Seconds()

	_, before = fake.counts()
	start = time.Now()
	if err := together(b.N, click); err != nil {
		b.Fatal(err)
	}
	rate := float64(b.N) / delivered(before+b.N).Sub(start).Seconds()
	b.StopTimer()

	b.ReportMetric(rate, "calls/s")
	b.ReportMetric(floorRate, "floor-calls/s")
	b.ReportMetric(rate/floorRate, "calls/s-ratio")
	time.Sleep(200 * time.Millisecond) // a duplicate delivery would show up now
	if byID, total := fake.counts(); total != len(byID) {
		b.Fatalf("the partner got %d requests for %d webhook-ids: a call was delivered twice", total, len(byID))
	}
	for _, p := range procs {
		p.stop(b)
	}
}

// together runs do(0..n-1), benchClickers at a time, and returns the first
// error.
func together(n int, do func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range benchClickers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := do(i); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
