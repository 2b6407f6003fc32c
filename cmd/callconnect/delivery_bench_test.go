package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Loads of the delivery benchmarks.
const (
	// clickers is how many clicks are in flight at once when measuring how
	// many calls per second the service delivers: CRM users pressing
	// Ligar together, as fast as the service takes them.
	clickers = 16
	// deliveryCalls is how many calls each throughput measurement
	// delivers (and how many plain POSTs its floor makes).
	deliveryCalls = 2000
	// offeredRate is the rate of clicks, and of the floor's POSTs, at
	// which latency is measured, per second.
	offeredRate = 500
	// latencyCalls is how many clicks arrive at offeredRate (6 s), and
	// latencyFloor how many plain POSTs.
	latencyCalls = 3000
	latencyFloor = 2000
)

// BenchmarkBinaryDelivery measures how many calls per second the built
// binary delivers through its HTTP API: deliveryCalls clicks, clickers at a
// time, from the first click to the partner (on loopback) receiving the
// last call, after a warm-up. Three set-ups, each on a database of its own:
// one service process on the cluster without durability, two processes
// (the clicks alternate between them; both deliver) on the same, and one
// process on the durable cluster. The floor, in the same run: as many plain
// net/http POSTs of a call's body to the same partner, clickers at a time.
// Reported: calls/s and floor-calls/s; and what the calls cost in CPU time
// while they ran, per call: service-cpu-ms/call (the service processes),
// pg-cpu-ms/call (PostgreSQL's processes) and load-cpu-ms/call (this
// process: the clicks and the partner). The service, PostgreSQL, the
// partner and the clicks share the machine's cores: a second process adds
// workers and connections, not CPUs.
//
//	go test ./cmd/callconnect -run '^$' -bench BinaryDelivery -benchtime 1x -count 3
func BenchmarkBinaryDelivery(b *testing.B) {
	for _, set := range []struct {
		cluster   string
		processes int
	}{{nonDurable, 1}, {nonDurable, 2}, {durable, 1}} {
		b.Run(fmt.Sprintf("%s/processes=%d", set.cluster, set.processes), func(b *testing.B) {
			benchDelivery(b, set.cluster, set.processes)
		})
	}
}

func benchDelivery(b *testing.B, cluster string, processes int) {
	db := benchDatabase(b, clusterURL(b, cluster))
	partner := newBenchPartner(b)
	c := benchHTTP(b)
	procs := make([]api, processes)
	for i := range procs {
		// One at a time: the first migrates the empty database.
		procs[i] = api{p: benchService(b, db), c: c}
	}
	warm := 100 * processes
	procs[0].setUp(b, partner.url(), warm+deliveryCalls) // a lead per click
	for i := range procs {
		procs[i].leads = procs[0].leads
	}
	click := func(i int) error { _, err := procs[i%processes].click(); return err }
	services := make([]*process, processes)
	for i, p := range procs {
		services[i] = p.p
	}
	cpu := newCPUMeter(b, benchPool(b, db), services...)

	// Warm-up: connections, prepared statements, every process's workers.
	if err := together(warm, clickers, click); err != nil {
		b.Fatal(err)
	}
	partner.await(b, warm, time.Minute)
	floor := partner.floorPoster(c, partner.callBody(b))

	b.ResetTimer()
	before := partner.count()
	start := time.Now()
	if err := together(deliveryCalls, clickers, floor); err != nil {
		b.Fatal(err)
	}
	floorRate := float64(deliveryCalls) / partner.await(b, before+deliveryCalls, time.Minute).Sub(start).Seconds()

	before = partner.count()
	cpuStart := cpu.read()
	start = time.Now()
	if err := together(deliveryCalls, clickers, click); err != nil {
		b.Fatal(err)
	}
	rate := float64(deliveryCalls) / partner.await(b, before+deliveryCalls, 5*time.Minute).Sub(start).Seconds()
	cpuEnd := cpu.read()
	b.StopTimer()
	b.ReportMetric(rate, "calls/s")
	b.ReportMetric(floorRate, "floor-calls/s")
	cpu.report(b, cpuStart, cpuEnd, deliveryCalls, "call")
	for _, p := range procs {
		p.p.stop(b)
	}
}

