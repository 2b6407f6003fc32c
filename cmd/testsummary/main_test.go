package main

import (
	"os"
	"strings"
	"testing"
)

func summaryOf(t *testing.T, file string) (string, bool) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	ok := summarize(f, &out)
	return out.String(), ok
}

// testdata/tests.json is go test -json of a package with a passing test
// that logs a checked: line, a failing one with a subtest, and a skipped one.
func TestSummaryCountsAndCheckedLines(t *testing.T) {
	out, ok := summaryOf(t, "testdata/tests.json")
	if ok {
		t.Errorf("a failed test must fail the summary:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; last != "1 passed, 1 failed, 1 skipped" {
		t.Errorf("last line %q", last)
	}
	for _, want := range []string{"PASS TestA", "     3 things, 0 lost", "FAIL TestB", "boom", "SKIP TestC"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestSummaryOfABuildFailure(t *testing.T) {
	out, ok := summaryOf(t, "testdata/build.json")
	if ok || !strings.Contains(out, "undefined: undefined") || !strings.HasSuffix(out, "0 passed, 1 failed\n") {
		t.Errorf("build failure: ok=%v\n%s", ok, out)
	}
}

func TestSummaryOfNothing(t *testing.T) {
	var out strings.Builder
	if summarize(strings.NewReader(""), &out) || out.String() != "0 passed, 0 failed\n" {
		t.Errorf("no test ran: %q", out.String())
	}
}
