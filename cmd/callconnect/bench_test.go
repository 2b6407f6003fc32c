package main

// What the benchmarks of the built binary share: the clusters they run on,
// a database of their own, the service process, a partner on loopback, the
// loads (a fixed number of clicks, at a fixed concurrency or a fixed
// rate), the process's resident memory and a counter of SQL round trips
// on the wire. Every load talks to 127.0.0.1 only and stops by itself once
// its fixed count is done. The benchmarks do a fixed amount of work
// whatever b.N is (run them with -benchtime 1x; ns/op means nothing): their
// figures are reported with b.ReportMetric, and cmd/benchreport (make
// bench) runs each three times and reports the median with the spread.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"callconnect/adapters/postgres/pgtest"
)

// envDurableURL names the durable cluster (fsync, synchronous_commit and
// full_page_writes on; cmd/pgcluster start -durable). The other cluster is
// the test cluster of pgtest.EnvURL, which make test and make bench start
// with durability off.
const envDurableURL = "CALLCONNECT_BENCH_DURABLE_DATABASE_URL"

// The clusters a benchmark can ask for by name.
const (
	nonDurable = "nondurable"
	durable    = "durable"
)

// durabilitySettings are the settings that make a cluster durable.
var durabilitySettings = []string{"fsync", "synchronous_commit", "full_page_writes"}

// clusterURL returns the URL of the named cluster after checking that its
// durability is the one its name promises: a figure labelled durable that
// came from a cluster without fsync would be worse than none.
func clusterURL(b *testing.B, name string) string {
	b.Helper()
	env, want := pgtest.EnvURL, "off"
	if name == durable {
		env, want = envDurableURL, "on"
	}
	raw := os.Getenv(env)
	if raw == "" {
		b.Fatalf("%s is not set: make bench starts the %s cluster and sets it (cmd/pgcluster start %s)", env, name,
			map[string]string{nonDurable: "-ephemeral", durable: "-durable"}[name])
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, raw)
	if err != nil {
		b.Fatalf("%s: %v", env, err)
	}
	defer conn.Close(ctx)
	for _, s := range durabilitySettings {
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", s).Scan(&got); err != nil {
			b.Fatal(err)
		}
		if got != want {
			b.Fatalf("the %s cluster (%s) runs with %s = %s; it must be %s", name, env, s, got, want)
		}
	}
	return raw
}

var benchDBSeq atomic.Int64

