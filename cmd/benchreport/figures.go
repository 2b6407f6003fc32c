package main

import (
	"fmt"
	"strconv"
	"strings"
)

// ref names one figure a benchmark reports: the benchmark's name without
// "Benchmark", the -GOMAXPROCS suffix and the "/run=N" of runs made inside
// one invocation, and the unit it reported the value with.
type ref struct{ Bench, Unit string }

// part is one figure of a row of the goals table.
type part struct {
	// Label names the figure within its row ("p50"); empty when the row
	// has one figure.
	Label string
	Value ref
	// Scale multiplies the value for display (1 when zero), Unit is the
	// unit displayed.
	Scale float64
	Unit  string
	// Base is the baseline measured in the same run, BaseLabel what it is;
	// BaseScale and BaseUnit display it. Base is empty for a constant or
	// no baseline.
	Base      ref
	BaseLabel string
	BaseScale float64
	BaseUnit  string
	// Check decides the goal on the medians (base is 0 without Base) and
	// says what it compared; nil for a figure that is reported only.
	Check func(v, base float64) (met bool, compared string)
}

// row is one row of the goals table: one of the project's goals, with its
// words (Figure, Baseline, Goal) kept as they were set.
type row struct {
	Figure, Baseline, Goal string
	Parts                  []part
	// VerdictNote, when set, is added to the verdict cell.
	VerdictNote func(r results, m machine) string
	// Note says how the row is measured and what this run shows.
	Note func(r results, m machine) string
}

// benchPlan is how make bench runs a benchmark.
type benchPlan struct {
	Benchtime string
	// Count is go test's -count; a benchmark that makes its runs itself
	// (sub-benchmarks run=1, run=2, ...) has 1.
	Count int
	// Skip, when set, says why make bench does not run it.
	Skip string
}

// runs is how many runs make each figure: the report shows their median,
// with the smallest and the largest.
const runs = 3

// plans is how make bench runs the benchmarks that need more than the
// default (the -benchtime of the doc comment's "go test ... -benchtime",
// else 1s; runs times). The benchmarks of the built binary do a fixed
// amount of work whatever b.N is (1x).
var plans = map[string]benchPlan{
	"BenchmarkPgbench":              {Benchtime: "1x", Count: runs},
	"BenchmarkBinaryDelivery":       {Benchtime: "1x", Count: runs},
	"BenchmarkBinaryClickLatency":   {Benchtime: "1x", Count: runs},
	"BenchmarkBinaryRoundTrips":     {Benchtime: "1x", Count: runs},
	"BenchmarkBinaryAPIRoundTrips":  {Benchtime: "1x", Count: runs},
	"BenchmarkBinaryDatabaseBytes":  {Benchtime: "1x", Count: runs},
	"BenchmarkBinaryTaskCallbacks":  {Benchtime: "1x", Count: runs},
	"BenchmarkBinaryRecording20MiB": {Benchtime: "1x", Count: runs},
	"BenchmarkBinaryColdStart":      {Benchtime: "1x", Count: runs},
	// Its set-up (a million exchanges) is made once for its three runs.
	"BenchmarkBinaryMonitor":   {Benchtime: "1x", Count: 1},
	"BenchmarkClickToPartner":  {Benchtime: "1000x", Count: runs},
	"BenchmarkRecording20MiB":  {Benchtime: "1x", Count: runs},
	"BenchmarkTaskCallbacks16": {Skip: "in process; BenchmarkBinaryTaskCallbacks measures the task callbacks through the built binary"},
	"BenchmarkMonitor":         {Skip: "in process; BenchmarkBinaryMonitor measures the monitor over HTTP and the purge (a million exchanges to set up: about a minute each)"},
}

// limitText shows a goal's limit as the goal writes it.
func limitText(limit float64) string { return strconv.FormatFloat(limit, 'f', -1, 64) }

func atLeast(limit float64) func(v, base float64) (bool, string) {
	return func(v, _ float64) (bool, string) {
		return v >= limit, fmt.Sprintf("%s ≥ %s", formatValue(v), limitText(limit))
	}
}

func atMost(limit float64) func(v, base float64) (bool, string) {
	return func(v, _ float64) (bool, string) {
		return v <= limit, fmt.Sprintf("%s ≤ %s", formatValue(v), limitText(limit))
	}
}

// ratioAtLeast and ratioAtMost compare value / baseline with limit; of
// names the baseline in the comparison.
func ratioAtLeast(limit float64, of string) func(v, base float64) (bool, string) {
	return func(v, base float64) (bool, string) {
		r := v / base
		return r >= limit, fmt.Sprintf("%s × %s (≥ %s)", formatValue(r), of, limitText(limit))
	}
}

