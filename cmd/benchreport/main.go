// Command benchreport runs every benchmark of the module and writes a report
// in Markdown: for each figure of the project (listed in figures.go) its
// number, the baseline measured in the same run and their ratio, with the
// machine's core count, CPU, Go version and the date; then every result as
// go test printed it. `make bench` runs it against a throw-away PostgreSQL.
//
// Usage:
//
//	benchreport [-o bench/REPORT.md] [-bench REGEXP] [-in FILE]
//
// Without -in it finds the benchmarks (func BenchmarkX(b *testing.B) in the
// module's _test.go files), runs them package by package with one go test
// per -benchtime (see benchtimes), echoes go test's output on stderr, and
// writes the report to -o and to stdout. With -in it reads go test -bench
// output from FILE ("-" for stdin) instead of running anything.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		}
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "bench/REPORT.md", "where to write the report")
	filter := fs.String("bench", "", "run only the benchmarks (top-level names) matching this regular expression")
	in := fs.String("in", "", "read go test -bench output from this file (- for stdin) instead of running the benchmarks")
	timeout := fs.Duration("timeout", 10*time.Minute, "go test -timeout of each package's run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var raw []byte
	var runErr error
	var load [2]string // the machine's load average before and after the run
	switch *in {
	case "":
		var only *regexp.Regexp
		if *filter != "" {
			var err error
			if only, err = regexp.Compile(*filter); err != nil {
				return fmt.Errorf("-bench: %w", err)
			}
		}
		groups, err := discover(".", only)
		if err != nil {
			return err
		}
		loadBefore := loadAverage()
		raw, runErr = runGroups(groups, *timeout, stderr)
		load = [2]string{loadBefore, loadAverage()}
	case "-":
		var err error
		if raw, err = io.ReadAll(os.Stdin); err != nil {
			return err
		}
	default:
		var err error
		if raw, err = os.ReadFile(*in); err != nil {
			return err
		}
	}
	parsed, err := parse(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	m := machineInfo(parsed.CPU)
	m.LoadBefore, m.LoadAfter = load[0], load[1]
	report := render(parsed, m, time.Now().UTC())
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Fprint(stdout, report)
	if runErr != nil {
		return runErr
	}
	if len(parsed.Failures) > 0 {
		return fmt.Errorf("%d benchmark failures (listed in %s)", len(parsed.Failures), *out)
	}
	return nil
}

// group is one go test invocation: benchmarks of one package run with the
// same -benchtime.
type group struct {
	Dir       string // ./adapters/jobs
	Benchtime string
	Names     []string
}

var (
	benchFunc = regexp.MustCompile(`(?m)^func (Benchmark\w*)\(\w+ \*testing\.B\)`)
	docTime   = regexp.MustCompile(`-benchtime[ =](\S+)`)
)

// discover finds the module's benchmarks under root and groups them.
func discover(root string, only *regexp.Regexp) ([]group, error) {
	byKey := map[[2]string]*group{}
	var keys [][2]string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range benchFunc.FindAllSubmatchIndex(src, -1) {
			name := string(src[m[2]:m[3]])
			if only != nil && !only.MatchString(name) {
				continue
			}
			bt := benchtimeOf(name, docComment(src, m[0]))
			dir := "./" + filepath.ToSlash(filepath.Dir(path))
			key := [2]string{dir, bt}
			g, ok := byKey[key]
			if !ok {
				g = &group{Dir: dir, Benchtime: bt}
				byKey[key] = g
				keys = append(keys, key)
			}
			g.Names = append(g.Names, name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) })
	groups := make([]group, 0, len(keys))
	for _, k := range keys {
		g := byKey[k]
		slices.Sort(g.Names)
		groups = append(groups, *g)
	}
	return groups, nil
}

// docComment returns the // lines right above offset.
func docComment(src []byte, offset int) string {
	lines := strings.Split(string(src[:offset]), "\n")
	var doc []string
	for i := len(lines) - 2; i >= 0 && strings.HasPrefix(strings.TrimSpace(lines[i]), "//"); i-- {
		doc = append(doc, lines[i])
	}
	return strings.Join(doc, "\n")
}

func benchtimeOf(name, doc string) string {
	if bt, ok := benchtimes[name]; ok {
		return bt
	}
	if m := docTime.FindStringSubmatch(doc); m != nil {
		return strings.Trim(m[1], `'"`)
	}
	return "1s"
}

// runGroups runs each group, echoing go test's output to echo, and returns
// all of it. A failing group does not stop the others.
func runGroups(groups []group, timeout time.Duration, echo io.Writer) ([]byte, error) {
	var all bytes.Buffer
	var failed []string
	for _, g := range groups {
		args := []string{"test", "-run", "^$", "-bench", "^(" + strings.Join(g.Names, "|") + ")$",
			"-benchtime", g.Benchtime, "-timeout", timeout.String(), g.Dir}
		fmt.Fprintf(echo, "benchreport: go %s\n", strings.Join(args, " "))
		cmd := exec.Command("go", args...)
		w := io.MultiWriter(&all, echo)
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Run(); err != nil {
			failed = append(failed, g.Dir+" "+strings.Join(g.Names, ","))
		}
	}
	if len(failed) > 0 {
		return all.Bytes(), fmt.Errorf("go test failed for: %s", strings.Join(failed, "; "))
	}
	return all.Bytes(), nil
}

// machine is what the report says about where it ran.
type machine struct {
	Cores     int
	CPU       string
	GoVersion string
	OSArch    string
	// LoadBefore and LoadAfter are the 1, 5 and 15 minute load averages
	// before and after the run; empty when unknown.
	LoadBefore, LoadAfter string
}

// loadAverage returns the 1, 5 and 15 minute load averages, or "".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func machineInfo(cpuFromGoTest string) machine {
	m := machine{Cores: runtime.NumCPU(), CPU: cpuFromGoTest, GoVersion: runtime.Version(), OSArch: runtime.GOOS + "/" + runtime.GOARCH}
	if out, err := exec.Command("nproc").Output(); err == nil {
		_, _ = fmt.Sscan(string(out), &m.Cores)
	}
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
		m.GoVersion = string(bytes.TrimSpace(out))
	}
	if m.CPU == "" {
		if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
			for _, line := range strings.Split(string(info), "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
					m.CPU = strings.TrimSpace(v)
					break
				}
			}
		}
	}
	return m
}
