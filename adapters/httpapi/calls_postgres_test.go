package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"callconnect/adapters/cvio"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/postgres"
	"callconnect/adapters/system"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// tableEnqueuer schedules deliveries by writing them to a table of the test
// database in the caller's transaction: what commits is what a worker would
// run, as with the real job queue, without running one.
type tableEnqueuer struct{}

func (tableEnqueuer) EnqueueDelivery(ctx context.Context, tx pgx.Tx, d ports.Delivery) error {
	_, err := tx.Exec(ctx, `INSERT INTO test_deliveries (env_id, call_id, trace_parent) VALUES ($1, $2, $3)`,
		d.EnvID, d.CallID, d.TraceParent)
	return err
}

// takeCommittedDeliveries returns the deliveries committed since the last
// take, oldest first, and forgets them.
func takeCommittedDeliveries(t *testing.T, pool *pgxpool.Pool) []ports.Delivery {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		WITH taken AS (DELETE FROM test_deliveries RETURNING id, env_id, call_id, trace_parent)
		SELECT env_id, call_id, trace_parent FROM taken ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ports.Delivery, error) {
		var d ports.Delivery
		err := row.Scan(&d.EnvID, &d.CallID, &d.TraceParent)
		return d, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// callsServedOnPostgres serves the calls' API over HTTP on the PostgreSQL store,
// its deliveries committed to test_deliveries, with env seeded.
func callsServedOnPostgres(t *testing.T) (*client, *pgxpool.Pool, *app.Calls, *fakePartner) {
	t.Helper()
	store, pool, _ := pgStore(t, 0, postgres.WithEnqueuer(tableEnqueuer{}))
	if _, err := pool.Exec(context.Background(),
		`CREATE TABLE test_deliveries (id bigserial PRIMARY KEY, env_id text NOT NULL, call_id text NOT NULL, trace_parent text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	partner := &fakePartner{status: http.StatusOK}
	calls := app.NewCalls(store, system.Clock{}, system.NewRandom(), partner, cvio.Payloads{},
		app.CallsConfig{DispatchDeadline: dispatchDeadline, RetryMinBackoff: time.Second})
	svc := httpapi.Services{
		Configuration: app.NewConfiguration(store),
		Telephony:     app.NewTelephony(store, system.Clock{}, system.NewRandom(), domain.URLPolicy{}),
		CallButtons:   app.NewCallButtons(store),
		Calls:         calls,
	}
	c := overHTTP(t, httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{}))
	seedCalls(t, c, env)
	return c, pool, calls, partner
}

// Clicks by one user on one lead that arrive together (a double click, a
// retry racing the first try) place one call: every other one is 409
// call_in_progress naming it, and one delivery is committed.
func TestConcurrentClicksPlaceOneCall(t *testing.T) {
	c, pool, _, _ := callsServedOnPostgres(t)
	const clicks = 8
	answers := make([]*response, clicks)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			<-start
			answers[i] = c.post(env+"/leads/1/calls", map[string]any{"user_id": "corretor"})
		})
	}
	close(start)
	wg.Wait()
	var placed []string
	var named []string
	for _, r := range answers {
		switch r.Status {
		case http.StatusAccepted:
			placed = append(placed, accepted(t, r)["id"].(string))
		case http.StatusConflict:
			wantProblem(t, r, http.StatusConflict, "call_in_progress", "path.lead_id")
			var p struct {
				CallID string `json:"call_id"`
			}
			r.decode(t, &p)
			named = append(named, p.CallID)
		default:
			t.Fatalf("a click answered %s", r)
		}
	}
	if len(placed) != 1 {
		t.Fatalf("%d concurrent clicks placed %d calls %v, want 1", clicks, len(placed), placed)
	}
	for _, id := range named {
		if id != placed[0] {
			t.Errorf("call_in_progress named %q, want the placed call %q", id, placed[0])
		}
	}
	if ds := takeCommittedDeliveries(t, pool); len(ds) != 1 || ds[0].CallID != placed[0] {
		t.Fatalf("committed deliveries %+v, want the one call's", ds)
	}
}

// TestCallsOnPostgres places, reads, delivers and redelivers calls over a
// real HTTP connection with the PostgreSQL store behind the API.
func TestCallsOnPostgres(t *testing.T) {
	c, pool, calls, partner := callsServedOnPostgres(t)
	const other = "/v1/environments/other"
	seedCalls(t, c, other)
	deliver := func(want int) {
		t.Helper()
		ds := takeCommittedDeliveries(t, pool)
		if len(ds) != want {
			t.Fatalf("want %d committed deliveries, got %+v", want, ds)
		}
		for _, d := range ds {
			if _, err := calls.Deliver(context.Background(), d.EnvID, d.CallID); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Refused: nothing committed.
	wantProblem(t, c.post(env+"/leads/1/calls", map[string]any{"user_id": "stranger"}), http.StatusForbidden, "not_owner", "body.user_id")
	wantProblem(t, c.post(env+"/leads/1/calls", map[string]any{"user_id": "ramal"}), http.StatusConflict, "missing_phone", "body.user_id")
	deliver(0)

	// Placed: the call and its delivery committed together.
	before := time.Now()
	r := c.post(env+"/leads/1/calls", map[string]any{"user_id": "corretor"})
	call := accepted(t, r)
	id, _ := call["id"].(string)
	if !domain.ValidID(id) || r.Header.Get("Location") != env+"/calls/"+id {
		t.Fatalf("call %v, Location %q", call, r.Header.Get("Location"))
	}
	wantCall(t, call, id, "queued", nil, 0)
	clicked, err := time.Parse(time.RFC3339Nano, call["clicked_at"].(string))
	if err != nil || clicked.Before(before.Add(-time.Second)) || clicked.After(time.Now().Add(time.Second)) {
		t.Fatalf("clicked_at %v (%v)", call["clicked_at"], err)
	}
	wantCall(t, c.ok(c.get(r.Header.Get("Location"))), id, "queued", nil, 0)

	// A second click while the call is still queued places nothing and
	// names the call under way (the deliver(1) below finds one delivery).
	twice := c.post(env+"/leads/1/calls", map[string]any{"user_id": "corretor"})
	wantProblem(t, twice, http.StatusConflict, "call_in_progress", "path.lead_id")
	var inProgress struct {
		CallID string `json:"call_id"`
	}
	if twice.decode(t, &inProgress); inProgress.CallID != id {
		t.Fatalf("call_in_progress names call %q, want %q: %s", inProgress.CallID, id, twice)
	}

	// Refused by the partner for good, then redelivered and delivered.
	partner.answer(http.StatusBadRequest)
	deliver(1)
	attempts := wantCall(t, c.ok(c.get(env+"/calls/"+id)), id, "undeliverable", "partner_refused", 1)
	if a := attempts[0].(map[string]any); a["status_code"] != float64(400) || a["error"] != "partner answered 400" ||
		a["duration_ms"] != float64(partnerLatency.Milliseconds()) {
		t.Fatalf("attempt: %v", a)
	}
	wantCall(t, accepted(t, c.post(env+"/calls/"+id+"/redeliver", nil)), id, "queued", nil, 1)
	partner.answer(http.StatusOK)
	deliver(1)
	attempts = wantCall(t, c.ok(c.get(env+"/calls/"+id)), id, "delivered", nil, 2)
	if a := attempts[1].(map[string]any); a["status_code"] != float64(200) || a["error"] != nil {
		t.Fatalf("attempt: %v", a)
	}
	reqs := partner.received()
	if len(reqs) != 2 || !bytes.Equal(reqs[0].Body, reqs[1].Body) || reqs[0].WebhookID != "msg_"+id || reqs[1].WebhookID != reqs[0].WebhookID {
		t.Fatalf("partner requests: %+v", reqs)
	}

	// Delivered: the same user's next click on the lead places a call.
	if next := accepted(t, c.post(env+"/leads/1/calls", map[string]any{"user_id": "corretor"})); next["id"] == id {
		t.Fatalf("a click after the delivery answered the delivered call %v", next)
	}
	deliver(1)

	wantProblem(t, c.post(env+"/calls/"+id+"/redeliver", nil), http.StatusConflict, "invalid_call_transition", "path.call_id")
	wantProblem(t, c.get(other+"/calls/"+id), http.StatusNotFound, "call_not_found", "path.call_id")
	wantProblem(t, c.post(other+"/calls/"+id+"/redeliver", nil), http.StatusNotFound, "call_not_found", "path.call_id")
	wantProblem(t, c.get(env+"/calls/nope"), http.StatusNotFound, "call_not_found", "path.call_id")
	deliver(0)
}
