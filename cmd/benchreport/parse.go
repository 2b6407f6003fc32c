package main

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// result is one line of `go test -bench` output: the benchmark's name
// (without the -GOMAXPROCS suffix), its package, how many iterations ran
// and every value-unit pair it reported.
type result struct {
	Pkg        string
	Name       string
	Iterations int64
	Metrics    []metric
}

type metric struct {
	Value float64
	Unit  string
}

// output is everything read from one or more `go test -bench` outputs.
type output struct {
	Results  []result
	CPU      string   // the "cpu:" line go test prints
	Failures []string // FAIL and panic lines, as printed
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// parse reads `go test -bench` output (several packages' outputs may follow
// each other). Lines that are not results are ignored, apart from the
// package, the CPU and failures.
func parse(r io.Reader) (output, error) {
	var out output
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimSpace(strings.TrimPrefix(line, "pkg: "))
		case strings.HasPrefix(line, "cpu: "):
			out.CPU = strings.TrimSpace(strings.TrimPrefix(line, "cpu: "))
		case strings.HasPrefix(line, "--- FAIL"), strings.HasPrefix(line, "FAIL"), strings.HasPrefix(line, "panic:"):
			out.Failures = append(out.Failures, strings.TrimSpace(line))
		case strings.HasPrefix(line, "Benchmark"):
			if res, ok := parseResult(line); ok {
				res.Pkg = pkg
				out.Results = append(out.Results, res)
			}
		}
	}
	return out, sc.Err()
}

// parseResult reads "BenchmarkName-2  	 3000	 12.5 ns/op	 3.1 p50-ms".
// A benchmark's name line without figures (printed before its sub-benchmarks,
// or before its logs) is not a result.
func parseResult(line string) (result, bool) {
	fields := strings.Fields(line)
	if len(fields) < 4 || len(fields)%2 != 0 {
		return result{}, false
	}
	n, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return result{}, false
	}
	res := result{Name: procsSuffix.ReplaceAllString(fields[0], ""), Iterations: n}
	for i := 2; i+1 < len(fields); i += 2 {
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil {
			return result{}, false
		}
		res.Metrics = append(res.Metrics, metric{Value: v, Unit: fields[i+1]})
	}
	return res, true
}