func ratioAtMost(limit float64, of string) func(v, base float64) (bool, string) {
	return func(v, base float64) (bool, string) {
		r := v / base
		return r <= limit, fmt.Sprintf("%s × %s (≤ %s)", formatValue(r), of, limitText(limit))
	}
}

// overFloor checks value ≤ baseline + limit (milliseconds).
func overFloor(limit float64) func(v, base float64) (bool, string) {
	return func(v, base float64) (bool, string) {
		return v <= base+limit, fmt.Sprintf("floor + %s ms (≤ + %s)", formatValue(v-base), limitText(limit))
	}
}

// Benchmarks of the goals table.
const (
	delivery1       = "BinaryDelivery/nondurable/processes=1"
	delivery2       = "BinaryDelivery/nondurable/processes=2"
	deliveryDurable = "BinaryDelivery/durable/processes=1"
	pgbenchFast     = "Pgbench/nondurable"
	pgbenchDurable  = "Pgbench/durable"
	latency         = "BinaryClickLatency"
	roundTrips      = "BinaryRoundTrips"
	apiRoundTrips   = "BinaryAPIRoundTrips"
	callbacksFast   = "BinaryTaskCallbacks/nondurable"
	callbacksDur    = "BinaryTaskCallbacks/durable"
	recording       = "BinaryRecording20MiB"
	recordingHeap   = "Recording20MiB"
	monitor         = "BinaryMonitor"
	coldStart       = "BinaryColdStart"
	dbBytes         = "BinaryDatabaseBytes"
)

// perMillion turns bytes per call into GB per million calls.
const perMillion = 1e6 / 1e9

