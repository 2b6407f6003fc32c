package jobs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"callconnect/adapters/cvio"
	"callconnect/adapters/jobs"
	"callconnect/adapters/outbox"
	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/adapters/system"
	"callconnect/adapters/webhook"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// testTimeout bounds every test that waits for deliveries.
const testTimeout = 60 * time.Second

// Seeded names: an environment with Call Connect on, a broker who owns lead
// "1", and an administrator.
const (
	envID    = "acme"
	leadID   = "1"
	brokerID = "corretor"
	adminID  = "admin"
)

// received is one request the fake partner got.
type received struct {
	At        time.Time
	WebhookID string
	Body      []byte
}

// fakePartner is a partner's endpoint on loopback. answer decides each
// status from the request's webhook-id and how many requests with that id
// came before (0 for the first); 200 when nil.
type fakePartner struct {
	srv    *httptest.Server
	answer func(webhookID string, n int) int

	mu   sync.Mutex
	reqs []received
	seen map[string]int
	// arrived, when set, is told of every request as it arrives.
	arrived chan<- received
}

func newFakePartner(t testing.TB, answer func(webhookID string, n int) int) *fakePartner {
	t.Helper()
	p := &fakePartner{answer: answer, seen: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakePartner) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(r.Body)
	rec := received{At: at, WebhookID: r.Header.Get("webhook-id"), Body: body}
	p.mu.Lock()
	n := p.seen[rec.WebhookID]
	p.seen[rec.WebhookID] = n + 1
	p.reqs = append(p.reqs, rec)
	arrived := p.arrived
	p.mu.Unlock()
	if arrived != nil {
		arrived <- rec
	}
	status := http.StatusOK
	if p.answer != nil {
		status = p.answer(rec.WebhookID, n)
	}
	w.WriteHeader(status)
}

func (p *fakePartner) URL() string { return p.srv.URL + "/calls" }

// requests returns what the partner received, in order.
func (p *fakePartner) requests() []received {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]received(nil), p.reqs...)
}

// countByWebhookID counts the requests per webhook-id.
func (p *fakePartner) countByWebhookID() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.seen))
	for k, v := range p.seen {
		out[k] = v
	}
	return out
}

// always answers status to every request.
func always(status int) func(string, int) int {
	return func(string, int) int { return status }
}

// inTurn answers statuses[n] to the n-th request of each call, then the last.
func inTurn(statuses ...int) func(string, int) int {
	return func(_ string, n int) int { return statuses[min(n, len(statuses)-1)] }
}

// world is one service on a fresh database: store, use cases, the partner.
type world struct {
	pool     *pgxpool.Pool
	store    ports.Store
	calls    *app.Calls
	partner  *fakePartner
	enqueuer outbox.Enqueuer
	placed   atomic.Int64 // calls place made: its leads' numbers
}

type worldOptions struct {
	calls app.CallsConfig
	// enqueuer replaces the River one (wrapping it, say).
	wrapEnqueuer func(outbox.Enqueuer) outbox.Enqueuer
	maxConns     int32
	// partner, when set, serves the partner's endpoint instead of the
	// fake partner's recording handler.
	partner http.Handler
	// pool, when set, is used instead of a fresh database's.
	pool *pgxpool.Pool
	// tracer, when set, sees every query of the fresh database's pool.
	tracer pgx.QueryTracer
}

var testSecretsKey = bytes.Repeat([]byte{0x42}, postgres.SecretsKeySize)

// newWorld migrates a fresh database (River's tables included), seeds an
// environment whose Call Connect integration points at a fake partner on
// loopback, and builds the use cases on the PostgreSQL store with the River
// enqueuer and the real webhook client.
func newWorld(t testing.TB, answer func(string, int) int, opts worldOptions) *world {
	t.Helper()
	pool := opts.pool
	if pool == nil {
		pool = newPool(t, pgtest.NewPool(t), opts.maxConns, opts.tracer)
	}
	var enq outbox.Enqueuer = jobs.NewEnqueuer()
	if opts.wrapEnqueuer != nil {
		enq = opts.wrapEnqueuer(enq)
	}
	store, err := postgres.NewStore(pool, testSecretsKey, postgres.WithEnqueuer(enq))
	if err != nil {
		t.Fatal(err)
	}
	var partner *fakePartner
	if opts.partner != nil {
		partner = &fakePartner{srv: httptest.NewServer(opts.partner)}
		t.Cleanup(partner.srv.Close)
	} else {
		partner = newFakePartner(t, answer)
	}
	client := webhook.New(webhook.Config{AllowPrivate: true, Timeout: 5 * time.Second})
	t.Cleanup(client.CloseIdleConnections)
	if opts.calls.RetryMinBackoff == 0 {
		opts.calls.RetryMinBackoff = 20 * time.Millisecond
	}
	w := &world{pool: pool, store: store, partner: partner, enqueuer: enq,
		calls: app.NewCalls(store, system.Clock{}, system.NewRandom(), client, cvio.Payloads{}, opts.calls)}
	w.seed(t)
	return w
}

// newPool opens a second pool on base's database, sized for a River client
// with its workers (pgtest's is sized by the CPU count).
func newPool(t testing.TB, base *pgxpool.Pool, maxConns int32, tracer ...pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	cfg := base.Config()
	for _, tr := range tracer {
		if tr != nil {
			cfg.ConnConfig.Tracer = tr
		}
	}
	cfg.MaxConns = 20
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close) // before pgtest drops the database
	return pool
}

