package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
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
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/adapters/system"
	"callconnect/ports/portstest"
)

// The project's performance goals (the goals table of bench/REPORT.md), measured as ratios against a baseline taken
// in the same run. Both benchmarks do a fixed amount of work
// whatever b.N is: run them with -benchtime 1x; the figures are reported
// with b.ReportMetric and ns/op means nothing.

const (
	benchPartners  = 16
	benchWindow    = 5 * time.Second
	benchWarmUp    = time.Second
	benchPoolConns = 10 // the service's own default (adapters/postgres defaultMaxConns)
)

// BenchmarkTaskCallbacks16 has 16 partners, each with its own token and its
// own keep-alive HTTP client, post small task callbacks (the contract's body,
// the lead found by phone, every descricao distinct so none is a duplicate)
// to the full handler on PostgreSQL over a real listener, for a fixed
// window; next to it, pgbench's TPC-B (scale 1, 16 clients) on the same
// cluster. Goal: callbacks/s ≥ 0.5 × pgbench's TPS. The HTTP clients and
// server share this process (and the machine's CPUs with PostgreSQL);
// pgbench's client is a separate, lighter C process.
func BenchmarkTaskCallbacks16(b *testing.B) {
	pgbenchBin := findPgbench(b)
	store, _, _ := pgStore(b, benchPoolConns)
	audio, err := audiostore.NewFS(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	svc := callbackServices(store, audio, system.Clock{}, system.NewRandom(), 0)
	// The rate limiter is not what is measured: lift it well above the load.
	h := httpapi.New(httpapi.Config{AdminToken: adminToken, PartnerRateLimit: 1 << 30}, svc, httpapi.Ops{})
	admin := overHTTP(b, h)
	seedCalls(b, admin, env)

	type partner struct{ email, token, phone string }
	partners := make([]partner, benchPartners)
	for i := range partners {
		p := &partners[i]
		p.email = fmt.Sprintf("parceiro%02d@parceiro.example.com", i)
		p.phone = fmt.Sprintf("489995%05d", i)
		admin.ok(admin.put(fmt.Sprintf("%s/leads/b%02d", env, i), map[string]any{"name": "Lead " + strconv.Itoa(i),
			"phone": p.phone, "manager_id": "gestor"}))
		res := admin.post(env+"/partner-tokens", map[string]any{"email": p.email, "description": "Parceiro " + strconv.Itoa(i)})
		if res.Status != http.StatusCreated {
			b.Fatalf("partner token: %s", res)
		}
		p.token = res.object(b)["token"].(string)
	}

	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	target := srv.URL + "/api/cvio/lead_tarefas/cadastrar"

	// run posts callbacks from every partner until stop closes, counting the
	// answered ones in *ok; the first failure is kept in firstErr.
	var seq atomic.Int64
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) { errOnce.Do(func() { firstErr = err }) }
	run := func(d time.Duration) int64 {
		var ok atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, p := range partners {
			wg.Go(func() {
				c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 30 * time.Second}
				defer c.CloseIdleConnections()
				body := strings.Replace(contractTaskBody, `"48999476359"`, `"`+p.phone+`"`, 1)
				for {
					select {
					case <-stop:
						return
					default:
					}
					n := seq.Add(1)
					req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(
						strings.Replace(body, "Ligação realizada com sucesso para o lead", "Ligação de carga "+strconv.FormatInt(n, 10), 1)))
					if err != nil {
						fail(err)
						return
					}
					req.Header.Set("Content-Type", "application/json; charset=utf-8")
					req.Header.Set("email", p.email)
					req.Header.Set("token", p.token)
					res, err := c.Do(req)
					if err != nil {
						fail(err)
						return
					}
					got, err := io.ReadAll(res.Body)
					res.Body.Close()
					if err != nil || res.StatusCode != http.StatusOK || !bytes.Contains(got, []byte(`"duplicates":0`)) {
						fail(fmt.Errorf("callback: %d %s (%v)", res.StatusCode, got, err))
						return
					}
					ok.Add(1)
				}
			})
		}
		time.Sleep(d) // shapes load: the callbacks run for the measured span
		close(stop)
		wg.Wait()
		return ok.Load()
	}

	b.ResetTimer()
	// One measurement whatever b.N: the work is fixed (run with -benchtime 1x).
	tps := runPgbench(b, pgbenchBin)

	run(benchWarmUp) // connections open, statement caches warm
	start := time.Now()
	n := run(benchWindow)
	elapsed := time.Since(start)
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	perSec := float64(n) / elapsed.Seconds()
	b.ReportMetric(perSec, "callbacks/s")
	b.ReportMetric(tps, "pgbench-tps")
	b.ReportMetric(perSec/tps, "callbacks/pgbench")
	b.Logf("%d callbacks in %s from %d partners: %.0f/s; pgbench TPC-B %.0f tps; ratio %.2f (goal ≥ 0.5)",
		n, elapsed.Round(time.Millisecond), benchPartners, perSec, tps, perSec/tps)
}

