package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// render writes the report: the figures with their baselines and ratios,
// the failures, then every result.
func render(r output, m machine, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark report\n\n")
	fmt.Fprintf(&b, "Written by `make bench` on %s.\n\n", now.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "| machine | |\n|---|---|\n")
	fmt.Fprintf(&b, "| cores (nproc) | %d |\n| CPU | %s |\n| Go | %s |\n| OS/arch | %s |\n", m.Cores, cell(m.CPU), m.GoVersion, m.OSArch)
	if m.LoadBefore != "" {
		fmt.Fprintf(&b, "| load average (1, 5, 15 min) before the run | %s |\n| load average after the run | %s |\n", m.LoadBefore, m.LoadAfter)
	}
	b.WriteString("\n")
	b.WriteString("Each figure stands next to a baseline measured in the same run, on the same machine, " +
		"against the same PostgreSQL or partner; the ratio is the figure divided by the baseline. " +
		"The absolute numbers move with the machine and whatever else runs on it (a load average above the core count means " +
		"other work competed for the CPUs); the ratios are the result.\n\n")

	byName := map[string]result{}
	for _, res := range r.Results {
		byName[strings.TrimPrefix(res.Name, "Benchmark")] = res
	}
	b.WriteString("| figure | project | baseline | ratio | goal |\n|---|---|---|---|---|\n")
	for _, f := range figures {
		b.WriteString(row(f, byName))
	}

	if len(r.Failures) > 0 {
		b.WriteString("\n## Failures\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "- `%s`\n", f)
		}
	}

	b.WriteString("\n## Every result\n\nAs `go test -bench` printed them (ns/op of the benchmarks that do a fixed amount of work " +
		"whatever b.N is means little; their figures are the other columns).\n\n")
	b.WriteString("| package | benchmark | runs | figures |\n|---|---|---|---|\n")
	for _, res := range r.Results {
		var figs []string
		for _, mt := range res.Metrics {
			figs = append(figs, formatValue(mt.Value)+" "+mt.Unit)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s |\n", cell(res.Pkg), cell(res.Name), res.Iterations, cell(strings.Join(figs, ", ")))
	}
	return b.String()
}

// row renders one figure; one that this run did not report says so.
func row(f figure, byName map[string]result) string {
	goal := f.Goal
	if goal == "" {
		goal = "—"
	}
	res, ok := byName[f.Bench]
	number, okNumber := res.value(f.Unit)
	if !ok || !okNumber {
		return fmt.Sprintf("| %s | not reported by %s | %s | — | %s |\n", cell(f.What), f.Bench, cell(f.Baseline), cell(goal))
	}
	var base float64
	okBase := true
	if f.BaseUnit == "" {
		base = f.BaseValue
	} else {
		baseRes := res
		if f.BaseBench != "" {
			baseRes, okBase = byName[f.BaseBench]
		}
		if okBase {
			base, okBase = baseRes.value(f.BaseUnit)
		}
	}
	ratio, okRatio := math.NaN(), false
	if f.RatioUnit != "" {
		ratio, okRatio = res.value(f.RatioUnit)
	}
	if !okRatio && okBase && base != 0 {
		ratio, okRatio = number/base, true
	}
	baseCell := "not reported"
	if okBase {
		baseCell = quantity(base, f.BaseUnit)
	}
	ratioCell := "—"
	if okRatio {
		ratioCell = formatValue(ratio)
	}
	if f.Met != nil && okBase && okRatio {
		if f.Met(number, base, ratio) {
			goal += " — met"
		} else {
			goal += " — **not met**"
		}
	}
	return fmt.Sprintf("| %s | %s | %s (%s) | %s | %s |\n", cell(f.What), quantity(number, f.Unit), baseCell, cell(f.Baseline), ratioCell, cell(goal))
}

// quantity shows a value with its unit; ns/op is shown in ms.
func quantity(v float64, unit string) string {
	switch unit {
	case "ns/op":
		return formatValue(v/1e6) + " ms/op"
	case "":
		return formatValue(v)
	}
	return formatValue(v) + " " + unit
}

// formatValue keeps three significant digits, more for large numbers.
func formatValue(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// cell escapes what would break a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}
