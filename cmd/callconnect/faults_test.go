package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"callconnect/adapters/postgres/pgtest"
)

// The fault suite: the binary under the faults an operator fears, each test
// bounded in time and on loopback. go test runs it in a short form;
// `make faults` runs it at full size (CALLCONNECT_FAULTS=full) and prints
// the counts each test checked (its "checked:" lines).

// faultSize is short under go test and full under make faults.
func faultSize(short, full int) int {
	if os.Getenv("CALLCONNECT_FAULTS") == "full" {
		return full
	}
	return short
}

// checked logs what a fault test verified; make faults prints these lines.
func checked(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("checked: "+format, args...)
}

// faultClient sends the suite's requests: keep-alive off, so that a
// request either fails to connect or is answered by the process that
// accepted its connection.
var faultClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}

// send makes one request and returns its status and body.
func send(client *http.Client, method, url, body string, header ...string) (int, []byte, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// clickID posts a click by c1 on lead to p and returns the call's id when it was accepted.
func clickID(client *http.Client, p *process, lead string) (string, error) {
	code, body, err := send(client, http.MethodPost, "http://"+p.addr+"/v1/environments/acme/leads/"+lead+"/calls", `{"user_id":"c1"}`,
		"Authorization", "Bearer "+testAdminToken)
	if err != nil {
		return "", err
	}
	if code != http.StatusAccepted {
		return "", fmt.Errorf("click: %d %s", code, body)
	}
	_, rest, _ := strings.Cut(string(body), `"id":"`)
	id, _, ok := strings.Cut(rest, `"`)
	if !ok || id == "" {
		return "", fmt.Errorf("click answer without an id: %s", body)
	}
	return id, nil
}

// kill ends p with SIGKILL.
func (p *process) kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil
}