// findPgbench looks on PATH, then in the PostgreSQL installation's bin
// directories; there is no measurement without it, so it fails, never skips.
func findPgbench(b *testing.B) string {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench"); len(m) > 0 {
		return m[len(m)-1]
	}
	b.Fatal("pgbench not found on PATH nor in /usr/lib/postgresql/*/bin: the baseline of BenchmarkTaskCallbacks16 " +
		"needs it (install the PostgreSQL client tools, e.g. postgresql-contrib)")
	return ""
}

var tpsLine = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)

// runPgbench initialises a scale-1 TPC-B database of its own on the test
// cluster, runs 16 clients on 2 threads for the window, drops the database
// and returns the TPS.
func runPgbench(b *testing.B, bin string) float64 {
	raw := os.Getenv(pgtest.EnvURL)
	if raw == "" {
		b.Fatalf("%s is not set", pgtest.EnvURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		b.Fatalf("%s: %v", pgtest.EnvURL, err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, raw)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	db := fmt.Sprintf("pgbench_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		b.Fatal(err)
	}
	defer func() {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			b.Errorf("dropping %s: %v", db, err)
		}
	}()

	env := append(os.Environ(), "PGHOST="+u.Hostname(), "PGUSER="+u.User.Username(), "PGDATABASE="+db)
	if p := u.Port(); p != "" {
		env = append(env, "PGPORT="+p)
	}
	if pw, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pw)
	}
	pg := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("pgbench %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	pg("-i", "-s", "1", "-q")
	out := pg("-c", strconv.Itoa(benchPartners), "-j", "2", "-T", strconv.Itoa(int(benchWindow/time.Second)), "-n")
	m := tpsLine.FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("no tps line in pgbench's output:\n%s", out)
	}
	tps, err := strconv.ParseFloat(m[1], 64)
	if err != nil || tps <= 0 {
		b.Fatalf("pgbench tps %q: %v", m[1], err)
	}
	return tps
}

