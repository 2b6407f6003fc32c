// Command benchreport runs every benchmark of the module and writes a report
// in Markdown: first the project's goals (figures.go: one row for each row of
// the goals' table, with its words), each figure the median of three runs
// with the smallest and the largest, beside the baseline measured in the
// same run, and a verdict; then the other figures, of benchmarks that run
// the service's code in process; then every result as go test printed it.
// The header gives the machine (cores, CPU, memory, Go), the load average
// before and after the run, and the PostgreSQL clusters with their
// durability settings. `make bench` runs it against a throw-away cluster
// without durability (CALLCONNECT_TEST_DATABASE_URL) and a durable one
// (CALLCONNECT_BENCH_DURABLE_DATABASE_URL).
//
// Usage:
//
//	benchreport [-o bench/REPORT.md] [-bench REGEXP] [-in FILE]
//
// Without -in it finds the benchmarks (func BenchmarkX(b *testing.B) in the
// module's _test.go files), runs them package by package with one go test
// per -benchtime and -count (see plans), echoes go test's output on stderr,
// and writes the report to -o and to stdout. With -in it reads go test
// -bench output from FILE ("-" for stdin) instead of running anything.
package main

import (
	"bytes"
	"cmp"
	"context"
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
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
	timeout := fs.Duration("timeout", 30*time.Minute, "go test -timeout of each package's run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := measure(*in, *filter, *timeout, stderr)
	if err != nil {
		return err
	}
	parsed, err := parse(bytes.NewReader(m.raw))
	if err != nil {
		return err
	}
	env := environment{machine: machineInfo(parsed.CPU), Took: m.took, Clusters: clusters(), Skipped: m.skipped}
	if *in == "" {
		env.Source = source()
	}
	env.LoadBefore, env.LoadAfter = m.load[0], m.load[1]
	report := render(parsed, env, time.Now().UTC())
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Fprint(stdout, report)
	if m.runErr != nil {
		return m.runErr
	}
	if len(parsed.Failures) > 0 {
		return fmt.Errorf("%d benchmark failures (listed in %s)", len(parsed.Failures), *out)
	}
	return nil
}

// measurement is go test -bench output and, when benchreport ran it, how
// the run went.
type measurement struct {
	raw     []byte
	runErr  error // the run failed; its output is reported all the same
	took    time.Duration
	load    [2]string // the machine's load average before and after the run
	skipped [][2]string
}

// measure runs the benchmarks matching filter or, with in, reads their
// output from that file (- for stdin).
func measure(in, filter string, timeout time.Duration, stderr io.Writer) (measurement, error) {
	var m measurement
	var err error
	switch in {
	case "":
		return runBenchmarks(filter, timeout, stderr)
	case "-":
		m.raw, err = io.ReadAll(os.Stdin)
	default:
		m.raw, err = os.ReadFile(in)
	}
	return m, err
}

// runBenchmarks runs the module's benchmarks matching filter, timing the
// run and noting the machine's load around it.
func runBenchmarks(filter string, timeout time.Duration, stderr io.Writer) (measurement, error) {
	var only *regexp.Regexp
	if filter != "" {
		var err error
		if only, err = regexp.Compile(filter); err != nil {
			return measurement{}, fmt.Errorf("-bench: %w", err)
		}
	}
	groups, skipped, err := discover(".", only)
	if err != nil {
		return measurement{}, err
	}
	m := measurement{skipped: skipped}
	loadBefore := loadAverage()
	start := time.Now()
	m.raw, m.runErr = runGroups(groups, timeout, stderr)
	m.took = time.Since(start)
	m.load = [2]string{loadBefore, loadAverage()}
	return m, nil
}

// group is one go test invocation: benchmarks of one package run with the
// same -benchtime and -count.
type group struct {
	Dir       string // ./adapters/jobs
	Benchtime string
	Count     int
	Names     []string
}

var (
	benchFunc = regexp.MustCompile(`(?m)^func (Benchmark\w*)\(\w+ \*testing\.B\)`)
	docTime   = regexp.MustCompile(`-benchtime[ =](\S+)`)
)

// discover finds the module's benchmarks under root and groups them; it
// returns apart the ones make bench does not run, with the reason.
func discover(root string, only *regexp.Regexp) ([]group, [][2]string, error) {
	gs := groupSet{byKey: map[groupKey]*group{}}
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
		return gs.addFile(path, only)
	})
	if err != nil {
		return nil, nil, err
	}
	return gs.groups(), gs.sortedSkipped(), nil
}

type groupKey struct {
	dir, benchtime string
	count          int
}

// groupSet gathers benchmarks into groups as discover finds them.
type groupSet struct {
	byKey   map[groupKey]*group
	keys    []groupKey // in the order found
	skipped [][2]string
}