// terminal waits until every call of ids has ended delivered or
// undeliverable and returns how many ended each way.
func terminal(t *testing.T, ctx context.Context, pool *pgxpool.Pool, ids []string, within time.Duration) (delivered, undeliverable int) {
	t.Helper()
	count := func() (int, int) {
		var d, u int
		err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'delivered'), count(*) FILTER (WHERE status = 'undeliverable')
			FROM calls WHERE id = ANY($1)`, ids).Scan(&d, &u)
		if err != nil {
			t.Fatal(err)
		}
		return d, u
	}
	waitFor(t, within, fmt.Sprintf("all %d accepted calls end delivered or undeliverable", len(ids)), func() bool {
		delivered, undeliverable = count()
		return delivered+undeliverable == len(ids)
	})
	return delivered, undeliverable
}

// 1. Two processes on one database; one of them is killed with SIGKILL at
// random moments and restarted while clicks arrive; the partner answers 500
// to a third of the requests and holds some past the attempt's timeout.
// Every accepted click ends delivered or undeliverable; a delivered one was
// answered 2xx by the partner; each call reaches the partner under one
// webhook-id only, its own.
func TestFaultKilledProcessLosesNoClick(t *testing.T) {
	t.Parallel()
	clicks, load := faultSize(200, 2000), time.Duration(faultSize(6, 40))*time.Second
	pool := pgtest.NewEmptyPool(t)
	url := pool.Config().ConnString()
	fake := newPartner(t)
	fake.answer = func() int { // called by concurrent requests: rand's top-level functions are safe for that
		switch r := rand.IntN(30); {
		case r < 10:
			return http.StatusInternalServerError
		case r < 12:
			return -1 // held past the attempt's timeout
		}
		return http.StatusAccepted
	}
	env := append([]string{"CALLCONNECT_PARTNER_TIMEOUT=1s", "CALLCONNECT_PARTNER_CONNECT_TIMEOUT=500ms",
		"CALLCONNECT_RETRY_MIN_BACKOFF=200ms", "CALLCONNECT_DISPATCH_DEADLINE=2m"}, deliveryEnv...)
	steady := startServiceEnv(t, url, env)
	configure(t, steady, fake.srv.URL+"/calls", clicks) // a lead per click
	var mu sync.Mutex
	victim := startServiceEnv(t, url, env)
	pick := func(i int) *process {
		mu.Lock()
		defer mu.Unlock()
		if victim != nil && i%2 == 1 {
			return victim
		}
		return steady
	}

	var accepted []string
	var refused atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range clicks {
			// shapes load: the clicks are spread evenly over the load's span.
			time.Sleep(time.Until(start.Add(load * time.Duration(i) / time.Duration(clicks))))
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, err := clickID(faultClient, pick(i), fmt.Sprintf("l%d", i))
				if err != nil {
					refused.Add(1) // its process was killed under it: not accepted
					return
				}
				mu.Lock()
				accepted = append(accepted, id)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}()
	kills := 0
	for loading := true; loading; {
		select {
		case <-done:
			loading = false
		case <-time.After(time.Duration(500+rand.IntN(2500)) * time.Millisecond): // shapes load: the next kill comes at a random moment of the load
			mu.Lock()
			p := victim
			victim = nil
			mu.Unlock()
			p.kill(t)
			kills++
			// The victim stays down a random while, so that clicks sent to
			// it meanwhile are refused.
			time.Sleep(time.Duration(rand.IntN(1000)) * time.Millisecond) // shapes load: the victim's downtime
			p = startServiceEnv(t, url, env)
			mu.Lock()
			victim = p
			mu.Unlock()
		}
	}
	if kills == 0 || len(accepted) < clicks/2 {
		t.Fatalf("%d kills, %d of %d clicks accepted: the test did not test", kills, len(accepted), clicks)
	}

	// A delivery cut by a kill is taken for abandoned after the job timeout
	// plus a margin, at River's next rescue (every 30 s).
	delivered, undeliverable := terminal(t, t.Context(), pool, accepted, 3*time.Minute)
	// A late duplicate could come only from a delivery job still to run (one
	// a kill left running, which River rescues later): once none is left,
	// every request the partner will get of these calls has arrived.
	waitFor(t, 2*time.Minute, "every delivery job has run to its end", func() bool { return unfinishedDeliveries(t, pool) == 0 })
	mine := map[string]bool{}
	for _, id := range accepted {
		mine[id] = true
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	repeated, unknown := 0, 0
	for call, webhookIDs := range fake.byCall {
		if len(webhookIDs) != 1 || !webhookIDs["msg_"+call] {
			t.Errorf("call %s reached the partner under webhook-ids %v", call, webhookIDs)
		}
		if !mine[call] {
			unknown++ // accepted, but its answer was cut by the kill
		}
		if fake.okByID["msg_"+call] > 1 {
			repeated++
		}
	}
	if unknown > int(refused.Load()) {
		t.Errorf("the partner got %d calls nobody saw accepted, more than the %d clicks cut by a kill", unknown, refused.Load())
	}
	var notAnswered int
	rows, err := pool.Query(t.Context(), `SELECT id FROM calls WHERE status = 'delivered' AND id = ANY($1)`, accepted)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if fake.okByID["msg_"+id] == 0 {
			notAnswered++
		}
	}
	rows.Close()
	if notAnswered > 0 {
		t.Errorf("%d calls are delivered although the partner never answered them 2xx", notAnswered)
	}
	checked(t, "%d clicks, %d accepted (%d cut by a kill), %d SIGKILLs; %d delivered + %d undeliverable = %d, none lost; "+
		"%d partner requests, each call under its one webhook-id; %d delivered again under the same id; "+
		"%d calls reached the partner although a kill cut their click's answer",
		clicks, len(accepted), refused.Load(), kills, delivered, undeliverable, delivered+undeliverable, fake.total, repeated, unknown)
}

// unfinishedDeliveries counts the delivery jobs that may still send a
// request to the partner: those not completed, cancelled or discarded.
func unfinishedDeliveries(t testing.TB, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	err := pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
		WHERE kind = 'deliver_call' AND state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// runningDeliveries counts the delivery jobs marked running: run by a live
// process, or left so by one that died, until River rescues them.
func runningDeliveries(t testing.TB, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	err := pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'deliver_call' AND state = 'running'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pgCluster is a PostgreSQL cluster of the test's own, which it may stop
// and start.
type pgCluster struct {
	bin, dir, url string
}

var buildPgcluster = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "callconnect-pgcluster-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pgcluster")
	if out, err := exec.Command("go", "build", "-o", bin, "../pgcluster").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build pgcluster: %v\n%s", err, out)
	}
	return bin, nil
})

func startCluster(t *testing.T) *pgCluster {
	t.Helper()
	bin, err := buildPgcluster()
	if err != nil {
		t.Fatal(err)
	}
	work, err := os.MkdirTemp("", "callconnect-fault-pg-")
	if err != nil {
		t.Fatal(err)
	}
	// The server runs as the postgres user when the tests run as root.
	if err := os.Chmod(work, 0o711); err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{bin: bin, dir: filepath.Join(work, "postgres")}
	t.Cleanup(func() {
		_ = exec.Command(bin, "stop", "-dir", c.dir).Run()
		_ = os.RemoveAll(work)
	})
	c.start(t)
	return c
}

func (c *pgCluster) start(t *testing.T) {
	t.Helper()
	out, err := exec.Command(c.bin, "start", "-ephemeral", "-dir", c.dir).Output()
	if err != nil {
		t.Fatalf("pgcluster start: %v", err)
	}
	c.url = strings.TrimSpace(string(out))
}

func (c *pgCluster) stop(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(c.bin, "stop", "-dir", c.dir).CombinedOutput(); err != nil {
		t.Fatalf("pgcluster stop: %v\n%s", err, out)
	}
}

// partnerToken creates a partner token for parceiro@example.com.
func partnerToken(t *testing.T, p *process) string {
	t.Helper()
	code, tok := p.do(t, "POST", "/v1/environments/acme/partner-tokens", `{"email":"parceiro@example.com","description":"telefonia"}`)
	if code != http.StatusCreated {
		t.Fatalf("partner token: %d %v", code, tok)
	}
	return tok["token"].(string)
}

// callbackLead adds the lead lf (carga@example.com), which the suite's
// callbacks name, and returns a partner token.
func callbackLead(t *testing.T, p *process) string {
	t.Helper()
	if code, body := p.do(t, "PUT", "/v1/environments/acme/leads/lf", `{"name":"Carga","email":"carga@example.com","manager_id":"g1","broker_id":"c1"}`); code >= 300 {
		t.Fatalf("lead: %d %v", code, body)
	}
	return partnerToken(t, p)
}

// leadCallback posts a lead callback for the lead of carga@example.com.
func leadCallback(p *process, token, descricao, audio string) (int, error) {
	interaction := `{"tipo": "L", "descricao": "` + descricao + `"`
	if audio != "" {
		interaction += `, "audio_base64": "` + audio + `"`
	}
	code, _, err := send(faultClient, http.MethodPost, "http://"+p.addr+"/api/cvio/lead",
		`{"email": "carga@example.com", "interacoes": [`+interaction+`}]}`, "email", "parceiro@example.com", "token", token)
	return code, err
}

// history returns the descricao of every interaction on the lead lf.
func history(t *testing.T, p *process) []string {
	t.Helper()
	code, lead := p.do(t, "GET", "/v1/environments/acme/leads/lf", "")
	if code != http.StatusOK {
		t.Fatalf("lead: %d %v", code, lead)
	}
	items, _ := lead["history"].([]any)
	var out []string
	for _, it := range items {
		m, _ := it.(map[string]any)
		d, _ := m["description"].(string)
		out = append(out, d)
	}
	return out
}

// 2. PostgreSQL stopped and started again while partners post callbacks:
// /readyz answers 503 while it is down and 200 once it is back, without a
// restart of the service; every callback answered 2xx is in the lead's
// history afterwards; clicks are delivered again.
func TestFaultPostgresRestartLosesNoCallback(t *testing.T) {
	t.Parallel()
	rounds := faultSize(1, 3)
	cluster := startCluster(t)
	fake := newPartner(t)
	p := startServiceEnv(t, cluster.url, append([]string{"CALLCONNECT_PARTNER_RATE_LIMIT=1000000"}, deliveryEnv...))
	configure(t, p, fake.srv.URL+"/calls", 1)
	token := callbackLead(t, p)

	var mu sync.Mutex
	answered := map[string]int{}         // descricao → status
	var failed atomic.Int64              // no answer at all
	var taken, refusedSoFar atomic.Int64 // answered 2xx, answered 5xx
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var seq atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				desc := fmt.Sprintf("carga %d-%d", w, seq.Add(1))
				code, err := leadCallback(p, token, desc, "")
				if err != nil {
					failed.Add(1)
					// A partner tries again after a pause, not in a tight
					// loop against a service that cannot answer.
					time.Sleep(50 * time.Millisecond) // shapes load: the partner's pause before trying again
					continue
				}
				mu.Lock()
				answered[desc] = code
				mu.Unlock()
				switch {
				case code >= 200 && code < 300:
					taken.Add(1)
				case code >= 500:
					refusedSoFar.Add(1)
					time.Sleep(50 * time.Millisecond) // shapes load, as above
				}
			}
		}()
	}
	ready := func() int { code, _ := p.get(t, "/readyz"); return code }
	// Each phase lasts until the callbacks show it: some taken before the
	// outage, some refused or unanswered during it, some taken after it.
	const enough = 20
	waitFor(t, 30*time.Second, "callbacks are taken before the outage", func() bool { return taken.Load() >= enough })
	for range rounds {
		cluster.stop(t)
		waitFor(t, 20*time.Second, "/readyz answers 503 while PostgreSQL is down", func() bool { return ready() == http.StatusServiceUnavailable })
		down := refusedSoFar.Load() + failed.Load()
		waitFor(t, 30*time.Second, "callbacks are refused while PostgreSQL is down", func() bool {
			return refusedSoFar.Load()+failed.Load() >= down+enough/4
		})
		cluster.start(t)
		waitFor(t, 60*time.Second, "/readyz answers 200 once PostgreSQL is back", func() bool { return ready() == http.StatusOK })
		back := taken.Load()
		waitFor(t, 30*time.Second, "callbacks are taken again once PostgreSQL is back", func() bool { return taken.Load() >= back+enough })
	}
	close(stop)
	wg.Wait()

	inHistory := map[string]bool{}
	for _, d := range history(t, p) {
		inHistory[d] = true
	}
	var ok, refused, lost int
	for desc, code := range answered {
		switch {
		case code >= 200 && code < 300:
			ok++
			if !inHistory[desc] {
				lost++
				t.Errorf("callback %q was answered %d but is not in the history", desc, code)
			}
		case code >= 500:
			refused++
		default:
			t.Errorf("callback %q answered %d", desc, code)
		}
	}
	if refused == 0 || ok == 0 {
		t.Fatalf("%d callbacks answered 2xx and %d 5xx: the outage did not show", ok, refused)
	}
	id := p.click(t, "l0")
	waitFor(t, 30*time.Second, "a click after the restart is delivered", func() bool { s, _ := p.callStatus(t, id); return s == "delivered" })
	if code := ready(); code != http.StatusOK {
		t.Fatalf("/readyz: %d", code)
	}
	p.stop(t)
	checked(t, "%d PostgreSQL restarts; /readyz 503 while down and 200 after; %d callbacks answered 2xx, all %d in the history (%d lost); "+
		"%d answered 5xx during the outage, %d without an answer; a click after the restart delivered",
		rounds, ok, ok-lost, lost, refused, failed.Load())
}

// failingS3 is an S3 fake on loopback whose uploads (fail "upload") or
// copies into place (fail "copy") answer 500, as a full or broken object
// store does; fail "" lets everything through.
type failingS3 struct {
	addr    string
	backend gofakes3.Backend
	mu      sync.Mutex
	fail    string
	failed  int
}

const faultBucket = "recordings"

func newFailingS3(t *testing.T) *failingS3 {
	t.Helper()
	f := &failingS3{backend: s3mem.New()}
	if err := f.backend.CreateBucket(faultBucket); err != nil {
		t.Fatal(err)
	}
	fake := gofakes3.New(f.backend).Server()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, object, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		copying := r.Header.Get("X-Amz-Copy-Source") != ""
		f.mu.Lock()
		fail := object != "" && (r.Method == http.MethodPut || r.Method == http.MethodPost) &&
			(f.fail == "upload" && !copying || f.fail == "copy" && copying)
		if fail {
			f.failed++
		}
		f.mu.Unlock()
		if !fail {
			fake.ServeHTTP(w, r)
			return
		}
		_, _ = io.CopyN(io.Discard, r.Body, 64<<10) // some of the body, as a server that fails midway
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>`)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	f.addr = strings.TrimPrefix(srv.URL, "http://")
	return f
}