// BenchmarkRecording20MiB posts one lead callback carrying a 20 MiB MP3 in
// base64 to the full handler (PostgreSQL, filesystem audio store) over a
// real listener, in this process, and compares it with writing the same
// bytes to a new file on the same filesystem (os.Create, write, fsync,
// close). Goals: ingest ≤ 2 × the raw write; the heap's peak growth during
// the request ≤ 3 × the audio's size. The built binary's ingest time is
// measured by cmd/callconnect's BenchmarkBinaryRecording20MiB; the heap,
// which only this process can read, here.
//
// Client and server share this process. The request bodies (~27 MiB of
// base64 each) are built before any measurement, so they sit in the heap
// baseline and not in its growth; what the client adds while sending is
// a transport buffer. The time and the heap are measured on two separate
// requests (each with its own descricao, the stored object deleted before
// it), because the heap measurement runs the collector at GOGC=10. The
// times are the medians of three rounds of (raw write, ingest).
func BenchmarkRecording20MiB(b *testing.B) {
	const size = 20 << 20
	audio := make([]byte, size)
	copy(audio, "ID3\x03\x00\x00\x00\x00\x00\x39")
	if _, err := rand.Read(audio[10:]); err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256(audio)
	key := hex.EncodeToString(sum[:])
	encoded := base64.StdEncoding.EncodeToString(audio)
	body := func(desc string) []byte {
		return []byte(strings.Replace(contractLeadBody("testeaudio8@teste.com", encoded), "Teste de Ligação", desc, 1))
	}
	const rounds = 3
	var timedBodies [][]byte
	for i := range rounds {
		timedBodies = append(timedBodies, body(fmt.Sprintf("Gravação cronometrada %d", i)))
	}
	heapBody := body("Gravação medida no heap")
	encoded = ""

	store, _, _ := pgStore(b, 0)
	fs, err := audiostore.NewFS(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	h := httpapi.New(httpapi.Config{AdminToken: adminToken}, callbackServices(store, fs, system.Clock{}, system.NewRandom(), 32<<20), httpapi.Ops{})
	admin := overHTTP(b, h)
	seedCalls(b, admin, env)
	admin.ok(admin.put(env+"/leads/2", map[string]any{"name": "Lead por e-mail", "email": "testeaudio8@teste.com", "manager_id": "gestor"}))
	tok := admin.post(env+"/partner-tokens", map[string]any{"email": partnerEmail})
	if tok.Status != http.StatusCreated {
		b.Fatalf("partner token: %s", tok)
	}
	token := tok.object(b)["token"].(string)

	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	c := &http.Client{Timeout: 2 * time.Minute}
	b.Cleanup(c.CloseIdleConnections)
	// A small callback first: the connection is open and the code paths warm.
	warm := contractLeadBody("testeaudio8@teste.com", testMP3Base64)
	post := func(payload []byte) error {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/cvio/lead", bytes.NewReader(payload))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("email", partnerEmail)
		req.Header.Set("token", token)
		res, err := c.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		got, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK || !bytes.Contains(got, []byte(`"recording_ids":["`)) {
			return fmt.Errorf("lead callback: %d %s", res.StatusCode, got)
		}
		return nil
	}
	if err := post([]byte(warm)); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	forget := func() {
		if err := fs.Delete(ctx, key); err != nil {
			b.Fatal(err)
		}
	}

	b.ResetTimer()
	// One measurement whatever b.N: the work is fixed (run with -benchtime 1x).
	// Rounds of (raw write, ingest), each timed alone; the medians are
	// reported, the machine being shared.
	var storeTimes, ingests []time.Duration
	rawDir := b.TempDir()
	for i, payload := range timedBodies {
		start := time.Now()
		if err := writeFsync(filepath.Join(rawDir, fmt.Sprintf("recording-%d.mp3", i)), audio); err != nil {
			b.Fatal(err)
		}
		storeTimes = append(storeTimes, time.Since(start))

		forget()
		start = time.Now()
		if err := post(payload); err != nil {
			b.Fatal(err)
		}
		ingests = append(ingests, time.Since(start))
		if _, err := fs.Open(ctx, key); err != nil {
			b.Fatalf("the recording is not in the store: %v", err)
		}
		timedBodies[i] = nil
	}
	storeTime, ingest := median(storeTimes), median(ingests)
	b.Logf("raw write %v, ingest %v", storeTimes, ingests)

	forget()
	var postErr error
	growth := portstest.PeakHeapGrowth(func() { postErr = post(heapBody) })
	if postErr != nil {
		b.Fatal(postErr)
	}

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	heapMiB := float64(growth) / (1 << 20)
	b.ReportMetric(ms(ingest), "ingest-ms")
	b.ReportMetric(ms(storeTime), "write-fsync-ms")
	b.ReportMetric(ms(ingest)/ms(storeTime), "ingest/write")
	b.ReportMetric(heapMiB, "heap-growth-MiB")
	b.ReportMetric(float64(growth)/size, "heap/audio")
	b.Logf("20 MiB recording: ingest %.0f ms, raw write %.0f ms, ratio %.2f (goal ≤ 2); heap growth %.1f MiB, %.2f × the audio (goal ≤ 3)",
		ms(ingest), ms(storeTime), ms(ingest)/ms(storeTime), heapMiB, float64(growth)/size)
}

// writeFsync writes data to a new file and flushes it to the disk: the
// least a store that keeps a recording must do.
func writeFsync(name string, data []byte) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
