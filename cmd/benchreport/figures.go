package main

// figure is one line of the report: the project's number, the baseline
// measured in the same run, and their ratio. A new benchmark needs only an
// entry here (and, when it is slow or does a fixed amount of work, one in
// benchtimes); a benchmark without an entry is still listed with its raw
// figures.
type figure struct {
	What string
	// Bench and Unit name the project's number: the benchmark (its full
	// name, sub-benchmarks included, without "Benchmark" and the
	// -GOMAXPROCS suffix) and the unit it reported the value with.
	Bench, Unit string
	// The baseline: BaseUnit of BaseBench (Bench when empty), or, when
	// BaseUnit is empty, the constant BaseValue. Baseline says what it is.
	BaseBench, BaseUnit string
	BaseValue           float64
	Baseline            string
	// RatioUnit is the ratio the benchmark reports itself; when empty the
	// ratio is the number divided by the baseline.
	RatioUnit string
	// Goal says what the project aims for; Met, when set, checks it.
	Goal string
	Met  func(number, baseline, ratio float64) bool
}

// benchtimes is the -benchtime of the benchmarks that need their own: the
// ones that do a fixed amount of work whatever b.N is (1x), and the ones
// whose b.N is a number of clicks. A benchmark not listed here runs with the
// -benchtime its doc comment shows (as in "go test ... -benchtime 1x"),
// else for 1s.
var benchtimes = map[string]string{
	"BenchmarkClickToPartner":   "3000x",
	"BenchmarkTaskCallbacks16":  "1x",
	"BenchmarkRecording20MiB":   "1x",
	"BenchmarkServiceProcesses": "2000x",
	"BenchmarkMonitor":          "1x",
}

func atMost(limit float64) func(_, _, ratio float64) bool {
	return func(_, _, ratio float64) bool { return ratio <= limit }
}

func atLeast(limit float64) func(_, _, ratio float64) bool {
	return func(_, _, ratio float64) bool { return ratio >= limit }
}

