package main

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// results holds the values the benchmarks reported, one per run, by
// benchmark and unit.
type results map[ref][]float64

// runSuffix is the sub-benchmark a benchmark makes for each of its runs
// when it runs them itself (to share a set-up).
var runSuffix = regexp.MustCompile(`/run=\d+$`)

// benchName is a result's name as figures name it: without "Benchmark"
// and without the run.
func benchName(name string) string {
	return runSuffix.ReplaceAllString(strings.TrimPrefix(name, "Benchmark"), "")
}

func collect(out output) results {
	r := results{}
	for _, res := range out.Results {
		for _, m := range res.Metrics {
			k := ref{benchName(res.Name), m.Unit}
			r[k] = append(r[k], m.Value)
		}
	}
	return r
}

// spread returns the median, the smallest and the largest of a figure's
// runs, and how many there were.
func (r results) spread(x ref) (median, lo, hi float64, n int) {
	v := slices.Clone(r[x])
	if len(v) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(v)
	n = len(v)
	median = v[n/2]
	if n%2 == 0 {
		median = (v[n/2-1] + v[n/2]) / 2
	}
	return median, v[0], v[n-1], n
}

func (r results) median(x ref) (float64, bool) {
	m, _, _, n := r.spread(x)
	return m, n > 0
}

// environment is what the report says about where and how it ran.
type environment struct {
	machine
	Took time.Duration
	// Clusters describe the PostgreSQL clusters, each a label and a
	// description.
	Clusters [][2]string
	// Skipped lists the benchmarks make bench does not run, and why.
	Skipped [][2]string
	// Source names the code measured: its commit; empty when unknown.
	Source string
}

// render writes the report: the goals table with its notes, the other
// figures, the failures, then every result.
func render(out output, env environment, now time.Time) string {
	r := collect(out)
	var b strings.Builder
	renderHeader(&b, env, now)
	renderGoals(&b, r, env.machine)
	renderOthers(&b, r)
	renderSkippedAndFailures(&b, env.Skipped, out.Failures)
	renderResults(&b, out)
	return b.String()
}

// renderHeader writes the title, the machine and how to read the figures.
func renderHeader(b *strings.Builder, env environment, now time.Time) {
	m := env.machine
	fmt.Fprintf(b, "# Benchmark report\n\n")
	fmt.Fprintf(b, "Written by `make bench` on %s", now.Format("2006-01-02 15:04 MST"))
	if env.Took > 0 {
		fmt.Fprintf(b, "; the run took %s", env.Took.Round(time.Second))
	}
	b.WriteString(".\n\n| machine | |\n|---|---|\n")
	fmt.Fprintf(b, "| cores (nproc) | %d |\n| CPU | %s |\n", m.Cores, cell(m.CPU))
	if m.Memory != "" {
		fmt.Fprintf(b, "| memory | %s |\n", m.Memory)
	}
	fmt.Fprintf(b, "| Go | %s |\n| OS/arch | %s |\n", m.GoVersion, m.OSArch)
	if m.LoadBefore != "" {
		fmt.Fprintf(b, "| load average (1, 5, 15 min) before the run | %s |\n| load average after the run | %s |\n", m.LoadBefore, m.LoadAfter)
	}
	for _, c := range env.Clusters {
		fmt.Fprintf(b, "| %s | %s |\n", cell(c[0]), cell(c[1]))
	}
	if env.Source != "" {
		fmt.Fprintf(b, "| code measured | %s |\n", cell(env.Source))
	}
	b.WriteString("\n")
	fmt.Fprintf(b, "Each figure is the median of %d runs, with the smallest and the largest in brackets; each baseline was measured "+
		"in the same run, on the same machine, against the same PostgreSQL or partner, and a verdict compares the medians. "+
		"The service, PostgreSQL, the load and the partner share the machine's cores, and so does whatever else runs on it: a load "+
		"average above the core count means other work competed for the CPUs during the run, and the absolute figures move with it.\n\n", runs)
}

// renderGoals writes the goals table and how each row is measured.
func renderGoals(b *strings.Builder, r results, m machine) {
	b.WriteString("## The goals\n\nOne row for each row of the goals' table, with its words: the figure, its baseline and its goal " +
		"as set (without the table's notes on earlier measurements). A figure said to be of the built binary is measured through the " +
		"binary, never in process. \"report\" rows have a figure and no verdict. How each row is measured follows the table.\n\n")
	b.WriteString("| figure | measured: median (min–max) | baseline, same run | goal | verdict |\n|---|---|---|---|---|\n")
	for _, g := range goals {
		b.WriteString(goalRow(g, r, m))
	}
	b.WriteString("\n### How each row is measured, and what this run shows\n\n")
	for i, g := range goals {
		fmt.Fprintf(b, "%d. **%s**: %s\n", i+1, strings.ReplaceAll(g.Figure, "**", ""), g.Note(r, m))
	}
}