// benchDatabase creates an empty database on the cluster and returns its
// URL; it is dropped when the benchmark ends.
func benchDatabase(b *testing.B, cluster string) string {
	b.Helper()
	u, err := url.Parse(cluster)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, cluster)
	if err != nil {
		b.Fatal(err)
	}
	name := fmt.Sprintf("bench_%d_%d", os.Getpid(), benchDBSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		b.Fatal(err)
	}
	b.Cleanup(func() {
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			b.Errorf("dropping %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// benchPool is a pool of the benchmark's own on a database, for what it
// reads and sets up beside the service.
func benchPool(b *testing.B, dbURL string) *pgxpool.Pool {
	b.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// benchServiceEnv lets the service deliver to the partner on loopback over
// plain http, and lifts the partners' rate limit, which is not what is
// measured, well above any load here.
var benchServiceEnv = []string{
	"CALLCONNECT_ALLOW_PRIVATE_PARTNER_URLS=true",
	"CALLCONNECT_ALLOW_HTTP_PARTNER_URLS=true",
	"CALLCONNECT_PARTNER_RATE_LIMIT=1000000",
}

// benchService starts the built binary on dbURL (it migrates the database
// when it is empty) with benchServiceEnv and extra.
func benchService(b *testing.B, dbURL string, extra ...string) *process {
	b.Helper()
	return startServiceEnv(b, dbURL, append(slices.Clone(benchServiceEnv), extra...))
}

// benchHTTP is the load's HTTP client: keep-alive, enough idle connections
// for every request in flight.
func benchHTTP(b *testing.B) *http.Client {
	c := &http.Client{Transport: &http.Transport{MaxIdleConns: 2048, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute},
		Timeout: 2 * time.Minute}
	b.Cleanup(c.CloseIdleConnections)
	return c
}

// request sends one request and returns its status and body.
func request(c *http.Client, method, url string, body []byte, header ...string) (int, []byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	return res.StatusCode, got, err
}

// api calls the service's /v1 API as the CRM backend.
type api struct {
	p *process
	c *http.Client
	// leads is what click presses Ligar on: the leads setUp made, in turn.
	leads *leadRing
}

// leadRing hands out the leads l0..l(n-1) in turn. A user's click on a lead
// while their previous call to it is still queued or being delivered is
// refused (409 call_in_progress): a benchmark that clicks a burst faster
// than calls are delivered makes a lead per click of the burst, and one
// that clicks at a steady rate makes enough that a lead's turn comes round
// after its call was delivered.
type leadRing struct {
	next atomic.Int64
	n    int64
}

// take returns the next lead's id.
func (r *leadRing) take() string { return fmt.Sprintf("l%d", (r.next.Add(1)-1)%r.n) }

func (a api) url(path string) string { return "http://" + a.p.addr + path }

// call sends a request to path and fails unless the status is want.
func (a api) call(b *testing.B, want int, method, path, body string) []byte {
	b.Helper()
	code, got, err := request(a.c, method, a.url(path), []byte(body), "Authorization", "Bearer "+testAdminToken)
	if err != nil {
		b.Fatalf("%s %s: %v", method, path, err)
	}
	if code != want {
		b.Fatalf("%s %s: %d %s", method, path, code, got)
	}
	return got
}

// setUp makes the environment acme with an active Call Connect integration
// pointing at partnerURL, the manager g1, the broker c1 with a phone, and
// the leads l0..l(leads-1) of c1, which click then presses Ligar on in turn.
func (a *api) setUp(b *testing.B, partnerURL string, leads int) {
	b.Helper()
	configure(b, a.p, partnerURL, leads)
	a.leads = &leadRing{n: int64(max(leads, 1))}
}

// click presses Ligar as c1 on the next of setUp's leads and returns the
// accepted call's id.
func (a api) click() (string, error) {
	code, got, err := request(a.c, "POST", a.url("/v1/environments/acme/leads/"+a.leads.take()+"/calls"), []byte(`{"user_id":"c1"}`),
		"Authorization", "Bearer "+testAdminToken)
	if err != nil {
		return "", err
	}
	if code != http.StatusAccepted {
		return "", fmt.Errorf("click: %d %s", code, got)
	}
	var call struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(got, &call); err != nil || call.ID == "" {
		return "", fmt.Errorf("click: no call id in %s (%v)", got, err)
	}
	return call.ID, nil
}

// partnerToken creates a partner token for email and returns its secret.
func (a api) partnerToken(b *testing.B, email string) string {
	b.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(a.call(b, http.StatusCreated, "POST", "/v1/environments/acme/partner-tokens",
		`{"email":"`+email+`","description":"telefonia"}`), &tok); err != nil || tok.Token == "" {
		b.Fatalf("partner token: %v", err)
	}
	return tok.Token
}

// benchPartner is a partner on loopback that accepts every call at once
// (202), serving requests concurrently, and notes when each arrived: by
// the call's id (idligacao) and by webhook-id.
type benchPartner struct {
	srv *httptest.Server

	mu        sync.Mutex
	total     int
	byCall    map[string]time.Time // first arrival of each call
	byWebhook map[string]time.Time // first arrival of each webhook-id
	last      time.Time            // the latest arrival
	body      []byte               // the latest body with an idligacao
	waiters   []partnerWaiter
}

type partnerWaiter struct {
	n    int
	done chan struct{}
}

func newBenchPartner(b *testing.B) *benchPartner {
	p := &benchPartner{byCall: map[string]time.Time{}, byWebhook: map[string]time.Time{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		at := time.Now()
		var call struct {
			ID string `json:"idligacao"`
		}
		_ = json.Unmarshal(body, &call)
		hook := r.Header.Get("webhook-id")
		p.mu.Lock()
		p.total++
		p.last = at
		if _, seen := p.byWebhook[hook]; !seen {
			p.byWebhook[hook] = at
		}
		if call.ID != "" && !strings.HasPrefix(hook, "floor-") {
			if _, seen := p.byCall[call.ID]; !seen {
				p.byCall[call.ID] = at
			}
			p.body = body
		}
		p.waiters = slices.DeleteFunc(p.waiters, func(w partnerWaiter) bool {
			if p.total >= w.n {
				close(w.done)
				return true
			}
			return false
		})
		p.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	b.Cleanup(p.srv.Close)
	return p
}

func (p *benchPartner) url() string { return p.srv.URL + "/calls" }

func (p *benchPartner) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// await waits until n requests in all have arrived and returns when the
// latest one did.
func (p *benchPartner) await(b *testing.B, n int, within time.Duration) time.Time {
	b.Helper()
	p.mu.Lock()
	done := make(chan struct{})
	if p.total >= n {
		close(done)
	} else {
		p.waiters = append(p.waiters, partnerWaiter{n: n, done: done})
	}
	p.mu.Unlock()
	select {
	case <-done:
	case <-time.After(within):
		b.Fatalf("the partner got %d requests, not %d, within %s", p.count(), n, within)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// callBody returns the body of the latest call delivered.
func (p *benchPartner) callBody(b *testing.B) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.body == nil {
		b.Fatal("no call reached the partner yet")
	}
	return p.body
}

// floorPoster returns a plain net/http POST of body to the partner, the
// floor the service's delivery is compared with, each with a webhook-id of
// its own.
func (p *benchPartner) floorPoster(c *http.Client, body []byte) func(int) error {
	var seq atomic.Int64
	return func(int) error {
		code, got, err := request(c, "POST", p.url(), body, "webhook-id", fmt.Sprintf("floor-%d", seq.Add(1)))
		if err == nil && code != http.StatusAccepted {
			err = fmt.Errorf("floor POST: %d %s", code, got)
		}
		return err
	}
}

// together runs do(0..n-1), workers at a time, as fast as they go, and
// returns the first error.
func together(n, workers int, do func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := do(i); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// paced starts do(0..n-1) at rate per second, each when its time comes
// whether or not the earlier ones are done (an open loop: a slow service
// cannot slow the arrivals down and hide its queue), with at most
// maxInFlight running at once. It returns once all are done, with the rate
// the starts achieved and the first error.
func paced(n int, rate float64, maxInFlight int, do func(i int) error) (float64, error) {
	slots := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	start := time.Now()
	var lastStart time.Time
	for i := range n {
		if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
			time.Sleep(d) // shapes load: the open loop's pace
		}
		slots <- struct{}{}
		lastStart = time.Now()
		wg.Go(func() {
			defer func() { <-slots }()
			if err := do(i); err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	achieved := float64(n-1) / lastStart.Sub(start).Seconds()
	return achieved, first
}

// percentile returns the p-th percentile (0 < p ≤ 100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(rank, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// memory reads a process's resident set (VmRSS) and its peak since the
// process started (VmHWM) from /proc, in bytes.
func memory(b *testing.B, pid int) (rss, peak int64) {
	b.Helper()
	rss, peak, err := readMemory(pid)
	if err != nil {
		b.Fatalf("reading the service's memory: %v", err)
	}
	return rss, peak
}

func readMemory(pid int) (rss, peak int64, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, line, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	if rss == 0 || peak == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status holds no VmRSS or VmHWM", pid)
	}
	return rss, peak, nil
}

const mib = 1 << 20

// rssSampler samples a process's VmRSS every 50 ms until stopped and keeps
// the largest.
type rssSampler struct {
	stop chan struct{}
	done chan int64
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan int64, 1)}
	go func() {
		var most int64
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, _, err := readMemory(pid); err == nil && rss > most {
				most = rss
			}
			select {
			case <-s.stop:
				s.done <- most
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// max stops the sampling and returns the largest VmRSS seen.
func (s *rssSampler) max() int64 {
	close(s.stop)
	return <-s.done
}

// wireCounter stands between the service and PostgreSQL on loopback and
// counts SQL round trips where they cost: on the wire. A round trip is a
// flight of bytes from the client that follows bytes from the server on
// the same connection (the client had to wait for an answer before it
// could send it); statements pipelined in one flight (a pgx batch, a
// multi-statement simple query) make one round trip, and a statement
// whose preparation needs an answer first makes two. Connecting counts as
// the round trips it takes. It also counts the statements sent: simple
// Query messages and extended-protocol Execute messages.
type wireCounter struct {
	ln                net.Listener
	target            string
	trips, statements atomic.Int64
}

// newWireCounter listens on loopback for connections to the database of
// dbURL and returns the counter and the URL to give the service instead.
func newWireCounter(b *testing.B, dbURL string) (*wireCounter, string) {
	u, err := url.Parse(dbURL)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	w := &wireCounter{ln: ln, target: u.Host}
	var conns sync.WaitGroup
	b.Cleanup(func() { ln.Close(); conns.Wait() })
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { w.relay(client) })
		}
	}()
	u.Host = ln.Addr().String()
	q := u.Query()
	q.Set("sslmode", "disable") // the counter reads the protocol in the clear
	u.RawQuery = q.Encode()
	return w, u.String()
}

// reset zeroes the counts and returns the round trips and statements
// counted since the last reset.
func (w *wireCounter) reset() (trips, statements int64) {
	return w.trips.Swap(0), w.statements.Swap(0)
}

func (w *wireCounter) relay(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", w.target)
	if err != nil {
		return
	}
	defer server.Close()
	var answered atomic.Bool // the server sent bytes since the client's last flight
	answered.Store(true)     // the first flight (the start-up message) is a round trip too
	done := make(chan struct{}, 2)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				answered.Store(true)
				if _, werr := client.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		client.Close()
		done <- struct{}{}
	}()
	go func() {
		var fe frontendParser
		buf := make([]byte, 64<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if answered.Swap(false) {
					w.trips.Add(1)
				}
				w.statements.Add(fe.feed(buf[:n]))
				if _, werr := server.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		server.Close()
		done <- struct{}{}
	}()
	<-done
	<-done
}

// frontendParser follows the messages a PostgreSQL client sends: an
// untyped start-up packet (after an SSL or GSS encryption request, another
// one), then messages of a type byte and a length.
type frontendParser struct {
	started bool
	head    [8]byte
	got     int // bytes of head read
	skip    int // bytes of the current message's body still to pass
}

// feed reads the next bytes the client sent and returns how many
// statements (Query and Execute messages) they began.
func (p *frontendParser) feed(b []byte) int64 {
	var statements int64
	for len(b) > 0 {
		if p.skip > 0 {
			n := min(p.skip, len(b))
			p.skip -= n
			b = b[n:]
			continue
		}
		need := 5
		if !p.started {
			need = 8
		}
		n := copy(p.head[p.got:need], b)
		p.got += n
		b = b[n:]
		if p.got < need {
			break
		}
		p.got = 0
		if !p.started {
			length := int(binary.BigEndian.Uint32(p.head[0:4]))
			const sslRequest, gssRequest = 80877103, 80877104
			if code := binary.BigEndian.Uint32(p.head[4:8]); code != sslRequest && code != gssRequest {
				p.started = true
			}
			p.skip = length - 8
			continue
		}
		if p.head[0] == 'Q' || p.head[0] == 'E' {
			statements++
		}
		p.skip = int(binary.BigEndian.Uint32(p.head[1:5])) - 4
	}
	return statements
}

// waitSQL polls a query of one integer on pool until it returns want.
func waitSQL(b *testing.B, pool *pgxpool.Pool, within time.Duration, what, query string, want int64) {
	b.Helper()
	deadline := time.After(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var got int64
		if err := pool.QueryRow(context.Background(), query).Scan(&got); err != nil {
			b.Fatalf("%s: %v", what, err)
		}
		if got == want {
			return
		}
		select {
		case <-deadline:
			b.Fatalf("%s: %d, not %d, after %s", what, got, want, within)
		case <-tick.C:
		}
	}
}

// Queries that tell when the service is done with the calls it accepted.
const (
	callsNotDelivered = `SELECT count(*) FROM calls WHERE status NOT IN ('delivered', 'completed', 'not_completed', 'no_result')`
	jobsNotFinished   = `SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'cancelled', 'discarded')`
)

// pgbenchBin finds pgbench: on PATH, next to the server binaries
// (PG_BINDIR, Debian's /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin). There
// is no baseline without it, so it fails, never skips.
func pgbenchBin(b *testing.B) string {
	b.Helper()
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p
	}
	var dirs []string
	if d := os.Getenv("PG_BINDIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"} {
		m, _ := filepath.Glob(pattern)
		slices.Reverse(m)
		dirs = append(dirs, m...)
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pgbench")); err == nil {
			return filepath.Join(d, "pgbench")
		}
	}
	b.Fatal("pgbench is neither on PATH nor next to the PostgreSQL server binaries: install it " +
		"(Debian: it comes with the postgresql-NN server package; RPM: postgresql-contrib)")
	return ""
}

// Load of the pgbench baseline: TPC-B (pgbench's built-in script) on 16
// branches, so that 16 clients do not all update the same branch row and
// measure that row's lock instead of the server.
const (
	pgbenchScale   = 16
	pgbenchClients = 16
	pgbenchSeconds = 10
	pgbenchDB      = "pgbench_scale16"
)

var pgbenchTPS = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)

// BenchmarkPgbench runs pgbench's TPC-B, scale 16, 16 clients on 2
// threads, for 10 s, on each cluster: the baseline of the rows that compare
// the service with what the same PostgreSQL does for a simple transaction
// of five statements. The scale-16 database is made once per cluster (and
// kept, as the cluster is thrown away after make bench); before each run
// its branches and tellers are vacuumed and its history emptied, as
// pgbench does by default. Reported: tps, and the CPU time a transaction
// cost: pg-cpu-ms/tx (PostgreSQL's processes) and client-cpu-ms/tx
// (pgbench's).
//
//	go test ./cmd/callconnect -run '^$' -bench Pgbench -benchtime 1x -count 3
func BenchmarkPgbench(b *testing.B) {
	for _, cluster := range []string{nonDurable, durable} {
		b.Run(cluster, func(b *testing.B) {
			bin := pgbenchBin(b)
			raw := clusterURL(b, cluster)
			u, err := url.Parse(raw)
			if err != nil {
				b.Fatal(err)
			}
			ensurePgbenchDB(b, raw, bin)
			u.Path = "/" + pgbenchDB
			pool := benchPool(b, u.String())
			for _, sql := range []string{"VACUUM pgbench_branches", "VACUUM pgbench_tellers", "TRUNCATE pgbench_history"} {
				if _, err := pool.Exec(context.Background(), sql); err != nil {
					b.Fatal(err)
				}
			}
			cpu := newCPUMeter(b, pool)
			b.ResetTimer()
			from := cpu.read()
			out, client := runPgbench(b, bin, u, "-n", "-c", strconv.Itoa(pgbenchClients), "-j", "2", "-T", strconv.Itoa(pgbenchSeconds))
			to := cpu.read()
			b.StopTimer()
			m := pgbenchTPS.FindStringSubmatch(out)
			n := pgbenchTransactions.FindStringSubmatch(out)
			if m == nil || n == nil {
				b.Fatalf("no tps or transaction count in pgbench's output:\n%s", out)
			}
			tps, err := strconv.ParseFloat(m[1], 64)
			if err != nil || tps <= 0 {
				b.Fatalf("pgbench tps %q: %v", m[1], err)
			}
			txs, err := strconv.ParseFloat(n[1], 64)
			if err != nil || txs <= 0 {
				b.Fatalf("pgbench transactions %q: %v", n[1], err)
			}
			b.ReportMetric(tps, "tps")
			if cpu.postmaster != 0 {
				b.ReportMetric(ms(to.pg-from.pg)/txs, "pg-cpu-ms/tx")
			}
			b.ReportMetric(ms(client)/txs, "client-cpu-ms/tx")
		})
	}
}

var pgbenchTransactions = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)

// ensurePgbenchDB makes the scale-16 pgbench database on the cluster
// unless it is there.
func ensurePgbenchDB(b *testing.B, cluster, bin string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, cluster)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", pgbenchDB).Scan(&exists); err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse(cluster)
	u.Path = "/" + pgbenchDB
	if exists {
		db, err := pgx.Connect(ctx, u.String())
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close(ctx)
		var branches int
		if err := db.QueryRow(ctx, "SELECT count(*) FROM pgbench_branches").Scan(&branches); err == nil && branches == pgbenchScale {
			return
		}
		if _, err := conn.Exec(ctx, "DROP DATABASE "+pgbenchDB+" WITH (FORCE)"); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgbenchDB); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	_, _ = runPgbench(b, bin, u, "-i", "-s", strconv.Itoa(pgbenchScale), "-q")
	b.Logf("pgbench -i -s %d: %s", pgbenchScale, time.Since(start).Round(time.Second))
}

// runPgbench runs pgbench on the pgbench database of the cluster at u and
// returns its output and the CPU time it took.
func runPgbench(b *testing.B, bin string, u *url.URL, args ...string) (string, time.Duration) {
	b.Helper()
	env := append(os.Environ(), "PGHOST="+u.Hostname(), "PGUSER="+u.User.Username(), "PGDATABASE="+pgbenchDB)
	if p := u.Port(); p != "" {
		env = append(env, "PGPORT="+p)
	}
	if pw, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pw)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("pgbench %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// cpuMeter reads the CPU time spent so far by the service processes, by
// PostgreSQL (the postmaster and every process it started, those that
// ended included) and by this process (the load and the partner), from
// /proc: what a delivered call costs, whatever else the machine runs.
type cpuMeter struct {
	services   []int
	postmaster int // 0 when PostgreSQL's processes cannot be read
}

type cpuTimes struct{ service, pg, load time.Duration }

func newCPUMeter(b *testing.B, pool *pgxpool.Pool, services ...*process) *cpuMeter {
	b.Helper()
	m := &cpuMeter{}
	for _, p := range services {
		m.services = append(m.services, p.cmd.Process.Pid)
	}
	var backend int
	if err := pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		b.Fatal(err)
	}
	if st, err := readStat(backend); err == nil {
		m.postmaster = st.ppid
	} else {
		b.Logf("PostgreSQL's CPU time is not measured: %v", err)
	}
	return m
}

func (m *cpuMeter) read() cpuTimes {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	t := cpuTimes{load: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	for _, pid := range m.services {
		if st, err := readStat(pid); err == nil {
			t.service += ticks(st.utime + st.stime)
		}
	}
	if m.postmaster == 0 {
		return t
	}
	pm, err := readStat(m.postmaster)
	if err != nil {
		return t
	}
	pg := pm.utime + pm.stime + pm.cutime + pm.cstime
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.ppid == m.postmaster {
			pg += st.utime + st.stime
		}
	}
	t.pg = ticks(pg)
	return t
}

// report reports the CPU time per request between two readings, in units
// service-cpu-ms/<what>, pg-cpu-ms/<what> and load-cpu-ms/<what>.
func (m *cpuMeter) report(b *testing.B, from, to cpuTimes, n int64, what string) {
	per := func(d time.Duration) float64 { return ms(d) / float64(n) }
	b.ReportMetric(per(to.service-from.service), "service-cpu-ms/"+what)
	if m.postmaster != 0 {
		b.ReportMetric(per(to.pg-from.pg), "pg-cpu-ms/"+what)
	}
	b.ReportMetric(per(to.load-from.load), "load-cpu-ms/"+what)
}

// ticks converts /proc/<pid>/stat's clock ticks (USER_HZ, 100 on every
// Linux) to a duration.
func ticks(n int64) time.Duration { return time.Duration(n) * time.Second / 100 }

type procStat struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

// readStat reads /proc/<pid>/stat (proc(5)).
func readStat(pid int) (procStat, error) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	// The command name, in parentheses, may hold spaces: fields start after it.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(raw[i+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	num := func(field int) int64 { n, _ := strconv.ParseInt(string(f[field-3]), 10, 64); return n }
	return procStat{ppid: int(num(4)), utime: num(14), stime: num(15), cutime: num(16), cstime: num(17)}, nil
}