func (w *world) seed(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	conf := app.NewConfiguration(w.store)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(conf.PutEnvironment(ctx, domain.EnvironmentInput{ID: envID, Name: "Acme Imóveis",
		PublicBaseURL: "https://acme.crm.example.com", CallConnectEnabled: true}))
	must(conf.PutUser(ctx, domain.UserInput{EnvID: envID, ID: adminID, Name: "Admin", Role: "manager", CanManageIntegrations: true}))
	must(conf.PutUser(ctx, domain.UserInput{EnvID: envID, ID: brokerID, Name: "Corretor", Role: "broker", Phone: "48999476351"}))
	must(conf.PutLead(ctx, domain.LeadInput{EnvID: envID, ID: leadID, Name: "Lead do Teste", Phone: "48999476359", BrokerID: brokerID}))
	tel := app.NewTelephony(w.store, system.Clock{}, system.NewRandom(), domain.URLPolicy{AllowHTTP: true, AllowPrivate: true})
	must(tel.PutIntegration(ctx, envID, "call-connect", adminID, domain.IntegrationSettings{PartnerURL: w.partner.URL(), DialMode: "phone"}))
	must(tel.Activate(ctx, envID, "call-connect", adminID))
}

// place presses Ligar, the first time on leadID and then each time on a
// new lead of the broker: a second click by a user on a lead whose call is
// still under way places no call.
func (w *world) place(t testing.TB) domain.Call {
	t.Helper()
	lead := leadID
	if n := w.placed.Add(1) - 1; n > 0 {
		lead = w.addLeads(t, fmt.Sprintf("%s-%d", leadID, n), 1)[0]
	}
	call, err := w.calls.Place(context.Background(), envID, lead, brokerID, "")
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	return call
}

// addLeads makes n leads of the broker, named prefix-0, prefix-1, … (or
// prefix alone when n is 1), and returns their ids.
func (w *world) addLeads(t testing.TB, prefix string, n int) []string {
	t.Helper()
	conf := app.NewConfiguration(w.store)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = prefix
		if n > 1 {
			ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		}
		if _, err := conf.PutLead(context.Background(), domain.LeadInput{EnvID: envID, ID: ids[i], Name: "Lead do Teste",
			Phone: "48999476359", BrokerID: brokerID}); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// startClient starts a processing client ("a replica") on pool; it is
// stopped when the test ends.
func (w *world) startClient(t testing.TB, pool *pgxpool.Pool, cfg jobs.Config) *jobs.Client {
	t.Helper()
	worker := jobs.NewDeliverCallWorker(w.calls, jobs.WorkerConfig{Timeout: cfg.JobTimeout, Logger: testLogger(t)})
	workers, err := jobs.NewWorkers(worker)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	client, err := jobs.NewClient(pool, workers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := client.Stop(ctx); err != nil {
			t.Errorf("stopping the client: %v", err)
		}
	})
	return client
}

// waitFor polls the call until it has the status, and returns it.
func (w *world) waitFor(t testing.TB, ctx context.Context, callID string, status domain.CallStatus) domain.Call {
	t.Helper()
	for {
		call, err := w.calls.GetCall(ctx, envID, callID)
		if err == nil && call.Status() == status {
			return call
		}
		select {
		case <-ctx.Done():
			t.Fatalf("call %s: want %s, still %s (err %v) when the wait ended", callID, status, call.Status(), err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// jobStates lists the states of the delivery jobs of a call.
func jobStates(t testing.TB, pool *pgxpool.Pool, callID string) []string {
	t.Helper()
	return pgtest.Strings(t, pool,
		`SELECT state::text FROM river_job WHERE kind = 'deliver_call' AND args->>'call_id' = $1 ORDER BY id`, callID)
}

// waitForJobs waits until every delivery job of the call is in a final
// state, and returns the states.
func waitForJobs(t testing.TB, ctx context.Context, pool *pgxpool.Pool, callID string) []string {
	t.Helper()
	for {
		states := jobStates(t, pool, callID)
		done := len(states) > 0
		for _, s := range states {
			done = done && (s == "completed" || s == "cancelled" || s == "discarded")
		}
		if done {
			return states
		}
		select {
		case <-ctx.Done():
			t.Fatalf("jobs of call %s: %v when the wait ended", callID, states)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// eventually polls cond (a row written, a metric counted, a request
// received) every few milliseconds until it holds, and fails the test,
// naming what it waited for, when ctx ends first.
func eventually(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not by the end of the wait (%v)", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// addLead stores another lead of the broker, so that a call can be placed
// beside the one under test.
func (w *world) addLead(t testing.TB, id string) {
	t.Helper()
	_, err := app.NewConfiguration(w.store).PutLead(context.Background(),
		domain.LeadInput{EnvID: envID, ID: id, Name: "Lead " + id, Phone: "48999476359", BrokerID: brokerID})
	if err != nil {
		t.Fatal(err)
	}
}

// placeFor presses Ligar on the lead.
func (w *world) placeFor(t testing.TB, lead string) domain.Call {
	t.Helper()
	call, err := w.calls.Place(context.Background(), envID, lead, brokerID, "")
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	return call
}

func statusCodes(call domain.Call) []int {
	var out []int
	for _, a := range call.Attempts() {
		out = append(out, a.StatusCode)
	}
	return out
}

// testLogger writes River's and the worker's warnings to the test log when
// JOBS_TEST_LOG is set, and nowhere otherwise.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("JOBS_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