func (f *failingS3) setFail(what string) {
	f.mu.Lock()
	f.fail = what
	f.mu.Unlock()
}

func (f *failingS3) objects(t *testing.T) int {
	t.Helper()
	list, err := f.backend.ListBucket(faultBucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Contents)
}

// 3. The object store failing (uploads, or the copy into place): the
// callback carrying a recording gets a 5xx, and nothing is half-written:
// no history entry, no recording row, no object left in the bucket. Once
// the store works again, the same callback is taken whole.
func TestFaultFailingAudioStoreWritesNothing(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewEmptyPool(t)
	s3 := newFailingS3(t)
	p := startServiceEnv(t, pool.Config().ConnString(), append([]string{
		"CALLCONNECT_S3_ENDPOINT=" + s3.addr, "CALLCONNECT_S3_BUCKET=" + faultBucket, "CALLCONNECT_S3_ACCESS_KEY=fault-access",
		"CALLCONNECT_S3_SECRET_KEY=fault-secret", "CALLCONNECT_S3_REGION=us-east-1", "CALLCONNECT_S3_USE_SSL=false",
	}, deliveryEnv...))
	fake := newPartner(t)
	configure(t, p, fake.srv.URL+"/calls", 1)
	token := callbackLead(t, p)
	sizes := []int{64 << 10, faultSize(1, 20) << 20}
	recordings := func() int {
		var n int
		if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM recordings`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	attempts := 0
	for _, size := range sizes {
		mp3 := append([]byte("ID3\x03\x00\x00\x00\x00\x00\x39TPE1"), make([]byte, size)...)
		_, _ = rand.NewChaCha8([32]byte{byte(size >> 16)}).Read(mp3[14:])
		audio := base64.StdEncoding.EncodeToString(mp3)
		for _, fail := range []string{"upload", "copy"} {
			s3.setFail(fail)
			desc := fmt.Sprintf("gravação %d %s", size, fail)
			code, err := leadCallback(p, token, desc, audio)
			attempts++
			if err != nil || code < 500 {
				t.Fatalf("%d-byte recording while the store fails its %s: %d %v, want a 5xx", size, fail, code, err)
			}
			if h, r, o := len(history(t, p)), recordings(), s3.objects(t); h != 0 || r != 0 || o != 0 {
				t.Fatalf("after a failed %s: %d history entries, %d recording rows, %d objects; want none", fail, h, r, o)
			}
		}
	}
	s3.setFail("")
	mp3 := append([]byte("ID3\x03\x00\x00\x00\x00\x00\x39TPE1"), make([]byte, 4096)...)
	if code, err := leadCallback(p, token, "gravação depois", base64.StdEncoding.EncodeToString(mp3)); err != nil || code != http.StatusOK {
		t.Fatalf("once the store works: %d %v", code, err)
	}
	if h, r, o := len(history(t, p)), recordings(), s3.objects(t); h != 1 || r != 1 || o != 1 {
		t.Fatalf("once the store works: %d history entries, %d recording rows, %d objects; want one each", h, r, o)
	}
	p.stop(t)
	s3.mu.Lock()
	defer s3.mu.Unlock()
	checked(t, "%d callbacks with recordings (%d and %d bytes) while the store failed uploads or copies (%d failed S3 requests): "+
		"each answered 5xx, 0 history entries, 0 recording rows, 0 objects; then 1 accepted whole", attempts, sizes[0], sizes[1], s3.failed)
}

// 4. SIGTERM while clicks arrive and partners upload recordings: the
// clicks go on being served through a short drain, the uploads under way
// when the signal comes finish (200, in the history), no click is processed
// without its answer reaching the client (a click the closing listener
// refuses or resets creates no call), the process exits cleanly, and every
// accepted click is delivered afterwards by the next process.
func TestFaultSIGTERMUnderLoad(t *testing.T) {
	t.Parallel()
	rounds := faultSize(1, 5)
	const uploads = 2
	pool := pgtest.NewEmptyPool(t)
	url := pool.Config().ConnString()
	fake := newPartner(t)
	fake.answer = func() int {
		// Each request takes a while, so that deliveries are in flight
		// when the signal comes.
		time.Sleep(100 * time.Millisecond) // shapes load: a slow partner
		return http.StatusAccepted
	}
	env := append([]string{"CALLCONNECT_PARTNER_RATE_LIMIT=1000000", "CALLCONNECT_SHUTDOWN_DRAIN=300ms"}, deliveryEnv...)
	p := startServiceEnv(t, url, env)
	configure(t, p, fake.srv.URL+"/calls", 1)
	token := callbackLead(t, p)
	mp3 := append([]byte("ID3\x03\x00\x00\x00\x00\x00\x39TPE1"), make([]byte, 1<<20)...)
	audio := base64.StdEncoding.EncodeToString(mp3)

	var accepted []string
	var uploaded []string
	var answeredAfter, notAccepted, handedOver int
	// A lead per click; the clicks of a round stop by themselves once its
	// leads are used up, which the round's clicks do not reach.
	const leadsPerRound = 2000
	for round := range rounds {
		addLeads(t, p, 1+round*leadsPerRound, leadsPerRound)
		leads := newLeadSeq(1+round*leadsPerRound, leadsPerRound)
		var mu sync.Mutex
		var sent atomic.Bool         // SIGTERM sent
		var acceptedNow atomic.Int64 // clicks accepted this round
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					lead, ok := leads.take()
					if !ok {
						return
					}
					id, err := clickID(faultClient, p, lead)
					mu.Lock()
					if err == nil {
						acceptedNow.Add(1)
						accepted = append(accepted, id)
						if sent.Load() {
							answeredAfter++
						}
					} else {
						notAccepted++
					}
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
		// Uploads that trickle their body (2 to 3 s each): in flight when the
		// signal comes, once a quarter of each body is on its way.
		upErrs := make(chan error, uploads)
		bodies := make([]*trickle, uploads)
		for i := range uploads {
			desc := fmt.Sprintf("gravação lenta %d-%d", round, i)
			body := `{"email": "carga@example.com", "interacoes": [{"tipo": "L", "descricao": "` + desc + `", "audio_base64": "` + audio + `"}]}`
			bodies[i] = &trickle{r: strings.NewReader(body), every: 100 * time.Millisecond, chunk: 64 << 10}
			go func() {
				req, err := http.NewRequest(http.MethodPost, "http://"+p.addr+"/api/cvio/lead", bodies[i])
				if err != nil {
					upErrs <- err
					return
				}
				req.ContentLength = int64(len(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("email", "parceiro@example.com")
				req.Header.Set("token", token)
				resp, err := faultClient.Do(req)
				if err != nil {
					upErrs <- fmt.Errorf("upload %q: %w", desc, err)
					return
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					upErrs <- fmt.Errorf("upload %q: %d %s", desc, resp.StatusCode, answer)
					return
				}
				mu.Lock()
				uploaded = append(uploaded, desc)
				mu.Unlock()
				upErrs <- nil
			}()
		}
		waitFor(t, 30*time.Second, "clicks are accepted and the uploads are under way", func() bool {
			for _, b := range bodies {
				if b.handed.Load() < int64(len(audio)/4) {
					return false
				}
			}
			return acceptedNow.Load() > 0
		})
		sent.Store(true)
		p.stop(t) // fails the test unless the process exits 0 within 30 s
		wg.Wait()
		for range uploads {
			if err := <-upErrs; err != nil {
				t.Errorf("an upload under way at SIGTERM did not finish: %v", err)
			}
		}
		// A process that stopped cleanly hands its deliveries back: a job
		// it left running would wait for River's rescue, a minute or so.
		if n := runningDeliveries(t, pool); n != 0 {
			t.Errorf("the stopped process left %d delivery jobs running", n)
		}
		handedOver += unfinishedDeliveries(t, pool)
		p = startServiceEnv(t, url, env)
	}

	inHistory := map[string]bool{}
	for _, d := range history(t, p) {
		inHistory[d] = true
	}
	for _, d := range uploaded {
		if !inHistory[d] {
			t.Errorf("upload %q was answered 200 but is not in the history", d)
		}
	}
	var calls int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM calls`).Scan(&calls); err != nil {
		t.Fatal(err)
	}
	if calls != len(accepted) {
		t.Errorf("%d calls exist for %d accepted clicks: a click was processed but its answer was cut", calls, len(accepted))
	}
	delivered, undeliverable := terminal(t, t.Context(), pool, accepted, 2*time.Minute)
	if undeliverable != 0 {
		t.Errorf("%d accepted calls ended undeliverable", undeliverable)
	}
	p.stop(t)
	checked(t, "%d SIGTERMs under load: %d of %d uploads under way at the signal answered 200 and in the history; "+
		"%d clicks accepted (%d answered after the signal), %d refused or reset by the closing listener and none of those created a call; "+
		"the process exited 0 each time leaving no delivery job running (%d handed over to the next process); %d of %d delivered afterwards, none abandoned",
		rounds, len(uploaded), rounds*uploads, len(accepted), answeredAfter, notAccepted, handedOver, delivered, len(accepted))
}

