package main

import (
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

// testdata/sample.txt is real go test -bench output of four packages.
func TestParseRealOutput(t *testing.T) {
	out := readSample(t)
	if len(out.Results) != 13 {
		t.Fatalf("%d results, want 13: %+v", len(out.Results), out.Results)
	}
	if out.CPU != "Oxide Virtual Turin-like Processor" || len(out.Failures) != 0 {
		t.Errorf("cpu %q, failures %v", out.CPU, out.Failures)
	}
	first := out.Results[0]
	if first.Pkg != "callconnect/adapters/webhook" || first.Name != "BenchmarkDeliver/serial/client=webhook" || first.Iterations != 3391 {
		t.Errorf("first result: %+v", first)
	}
	click := out.Results[len(out.Results)-1]
	if click.Name != "BenchmarkClickToPartner" || click.Pkg != "callconnect/adapters/jobs" || click.Iterations != 300 || len(click.Metrics) != 12 {
		t.Fatalf("last result: %+v", click)
	}
	if v, ok := click.value("floor-calls/s"); !ok || v != 18863 {
		t.Errorf("floor-calls/s = %v %v", v, ok)
	}
	if v, ok := click.value("p99-ratio"); !ok || v != 16.36 {
		t.Errorf("p99-ratio = %v %v", v, ok)
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

// rowOf returns the report's table row of the figure named what.
func rowOf(t *testing.T, report, what string) []string {
	t.Helper()
	for _, line := range strings.Split(report, "\n") {
		if strings.HasPrefix(line, "| "+what+" |") {
			cells := strings.Split(strings.Trim(line, "|"), " | ")
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			return cells
		}
	}
	t.Fatalf("no row %q in\n%s", what, report)
	return nil
}

func TestRenderShowsNumberBaselineAndRatio(t *testing.T) {
	report := render(readSample(t), machine{Cores: 2, CPU: "Oxide", GoVersion: "go1.26.8", OSArch: "linux/amd64", LoadBefore: "0.50 0.40 0.30", LoadAfter: "1.90 1.00 0.60"},
		time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC))
	for _, want := range []string{"| cores (nproc) | 2 |", "| Go | go1.26.8 |", "2026-11-27 16:00 UTC", "| CPU | Oxide |", "| load average after the run | 1.90 1.00 0.60 |"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Ratios the benchmark reports itself.
	if got := rowOf(t, report, "click to partner, p50 latency"); got[1] != "13.5 p50-ms" || !strings.HasPrefix(got[2], "0.19 floor-p50-ms") ||
		got[3] != "71.0" || !strings.HasSuffix(got[4], "met") {
		t.Errorf("p50 row: %q", got)
	}
	if got := rowOf(t, report, "task callbacks/s, 16 partners"); got[1] != "598 callbacks/s" || !strings.HasPrefix(got[2], "574 pgbench-tps") ||
		got[3] != "1.04" || got[4] != "≥ 0.5 × baseline — met" {
		t.Errorf("callbacks row: %q", got)
	}
	if got := rowOf(t, report, "20 MiB recording callback, ingest time"); got[3] != "5.88" || got[4] != "≤ 2 × baseline — **not met**" {
		t.Errorf("ingest row: %q", got)
	}
	// A baseline that is another benchmark: the ratio is computed.
	if got := rowOf(t, report, "audio store Put of 20 MiB, filesystem"); got[1] != "45.6 ms/op" || !strings.HasPrefix(got[2], "25.5 ms/op") ||
		got[3] != "1.78" || !strings.HasSuffix(got[4], "— met") {
		t.Errorf("fs put row: %q", got)
	}
	// A baseline that is a constant.
	if got := rowOf(t, report, "20 MiB recording callback, heap growth (MiB)"); got[1] != "48.7 heap-growth-MiB" || !strings.HasPrefix(got[2], "20.0 (") || got[3] != "2.43" {
		t.Errorf("heap row: %q", got)
	}
	// A figure this run did not measure says so.
	if got := rowOf(t, report, "two service processes against one"); !strings.HasPrefix(got[1], "not reported") || got[3] != "—" {
		t.Errorf("missing row: %q", got)
	}
	// Every result is listed, known or not.
	if n := strings.Count(report, "| callconnect/adapters/"); n != 13 {
		t.Errorf("%d raw results listed, want 13", n)
	}
	if !strings.Contains(report, "| callconnect/adapters/audiostore | BenchmarkPut20MiB/fs/baseline-nofsync | 49 | 11501435 ns/op, 1823 MB/s, 0.000641 heap-MiB |") {
		t.Errorf("raw result missing:\n%s", report)
	}
}

// Every figure names a benchmark that exists in the module, so a renamed
// benchmark does not silently leave its row empty.
func TestFiguresNameExistingBenchmarks(t *testing.T) {
	groups, err := discover(filepath.Join("..", ".."), nil)
	if err != nil {
		t.Fatal(err)
	}
	exists := map[string]bool{}
	for _, g := range groups {
		for _, n := range g.Names {
			exists[strings.TrimPrefix(n, "Benchmark")] = true
		}
	}
	top := func(name string) string { return strings.SplitN(name, "/", 2)[0] }
	for _, f := range figures {
		for _, name := range []string{f.Bench, f.BaseBench} {
			if name != "" && !exists[top(name)] {
				t.Errorf("figure %q names Benchmark%s, which does not exist", f.What, top(name))
			}
		}
	}
}

func TestDiscoverGroupsByBenchtime(t *testing.T) {
	dir := t.TempDir()
	src := "package x\n\n// BenchmarkSlow does a fixed amount of work:\n//\n//\tgo test -bench Slow -benchtime 1x\nfunc BenchmarkSlow(b *testing.B) {}\n\n" +
		"func BenchmarkFast(b *testing.B) {}\n\nfunc BenchmarkClickToPartner(b *testing.B) {}\n"
	if err := os.MkdirAll(filepath.Join(dir, "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p", "x_test.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	groups, err := discover(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, g := range groups {
		for _, n := range g.Names {
			got[n] = g.Benchtime
		}
	}
	want := map[string]string{"BenchmarkSlow": "1x", "BenchmarkFast": "1s", "BenchmarkClickToPartner": "3000x"}
	for n, bt := range want {
		if got[n] != bt {
			t.Errorf("%s: benchtime %q, want %q (all: %v)", n, got[n], bt, got)
		}
	}
	only, err := discover(dir, regexp.MustCompile("Fast"))
	if err != nil || len(only) != 1 || len(only[0].Names) != 1 {
		t.Errorf("filtered: %+v %v", only, err)
	}
}