var figures = []figure{
	{
		What: "monitor: filtered first page, p99 (1,000,000 exchanges over 30 days)", Bench: "Monitor", Unit: "first-page-p99-ms",
		BaseValue: 50, Baseline: "the goal, 50 ms", Goal: "≤ 50 ms", Met: func(n, _, _ float64) bool { return n <= 50 },
	},
	{
		What: "monitor: page deep in the cursor, p99", Bench: "Monitor", Unit: "deep-page-p99-ms",
		BaseValue: 50, Baseline: "the goal, 50 ms", Goal: "≤ 50 ms", Met: func(n, _, _ float64) bool { return n <= 50 },
	},
	{
		What: "monitor: a lead's first page, p99", Bench: "Monitor", Unit: "lead-page-p99-ms",
		BaseValue: 50, Baseline: "the goal, 50 ms", Goal: "≤ 50 ms", Met: func(n, _, _ float64) bool { return n <= 50 },
	},
	{
		What: "monitor: purge a day of 100,000 exchanges (detach its partition, concurrently)", Bench: "Monitor", Unit: "purge-ms",
		BaseUnit: "delete-ms", Baseline: "DELETE of the same rows from the unpartitioned table of 00002, same run", RatioUnit: "purge/delete",
		Goal: "< 0.01 × baseline", Met: func(_, _, ratio float64) bool { return ratio < 0.01 },
	},
	{
		What: "monitor: purge and free the day's space (then drop the detached table), against DELETE and the VACUUM that makes its space reusable", Bench: "Monitor", Unit: "purge+drop-ms",
		BaseUnit: "delete+vacuum-ms", Baseline: "DELETE + VACUUM of the plain table, same run", RatioUnit: "(purge+drop)/(delete+vacuum)",
	},
	{
		What: "click to partner, p50 latency", Bench: "ClickToPartner", Unit: "p50-ms",
		BaseUnit: "floor-p50-ms", Baseline: "plain net/http POST to the same partner", RatioUnit: "p50-ratio",
		Goal: "≤ baseline + 20 ms", Met: func(n, b, _ float64) bool { return n <= b+20 },
	},
	{
		What: "click to partner, p99 latency", Bench: "ClickToPartner", Unit: "p99-ms",
		BaseUnit: "floor-p99-ms", Baseline: "plain net/http POST to the same partner", RatioUnit: "p99-ratio",
		Goal: "≤ baseline + 100 ms", Met: func(n, b, _ float64) bool { return n <= b+100 },
	},
	{
		What: "click to partner, throughput (one process, 16 clicks at a time)", Bench: "ClickToPartner", Unit: "calls/s",
		BaseUnit: "floor-calls/s", Baseline: "plain net/http POSTs, 16 at a time", RatioUnit: "calls/s-ratio",
		Goal: "≥ 500 calls/s", Met: func(n, _, _ float64) bool { return n >= 500 },
	},
	{
		What: "click to partner, CPU per call (this process)", Bench: "ClickToPartner", Unit: "cpu-ms/call",
		BaseUnit: "floor-cpu-ms/call", Baseline: "the plain POSTs' CPU per call",
	},
	{
		What: "delivered calls/s through the binary, one service process", Bench: "ServiceProcesses/processes=1", Unit: "calls/s",
		BaseUnit: "floor-calls/s", Baseline: "plain net/http POSTs, same concurrency", RatioUnit: "calls/s-ratio",
	},
	{
		What: "delivered calls/s through the binary, two service processes", Bench: "ServiceProcesses/processes=2", Unit: "calls/s",
		BaseUnit: "floor-calls/s", Baseline: "plain net/http POSTs, same concurrency", RatioUnit: "calls/s-ratio",
	},
	{
		What: "two service processes against one", Bench: "ServiceProcesses/processes=2", Unit: "calls/s",
		BaseBench: "ServiceProcesses/processes=1", BaseUnit: "calls/s", Baseline: "one process, same run",
	},
	{
		What: "task callbacks/s, 16 partners", Bench: "TaskCallbacks16", Unit: "callbacks/s",
		BaseUnit: "pgbench-tps", Baseline: "pgbench TPC-B, 16 clients, same cluster", RatioUnit: "callbacks/pgbench",
		Goal: "≥ 0.5 × baseline", Met: atLeast(0.5),
	},
	{
		What: "20 MiB recording callback, ingest time", Bench: "Recording20MiB", Unit: "ingest-ms",
		BaseUnit: "store-ms", Baseline: "direct write of the same bytes to the same store", RatioUnit: "ingest/store",
		Goal: "≤ 2 × baseline", Met: atMost(2),
	},
	{
		What: "20 MiB recording callback, heap growth (MiB)", Bench: "Recording20MiB", Unit: "heap-growth-MiB",
		BaseValue: 20, Baseline: "the recording's size (20 MiB)", RatioUnit: "heap/audio",
		Goal: "≤ 3 × baseline", Met: atMost(3),
	},
	{
		What: "audio store Put of 20 MiB, filesystem", Bench: "Put20MiB/fs/store", Unit: "ns/op",
		BaseBench: "Put20MiB/fs/baseline-fsync", BaseUnit: "ns/op", Baseline: "os.Create, write, fsync",
		Goal: "≤ 2 × baseline", Met: atMost(2),
	},
	{
		What: "audio store Put of 20 MiB, S3", Bench: "Put20MiB/s3/store", Unit: "ns/op",
		BaseBench: "Put20MiB/s3/baseline-putobject", BaseUnit: "ns/op", Baseline: "one minio-go PutObject to the same S3 fake",
		Goal: "≤ 2 × baseline", Met: atMost(2),
	},
	{
		What: "signed partner request (webhook client), one at a time", Bench: "Deliver/serial/client=webhook", Unit: "ns/op",
		BaseBench: "Deliver/serial/client=nethttp", BaseUnit: "ns/op", Baseline: "plain net/http POST, same partner",
	},
	{
		What: "signed partner request (webhook client), in parallel", Bench: "Deliver/parallel/client=webhook", Unit: "ns/op",
		BaseBench: "Deliver/parallel/client=nethttp", BaseUnit: "ns/op", Baseline: "plain net/http POST, same partner",
	},
	{
		What: "parse a lead callback with a 20 MiB recording", Bench: "LeadCallbackWithRecording", Unit: "ns/op",
		BaseBench: "LeadCallbackBaseline", BaseUnit: "ns/op", Baseline: "encoding/json + encoding/base64 of the same body",
	},
	{
		What: "call buttons, 500-lead batch: SQL round trips", Bench: "CallButtonsBatch500", Unit: "sql-roundtrips/op",
		BaseBench: "CallButtonsBatch1", BaseUnit: "sql-roundtrips/op", Baseline: "a one-lead batch",
		Goal: "= baseline (round trips do not grow with the batch)", Met: atMost(1.05),
	},
	{
		What: "call buttons, 500-lead batch: time", Bench: "CallButtonsBatch500", Unit: "ns/op",
		BaseBench: "CallButtonsBatch1", BaseUnit: "ns/op", Baseline: "a one-lead batch",
	},
}
