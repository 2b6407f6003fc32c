package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func readSample(t *testing.T) output {
	t.Helper()
	f, err := os.Open("testdata/sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, err := parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// testdata/sample.txt is real output of a make bench run (go test -bench of
// every package it runs, with their logs).
func TestParseRealOutput(t *testing.T) {
	out := readSample(t)
	if out.CPU == "" || len(out.Failures) != 0 {
		t.Errorf("cpu %q, failures %v", out.CPU, out.Failures)
	}
	r := collect(out)
	// Three runs each, whether go test -count made them or the benchmark
	// itself (run=1..3, sharing a set-up).
	for _, x := range []ref{{delivery1, "calls/s"}, {pgbenchDurable, "tps"}, {monitor, "first-page-p99-ms"}, {"ClickToPartner", "p99-ms"}} {
		if n := len(r[x]); n != runs {
			t.Errorf("%v: %d runs, want %d", x, n, runs)
		}
	}
	for _, res := range out.Results {
		if res.Pkg == "" || strings.HasSuffix(res.Name, "-2") || len(res.Metrics) == 0 {
			t.Errorf("result %+v: want a package, a name without -GOMAXPROCS and figures", res)
		}
	}
}

func TestParseKeepsFailuresAndSkipsNameOnlyLines(t *testing.T) {
	out, err := parse(strings.NewReader("pkg: m/x\nBenchmarkA\nBenchmarkA/sub-8   \t 10\t 5 ns/op\n--- FAIL: BenchmarkB\nFAIL\tm/x\t1.0s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != 1 || out.Results[0].Name != "BenchmarkA/sub" || out.Results[0].Pkg != "m/x" {
		t.Errorf("results: %+v", out.Results)
	}
	if len(out.Failures) != 2 {
		t.Errorf("failures: %v", out.Failures)
	}
}

// The goals table is the project's goals: its figures, baselines and goals,
// word for word, one row each, in its order. A goal that was missed stays
// as it was set; changing one here fails this test.
func TestGoalsAreTheIssueTable(t *testing.T) {
	want := [][3]string{
		{"delivered calls/s through the built binary's HTTP API, one process", "plain POSTs to the same partner", "≥ 500"},
		{"the same on a **durable** cluster (fsync, synchronous_commit, full_page_writes on)",
			"pgbench TPC-B, scale 16, 16 clients, same durable cluster; and the non-durable figure",
			"≥ 0.2 × pgbench TPS and ≥ 0.85 × the non-durable figure"},
		{"click → partner p50 / p99 through the HTTP API at 500 clicks/s offered", "plain POST to the same partner", "≤ floor + 20 ms / ≤ floor + 100 ms"},
		{"SQL round trips per delivered call (click + delivery)", "—", "≤ 4"},
		{"two processes against one", "one process, same run", "≥ 1.6×"},
		{"task callbacks/s, 16 partners, durable and not", "pgbench TPC-B scale 16, same cluster", "≥ 0.4 ×"},
		{"20 MiB recording ingest", "`os.Create` + write + fsync of the same bytes", "time ≤ 2×; heap growth ≤ 3× the audio; peak RSS of the process"},
		{"500-lead button batch", "—", "≤ 3 SQL round trips"},
		{"monitor first page p99 over HTTP at 1M exchanges, while exchanges are being written", "—", "≤ 50 ms"},
		{"purge of a 100k-row day", "DELETE of the same rows; DELETE + VACUUM",
			"the part that blocks anyone ≤ 1 %; the whole purge with the drop ≤ 10 % of DELETE + VACUUM"},
		{"memory", "—", "RSS idle and at 500 calls/s"},
		{"cold start to `/readyz` 200, empty database (migrations included)", "—", "report"},
		{"database bytes per 1M delivered calls (calls, jobs, monitor, history)", "—", "report, and what keeps it bounded"},
	}
	if len(goals) != len(want) {
		t.Fatalf("%d goal rows, want %d", len(goals), len(want))
	}
	for i, g := range goals {
		if got := [3]string{g.Figure, g.Baseline, g.Goal}; got != want[i] {
			t.Errorf("row %d:\n got %q\nwant %q", i+1, got, want[i])
		}
	}
}

// fakeOutput is go test output with three runs of every figure the
// report names, each value v, v×0.9 and v×1.1 (median v), where values
// gives v; 1 otherwise.
func fakeOutput(values map[ref]float64) output {
	units := map[string][]ref{}
	var names []string
	seen := map[ref]bool{}
	// The figures the table shows, and some the notes read.
	for _, x := range append(refs(), ref{delivery1, "service-cpu-ms/call"}, ref{delivery1, "pg-cpu-ms/call"}, ref{delivery1, "load-cpu-ms/call"}) {
		if seen[x] {
			continue
		}
		seen[x] = true
		if _, ok := units[x.Bench]; !ok {
			names = append(names, x.Bench)
		}
		units[x.Bench] = append(units[x.Bench], x)
	}
	var out output
	out.CPU = "Test CPU"
	for _, name := range names {
		for run, f := range []float64{1, 0.9, 1.1} {
			res := result{Pkg: "callconnect/x", Name: "Benchmark" + name, Iterations: 1}
			if name == monitor {
				res.Name += fmt.Sprintf("/run=%d", run+1)
			}
			for _, x := range units[name] {
				v, ok := values[x]
				if !ok {
					v = 1
				}
				res.Metrics = append(res.Metrics, metric{Value: v * f, Unit: x.Unit})
			}
			out.Results = append(out.Results, res)
		}
	}
	return out
}

// cellsOf returns the cells of the report's table row that starts with
// first.
func cellsOf(t *testing.T, report, first string) []string {
	t.Helper()
	for _, line := range strings.Split(report, "\n") {
		if strings.HasPrefix(line, "| "+first+" |") {
			cells := strings.Split(strings.Trim(line, "|"), " | ")
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			return cells
		}
	}
	t.Fatalf("no row %q in\n%s", first, report)
	return nil
}

func TestRenderJudgesEveryGoalOnTheMedians(t *testing.T) {
	out := fakeOutput(map[ref]float64{
		{delivery1, "calls/s"}: 377, {delivery1, "floor-calls/s"}: 18000,
		{delivery2, "calls/s"}:       292,
		{deliveryDurable, "calls/s"}: 355, {pgbenchDurable, "tps"}: 1500, {pgbenchFast, "tps"}: 2000,
		{latency, "p50-ms"}: 12, {latency, "floor-p50-ms"}: 0.3, {latency, "p99-ms"}: 150, {latency, "floor-p99-ms"}: 0.7,
		{roundTrips, "roundtrips/call"}: 7.1,
		{callbacksFast, "callbacks/s"}:  900, {callbacksDur, "callbacks/s"}: 500,
		{recording, "ingest-ms"}: 90, {recording, "write-fsync-ms"}: 50, {recordingHeap, "heap-growth-MiB"}: 2, {recording, "peak-rss-MiB"}: 40,
		{apiRoundTrips, "batch500-roundtrips"}: 5,
		{monitor, "first-page-p99-ms"}:         5, {monitor, "filtered-page-p99-ms"}: 60,
		{monitor, "purge-ms"}: 2, {monitor, "delete-ms"}: 300, {monitor, "purge+drop-ms"}: 40, {monitor, "delete+vacuum-ms"}: 700,
		{dbBytes, "total-B/call"}:          8000,
		{delivery1, "service-cpu-ms/call"}: 2, {delivery1, "pg-cpu-ms/call"}: 2, {delivery1, "load-cpu-ms/call"}: 1,
	})
	env := environment{machine: machine{Cores: 2, CPU: "Test CPU", GoVersion: "go1.26.0", OSArch: "linux/amd64",
		LoadBefore: "0.50 0.40 0.30", LoadAfter: "1.90 1.00 0.60"},
		Took: 14 * time.Minute, Clusters: [][2]string{{"PostgreSQL, durable", "15.1; fsync on"}},
		Skipped: [][2]string{{"BenchmarkMonitor", "in process"}}, Source: "commit abc1234"}
	report := render(out, env, time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC))
	for _, want := range []string{"| cores (nproc) | 2 |", "| Go | go1.26.0 |", "2026-11-27 16:00 UTC", "the run took 14m0s",
		"| load average (1, 5, 15 min) before the run | 0.50 0.40 0.30 |", "| load average after the run | 1.90 1.00 0.60 |",
		"| PostgreSQL, durable | 15.1; fsync on |", "- BenchmarkMonitor: in process", "| code measured | commit abc1234 |"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	verdict := func(figure string) string { return cellsOf(t, report, figure)[4] }
	measured := func(figure string) string { return cellsOf(t, report, figure)[1] }

	// The median with the smallest and the largest run.
	if got := measured(goals[0].Figure); got != "377 calls/s (339–415)" {
		t.Errorf("delivered calls/s: %q", got)
	}
	for figure, want := range map[string]string{
		goals[0].Figure:  "377 ≥ 500 — **not met**",
		goals[1].Figure:  "vs pgbench: 0.237 × pgbench (≥ 0.2) — met<br>vs non-durable: 0.942 × non-durable (≥ 0.85) — met",
		goals[2].Figure:  "p50: floor + 11.7 ms (≤ + 20) — met<br>p99: floor + 149 ms (≤ + 100) — **not met**",
		goals[3].Figure:  "7.10 ≤ 4 — **not met**",
		goals[4].Figure:  "0.775× (≥ 1.6×) — **not met**<br>measured with 2 cores, which cannot show it",
		goals[5].Figure:  "not durable: 0.45 × pgbench (≥ 0.4) — met<br>durable: 0.333 × pgbench (≥ 0.4) — **not met**",
		goals[6].Figure:  "time: 1.80 × write + fsync (≤ 2) — met<br>heap growth (in process): 0.1 × the audio (≤ 3) — met",
		goals[7].Figure:  "5.00 ≤ 3 — **not met**",
		goals[8].Figure:  "first page: 5.00 ≤ 50 — met<br>filtered (out, 5xx): 60.0 ≤ 50 — **not met**",
		goals[9].Figure:  "the part that blocks anyone (the detach): 0.00667 × DELETE (≤ 0.01) — met<br>the whole purge (detach + drop): 0.0571 × DELETE + VACUUM (≤ 0.1) — met",
		goals[10].Figure: "— (reported)",
		goals[11].Figure: "— (reported)",
		goals[12].Figure: "— (reported)",
	} {
		if got := verdict(strings.ReplaceAll(figure, "|", `\|`)); got != want {
			t.Errorf("verdict of %q:\n got %q\nwant %q", figure, got, want)
		}
	}
	// Bytes per call shown per million calls.
	if got := measured(goals[12].Figure); !strings.Contains(got, "total: 8.00 GB (7.20–8.80)") {
		t.Errorf("database bytes: %q", got)
	}
	// The baselines measured in the same run are shown beside the goals' words.
	if got := cellsOf(t, report, goals[1].Figure)[2]; !strings.Contains(got, "pgbench: 1500 TPS (1350–1650)") ||
		!strings.HasPrefix(got, goals[1].Baseline) {
		t.Errorf("durable baseline: %q", got)
	}
	// Every row has its note.
	if n := regexp.MustCompile(`(?m)^\d+\. \*\*`).FindAllString(report, -1); len(n) != len(goals) {
		t.Errorf("%d notes, want %d", len(n), len(goals))
	}
	// A figure this run did not measure says so, and is not judged.
	env.Clusters = nil
	partial := render(output{Results: out.Results[:3]}, env, time.Now())
	if got := cellsOf(t, partial, goals[3].Figure); !strings.HasPrefix(got[1], "not reported by BenchmarkBinaryRoundTrips") || got[4] != "not measured" {
		t.Errorf("unmeasured row: %q", got)
	}
}

// The sample renders: every goal row once, every run listed.
func TestRenderRealOutput(t *testing.T) {
	out := readSample(t)
	report := render(out, environment{machine: machine{Cores: 2}}, time.Now())
	for _, g := range goals {
		if n := strings.Count(report, "| "+cell(g.Figure)+" |"); n != 1 {
			t.Errorf("row %q appears %d times", g.Figure, n)
		}
	}
	if strings.Contains(report, "not reported") {
		t.Errorf("a figure of the sample is not reported:\n%s", report)
	}
	if n := strings.Count(report, "| callconnect/"); n != len(out.Results) {
		t.Errorf("%d results listed, want %d", n, len(out.Results))
	}
}

// Every figure names a benchmark that exists in the module and that make
// bench runs, so a renamed benchmark does not silently leave its row
// empty; every plan names an existing benchmark.
func TestFiguresNameExistingBenchmarks(t *testing.T) {
	groups, skipped, err := discover(filepath.Join("..", ".."), nil)
	if err != nil {
		t.Fatal(err)
	}
	run, exists := map[string]bool{}, map[string]bool{}
	for _, g := range groups {
		for _, n := range g.Names {
			run[n], exists[n] = true, true
		}
	}
	for _, s := range skipped {
		exists[s[0]] = true
	}
	for _, x := range refs() {
		if !run[topName(x.Bench)] {
			t.Errorf("a figure names %s, which make bench does not run", topName(x.Bench))
		}
	}
	for name := range plans {
		if !exists[name] {
			t.Errorf("plans name %s, which does not exist", name)
		}
	}
}

func TestDiscoverGroupsByPlan(t *testing.T) {
	dir := t.TempDir()
	src := "package x\n\n// BenchmarkSlow does a fixed amount of work:\n//\n//\tgo test -bench Slow -benchtime 1x\nfunc BenchmarkSlow(b *testing.B) {}\n\n" +
		"func BenchmarkFast(b *testing.B) {}\n\nfunc BenchmarkBinaryMonitor(b *testing.B) {}\n\nfunc BenchmarkMonitor(b *testing.B) {}\n"
	if err := os.MkdirAll(filepath.Join(dir, "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p", "x_test.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	groups, skipped, err := discover(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]benchPlan{}
	for _, g := range groups {
		for _, n := range g.Names {
			got[n] = benchPlan{Benchtime: g.Benchtime, Count: g.Count}
		}
	}
	want := map[string]benchPlan{"BenchmarkSlow": {"1x", runs, ""}, "BenchmarkFast": {"1s", runs, ""}, "BenchmarkBinaryMonitor": {"1x", 1, ""}}
	for n, p := range want {
		if got[n] != p {
			t.Errorf("%s: plan %+v, want %+v (all: %v)", n, got[n], p, got)
		}
	}
	if len(skipped) != 1 || skipped[0][0] != "BenchmarkMonitor" || skipped[0][1] == "" {
		t.Errorf("skipped: %v", skipped)
	}
	only, _, err := discover(dir, regexp.MustCompile("Fast"))
	if err != nil || len(only) != 1 || len(only[0].Names) != 1 {
		t.Errorf("filtered: %+v %v", only, err)
	}
}

func TestSpread(t *testing.T) {
	r := results{{"A", "u"}: {3, 1, 2}, {"B", "u"}: {4, 1, 3, 2}}
	if m, lo, hi, n := r.spread(ref{"A", "u"}); m != 2 || lo != 1 || hi != 3 || n != 3 {
		t.Errorf("odd: %v %v %v %v", m, lo, hi, n)
	}
	if m, _, _, n := r.spread(ref{"B", "u"}); m != 2.5 || n != 4 {
		t.Errorf("even: %v %v", m, n)
	}
	if _, ok := r.median(ref{"C", "u"}); ok {
		t.Error("a figure without runs has no median")
	}
	if got := benchName("BenchmarkBinaryMonitor/run=2"); got != "BinaryMonitor" {
		t.Errorf("benchName = %q", got)
	}
}
