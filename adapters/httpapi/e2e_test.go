package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"callconnect/adapters/httpapi"
	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/adapters/system"
	"callconnect/adapters/telemetry"
	"callconnect/app"
	"callconnect/domain"
)

// pgServices wires the app on PostgreSQL (a fresh, migrated database of the
// test cluster) with the production clock and randomness. Every query made
// through the returned services is counted in counter. maxConns > 0 bounds
// the pool.
func pgServices(tb testing.TB, maxConns int32) (httpapi.Services, *telemetry.QueryCounter) {
	tb.Helper()
	store, _, counter := pgStore(tb, maxConns)
	return httpapi.Services{
		Configuration: app.NewConfiguration(store),
		Telephony:     app.NewTelephony(store, system.Clock{}, system.NewRandom(), domain.URLPolicy{}),
		CallButtons:   app.NewCallButtons(store),
	}, counter
}

// pgStore opens a store on a fresh, migrated database of the test cluster,
// counting every query in counter.
func pgStore(tb testing.TB, maxConns int32, opts ...postgres.Option) (*postgres.Store, *pgxpool.Pool, *telemetry.QueryCounter) {
	tb.Helper()
	base := pgtest.NewPool(tb)
	counter := &telemetry.QueryCounter{}
	cfg := base.Config()
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.ConnConfig.Tracer = telemetry.NewSQLTracer(nil, counter)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close) // runs before pgtest drops the database
	key := make([]byte, postgres.SecretsKeySize)
	for i := range key {
		key[i] = byte(i)
	}
	store, err := postgres.NewStore(pool, key, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return store, pool, counter
}

// TestNewcomerPathOnPostgres walks the README's path over a real HTTP
// connection, with the PostgreSQL store behind it.
func TestNewcomerPathOnPostgres(t *testing.T) {
	svc, _ := pgServices(t, 0)
	c := overHTTP(t, httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{}))
	walkNewcomerPath(t, c)

	// Refusals store nothing here either.
	before := c.get(env + "/telephony")
	wantProblem(t, c.put(env+"/telephony/call-connect", map[string]any{"actor_id": "corretor",
		"partner_url": "https://partner.example.com/other", "dial_mode": "phone"}), http.StatusForbidden, "permission_denied", "body.actor_id")
	wantProblem(t, c.put(env+"/telephony/call-connect", map[string]any{"actor_id": "admin",
		"partner_url": "https://192.168.0.10/calls", "dial_mode": "phone"}), http.StatusUnprocessableEntity, "invalid_field", "body.partner_url")
	same(t, before, c.get(env+"/telephony"))
	wantProblem(t, c.get("/v1/environments/nowhere/telephony"), http.StatusNotFound, "environment_not_found", "path.env")
}

// seedBatch makes an environment with an active Call Connect integration, a
// broker and n leads (every third owned by the broker), through the API.
func seedBatch(tb testing.TB, c *client, n int) []string {
	tb.Helper()
	c.ok(c.put(env, map[string]any{"name": "Acme", "public_base_url": "https://acme.example.com", "call_connect_enabled": true}))
	c.ok(c.put(env+"/users/admin", map[string]any{"name": "Admin", "role": "manager", "can_manage_integrations": true}))
	c.ok(c.put(env+"/users/corretor", map[string]any{"name": "Corretor", "role": "broker", "phone": "48999476359"}))
	c.ok(c.put(env+"/telephony/call-connect", map[string]any{"actor_id": "admin", "partner_url": "https://partner.example.com/calls", "dial_mode": "phone"}))
	c.ok(c.post(env+"/telephony/call-connect/activate", map[string]any{"actor_id": "admin"}))
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("lead-%04d", i)
		lead := map[string]any{"name": "Lead " + ids[i], "phone": "4899947" + fmt.Sprintf("%04d", i)}
		if i%3 == 0 {
			lead["broker_id"] = "corretor"
		}
		c.ok(c.put(env+"/leads/"+ids[i], lead))
	}
	return ids
}

// roundTrips returns how many SQL round trips one call made.
func roundTrips(counter *telemetry.QueryCounter, call func()) int64 {
	counter.Reset()
	call()
	return counter.Reset()
}

// TestCallButtonsBatchRoundTripsDoNotGrow is the no-N+1 check: deciding 500
// leads costs as many SQL round trips as deciding one, and at most
// maxBatchRoundTrips: the read-only transaction's BEGIN with the user's
// context, the leads, the COMMIT.
func TestCallButtonsBatchRoundTripsDoNotGrow(t *testing.T) {
	// One connection, so that every request runs on the same, warmed-up
	// connection: pgx prepares each statement once per connection, and
	// those Parse round trips would otherwise blur the comparison.
	svc, counter := pgServices(t, 1)
	c := &client{t: t, handler: httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{}), token: adminToken}
	ids := seedBatch(t, c, 500)

	batch := func(ids []string) func() {
		return func() {
			r := c.post(env+"/call-buttons", map[string]any{"user_id": "corretor", "lead_ids": ids})
			var out struct {
				Buttons []map[string]any `json:"buttons"`
			}
			c.ok(r)
			r.decode(t, &out)
			if len(out.Buttons) != len(ids) || out.Buttons[0]["enabled"] != true {
				t.Fatalf("batch of %d: %d buttons, first %v", len(ids), len(out.Buttons), out.Buttons[0])
			}
		}
	}
	batch(ids)() // warm up: prepare the statements
	batch(ids[:1])()
	one := roundTrips(counter, batch(ids[:1]))
	all := roundTrips(counter, batch(ids))
	t.Logf("SQL round trips: 1 lead %d, 500 leads %d", one, all)
	if one == 0 || one != all {
		t.Fatalf("SQL round trips must not grow with the batch: 1 lead %d, 500 leads %d", one, all)
	}
	const maxBatchRoundTrips = 3
	if all > maxBatchRoundTrips {
		t.Fatalf("a 500-lead batch costs %d SQL round trips, want at most %d", all, maxBatchRoundTrips)
	}
	decide := func() { c.ok(c.get(env + "/leads/lead-0000/call-button?user_id=corretor")) }
	decide()
	single := roundTrips(counter, decide)
	if single > all {
		t.Fatalf("one decision costs %d round trips, a batch %d", single, all)
	}
}

// BenchmarkCallButtonsBatch500 posts a 500-lead batch through the handler,
// against PostgreSQL, and reports the SQL round trips per batch; its
// baseline, BenchmarkCallButtonsBatch1, posts a one-lead batch the same way.
func BenchmarkCallButtonsBatch500(b *testing.B) { benchCallButtons(b, 500) }

func BenchmarkCallButtonsBatch1(b *testing.B) { benchCallButtons(b, 1) }

func benchCallButtons(b *testing.B, leads int) {
	svc, counter := pgServices(b, 0)
	c := &client{t: b, handler: httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{}), token: adminToken}
	ids := seedBatch(b, c, 500)
	body := map[string]any{"user_id": "corretor", "lead_ids": ids[:leads]}

	counter.Reset()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if r := c.post(env+"/call-buttons", body); r.Status != http.StatusOK {
			b.Fatalf("batch: %s", r)
		}
		n++
	}
	b.ReportMetric(float64(counter.Count())/float64(n), "sql-roundtrips/op")
}