// addFile adds the benchmarks of the test file at path matching only (nil:
// all).
func (gs *groupSet) addFile(path string, only *regexp.Regexp) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, m := range benchFunc.FindAllSubmatchIndex(src, -1) {
		name := string(src[m[2]:m[3]])
		if only != nil && !only.MatchString(name) {
			continue
		}
		p := planOf(name, docComment(src, m[0]))
		if p.Skip != "" {
			gs.skipped = append(gs.skipped, [2]string{name, p.Skip})
			continue
		}
		dir := "./" + filepath.ToSlash(filepath.Dir(path))
		k := groupKey{dir, p.Benchtime, p.Count}
		g, ok := gs.byKey[k]
		if !ok {
			g = &group{Dir: dir, Benchtime: p.Benchtime, Count: p.Count}
			gs.byKey[k] = g
			gs.keys = append(gs.keys, k)
		}
		g.Names = append(g.Names, name)
	}
	return nil
}

// groups are the groups by directory, benchtime and count, each's names
// sorted.
func (gs *groupSet) groups() []group {
	slices.SortFunc(gs.keys, func(a, b groupKey) int {
		return cmp.Or(strings.Compare(a.dir, b.dir), strings.Compare(a.benchtime, b.benchtime), a.count-b.count)
	})
	groups := make([]group, 0, len(gs.keys))
	for _, k := range gs.keys {
		g := gs.byKey[k]
		slices.Sort(g.Names)
		groups = append(groups, *g)
	}
	return groups
}

// sortedSkipped are the skipped benchmarks by name.
func (gs *groupSet) sortedSkipped() [][2]string {
	slices.SortFunc(gs.skipped, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return gs.skipped
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

// planOf is how make bench runs a benchmark: as plans says, else with the
// -benchtime its doc comment shows (as in "go test ... -benchtime 1x"),
// else for 1s, runs times.
func planOf(name, doc string) benchPlan {
	if p, ok := plans[name]; ok {
		return p
	}
	p := benchPlan{Benchtime: "1s", Count: runs}
	if m := docTime.FindStringSubmatch(doc); m != nil {
		p.Benchtime = strings.Trim(m[1], `'"`)
	}
	return p
}

// runGroups runs each group, echoing go test's output to echo, and returns
// all of it. A failing group does not stop the others.
func runGroups(groups []group, timeout time.Duration, echo io.Writer) ([]byte, error) {
	var all bytes.Buffer
	var failed []string
	for _, g := range groups {
		args := []string{"test", "-run", "^$", "-bench", "^(" + strings.Join(g.Names, "|") + ")$",
			"-benchtime", g.Benchtime, "-count", strconv.Itoa(g.Count), "-timeout", timeout.String(), g.Dir}
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
	Memory    string // MemTotal, e.g. "3.8 GiB"; empty when unknown
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
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil && m.CPU == "" {
		for _, line := range strings.Split(string(info), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if info, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(info), "\n") {
			var kb float64
			if _, err := fmt.Sscanf(line, "MemTotal: %f kB", &kb); err == nil {
				m.Memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
				break
			}
		}
	}
	return m
}

// source names the commit the benchmarks were built from, and says when
// the work tree held changes not committed yet (the benchmarks built
// those too); empty outside a git checkout.
func source() string {
	head, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	s := "commit " + strings.TrimSpace(string(head))
	status, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	if n := strings.Count(string(status), "\n"); err == nil && n > 0 {
		s += fmt.Sprintf(", with changes not committed yet in %d files, which the benchmarks built too", n)
	}
	return s
}

// clusterEnv names the clusters make bench runs the benchmarks on.
var clusterEnv = [][2]string{
	{"PostgreSQL without durability", "CALLCONNECT_TEST_DATABASE_URL"},
	{"PostgreSQL, durable", "CALLCONNECT_BENCH_DURABLE_DATABASE_URL"},
}

// clusters describes each cluster of clusterEnv that is set: its version,
// durability settings and the filesystem its data is on.
func clusters() [][2]string {
	var out [][2]string
	for _, c := range clusterEnv {
		url := os.Getenv(c[1])
		if url == "" {
			continue
		}
		out = append(out, [2]string{c[0], describeCluster(url)})
	}
	return out
}

func describeCluster(url string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "not reachable: " + err.Error()
	}
	defer conn.Close(ctx)
	settings := []string{"server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "max_connections", "data_directory"}
	got := map[string]string{}
	for _, s := range settings {
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", s).Scan(&v); err != nil {
			return "reading its settings: " + err.Error()
		}
		got[s] = v
	}
	d := fmt.Sprintf("%s; fsync %s, synchronous_commit %s, full_page_writes %s; shared_buffers %s, max_connections %s",
		got["server_version"], got["fsync"], got["synchronous_commit"], got["full_page_writes"], got["shared_buffers"], got["max_connections"])
	if fsType := filesystem(got["data_directory"]); fsType != "" {
		d += "; data on " + fsType
	}
	return d
}

// filesystem names the filesystem dir is on, when it is a known one: a
// durable cluster on tmpfs would flush to memory.
func filesystem(dir string) string {
	var st syscall.Statfs_t
	if dir == "" || syscall.Statfs(dir, &st) != nil {
		return ""
	}
	switch uint32(st.Type) {
	case 0xEF53:
		return "ext4 (or ext2/3)"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs (in memory: fsync costs nothing there)"
	case 0x794C7630:
		return "overlayfs"
	case 0x2FC12FC1:
		return "zfs"
	}
	return fmt.Sprintf("a filesystem of type 0x%x", uint32(st.Type))
}