var goals = []row{
	{
		Figure: "delivered calls/s through the built binary's HTTP API, one process", Baseline: "plain POSTs to the same partner", Goal: "≥ 500",
		Parts: []part{{Value: ref{delivery1, "calls/s"}, Unit: "calls/s",
			Base: ref{delivery1, "floor-calls/s"}, BaseLabel: "plain POSTs", BaseUnit: "/s", Check: atLeast(500)}},
		Note: func(r results, m machine) string {
			return "BenchmarkBinaryDelivery: the binary built from this tree (`go build`), one process, a database of its own on the cluster " +
				"without durability; 2,000 clicks POSTed to its HTTP API (`POST /v1/environments/acme/leads/{lead}/calls`, a lead of its own for each click: a second click by a user on a lead whose call is still on its way is refused), 16 at a time, " +
				"after 100 warm-up clicks; timed from the first click to the partner (an HTTP server on loopback in the benchmark's process, " +
				"answering 202 at once) receiving the 2,000th call. Baseline: 2,000 plain net/http POSTs of a delivered call's body to the same " +
				"partner, 16 at a time. " + cpuCeiling(r, m, delivery1, "The ")
		},
	},
	{
		Figure:   "the same on a **durable** cluster (fsync, synchronous_commit, full_page_writes on)",
		Baseline: "pgbench TPC-B, scale 16, 16 clients, same durable cluster; and the non-durable figure",
		Goal:     "≥ 0.2 × pgbench TPS and ≥ 0.85 × the non-durable figure",
		Parts: []part{
			{Label: "vs pgbench", Value: ref{deliveryDurable, "calls/s"}, Unit: "calls/s",
				Base: ref{pgbenchDurable, "tps"}, BaseLabel: "pgbench", BaseUnit: "TPS", Check: ratioAtLeast(0.2, "pgbench")},
			{Label: "vs non-durable", Value: ref{deliveryDurable, "calls/s"}, Unit: "calls/s",
				Base: ref{delivery1, "calls/s"}, BaseLabel: "non-durable", BaseUnit: "calls/s", Check: ratioAtLeast(0.85, "non-durable")},
		},
		Note: func(r results, m machine) string {
			s := "BenchmarkBinaryDelivery as in the row above, on the durable cluster (`pgcluster start -durable`: fsync, synchronous_commit " +
				"and full_page_writes on, checked with `current_setting` before each run). BenchmarkPgbench: `pgbench -c 16 -j 2 -T 10` " +
				"(the built-in TPC-B script) on a scale-16 database of the same cluster, vacuumed by pgbench before each run. "
			d, dOK := r.median(ref{deliveryDurable, "calls/s"})
			n, nOK := r.median(ref{delivery1, "calls/s"})
			dc, dcOK := cpuPerCall(r, deliveryDurable)
			nc, ncOK := cpuPerCall(r, delivery1)
			if dOK && nOK && dcOK && ncOK {
				s += fmt.Sprintf("Without durability %s calls/s, with it %s; the CPU per call (service, PostgreSQL and the load) is %s ms "+
					"with durability and %s ms without", formatValue(n), formatValue(d), formatValue(dc), formatValue(nc))
				if d < n && dc <= nc*1.15 {
					s += ": within 15 % of the same work, so most of the time the durable cluster loses is spent waiting for its commits " +
						"to reach the disk."
				} else {
					s += "."
				}
			}
			if tx, ok := r.median(ref{pgbenchDurable, "pg-cpu-ms/tx"}); ok {
				s += fmt.Sprintf(" A pgbench transaction costs the durable cluster %s ms of CPU.", formatValue(tx))
			}
			return s
		},
	},
	{
		Figure: "click → partner p50 / p99 through the HTTP API at 500 clicks/s offered", Baseline: "plain POST to the same partner",
		Goal: "≤ floor + 20 ms / ≤ floor + 100 ms",
		Parts: []part{
			{Label: "p50", Value: ref{latency, "p50-ms"}, Unit: "ms", Base: ref{latency, "floor-p50-ms"}, BaseLabel: "floor p50", BaseUnit: "ms", Check: overFloor(20)},
			{Label: "p99", Value: ref{latency, "p99-ms"}, Unit: "ms", Base: ref{latency, "floor-p99-ms"}, BaseLabel: "floor p99", BaseUnit: "ms", Check: overFloor(100)},
		},
		Note: func(r results, m machine) string {
			s := "BenchmarkBinaryClickLatency: one process, the cluster without durability; after 200 warm-up clicks, 3,000 clicks sent at " +
				"500 a second (an open loop: each click leaves at its time whether or not the earlier ones are answered), each timed from " +
				"sending the click to the partner receiving its call. Floor: 2,000 plain POSTs of a call's body at 500 a second, from " +
				"sending to the partner receiving it."
			if o, ok := r.median(ref{latency, "offered/s"}); ok {
				s += fmt.Sprintf(" The clicks left at %s/s.", formatValue(o))
			}
			if rate, ok := r.median(ref{delivery1, "calls/s"}); ok && rate < 500 {
				s += fmt.Sprintf(" The service delivers %s calls/s flat out (first row): offered 500 a second it falls behind, a queue grows "+
					"for as long as the clicks come, and the latency is mostly the wait in it.", formatValue(rate))
			} else if ok {
				s += fmt.Sprintf(" The service delivers %s calls/s flat out (first row): 500 a second is %s %% of that, and the "+
					"slowest calls are those that wait behind others while it works at that share.", formatValue(rate), formatValue(100*500/rate))
			}
			return s
		},
	},
	{
		Figure: "SQL round trips per delivered call (click + delivery)", Baseline: "—", Goal: "≤ 4",
		Parts: []part{{Value: ref{roundTrips, "roundtrips/call"}, Unit: "round trips", Check: atMost(4)}},
		Note: func(r results, m machine) string {
			s := "Counted on the wire (BenchmarkBinaryRoundTrips): the binary's DATABASE_URL points at a relay on loopback that passes the " +
				"PostgreSQL protocol on and counts, per connection, every flight of bytes from the service that follows bytes from the " +
				"server: a round trip the service had to wait for. Statements pipelined in one flight (a pgx batch) count once; a statement " +
				"that must be prepared before it runs counts twice. 1,000 calls, 16 at a time, after 400 warm-up calls (every pooled " +
				"connection's statements prepared), counted from the first click until every call is delivered and every job finished, " +
				"with whatever the process does meanwhile in the background."
			if v, ok := r.median(ref{roundTrips, "idle-roundtrips/s"}); ok {
				s += fmt.Sprintf(" The background alone (River's fetch polls, leadership, maintenance): %s round trips/s.", formatValue(v))
			}
			if v, ok := r.median(ref{roundTrips, "statements/call"}); ok {
				s += fmt.Sprintf(" Statements sent (Query and Execute messages): %s per call.", formatValue(v))
			}
			t, tOK := r.median(ref{roundTrips, "roundtrips/call"})
			c, cOK := r.median(ref{apiRoundTrips, "click-roundtrips"})
			if tOK && cOK {
				s += fmt.Sprintf(" Of the round trips, the click alone makes %s (BenchmarkBinaryAPIRoundTrips, an API-only replica, "+
					"one click at a time), so the delivery's share is about %s per call.", formatValue(c), formatValue(t-c))
			}
			return s
		},
	},
	{
		Figure: "two processes against one", Baseline: "one process, same run",
		Goal: "≥ 1.6×",
		Parts: []part{{Value: ref{delivery2, "calls/s"}, Unit: "calls/s", Base: ref{delivery1, "calls/s"}, BaseLabel: "one process", BaseUnit: "calls/s",
			Check: func(v, base float64) (bool, string) {
				return v/base >= 1.6, fmt.Sprintf("%s× (≥ 1.6×)", formatValue(v/base))
			}}},
		VerdictNote: func(r results, m machine) string {
			if m.Cores <= 2 {
				return fmt.Sprintf("measured with %d cores, which cannot show it", m.Cores)
			}
			return fmt.Sprintf("measured with %d cores", m.Cores)
		},
		Note: func(r results, m machine) string {
			s := fmt.Sprintf("BenchmarkBinaryDelivery with two processes of the binary on one database (the clicks alternate between them, "+
				"both deliver), against one process, in the same run; %d cores. ", m.Cores)
			if m.Cores <= 2 {
				s += "The two processes, PostgreSQL, the partner and the clicks all share those cores: a second process adds workers " +
					"and connections, not CPUs, so on this machine the goal cannot be shown either way; it needs a machine where " +
					"PostgreSQL and the load have cores of their own. "
			}
			return s + cpuCeiling(r, m, delivery2, "With two processes, the ")
		},
	},
	{
		Figure: "task callbacks/s, 16 partners, durable and not", Baseline: "pgbench TPC-B scale 16, same cluster", Goal: "≥ 0.4 ×",
		Parts: []part{
			{Label: "not durable", Value: ref{callbacksFast, "callbacks/s"}, Unit: "callbacks/s",
				Base: ref{pgbenchFast, "tps"}, BaseLabel: "pgbench, not durable", BaseUnit: "TPS", Check: ratioAtLeast(0.4, "pgbench")},
			{Label: "durable", Value: ref{callbacksDur, "callbacks/s"}, Unit: "callbacks/s",
				Base: ref{pgbenchDurable, "tps"}, BaseLabel: "pgbench, durable", BaseUnit: "TPS", Check: ratioAtLeast(0.4, "pgbench")},
		},
		Note: func(r results, m machine) string {
			s := "BenchmarkBinaryTaskCallbacks: 16 partners, each with its own token, its own lead (found by its phone) and its own " +
				"keep-alive connection, POST task callbacks (`/api/cvio/lead_tarefas/cadastrar`, every description distinct, so none is a " +
				"duplicate) to one process of the binary as fast as they are answered, for 5 s after 1 s of warm-up, on a database of its " +
				"own on each cluster. Baseline: BenchmarkPgbench on the same cluster (see the durable row)."
			for _, c := range []struct{ label, callbacks, pgbench string }{
				{"Without durability", callbacksFast, pgbenchFast}, {"With durability", callbacksDur, pgbenchDurable}} {
				svc, ok1 := r.median(ref{c.callbacks, "service-cpu-ms/callback"})
				pg, ok2 := r.median(ref{c.callbacks, "pg-cpu-ms/callback"})
				tx, ok3 := r.median(ref{c.pgbench, "pg-cpu-ms/tx"})
				if ok1 && ok2 && ok3 && tx > 0 {
					s += fmt.Sprintf(" %s, a callback costs PostgreSQL %s ms of CPU, %s times a pgbench transaction's %s ms, and the "+
						"service %s ms more.", c.label, formatValue(pg), formatValue(pg/tx), formatValue(tx), formatValue(svc))
				}
			}
			return s
		},
	},
	{
		Figure: "20 MiB recording ingest", Baseline: "`os.Create` + write + fsync of the same bytes",
		Goal: "time ≤ 2×; heap growth ≤ 3× the audio; peak RSS of the process",
		Parts: []part{
			{Label: "time", Value: ref{recording, "ingest-ms"}, Unit: "ms", Base: ref{recording, "write-fsync-ms"}, BaseLabel: "write + fsync",
				BaseUnit: "ms", Check: ratioAtMost(2, "write + fsync")},
			{Label: "heap growth (in process)", Value: ref{recordingHeap, "heap-growth-MiB"}, Unit: "MiB", BaseLabel: "the audio: 20 MiB",
				Check: func(v, _ float64) (bool, string) {
					return v <= 3*20, fmt.Sprintf("%s × the audio (≤ 3)", formatValue(v/20))
				}},
			{Label: "peak RSS", Value: ref{recording, "peak-rss-MiB"}, Unit: "MiB"},
		},
		Note: func(r results, m machine) string {
			s := "BenchmarkBinaryRecording20MiB: a lead callback (`POST /api/cvio/lead`) carrying a 20 MiB MP3 in base64 (about 27 MiB of " +
				"JSON) to one process of the binary, which keeps recordings in a directory, timed from the request's start to its answer; " +
				"baseline, in the same run: `os.Create`, write, fsync and close of the same 20 MiB in a sibling directory on the same " +
				"filesystem. Peak RSS: the process's VmHWM (its peak resident memory since it started) read after the request"
			if before, ok := r.median(ref{recording, "rss-before-MiB"}); ok {
				g, _ := r.median(ref{recording, "rss-growth-MiB"})
				s += fmt.Sprintf("; its resident memory was %s MiB before the request, so the request added %s MiB", formatValue(before), formatValue(g))
			}
			if t, ok := r.median(ref{recording, "post-discard-ms"}); ok {
				s += fmt.Sprintf(". The same request to a server that only reads the body takes %s ms: that much of the ingest is the "+
					"transport of 27 MiB over loopback, which the baseline does not pay", formatValue(t))
			}
			ingest, ok1 := r.median(ref{recording, "ingest-ms"})
			inProcess, ok2 := r.median(ref{recordingHeap, "ingest-ms"})
			write, ok3 := r.median(ref{recording, "write-fsync-ms"})
			if ok1 && ok2 && ok3 && ingest > 2*write {
				s += fmt.Sprintf(". In process, with no process boundary, the same ingest takes %s ms (other figures), against %s ms through "+
					"the binary: the time beyond the raw write is the service's own handling of the request (reading and decoding the "+
					"JSON and base64, storing, recording it in PostgreSQL), not the process boundary", formatValue(inProcess), formatValue(ingest))
			}
			return s + ". The heap growth is the Go heap's peak growth during the same request in process (adapters/httpapi " +
				"BenchmarkRecording20MiB, handler and PostgreSQL as in the binary), the only place the heap can be read; the built " +
				"binary's resident memory bounds it from outside."
		},
	},
	{
		Figure: "500-lead button batch", Baseline: "—", Goal: "≤ 3 SQL round trips",
		Parts: []part{{Value: ref{apiRoundTrips, "batch500-roundtrips"}, Unit: "round trips", Check: atMost(3)}},
		Note: func(r results, m machine) string {
			s := "BenchmarkBinaryAPIRoundTrips: `POST /v1/environments/acme/call-buttons` with 500 lead ids to an API-only replica of the " +
				"binary (CALLCONNECT_DELIVERY_WORKERS=0, so no delivery runs beside it), its round trips counted on the wire as in the " +
				"round-trip row; the mean of 10 batches after 3 warm-up ones."
			if v, ok := r.median(ref{apiRoundTrips, "batch1-roundtrips"}); ok {
				s += fmt.Sprintf(" A one-lead batch makes %s: the count does not grow with the batch, it is the fixed cost of one request.", formatValue(v))
			}
			if v, ok := r.median(ref{apiRoundTrips, "batch500-statements"}); ok {
				s += fmt.Sprintf(" Statements sent: %s per batch.", formatValue(v))
			}
			return s
		},
	},
	{
		Figure: "monitor first page p99 over HTTP at 1M exchanges, while exchanges are being written", Baseline: "—", Goal: "≤ 50 ms",
		Parts: []part{
			{Label: "first page", Value: ref{monitor, "first-page-p99-ms"}, Unit: "ms", Check: atMost(50)},
			{Label: "filtered (out, 5xx)", Value: ref{monitor, "filtered-page-p99-ms"}, Unit: "ms", Check: atMost(50)},
		},
		Note: func(r results, m machine) string {
			s := "BenchmarkBinaryMonitor: 1,000,000 exchanges over 30 days (made by SQL into the day partitions, a tenth of them another " +
				"environment's), one process of the binary; each run reads `GET /v1/environments/acme/monitor/exchanges` 200 times " +
				"unfiltered and 200 times with `direction=out&status=5xx`, one after the other, while clicks arrive at 100 a second through " +
				"the API and each delivery writes an exchange"
			if v, ok := r.median(ref{monitor, "writes/s"}); ok {
				s += fmt.Sprintf(" (%s clicks/s reached)", formatValue(v))
			}
			s += ". The three runs share the set-up."
			p1, ok1 := r.median(ref{monitor, "first-page-p50-ms"})
			p2, ok2 := r.median(ref{monitor, "filtered-page-p50-ms"})
			q1, ok3 := r.median(ref{monitor, "first-page-p99-ms"})
			q2, ok4 := r.median(ref{monitor, "filtered-page-p99-ms"})
			if ok1 && ok2 && ok3 && ok4 {
				s += fmt.Sprintf(" The medians: %s ms unfiltered, %s ms filtered", formatValue(p1), formatValue(p2))
				if max(q1, q2) > 50 && max(p1, p2) < 25 {
					s += fmt.Sprintf("; the p99s are %s and %s times the medians: a tail of slow reads, not slow pages throughout",
						formatValue(q1/p1), formatValue(q2/p2))
					if busy(m.LoadBefore, m.Cores) || busy(m.LoadAfter, m.Cores) {
						s += ", on a machine whose cores other work shared during the run (load average above the core count)"
					}
				}
				s += "."
			}
			return s
		},
	},
	{
		Figure: "purge of a 100k-row day", Baseline: "DELETE of the same rows; DELETE + VACUUM",
		Goal: "the part that blocks anyone ≤ 1 %; the whole purge with the drop ≤ 10 % of DELETE + VACUUM",
		Parts: []part{
			{Label: "the part that blocks anyone (the detach)", Value: ref{monitor, "purge-ms"}, Unit: "ms",
				Base: ref{monitor, "delete-ms"}, BaseLabel: "DELETE", BaseUnit: "ms", Check: ratioAtMost(0.01, "DELETE")},
			{Label: "the whole purge (detach + drop)", Value: ref{monitor, "purge+drop-ms"}, Unit: "ms",
				Base: ref{monitor, "delete+vacuum-ms"}, BaseLabel: "DELETE + VACUUM", BaseUnit: "ms", Check: ratioAtMost(0.10, "DELETE + VACUUM")},
		},
		Note: func(r results, m machine) string {
			s := "BenchmarkBinaryMonitor, each run purging one day of 100,000 exchanges by the retention's own code (adapters/postgres " +
				"DetachExchangeDays, then DropDetachedExchangeDays) while the clicks go on; beside it, the DELETE of the same rows from a " +
				"plain table holding the same 1.3 million rows (the monitor's table before partitioning, whose indexes do not serve a " +
				"DELETE by time), and the VACUUM that makes their space reusable. The part that blocks anyone is timed as the whole " +
				"DETACH PARTITION ... CONCURRENTLY, the only step that holds a lock on the monitor's table (SHARE UPDATE EXCLUSIVE, which " +
				"holds up DDL on it, such as attaching a new day, and no read or write); the time includes its wait, holding no lock, for " +
				"older transactions to end, so it is an upper bound. The drop locks only the detached table, which no one uses."
			during, dOK := r.median(ref{monitor, "purge-read-max-ms"})
			p50, pOK := r.median(ref{monitor, "read-p50-ms"})
			outside, oOK := r.median(ref{monitor, "read-max-outside-ms"})
			if dOK && pOK && oOK {
				s += fmt.Sprintf(" A reader looping on the first page over HTTP meanwhile: slowest page during the purge %s ms; in the "+
					"second before and after it, median %s ms and slowest %s ms.", formatValue(during), formatValue(p50), formatValue(outside))
				if during <= outside {
					s += " The purge held the reader up no more than the rest of the machine's work did: what this row counts as " +
						"blocking is the detach's whole time, not a wait anyone saw."
				}
			}
			return s
		},
	},
	{
		Figure: "memory", Baseline: "—", Goal: "RSS idle and at 500 calls/s",
		Parts: []part{
			{Label: "idle", Value: ref{latency, "rss-idle-MiB"}, Unit: "MiB"},
			{Label: "at 500 clicks/s", Value: ref{latency, "rss-load-MiB"}, Unit: "MiB"},
		},
		Note: func(r results, m machine) string {
			return "The service process's VmRSS in BenchmarkBinaryClickLatency: idle, after start-up and 200 warm-up calls; under load, " +
				"the largest of samples taken every 50 ms while clicks arrive at 500 a second (the rate offered, not the rate delivered: " +
				"see the latency row)."
		},
	},
	{
		Figure: "cold start to `/readyz` 200, empty database (migrations included)", Baseline: "—", Goal: "report",
		Parts: []part{{Value: ref{coldStart, "readyz-ms"}, Unit: "ms"}},
		Note: func(r results, m machine) string {
			return "BenchmarkBinaryColdStart: from starting the built binary on an empty database (it migrates it) to the first 200 of " +
				"`GET /readyz`, polled every 2 ms."
		},
	},
	{
		Figure: "database bytes per 1M delivered calls (calls, jobs, monitor, history)", Baseline: "—", Goal: "report, and what keeps it bounded",
		Parts: []part{
			{Label: "calls", Value: ref{dbBytes, "calls-B/call"}, Scale: perMillion, Unit: "GB"},
			{Label: "jobs", Value: ref{dbBytes, "jobs-B/call"}, Scale: perMillion, Unit: "GB"},
			{Label: "monitor", Value: ref{dbBytes, "monitor-B/call"}, Scale: perMillion, Unit: "GB"},
			{Label: "history", Value: ref{dbBytes, "history-B/call"}, Scale: perMillion, Unit: "GB"},
			{Label: "events", Value: ref{dbBytes, "events-B/call"}, Scale: perMillion, Unit: "GB"},
			{Label: "other", Value: ref{dbBytes, "other-B/call"}, Scale: perMillion, Unit: "GB"},
			{Label: "total", Value: ref{dbBytes, "total-B/call"}, Scale: perMillion, Unit: "GB"},
		},
		Note: dbBytesNote,
	},
}