// renderOthers writes the in-process figures.
func renderOthers(b *strings.Builder, r results) {
	b.WriteString("\n## Other figures, in process\n\nBenchmarks of the service's code in the benchmark's own process " +
		"(no built binary, no process boundary); the goals above are not judged on them.\n\n")
	b.WriteString("| figure (in process) | measured: median (min–max) | baseline, same run | ratio |\n|---|---|---|---|\n")
	for _, o := range others {
		b.WriteString(otherRow(o, r))
	}
}

// renderSkippedAndFailures lists the benchmarks not run and the failures.
func renderSkippedAndFailures(b *strings.Builder, skipped [][2]string, failures []string) {
	if len(skipped) > 0 {
		b.WriteString("\n## Not run by make bench\n\n")
		for _, s := range skipped {
			fmt.Fprintf(b, "- %s: %s\n", s[0], s[1])
		}
	}
	if len(failures) > 0 {
		b.WriteString("\n## Failures\n\n")
		for _, f := range failures {
			fmt.Fprintf(b, "- `%s`\n", f)
		}
	}
}

// renderResults writes every result as go test -bench printed it.
func renderResults(b *strings.Builder, out output) {
	b.WriteString("\n## Every result\n\nAs `go test -bench` printed them, one line per run (ns/op of the benchmarks that do a " +
		"fixed amount of work whatever b.N is means little; their figures are the other columns).\n\n")
	b.WriteString("| package | benchmark | b.N | figures |\n|---|---|---|---|\n")
	for _, res := range out.Results {
		var figs []string
		for _, mt := range res.Metrics {
			figs = append(figs, formatValue(mt.Value)+" "+mt.Unit)
		}
		fmt.Fprintf(b, "| %s | %s | %d | %s |\n", cell(res.Pkg), cell(res.Name), res.Iterations, cell(strings.Join(figs, ", ")))
	}
}

// goalRow renders one row of the goals table.
func goalRow(g row, r results, m machine) string {
	var measured, baselines, verdicts []string
	baselines = append(baselines, cell(g.Baseline))
	labelled := func(label, s string) string {
		if label == "" {
			return s
		}
		return label + ": " + s
	}
	for _, p := range g.Parts {
		measured = append(measured, labelled(p.Label, figure(r, p.Value, p.Scale, p.Unit)))
		if p.Base.Bench != "" {
			baselines = append(baselines, labelled(p.BaseLabel, figure(r, p.Base, p.BaseScale, p.BaseUnit)))
		} else if p.BaseLabel != "" {
			baselines = append(baselines, p.BaseLabel)
		}
		if p.Check == nil {
			continue
		}
		v, okV := r.median(p.Value)
		base, okB := 0.0, true
		if p.Base.Bench != "" {
			base, okB = r.median(p.Base)
		}
		if !okV || !okB {
			verdicts = append(verdicts, labelled(p.Label, "not measured"))
			continue
		}
		met, compared := p.Check(v, base)
		verdict := "**not met**"
		if met {
			verdict = "met"
		}
		verdicts = append(verdicts, labelled(p.Label, cell(compared)+" — "+verdict))
	}
	if len(verdicts) == 0 {
		verdicts = append(verdicts, "— (reported)")
	}
	if g.VerdictNote != nil {
		verdicts = append(verdicts, cell(g.VerdictNote(r, m)))
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s |\n", cell(g.Figure), strings.Join(measured, "<br>"),
		strings.Join(baselines, "<br>"), cell(g.Goal), strings.Join(verdicts, "<br>"))
}

// otherRow renders one in-process figure.
func otherRow(o other, r results) string {
	base, ratio := "—", "—"
	if o.Base.Bench != "" {
		base = cell(o.Baseline) + ": " + figure(r, o.Base, 0, "")
		v, okV := r.median(o.Value)
		bv, okB := r.median(o.Base)
		if okV && okB && bv != 0 {
			ratio = formatValue(v / bv)
		}
	}
	return fmt.Sprintf("| %s | %s | %s | %s |\n", cell(o.What), figure(r, o.Value, 0, ""), base, ratio)
}

// figure shows a figure's median with its spread: "372 calls/s (355–390)".
// scale multiplies it for display (1 when zero); unit replaces the
// benchmark's unit when set.
func figure(r results, x ref, scale float64, unit string) string {
	med, lo, hi, n := r.spread(x)
	if n == 0 {
		return "not reported by Benchmark" + x.Bench
	}
	if scale == 0 {
		scale = 1
	}
	if unit == "" {
		unit = x.Unit
		if unit == "ns/op" {
			unit, scale = "ms/op", 1e-6
		}
	}
	v := formatValue(med*scale) + " " + unit
	switch {
	case n == 1:
		return v + " (1 run)"
	case n != runs:
		return fmt.Sprintf("%s (%d runs: %s–%s)", v, n, formatValue(lo*scale), formatValue(hi*scale))
	}
	return fmt.Sprintf("%s (%s–%s)", v, formatValue(lo*scale), formatValue(hi*scale))
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
