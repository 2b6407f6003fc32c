package httpapi_test

import (
	"context"
	"testing"
	"time"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/memory"
	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/adapters/system"
	"callconnect/app"
	"callconnect/domain"
)

// TestNoResultOnPostgres follows a call the partner accepted and never
// reported on, over real HTTP with PostgreSQL behind the API and the clock
// in the test's hands: it reads no_result through the API the moment its
// result deadline (the default, 2 h after the partner's 2xx) has passed,
// before anything is written; the periodic marking then writes it down;
// and the partner's late result still settles it.
func TestNoResultOnPostgres(t *testing.T) {
	ctx := context.Background()
	store, pool, _ := pgStore(t, 0, postgres.WithEnqueuer(tableEnqueuer{}))
	if _, err := pool.Exec(ctx,
		`CREATE TABLE test_deliveries (id bigserial PRIMARY KEY, env_id text NOT NULL, call_id text NOT NULL, trace_parent text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	audio, err := audiostore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clock := memory.NewClock(t0)
	svc := callbackServices(store, audio, clock, system.NewRandom(), 0)
	c := overHTTP(t, httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{}))
	seedCalls(t, c, env)
	r := &callbackRig{client: c, audio: audio}
	r.token = r.created(c.post(env+"/partner-tokens", map[string]any{"email": partnerEmail}))["token"].(string)
	marker := app.NewNoResultMarker(store, clock, app.CallsConfig{}, app.NoResultConfig{}, nil)
	stored := func(id string) string {
		t.Helper()
		return pgtest.Strings(t, pool, `SELECT status FROM calls WHERE env_id = 'acme' AND id = $1`, id)[0]
	}

	// Placed and delivered: the partner's 2xx comes partnerLatency after the attempt starts.
	callID := r.placeCall("1")
	for _, d := range takeCommittedDeliveries(t, pool) {
		if _, err := svc.Calls.Deliver(ctx, d.EnvID, d.CallID); err != nil {
			t.Fatal(err)
		}
	}
	got := c.ok(c.get(env + "/calls/" + callID))
	wantCall(t, got, callID, "delivered", nil, 1)
	acceptedAt := t0.Add(partnerLatency)
	if got["delivered_at"] != acceptedAt.Format(time.RFC3339Nano) {
		t.Fatalf("delivered_at %v, want %s (the end of the attempt)", got["delivered_at"], acceptedAt.Format(time.RFC3339Nano))
	}

	// Just before the deadline: still delivered, and the marking leaves it.
	clock.Set(acceptedAt.Add(domain.DefaultResultDeadline - time.Millisecond))
	if status, _ := r.callStatus(callID); status != "delivered" {
		t.Fatalf("a moment before the deadline: %s", status)
	}
	if run, err := marker.Run(ctx); err != nil || run.Marked != 0 {
		t.Fatalf("marking before the deadline: %+v %v", run, err)
	}

	// At the deadline: no_result as read, while the row still says delivered.
	clock.Set(acceptedAt.Add(domain.DefaultResultDeadline))
	wantCall(t, c.ok(c.get(env+"/calls/"+callID)), callID, "no_result", nil, 1)
	if s := stored(callID); s != "delivered" {
		t.Fatalf("the row before the marking: %s", s)
	}

	// The marking writes it down.
	run, err := marker.Run(ctx)
	if err != nil || run.Marked != 1 {
		t.Fatalf("marking: %+v %v", run, err)
	}
	if s := stored(callID); s != "no_result" {
		t.Fatalf("the row after the marking: %s", s)
	}
	wantCall(t, c.ok(c.get(env+"/calls/"+callID)), callID, "no_result", nil, 1)

	// An hour later the partner's result arrives; it settles the call.
	clock.Advance(time.Hour)
	ans := r.ok(r.partner("/api/cvio/ligacoes/"+callID+"/resultado", `{"status":"nao_realizada","motivo":"não atendida"}`))
	if ans["call_id"] != callID || ans["call_status"] != "not_completed" {
		t.Fatalf("the late result's answer: %v", ans)
	}
	wantCall(t, c.ok(c.get(env+"/calls/"+callID)), callID, "not_completed", "no_answer", 1)
	if s := stored(callID); s != "not_completed" {
		t.Fatalf("the row after the late result: %s", s)
	}
	if run, err := marker.Run(ctx); err != nil || run.Marked != 0 {
		t.Fatalf("marking after the result: %+v %v", run, err)
	}
}