// 5. SIGTERM while the partner holds a delivery: the stop waits for it
// (10 s), then cuts the attempt short, records it and hands the job back,
// so the next process makes the call again, under the same webhook-id, as
// soon as it runs. Timed from the signal to the partner's next request.
func TestFaultSIGTERMHandsARunningDeliveryOver(t *testing.T) {
	t.Parallel()
	// The partner's default timeout (15 s) outlasts the stop's wait for
	// running deliveries: the stop, not the timeout, ends the attempt.
	takenOver(t, "SIGTERM", nil, func(p *process) { p.stop(t) }, 5*time.Second)
}

// 6. SIGKILL while the partner holds a delivery: the job stays running
// until River's rescuer takes it for abandoned, then the next process makes
// the call again, under the same webhook-id. Timed from the kill to the
// partner's next request.
func TestFaultSIGKILLedDeliveryIsRescued(t *testing.T) {
	t.Parallel()
	// At full size the kill is timed with the default partner timeout (15 s),
	// what a deployment sees; the short form uses 2 s, for a shorter wait.
	timeout := time.Duration(faultSize(2, 15)) * time.Second
	// River takes a job for abandoned once it has run the job timeout (the
	// partner's plus 3 s) and 4 s more, at a run of its rescuer: every 30 s
	// on the leader, which the next process becomes about 21 s after the
	// kill at the latest (the killed leader's 15 s lease, then its next try,
	// every 5 s). The scheduler (every 5 s) then makes the job available
	// again after River's first retry wait (about 1 s). 5 s more for
	// River's start-up stagger and a busy machine.
	rescued := max(21*time.Second, timeout+7*time.Second) + 30*time.Second + 6*time.Second + 5*time.Second
	takenOver(t, "SIGKILL", []string{"CALLCONNECT_PARTNER_TIMEOUT=" + timeout.String(), "CALLCONNECT_PARTNER_CONNECT_TIMEOUT=1s"},
		func(p *process) { p.kill(t) }, rescued)
}

