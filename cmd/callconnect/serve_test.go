package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"callconnect/adapters/postgres/pgtest"
)

// buildBinary compiles the service once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "callconnect-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "callconnect")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// freeAddr returns a loopback address for a process to listen on, free
// when it is returned. The port is taken below the kernel's range of
// ephemeral ports: a port of that range, free now, may be given to a
// connection's local end (every connection a test opens takes one) or to
// another listener on port 0 before the process listens, which then fails
// to start (exit 1, address already in use). Below the range only those
// that ask for a port by its number can take it, and freeAddr gives each
// port once per test binary.
func freeAddr(t testing.TB) string {
	t.Helper()
	lo, hi := belowEphemeralPorts()
	for range hi - lo {
		port := lo + int(nextPort.Add(1))%(hi-lo)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // taken: the next one
		}
		addr := ln.Addr().String()
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		return addr
	}
	t.Fatalf("no free port in [%d, %d)", lo, hi)
	return ""
}

// nextPort counts the ports freeAddr has handed out, from a random start,
// so that test binaries running at once start apart.
var nextPort = func() *atomic.Int64 {
	var n atomic.Int64
	n.Store(rand.Int64N(1 << 20))
	return &n
}()

// belowEphemeralPorts is the range of ports freeAddr picks from: from 10000
// to the start of the ephemeral range (Linux's ip_local_port_range; 32768
// when it cannot be read, the smallest start of the usual defaults).
func belowEphemeralPorts() (lo, hi int) {
	lo, hi = 10000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > lo+1000 {
				hi = n
			}
		}
	}
	return lo, hi
}

type process struct {
	cmd    *exec.Cmd
	addr   string
	stderr *strings.Builder
	done   chan error
}

// testAdminToken is 32 random bytes in base64url, as strong as start-up
// requires.
const testAdminToken = "Xy2LmQ9vT4nR8kW1pZ6cJ3hB0sF7gD5aE2uN9iO4tYq"

// startService runs the real binary against databaseURL and waits until it
// prints its banner.
func startService(t testing.TB, databaseURL string, args ...string) *process {
	t.Helper()
	return startServiceEnv(t, databaseURL, nil, args...)
}

// startServiceEnv is startService with extra environment variables.
func startServiceEnv(t testing.TB, databaseURL string, extraEnv []string, args ...string) *process {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+databaseURL,
		"HTTP_ADDR="+addr,
		"CALLCONNECT_ADMIN_TOKEN="+testAdminToken,
		"CALLCONNECT_SECRETS_KEY="+base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"OTEL_TRACES_EXPORTER=", "OTEL_EXPORTER_OTLP_ENDPOINT=",
		"CALLCONNECT_RECORDINGS_DIR="+t.TempDir(),
		// A short drain keeps the tests that stop the service fast; a test
		// may set its own.
		"CALLCONNECT_SHUTDOWN_DRAIN=100ms",
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, addr: addr, stderr: &strings.Builder{}, done: make(chan error, 1)}
	cmd.Stderr = &lockedWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		err := <-p.done
		if t.Failed() {
			// Whatever failed, what the process said is in the output.
			t.Logf("service on %s (%v), the end of its stderr:\n%s", addr, err, tail(p.stderr.String(), 16<<10))
		}
	})
	banner := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var seen strings.Builder
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Console:") { // the banner's last line
				banner <- seen.String()
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { p.done <- cmd.Wait() }()
	select {
	case b := <-banner:
		if !strings.Contains(b, "http://"+addr+"/docs") || !strings.Contains(b, "http://"+addr+"/console/") {
			t.Fatalf("the banner must print the /docs and /console/ URLs:\n%s", b)
		}
	case err := <-p.done:
		p.done <- err
		t.Fatalf("service exited before serving: %v\n%s", err, p.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("service did not start within 60s\n%s", p.stderr)
	}
	return p
}

// tail is the last n bytes of s, from a line's start.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "…\n" + s
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *process) get(t testing.TB, path string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *process) stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitStopped(t)
}

// waitStopped waits for p, sent SIGTERM, to exit cleanly.
func (p *process) waitStopped(t testing.TB) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("SIGTERM must end the service cleanly, got %v\n%s", err, p.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("service did not stop within 30s of SIGTERM\n%s", p.stderr)
	}
}