// cpuCeiling says what the delivery benchmark's calls cost in CPU, the
// rate that caps on this machine's cores, and the share of those cores the
// run's processes used.
func cpuCeiling(r results, m machine, bench, prefix string) string {
	total, ok := cpuPerCall(r, bench)
	rate, rateOK := r.median(ref{bench, "calls/s"})
	if !ok || !rateOK || total <= 0 || m.Cores <= 0 {
		return ""
	}
	svc, _ := r.median(ref{bench, "service-cpu-ms/call"})
	pg, _ := r.median(ref{bench, "pg-cpu-ms/call"})
	load, _ := r.median(ref{bench, "load-cpu-ms/call"})
	ceiling := float64(m.Cores) * 1000 / total
	s := fmt.Sprintf("%sCPU per delivered call while the calls ran: the service %s ms, PostgreSQL %s ms, the clicks and the partner %s ms, "+
		"%s ms in all; %d cores can do at most %s calls/s of that (500 calls/s on them needs at most %s ms a call), and the run reached "+
		"%s, using %s %% of the cores. ",
		prefix, formatValue(svc), formatValue(pg), formatValue(load), formatValue(total), m.Cores, formatValue(ceiling),
		formatValue(float64(m.Cores)*1000/500), formatValue(rate), formatValue(100*rate/ceiling))
	if rate/ceiling >= 0.8 {
		return s + "The rate is what the CPU the calls cost allows: it grows as that cost shrinks, or with cores."
	}
	s += "The rest of the cores' time went to waiting (commits, locks, the queue's polls)"
	if busy(m.LoadBefore, m.Cores) || busy(m.LoadAfter, m.Cores) {
		s += " or to other work on the machine, whose load average was above its core count"
	}
	return s + "."
}

