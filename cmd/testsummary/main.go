// Command testsummary reads `go test -json` on stdin and prints, per test,
// whether it passed and the counts it checked (its log lines that start
// with "checked:"), the output of the tests that failed, and a last line
// "N passed, M failed". It exits 1 when a test, or a package's build,
// failed, or when no test ran. `make faults` pipes the fault suite into it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if !summarize(os.Stdin, os.Stdout) {
		os.Exit(1)
	}
}

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // of build-output and build-fail
	Test       string
	Output     string
	Elapsed    float64
}

type outcome struct {
	name    string
	action  string // pass, fail, skip
	elapsed float64
	checked []string
	output  []string
}

// summarize reads the events from r, writes the summary to w and reports
// whether everything passed.
func summarize(r io.Reader, w io.Writer) bool {
	t := &tally{tests: map[string]*outcome{}}
	t.read(r, w)
	return t.report(w)
}

// tally is the outcome of each test and package, by "package test" key
// ("package " for a package, "build importpath" for a build).
type tally struct {
	order []string // the keys, in the order first seen
	tests map[string]*outcome
}

// get returns e's outcome, made when e is its first event.
func (t *tally) get(e event) *outcome {
	key := e.Package + " " + e.Test
	o, ok := t.tests[key]
	if !ok {
		o = &outcome{name: e.Test}
		if e.Test == "" {
			o.name = e.Package
		}
		t.tests[key] = o
		t.order = append(t.order, key)
	}
	return o
}

// read takes the events from r; a line that is not one is written to w
// as it comes.
func (t *tally) read(r io.Reader, w io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(w, sc.Text()) // not an event: go test's own message, e.g. a build error
			continue
		}
		if strings.HasPrefix(e.Action, "build-") {
			e.Package, e.Test = "build", e.ImportPath
		}
		switch e.Action {
		case "output", "build-output":
			o := t.get(e)
			o.output = append(o.output, e.Output)
			if _, after, ok := strings.Cut(e.Output, "checked: "); ok && e.Test != "" {
				o.checked = append(o.checked, strings.TrimSpace(after))
			}
		case "pass", "fail", "skip", "build-fail":
			o := t.get(e)
			o.action, o.elapsed = strings.TrimPrefix(e.Action, "build-"), e.Elapsed
		}
	}
}

// report writes each test's outcome and the counts, and reports whether
// everything passed.
func (t *tally) report(w io.Writer) bool {
	tests := t.tests
	passed, failed, skipped := 0, 0, 0
	for _, key := range t.order {
		o := tests[key]
		isPackage := strings.HasSuffix(key, " ")
		switch {
		case o.action == "fail" && isPackage:
			// A package fails when one of its tests does; say more only when
			// none did (a build error, a panic outside a test, a timeout).
			if failedTests(tests, strings.TrimSuffix(key, " ")) == 0 && failedTests(tests, "build") == 0 {
				failed++
				fmt.Fprintf(w, "FAIL %s\n%s", o.name, strings.Join(o.output, ""))
			}
		case strings.HasPrefix(key, "build "):
			if o.action == "fail" {
				failed++
				fmt.Fprintf(w, "FAIL build of %s\n%s", o.name, strings.Join(o.output, ""))
			}
		case isPackage || strings.Contains(o.name, "/"):
			// Packages that passed, and subtests, are counted in their tests.
		case o.action == "pass":
			passed++
			fmt.Fprintf(w, "PASS %s (%.1fs)\n", o.name, o.elapsed)
			for _, c := range o.checked {
				fmt.Fprintf(w, "     %s\n", c)
			}
		case o.action == "skip":
			skipped++
			fmt.Fprintf(w, "SKIP %s\n", o.name)
		default: // fail, or no result: the run ended under it
			failed++
			fmt.Fprintf(w, "FAIL %s (%.1fs)\n%s", o.name, o.elapsed, strings.Join(o.output, ""))
		}
	}
	summary := fmt.Sprintf("%d passed, %d failed", passed, failed)
	if skipped > 0 {
		summary += fmt.Sprintf(", %d skipped", skipped)
	}
	fmt.Fprintln(w, summary)
	return failed == 0 && passed > 0
}

func failedTests(tests map[string]*outcome, pkg string) int {
	n := 0
	for key, o := range tests {
		if strings.HasPrefix(key, pkg+" ") && key != pkg+" " && o.action != "pass" && o.action != "skip" {
			n++
		}
	}
	return n
}