// takenOver has the partner hold a delivery, ends its process with stop,
// starts another and checks that the partner gets the call again within
// `within` of that start, under the same webhook-id, and that it ends
// delivered. It logs how long each step took.
func takenOver(t *testing.T, signal string, env []string, stop func(*process), within time.Duration) {
	t.Helper()
	rounds := faultSize(1, 3)
	pool := pgtest.NewEmptyPool(t)
	url := pool.Config().ConnString()
	fake := newPartner(t)
	env = append(append([]string{}, env...), deliveryEnv...)
	p := startServiceEnv(t, url, env)
	configure(t, p, fake.srv.URL+"/calls", 1)
	var report []string
	for round := range rounds {
		fake.setHang(true)
		_, before := fake.counts()
		id := p.click(t, "l0")
		waitFor(t, 20*time.Second, "the partner receives the attempt", func() bool { _, n := fake.counts(); return n > before })
		fake.setHang(false) // the request under way stays held
		signalled := time.Now()
		stop(p)
		exited := time.Now()
		var state string
		err := pool.QueryRow(t.Context(), `SELECT state FROM river_job WHERE kind = 'deliver_call' AND args->>'call_id' = $1`, id).Scan(&state)
		if err != nil {
			t.Fatal(err)
		}
		p = startServiceEnv(t, url, env)
		started := time.Now()
		waitFor(t, within+30*time.Second, "the partner receives the call again", func() bool { _, n := fake.counts(); return n > before+1 })
		fake.mu.Lock()
		again, sent := fake.last, fake.byID["msg_"+id]
		fake.mu.Unlock()
		waitFor(t, 30*time.Second, "the call is delivered", func() bool { s, _ := p.callStatus(t, id); return s == "delivered" })
		if sent != 2 {
			t.Errorf("round %d: the call reached the partner %d times under its webhook-id, want 2", round, sent)
		}
		if took := again.Sub(started); took > within {
			t.Errorf("round %d: the next process sent the call again %s after it started (the job was %s at the exit), want within %s",
				round, took.Round(time.Millisecond), state, within)
		}
		report = append(report, fmt.Sprintf("exited %s after the signal leaving the job %s; the next process, started %s later, sent the call again %s after its start (%s after the signal)",
			exited.Sub(signalled).Round(100*time.Millisecond), state, started.Sub(exited).Round(100*time.Millisecond),
			again.Sub(started).Round(100*time.Millisecond), again.Sub(signalled).Round(100*time.Millisecond)))
	}
	p.stop(t)
	checked(t, "%s while the partner held a delivery, %d times, each delivered again under its webhook-id: %s",
		signal, rounds, strings.Join(report, "; "))
}

// trickle hands out its reader's bytes chunk by chunk, one chunk every
// so often: a partner on a slow link. handed counts the bytes handed out.
type trickle struct {
	r      io.Reader
	every  time.Duration
	chunk  int
	handed atomic.Int64
}

func (t *trickle) Read(p []byte) (int, error) {
	time.Sleep(t.every) // shapes load: the slow link's pace
	n, err := t.r.Read(p[:min(len(p), t.chunk)])
	t.handed.Add(int64(n))
	return n, err
}
