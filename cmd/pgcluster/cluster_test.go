package main

import (
	"bytes"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// testDir returns a directory for a cluster. As root, the server runs as the
// postgres user, which must pass through the 0700 directories t.TempDir makes.
func testDir(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	if os.Geteuid() == 0 {
		for d := base; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
	}
	return filepath.Join(base, "pg")
}

func pgcluster(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(args, &out, &errb)
	return out.String(), errb.String(), err
}

var urlPattern = regexp.MustCompile(`^postgres://postgres@127\.0\.0\.1:(\d+)/callconnect\?sslmode=disable\n$`)

func TestStartReuseURLStop(t *testing.T) {
	dir := testDir(t)
	t.Cleanup(func() { pgcluster(t, "stop", "-dir", dir) })

	first, stderr, err := pgcluster(t, "start", "-ephemeral", "-dir", dir)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, stderr)
	}
	m := urlPattern.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("start printed %q on stdout; want only the URL", first)
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+m[1])
	if err != nil {
		t.Fatalf("the server does not accept connections on the printed port: %v", err)
	}
	conn.Close()

	again, stderr, err := pgcluster(t, "start", "-ephemeral", "-dir", dir)
	if err != nil || again != first {
		t.Fatalf("second start = %q, %v (%s); want the same URL %q", again, err, stderr, first)
	}
	if url, _, err := pgcluster(t, "url", "-dir", dir); err != nil || url != first {
		t.Fatalf("url = %q, %v; want %q", url, err, first)
	}
	other := "1"
	if m[1] == other {
		other = "2"
	}
	if _, _, err := pgcluster(t, "start", "-dir", dir, "-port", other); err == nil || !strings.Contains(err.Error(), "already running on port "+m[1]) {
		t.Fatalf("start on another port while running: err = %v; want it to name the running port", err)
	}

	if _, stderr, err := pgcluster(t, "stop", "-dir", dir); err != nil {
		t.Fatalf("stop: %v\n%s", err, stderr)
	}
	if _, _, err := pgcluster(t, "url", "-dir", dir); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("url after stop: err = %v; want 'not running'", err)
	}
	if _, _, err := pgcluster(t, "stop", "-dir", dir); err != nil {
		t.Fatalf("second stop: %v; want success", err)
	}
	// The remembered port is reused when it is still free.
	restarted, stderr, err := pgcluster(t, "start", "-ephemeral", "-dir", dir)
	if err != nil || restarted != first {
		t.Fatalf("restart = %q, %v (%s); want the remembered URL %q", restarted, err, stderr, first)
	}
}

func TestStartOnTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	dir := testDir(t)
	t.Cleanup(func() { pgcluster(t, "stop", "-dir", dir) })
	_, _, err = pgcluster(t, "start", "-ephemeral", "-dir", dir, "-port", port)
	if err == nil || !strings.Contains(err.Error(), "port "+port+" on 127.0.0.1 is already taken") {
		t.Fatalf("err = %v; want it to say the port is taken", err)
	}
}

func TestRootNeedsAnEnterableParent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the cluster to the postgres user")
	}
	dir := testDir(t)
	closed := filepath.Dir(dir)
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	_, _, err := pgcluster(t, "start", "-ephemeral", "-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "cannot enter "+closed) || !strings.Contains(err.Error(), "chmod o+x "+closed) {
		t.Fatalf("err = %v; want it to name %s and the way out", err, closed)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"launch", "-dir", "x"},
		{"start"},
		{"start", "-dir", "x", "-port", "70000"},
		{"stop", "-dir", "x", "extra"},
	} {
		if _, _, err := pgcluster(t, args...); err == nil {
			t.Errorf("pgcluster %q succeeded; want an error", args)
		}
	}
}

func TestMajorOrdering(t *testing.T) {
	if !(majorOf("/usr/lib/postgresql/15/bin") > majorOf("/usr/lib/postgresql/9.6/bin")) {
		t.Error("15 must sort above 9.6")
	}
	if majorOf("/usr/pgsql-16/bin") != 16 {
		t.Errorf("majorOf(/usr/pgsql-16/bin) = %v", majorOf("/usr/pgsql-16/bin"))
	}
}

// show reads settings of the running cluster in dir, as a client sees them.
func show(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	c, err := newCluster(dir, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	running, port, err := c.status()
	if err != nil || !running {
		t.Fatalf("the cluster in %s is not running: %v", dir, err)
	}
	got := map[string]string{}
	for _, name := range names {
		if got[name], err = c.psql(port, database, "SHOW "+name); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// -durable and -ephemeral write the durability they name at each start, so
// one directory can be restarted either way; -durable never reuses a
// running cluster that is not durable.
func TestDurableAndEphemeralSettings(t *testing.T) {
	dir := testDir(t)
	t.Cleanup(func() { pgcluster(t, "stop", "-dir", dir) })
	settings := []string{"fsync", "synchronous_commit", "full_page_writes", "max_connections"}
	all := func(v string) map[string]string {
		return map[string]string{"fsync": v, "synchronous_commit": v, "full_page_writes": v, "max_connections": "300"}
	}
	for _, step := range []struct {
		flag string
		want map[string]string
	}{{"-durable", all("on")}, {"-ephemeral", all("off")}, {"-durable", all("on")}} {
		if _, stderr, err := pgcluster(t, "start", step.flag, "-dir", dir); err != nil {
			t.Fatalf("start %s: %v\n%s", step.flag, err, stderr)
		}
		if got := show(t, dir, settings...); !maps.Equal(got, step.want) {
			t.Errorf("after start %s: %v, want %v", step.flag, got, step.want)
		}
		if _, stderr, err := pgcluster(t, "stop", "-dir", dir); err != nil {
			t.Fatalf("stop: %v\n%s", err, stderr)
		}
	}

	if _, stderr, err := pgcluster(t, "start", "-ephemeral", "-dir", dir); err != nil {
		t.Fatalf("start -ephemeral: %v\n%s", err, stderr)
	}
	_, _, err := pgcluster(t, "start", "-durable", "-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "fsync = off, not durable") {
		t.Fatalf("start -durable on a running ephemeral cluster: err = %v; want a refusal naming fsync", err)
	}
	if _, _, err := pgcluster(t, "start", "-durable", "-ephemeral", "-dir", dir); err == nil || !strings.Contains(err.Error(), "contradict") {
		t.Fatalf("start -durable -ephemeral: err = %v; want a refusal", err)
	}
}