// BenchmarkBinaryClickLatency measures the time from a click sent to the
// built binary's HTTP API to the partner receiving the call, with clicks
// arriving at offeredRate per second whatever the service's progress (an
// open loop: a slow service builds a queue, which the latency shows), for
// latencyCalls clicks; next to it, in the same run, the floor: plain
// net/http POSTs of a call's body to the same partner at the same rate,
// from sending to the partner receiving them. One process, the cluster
// without durability. Reported: p50-ms and p99-ms, floor-p50-ms and
// floor-p99-ms, offered/s (the rate the clicks were sent at, which the
// sender may fall short of on a busy machine); and the service process's
// resident memory: rss-idle-MiB after start-up and a warm-up, rss-load-MiB
// the largest sampled (every 50 ms) while the clicks arrive.
//
//	go test ./cmd/callconnect -run '^$' -bench BinaryClickLatency -benchtime 1x -count 3
func BenchmarkBinaryClickLatency(b *testing.B) {
	db := benchDatabase(b, clusterURL(b, nonDurable))
	partner := newBenchPartner(b)
	c := benchHTTP(b)
	svc := api{p: benchService(b, db), c: c}
	svc.setUp(b, partner.url(), 200+latencyCalls) // a lead per click
	if err := together(200, clickers, func(int) error { _, err := svc.click(); return err }); err != nil {
		b.Fatal(err)
	}
	partner.await(b, 200, time.Minute)
	idle, _ := memory(b, svc.p.cmd.Process.Pid)

	b.ResetTimer()
	// The floor: one-way, from sending to the partner's handler.
	body := partner.callBody(b)
	var mu sync.Mutex
	floorSent := make(map[string]time.Time, latencyFloor)
	before := partner.count()
	if _, err := paced(latencyFloor, offeredRate, 1000, func(i int) error {
		hook := fmt.Sprintf("floor-latency-%d", i)
		mu.Lock()
		floorSent[hook] = time.Now()
		mu.Unlock()
		_, _, err := request(c, "POST", partner.url(), body, "webhook-id", hook)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	partner.await(b, before+latencyFloor, time.Minute)

	sent := make(map[string]time.Time, latencyCalls)
	before = partner.count()
	rss := sampleRSS(svc.p.cmd.Process.Pid)
	offered, err := paced(latencyCalls, offeredRate, 1000, func(int) error {
		at := time.Now()
		id, err := svc.click()
		if err == nil {
			mu.Lock()
			sent[id] = at
			mu.Unlock()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	partner.await(b, before+latencyCalls, 5*time.Minute)
	loaded := rss.max()
	b.StopTimer()

	partner.mu.Lock()
	var lat, floor []time.Duration
	for id, at := range sent {
		arrived, ok := partner.byCall[id]
		if !ok {
			partner.mu.Unlock()
			b.Fatalf("call %s never reached the partner", id)
		}
		lat = append(lat, arrived.Sub(at))
	}
	for hook, at := range floorSent {
		floor = append(floor, partner.byWebhook[hook].Sub(at))
	}
	partner.mu.Unlock()
	b.ReportMetric(ms(percentile(lat, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 99)), "p99-ms")
	b.ReportMetric(ms(percentile(floor, 50)), "floor-p50-ms")
	b.ReportMetric(ms(percentile(floor, 99)), "floor-p99-ms")
	b.ReportMetric(offered, "offered/s")
	b.ReportMetric(float64(idle)/mib, "rss-idle-MiB")
	b.ReportMetric(float64(loaded)/mib, "rss-load-MiB")
	svc.p.stop(b)
}

// BenchmarkBinaryRoundTrips counts the SQL round trips per delivered call,
// the click and its delivery, on the wire between the built binary and
// PostgreSQL (wireCounter: a flight of the client's bytes that had to wait
// for the server's answer; statements pipelined in one flight count once).
// One process on the cluster without durability delivers deliveryCalls/2
// calls, clicked clickers at a time, after a warm-up that prepares every
// pooled connection's statements; the count runs from the first click
// until every call is delivered and every job finished, and includes
// whatever the process does meanwhile in the background (River's fetch
// polls, leadership, maintenance). Reported: roundtrips/call,
// statements/call (Query and Execute messages), and the background alone,
// idle-roundtrips/s, counted over 2 s without clicks.
//
//	go test ./cmd/callconnect -run '^$' -bench BinaryRoundTrips -benchtime 1x -count 3
func BenchmarkBinaryRoundTrips(b *testing.B) {
	db := benchDatabase(b, clusterURL(b, nonDurable))
	pool := benchPool(b, db)
	wire, viaWire := newWireCounter(b, db)
	partner := newBenchPartner(b)
	c := benchHTTP(b)
	svc := api{p: benchService(b, viaWire), c: c}
	const warm, calls = 400, deliveryCalls / 2
	svc.setUp(b, partner.url(), warm+calls) // a lead per click
	click := func(int) error { _, err := svc.click(); return err }
	if err := together(warm, clickers, click); err != nil {
		b.Fatal(err)
	}
	partner.await(b, warm, time.Minute)
	waitSQL(b, pool, time.Minute, "calls not delivered", callsNotDelivered, 0)
	waitSQL(b, pool, time.Minute, "jobs not finished", jobsNotFinished, 0)

	b.ResetTimer()
	wire.reset()
	idleStart := time.Now()
	time.Sleep(2 * time.Second) // shapes load: a fixed idle span, whose background round trips are counted
	idleTrips, _ := wire.reset()
	idleRate := float64(idleTrips) / time.Since(idleStart).Seconds()

	before := partner.count()
	if err := together(calls, clickers, click); err != nil {
		b.Fatal(err)
	}
	partner.await(b, before+calls, 5*time.Minute)
	waitSQL(b, pool, time.Minute, "calls not delivered", callsNotDelivered, 0)
	waitSQL(b, pool, time.Minute, "jobs not finished", jobsNotFinished, 0)
	trips, statements := wire.reset()
	b.StopTimer()
	b.ReportMetric(float64(trips)/calls, "roundtrips/call")
	b.ReportMetric(float64(statements)/calls, "statements/call")
	b.ReportMetric(idleRate, "idle-roundtrips/s")
	svc.p.stop(b)
}

// BenchmarkBinaryAPIRoundTrips counts, on the wire as BenchmarkBinaryRoundTrips
// does, the SQL round trips of requests to an API-only replica of the
// built binary (CALLCONNECT_DELIVERY_WORKERS=0: no delivery runs beside
// them): the call buttons of a 500-lead batch (batch500-roundtrips, the
// mean of 10 batches) and of a one-lead batch (batch1-roundtrips), and a
// click alone (click-roundtrips, the mean of 100 clicks), each after
// warming every statement up. statements are counted too.
//
//	go test ./cmd/callconnect -run '^$' -bench BinaryAPIRoundTrips -benchtime 1x -count 3
func BenchmarkBinaryAPIRoundTrips(b *testing.B) {
	db := benchDatabase(b, clusterURL(b, nonDurable))
	wire, viaWire := newWireCounter(b, db)
	c := benchHTTP(b)
	svc := api{p: benchService(b, viaWire, "CALLCONNECT_DELIVERY_WORKERS=0"), c: c}
	const leads = 500
	svc.setUp(b, "http://127.0.0.1:9/calls", leads) // nothing is delivered
	ids := make([]string, leads)
	for i := range ids {
		ids[i] = fmt.Sprintf("%q", fmt.Sprintf("l%d", i))
	}
	batch := func(n int) func() {
		body := `{"user_id":"c1","lead_ids":[` + strings.Join(ids[:n], ",") + `]}`
		return func() {
			got := svc.call(b, 200, "POST", "/v1/environments/acme/call-buttons", body)
			if enabled := strings.Count(string(got), `"enabled":true`); enabled != n {
				b.Fatalf("a batch of %d leads came back with %d enabled buttons: %.300s", n, enabled, got)
			}
		}
	}
	click := func() {
		if _, err := svc.click(); err != nil {
			b.Fatal(err)
		}
	}
	// Sequential requests reuse the pool's most recently used connection,
	// whose statements the warm-up prepared.
	count := func(times int, do func()) (trips, statements float64) {
		for range 3 {
			do()
		}
		wire.reset()
		for range times {
			do()
		}
		t, s := wire.reset()
		return float64(t) / float64(times), float64(s) / float64(times)
	}
	b.ResetTimer()
	t500, s500 := count(10, batch(leads))
	t1, s1 := count(10, batch(1))
	tc, sc := count(100, click)
	b.StopTimer()
	b.ReportMetric(t500, "batch500-roundtrips")
	b.ReportMetric(s500, "batch500-statements")
	b.ReportMetric(t1, "batch1-roundtrips")
	b.ReportMetric(s1, "batch1-statements")
	b.ReportMetric(tc, "click-roundtrips")
	b.ReportMetric(sc, "click-statements")
	svc.p.stop(b)
}

// BenchmarkBinaryDatabaseBytes measures what the database grows by per
// call through the built binary: a click, its delivery and the partner's
// result callback (status realizada, a description, no recording), for
// dbCalls calls on a fresh database, table by table (with indexes and
// TOAST; the partitions of exchanges with it), from before the first
// click to after the last result, once every job has finished. Reported in
// bytes per call, per group: calls-B/call (calls), jobs-B/call (River's
// tables), monitor-B/call (exchanges), history-B/call (interactions,
// recordings), events-B/call (the CRM's event feed and its deliveries),
// other-B/call (any other table: the callbacks' idempotency keys, ...), and
// total-B/call; and delivered-B/call, the total before the results came.
// A thousand calls fill whole pages many times over, so the per-call
// figures scale to a million calls (cmd/benchreport does).
//
//	go test ./cmd/callconnect -run '^$' -bench BinaryDatabaseBytes -benchtime 1x -count 3
func BenchmarkBinaryDatabaseBytes(b *testing.B) {
	const dbCalls = 1000
	db := benchDatabase(b, clusterURL(b, nonDurable))
	pool := benchPool(b, db)
	partner := newBenchPartner(b)
	c := benchHTTP(b)
	svc := api{p: benchService(b, db), c: c}
	svc.setUp(b, partner.url(), dbCalls) // a lead per click
	token := svc.partnerToken(b, "parceiro@example.com")
	waitSQL(b, pool, time.Minute, "jobs not finished", jobsNotFinished, 0)
	sizes := func() map[string]int64 { return tableGroups(b, pool) }

	b.ResetTimer()
	start := sizes()
	ids := make([]string, dbCalls)
	if err := together(dbCalls, clickers, func(i int) (err error) { ids[i], err = svc.click(); return err }); err != nil {
		b.Fatal(err)
	}
	partner.await(b, dbCalls, 5*time.Minute)
	waitSQL(b, pool, time.Minute, "calls not delivered", callsNotDelivered, 0)
	waitSQL(b, pool, time.Minute, "jobs not finished", jobsNotFinished, 0)
	delivered := sizes()
	// A partner token may have 8 callbacks in flight at once.
	if err := together(dbCalls, 8, func(i int) error {
		path := "/api/cvio/ligacoes/" + ids[i] + "/resultado"
		code, got, err := request(c, "POST", svc.url(path),
			[]byte(`{"status":"realizada","descricao":"Ligação realizada com o lead, retornar amanhã"}`),
			"EMAIL", "parceiro@example.com", "Token", token)
		if err == nil && code != 200 {
			err = fmt.Errorf("POST %s: %d %s", path, code, got)
		}
		return err
	}); err != nil {
		b.Fatal(err)
	}
	waitSQL(b, pool, time.Minute, "jobs not finished", jobsNotFinished, 0)
	done := sizes()
	b.StopTimer()
	per := func(m map[string]int64, group string) float64 { return float64(m[group]-start[group]) / dbCalls }
	for _, g := range []string{"calls", "jobs", "monitor", "history", "events", "other", "total"} {
		b.ReportMetric(per(done, g), g+"-B/call")
	}
	b.ReportMetric(per(delivered, "total"), "delivered-B/call")
	svc.p.stop(b)
}

// tableGroups returns the bytes of every table of the public schema
// (pg_total_relation_size: heap, indexes, TOAST; a partition counts with
// its partitioned table), summed by group, and their total.
func tableGroups(b *testing.B, pool *pgxpool.Pool) map[string]int64 {
	b.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT coalesce(pg_partition_root(c.oid), c.oid)::regclass::text, sum(pg_total_relation_size(c.oid))::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r'
		GROUP BY 1`)
	if err != nil {
		b.Fatal(err)
	}
	var table string
	var size int64
	out := map[string]int64{}
	if _, err := pgx.ForEachRow(rows, []any{&table, &size}, func() error {
		out[tableGroup(table)] += size
		out["total"] += size
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return out
}

// tableGroup is the group of a table in BenchmarkBinaryDatabaseBytes.
func tableGroup(table string) string {
	switch {
	case table == "calls":
		return "calls"
	case strings.HasPrefix(table, "river_"):
		return "jobs"
	case strings.HasPrefix(table, "exchanges"):
		return "monitor"
	case table == "interactions", table == "recordings":
		return "history"
	case table == "events", strings.HasPrefix(table, "event_"):
		return "events"
	}
	return "other"
}