// busy tells whether a "1 5 15" load average has a figure above cores.
func busy(load string, cores int) bool {
	for _, f := range strings.Fields(load) {
		if v, err := strconv.ParseFloat(f, 64); err == nil && v > float64(cores) {
			return true
		}
	}
	return false
}

// cpuPerCall is the CPU time a delivered call cost, all processes together.
func cpuPerCall(r results, bench string) (float64, bool) {
	var total float64
	for _, unit := range []string{"service-cpu-ms/call", "pg-cpu-ms/call", "load-cpu-ms/call"} {
		v, ok := r.median(ref{bench, unit})
		if !ok {
			return 0, false
		}
		total += v
	}
	return total, true
}

func dbBytesNote(r results, m machine) string {
	s := "BenchmarkBinaryDatabaseBytes: 1,000 calls through one process of the binary on a fresh database, each clicked, delivered and " +
		"answered by the partner's result callback (`POST /api/cvio/ligacoes/{id}/resultado`, a description, no recording); every " +
		"table's size (heap, indexes, TOAST; the monitor's day partitions with it) before the first click and after the last result, " +
		"once every job finished, divided by 1,000 and scaled to a million calls (measured on 1,000, not on a million: pages fill alike, " +
		"and fixed costs such as empty pages are counted in, so the scaled figure leans high). Groups: calls (the calls table), jobs " +
		"(River's tables), monitor (the exchanges), history (interactions, recordings' rows), events (the CRM's event feed and its " +
		"deliveries), other (the callbacks' idempotency keys and the rest)."
	if v, ok := r.median(ref{dbBytes, "delivered-B/call"}); ok {
		s += fmt.Sprintf(" Before the results came, the delivered calls alone took %s GB per million.", formatValue(v*perMillion))
	}
	s += " What keeps it bounded: the monitor drops whole days past CALLCONNECT_MONITOR_RETENTION (30 days by default), so it holds " +
		"30 days of exchanges; River deletes finished delivery jobs after an hour"
	if jobs, ok := r.median(ref{dbBytes, "jobs-B/call"}); ok {
		s += fmt.Sprintf(" (at 500 calls/s that is 1.8 million jobs, about %s GB)", formatValue(jobs*1.8e6/1e9))
	}
	s += "; the event feed deletes events, and finished event deliveries, past the monitor's retention too; the callbacks' " +
		"idempotency keys expire after 24 hours. The calls and the leads' history are kept: nothing deletes them, so they grow with " +
		"every call, by the calls and history figures above per million."
	return s
}