func TestServeMigratesServesAndDrainsOnSIGTERM(t *testing.T) {
	pool := pgtest.NewEmptyPool(t)
	url := pool.Config().ConnString()
	p := startService(t, url)

	if code, body := p.get(t, "/healthz"); code != 200 {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := p.get(t, "/readyz"); code != 200 {
		t.Fatalf("/readyz after migrating must be ready: %d %s", code, body)
	}
	if code, body := p.get(t, "/docs"); code != 200 || strings.Contains(body, "https://") {
		t.Fatalf("/docs must be served without external assets: %d", code)
	}
	if code, _ := p.get(t, "/v1/environments/acme"); code != http.StatusUnauthorized {
		t.Fatalf("/v1 without a token: %d", code)
	}
	if code, body := p.get(t, "/v1/environments/acme", "Authorization", "Bearer "+testAdminToken); code != http.StatusNotFound ||
		!strings.Contains(body, "environment_not_found") {
		t.Fatalf("/v1 with the token: %d %s", code, body)
	}
	code, metrics := p.get(t, "/metrics")
	if code != 200 || !strings.Contains(metrics, "http_server_requests_total") {
		t.Fatalf("/metrics must expose HTTP server metrics: %d", code)
	}
	// The monitor's metrics: exchanges recorded (the store counts them) and
	// the retention job (registered with its worker); the Idempotency-Key
	// expiry's, registered with its worker too.
	for _, name := range []string{"callconnect_monitor_exchanges_total", "callconnect_monitor_retention_runs_total",
		"callconnect_monitor_partitions_dropped_total", "callconnect_idempotency_expiry_runs_total",
		"callconnect_idempotency_keys_deleted_total"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	var tables int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM information_schema.tables WHERE table_name = 'environments'`).Scan(&tables); err != nil || tables != 1 {
		t.Fatalf("serve must have migrated the empty database: %d tables, %v", tables, err)
	}
	p.stop(t)
	if !strings.Contains(p.stderr.String(), `"msg":"draining HTTP"`) {
		t.Fatalf("the service must log that it drains:\n%s", p.stderr)
	}
}

// On SIGTERM the service first drains: /readyz answers 503, so that a load
// balancer stops sending, while new connections are still accepted and
// their requests served; the listener closes only after the drain period,
// and the process exits 0.
func TestSIGTERMDrainsReadinessBeforeTheListenerCloses(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewEmptyPool(t)
	const drain = 3 * time.Second
	p := startServiceEnv(t, pool.Config().ConnString(), []string{"CALLCONNECT_SHUTDOWN_DRAIN=" + drain.String()})
	base := "http://" + p.addr
	// faultClient opens a new connection for each request: each one must
	// be accepted by the listener.
	if code, body, err := send(faultClient, http.MethodGet, base+"/readyz", ""); err != nil || code != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM: %d %s %v", code, body, err)
	}
	signalled := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var code int
	var body []byte
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for drained := time.After(drain); ; {
		var err error
		code, body, err = send(faultClient, http.MethodGet, base+"/readyz", "")
		if err != nil {
			t.Fatalf("/readyz %s after SIGTERM, within the drain: %v\n%s", time.Since(signalled), err, p.stderr)
		}
		if code != http.StatusOK {
			break
		}
		select {
		case <-drained:
		case <-tick.C:
			continue
		}
		break
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), `"code":"not_ready"`) || !strings.Contains(string(body), "shutting down") {
		t.Fatalf("/readyz must answer 503 not_ready while the service drains: %d %s", code, body)
	}
	code, body, err := send(faultClient, http.MethodPut, base+"/v1/environments/acme",
		`{"name":"Acme","public_base_url":"https://acme.example.com"}`, "Authorization", "Bearer "+testAdminToken)
	if err != nil || code/100 != 2 {
		t.Fatalf("a request on a new connection %s after SIGTERM, within the drain, must be served: %d %s %v", time.Since(signalled), code, body, err)
	}
	p.waitStopped(t)
	if took := time.Since(signalled); took < drain {
		t.Fatalf("the service stopped %s after SIGTERM, before its %s drain ended", took, drain)
	}
	var name string
	if err := pool.QueryRow(context.Background(), `SELECT name FROM environments WHERE id = 'acme'`).Scan(&name); err != nil || name != "Acme" {
		t.Fatalf("the request served during the drain was not kept: %q %v", name, err)
	}
	logs := p.stderr.String()
	notReady, closing := strings.Index(logs, `/readyz answers 503`), strings.Index(logs, `"msg":"draining HTTP"`)
	if notReady < 0 || closing < notReady {
		t.Fatalf("the service must log the drain, then the closing of its listener:\n%s", logs)
	}
}

func TestTwoReplicasMigrateTheSameDatabaseAtOnce(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewEmptyPool(t)
	url := pool.Config().ConnString()
	var wg sync.WaitGroup
	procs := make([]*process, 2)
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			procs[i] = startService(t, url)
		}()
	}
	wg.Wait()
	for _, p := range procs {
		if p == nil {
			t.FailNow()
		}
		if code, body := p.get(t, "/readyz"); code != 200 {
			t.Fatalf("replica not ready: %d %s", code, body)
		}
	}
	for _, p := range procs {
		p.stop(t)
	}
}

func TestNoMigrateLeavesThePendingSchemaVisibleOnReadyz(t *testing.T) {
	pool := pgtest.NewEmptyPool(t)
	p := startService(t, pool.Config().ConnString(), "--no-migrate")
	code, body := p.get(t, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "migrations") {
		t.Fatalf("/readyz with pending migrations: %d %s", code, body)
	}
	p.stop(t)
}

func TestMigrateSubcommand(t *testing.T) {
	pool := pgtest.NewEmptyPool(t)
	var stderr strings.Builder
	env := map[string]string{"DATABASE_URL": pool.Config().ConnString()}
	if code := run([]string{"migrate"}, envOf(env), io.Discard, &stderr); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr.String())
	}
	// Twice is fine.
	if code := run([]string{"migrate"}, envOf(env), io.Discard, &stderr); code != 0 {
		t.Fatalf("second migrate: %d %s", code, stderr.String())
	}
	if code := run([]string{"migrate"}, envOf(nil), io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "DATABASE_URL") {
		t.Fatalf("migrate without DATABASE_URL must fail naming it: %d %s", code, stderr.String())
	}
}

func TestCommandLine(t *testing.T) {
	var out, errb strings.Builder
	if code := run(nil, envOf(nil), &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage") {
		t.Fatalf("no command: %d %q", code, errb.String())
	}
	if code := run([]string{"frobnicate"}, envOf(nil), &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Fatalf("unknown command: %d", code)
	}
	out.Reset()
	if code := run([]string{"openapi"}, envOf(nil), &out, &errb); code != 0 || !strings.Contains(out.String(), `"openapi": "3.1`) {
		t.Fatalf("openapi: %d %.200s", code, out.String())
	}
	if code := run([]string{"serve", "--bogus"}, envOf(nil), &out, &errb); code != 2 {
		t.Fatalf("unknown flag: %d", code)
	}
}