// other is a figure of the in-process benchmarks, beside the goals: the
// service's code in the benchmark's own process, without the built
// binary's HTTP server and process boundaries.
type other struct {
	What  string
	Value ref
	// Base, when set, is the baseline of the same run, Baseline what it is.
	Base     ref
	Baseline string
}

var others = []other{
	{What: "click to partner in process (app.Calls.Place, River, the webhook client): calls/s, 16 at a time", Value: ref{"ClickToPartner", "calls/s"},
		Base: ref{"ClickToPartner", "floor-calls/s"}, Baseline: "plain net/http POSTs, 16 at a time"},
	{What: "click to partner in process: p50 at 200 clicks/s", Value: ref{"ClickToPartner", "p50-ms"},
		Base: ref{"ClickToPartner", "floor-p50-ms"}, Baseline: "plain net/http POST to the same partner"},
	{What: "click to partner in process: p99 at 200 clicks/s", Value: ref{"ClickToPartner", "p99-ms"},
		Base: ref{"ClickToPartner", "floor-p99-ms"}, Baseline: "plain net/http POST to the same partner"},
	{What: "click to partner in process: CPU per call, the benchmark's process (service, partner, clicks)", Value: ref{"ClickToPartner", "cpu-ms/call"},
		Base: ref{"ClickToPartner", "floor-cpu-ms/call"}, Baseline: "the plain POSTs' CPU per call"},
	{What: "click to partner in process: PostgreSQL's CPU per call", Value: ref{"ClickToPartner", "pg-cpu-ms/call"}},
	{What: "click to partner in process: SQL calls per call (pgx's tracer: a query, an exec or a batch each)", Value: ref{"ClickToPartner", "sql-roundtrips/call"}},
	{What: "20 MiB recording callback in process: ingest", Value: ref{"Recording20MiB", "ingest-ms"},
		Base: ref{"Recording20MiB", "write-fsync-ms"}, Baseline: "os.Create, write, fsync of the same bytes"},
	{What: "audio store Put of 20 MiB, filesystem", Value: ref{"Put20MiB/fs/store", "ns/op"},
		Base: ref{"Put20MiB/fs/baseline-fsync", "ns/op"}, Baseline: "os.Create, write, fsync"},
	{What: "audio store Put of 20 MiB, S3", Value: ref{"Put20MiB/s3/store", "ns/op"},
		Base: ref{"Put20MiB/s3/baseline-putobject", "ns/op"}, Baseline: "one minio-go PutObject to the same S3 fake"},
	{What: "signed partner request (webhook client), one at a time", Value: ref{"Deliver/serial/client=webhook", "ns/op"},
		Base: ref{"Deliver/serial/client=nethttp", "ns/op"}, Baseline: "plain net/http POST, same partner"},
	{What: "signed partner request (webhook client), in parallel", Value: ref{"Deliver/parallel/client=webhook", "ns/op"},
		Base: ref{"Deliver/parallel/client=nethttp", "ns/op"}, Baseline: "plain net/http POST, same partner"},
	{What: "parse a lead callback with a 20 MiB recording", Value: ref{"LeadCallbackWithRecording", "ns/op"},
		Base: ref{"LeadCallbackBaseline", "ns/op"}, Baseline: "encoding/json + encoding/base64 of the same body"},
	{What: "call buttons, 500-lead batch in process: SQL calls (pgx's tracer)", Value: ref{"CallButtonsBatch500", "sql-roundtrips/op"},
		Base: ref{"CallButtonsBatch1", "sql-roundtrips/op"}, Baseline: "a one-lead batch"},
	{What: "8 concurrent 70 MiB callback bodies of junk JSON, in process: peak RSS (MiB)", Value: ref{"JunkCallbackBodies", "peak-rss-MiB"},
		Base: ref{"JunkCallbackBodies", "rss-before-MiB"}, Baseline: "the process's RSS before the bodies"},
}

// refs lists every benchmark a row or a figure names, for the test that
// keeps them in step with the benchmarks.
func refs() []ref {
	var out []ref
	for _, g := range goals {
		for _, p := range g.Parts {
			out = append(out, p.Value)
			if p.Base.Bench != "" {
				out = append(out, p.Base)
			}
		}
	}
	for _, o := range others {
		out = append(out, o.Value)
		if o.Base.Bench != "" {
			out = append(out, o.Base)
		}
	}
	return out
}

// topName is the benchmark function a figure's benchmark belongs to.
func topName(bench string) string {
	return "Benchmark" + strings.SplitN(bench, "/", 2)[0]
}
