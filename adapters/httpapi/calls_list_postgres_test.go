package httpapi_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"callconnect/adapters/cvio"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/postgres"
	"callconnect/adapters/system"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// callsOnPostgres serves the API over a real HTTP connection on a fresh
// PostgreSQL database, deliveries scheduled into a table (tableEnqueuer)
// rather than run.
type callsOnPostgres struct {
	c       *client
	calls   *app.Calls
	store   *postgres.Store
	pool    *pgxpool.Pool
	partner *fakePartner
}

// newCallsOnPostgres builds the rig; callsStore, when given, wraps the
// store the calls service (and it alone) works on.
func newCallsOnPostgres(t *testing.T, callsStore ...func(ports.Store) ports.Store) *callsOnPostgres {
	t.Helper()
	store, pool, _ := pgStore(t, 0, postgres.WithEnqueuer(tableEnqueuer{}))
	var forCalls ports.Store = store
	for _, wrap := range callsStore {
		forCalls = wrap(forCalls)
	}
	if _, err := pool.Exec(context.Background(),
		`CREATE TABLE test_deliveries (id bigserial PRIMARY KEY, env_id text NOT NULL, call_id text NOT NULL, trace_parent text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	partner := &fakePartner{status: http.StatusOK}
	calls := app.NewCalls(forCalls, system.Clock{}, system.NewRandom(), partner, cvio.Payloads{},
		app.CallsConfig{DispatchDeadline: dispatchDeadline, RetryMinBackoff: time.Second})
	svc := httpapi.Services{
		Configuration: app.NewConfiguration(store),
		Telephony:     app.NewTelephony(store, system.Clock{}, system.NewRandom(), domain.URLPolicy{}),
		CallButtons:   app.NewCallButtons(store),
		Calls:         calls,
		PartnerTokens: app.NewPartnerTokens(store, system.Clock{}, system.NewRandom()),
		Idempotency:   app.NewIdempotentRequests(store, system.Clock{}),
	}
	c := overHTTP(t, httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{}))
	return &callsOnPostgres{c: c, calls: calls, store: store, pool: pool, partner: partner}
}

// callPage is one page of the calls list as a client reads it.
type callPage struct {
	Items      []map[string]any `json:"items"`
	NextCursor *string          `json:"next_cursor"`
}

func (p *callsOnPostgres) list(t *testing.T, path string, q url.Values) callPage {
	t.Helper()
	r := p.c.get(path + "/calls?" + q.Encode())
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s/calls?%s: %s", path, q.Encode(), r)
	}
	var page callPage
	r.decode(t, &page)
	if page.Items == nil {
		t.Fatalf("items is not an array: %s", r.Body)
	}
	return page
}

// listAll follows next_cursor to the end and returns every call's id.
func (p *callsOnPostgres) listAll(t *testing.T, path string, q url.Values) []string {
	t.Helper()
	var ids []string
	for range 100 {
		page := p.list(t, path, q)
		for _, item := range page.Items {
			ids = append(ids, item["id"].(string))
		}
		if page.NextCursor == nil {
			return ids
		}
		q.Set("cursor", *page.NextCursor)
	}
	t.Fatal("more than 100 pages")
	return nil
}

// place presses Ligar and delivers the call at once, the partner answering
// as it is told (200: delivered), so that no call stays queued.
func (p *callsOnPostgres) place(t *testing.T, path, lead, user string) string {
	t.Helper()
	call := accepted(t, p.c.post(path+"/leads/"+lead+"/calls", map[string]any{"user_id": user}))
	p.settle(t)
	return call["id"].(string)
}

// settle runs the deliveries committed so far.
func (p *callsOnPostgres) settle(t *testing.T) {
	t.Helper()
	for _, d := range takeCommittedDeliveries(t, p.pool) {
		if _, err := p.calls.Deliver(context.Background(), d.EnvID, d.CallID); err != nil {
			t.Fatal(err)
		}
	}
}

// clickedAt reads an item's click time.
func clickedAt(t *testing.T, item map[string]any) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, item["clicked_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// newestFirst reports whether a comes before b in the list's order.
func newestFirst(t *testing.T, a, b map[string]any) bool {
	ta, tb := clickedAt(t, a), clickedAt(t, b)
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return a["id"].(string) > b["id"].(string)
}

// TestCallsListOnPostgres pages through 120 calls with the cursor while
// new calls are placed, filters them, keeps environments apart and refuses
// bad input naming the field, over real HTTP on PostgreSQL.
func TestCallsListOnPostgres(t *testing.T) {
	p := newCallsOnPostgres(t)
	const other = "/v1/environments/other"
	for _, path := range []string{env, other} {
		seedCalls(t, p.c, path)
		p.c.ok(p.c.put(path+"/leads/2", map[string]any{"name": "Outro lead", "phone": "48999476300",
			"manager_id": "gestor", "broker_id": "corretor", "agency_id": "imob"}))
	}
	// Each call is delivered as soon as it is placed; three are refused by
	// the partner for good: undeliverable.
	var placed, undeliverable []string
	leadOf, userOf := map[string]string{}, map[string]string{}
	for i := range 120 {
		lead, user := []string{"1", "2"}[i%2], []string{"corretor", "gestor", "imob"}[i%3]
		refused := i == 3 || i == 50 || i == 99
		if refused {
			p.partner.answer(http.StatusBadRequest)
		}
		id := p.place(t, env, lead, user)
		if refused {
			p.partner.answer(http.StatusOK)
			undeliverable = append(undeliverable, id)
		}
		placed = append(placed, id)
		leadOf[id], userOf[id] = lead, user
	}
	var elsewhere []string
	for range 5 {
		elsewhere = append(elsewhere, p.place(t, other, "1", "corretor"))
	}

	t.Run("each item as reading the call shows it", func(t *testing.T) {
		// A recording on one call shows as its recording_url in both.
		withRecording := placed[7]
		err := p.store.Tx(context.Background(), func(ctx context.Context, r ports.Repositories) error {
			sha := fmt.Sprintf("%064x", 7)
			rec, err := domain.NewRecording(domain.RecordingInput{ID: "rec-7", EnvID: "acme", LeadID: leadOf[withRecording],
				CallID: withRecording, SHA256: sha, Size: 1000, ContentType: domain.AudioMPEG, CreatedAt: time.Now()})
			if err != nil {
				return err
			}
			in, err := domain.NewInteraction(domain.InteractionInput{ID: "i-7", EnvID: "acme", LeadID: leadOf[withRecording],
				Type: domain.InteractionTypeCall, CallID: withRecording, RecordingID: "rec-7", RecordingSHA256: sha, OccurredAt: time.Now()})
			if err != nil {
				return err
			}
			if err := r.PutRecording(ctx, rec); err != nil {
				return err
			}
			return r.AddInteraction(ctx, in)
		})
		if err != nil {
			t.Fatal(err)
		}
		page := p.list(t, env, url.Values{"lead_id": {leadOf[withRecording]}, "limit": {"200"}})
		seen := false
		for _, item := range page.Items {
			one := p.c.ok(p.c.get(env + "/calls/" + item["id"].(string)))
			if !reflect.DeepEqual(item, one) {
				t.Errorf("listed %v\nread   %v", item, one)
			}
			if item["id"] == withRecording {
				seen = true
				if item["recording_url"] != env+"/recordings/rec-7" {
					t.Errorf("recording_url %v, want %s/recordings/rec-7", item["recording_url"], env)
				}
			}
		}
		if !seen {
			t.Errorf("the call with a recording is not among its lead's calls")
		}
	})

	t.Run("filters", func(t *testing.T) {
		newest := func(ids []string, keep func(string) bool) []string {
			var out []string
			for i := len(ids) - 1; i >= 0; i-- {
				if keep(ids[i]) {
					out = append(out, ids[i])
				}
			}
			return out
		}
		window := p.list(t, env, url.Values{"limit": {"200"}})
		// Placed[100] and placed[20] as bounds: since is inclusive, until exclusive.
		var since, until string
		for _, item := range window.Items {
			switch item["id"] {
			case placed[20]:
				since = item["clicked_at"].(string)
			case placed[100]:
				until = item["clicked_at"].(string)
			}
		}
		index := map[string]int{}
		for i, id := range placed {
			index[id] = i
		}
		for _, c := range []struct {
			what string
			q    url.Values
			want []string
		}{
			{"status undeliverable", url.Values{"status": {"undeliverable"}},
				newest(placed, func(id string) bool { return slices.Contains(undeliverable, id) })},
			{"status delivered", url.Values{"status": {"delivered"}, "until": {until}},
				newest(placed[:100], func(id string) bool { return !slices.Contains(undeliverable, id) })},
			{"lead 2", url.Values{"lead_id": {"2"}}, newest(placed, func(id string) bool { return leadOf[id] == "2" })},
			{"user gestor", url.Values{"user_id": {"gestor"}}, newest(placed, func(id string) bool { return userOf[id] == "gestor" })},
			{"lead 1 and user imob", url.Values{"lead_id": {"1"}, "user_id": {"imob"}},
				newest(placed, func(id string) bool { return leadOf[id] == "1" && userOf[id] == "imob" })},
			{"since (inclusive) until (exclusive)", url.Values{"since": {since}, "until": {until}},
				newest(placed, func(id string) bool { return index[id] >= 20 && index[id] < 100 })},
			{"user corretor, undeliverable, in the window", url.Values{"user_id": {"corretor"}, "status": {"undeliverable"},
				"since": {since}, "until": {until}},
				newest(placed, func(id string) bool {
					return userOf[id] == "corretor" && slices.Contains(undeliverable, id) && index[id] >= 20 && index[id] < 100
				})},
			{"a lead without calls", url.Values{"lead_id": {"nobody"}}, nil},
		} {
			for _, limit := range []string{"7", "200"} {
				q := url.Values{"limit": {limit}}
				for k, v := range c.q {
					q[k] = v
				}
				if got := p.listAll(t, env, q); !slices.Equal(got, c.want) {
					t.Errorf("%s, pages of %s: %q, want %q", c.what, limit, got, c.want)
				}
			}
		}
	})

	t.Run("another environment's calls never appear", func(t *testing.T) {
		mine := p.listAll(t, env, url.Values{"limit": {"200"}})
		for _, id := range elsewhere {
			if slices.Contains(mine, id) {
				t.Errorf("acme's list has the other environment's call %s", id)
			}
		}
		theirs := p.listAll(t, other, url.Values{})
		slices.Reverse(elsewhere)
		if !slices.Equal(theirs, elsewhere) {
			t.Errorf("the other environment lists %q, want %q", theirs, elsewhere)
		}
		// acme's cursor in the other environment continues the other's
		// list, never leaking acme's calls.
		page := p.list(t, env, url.Values{"limit": {"1"}})
		for _, id := range p.listAll(t, other, url.Values{"cursor": {*page.NextCursor}}) {
			if !slices.Contains(elsewhere, id) {
				t.Errorf("the other environment's list with acme's cursor has %s", id)
			}
		}
	})

	t.Run("bad input is 422 naming the field, or 404 for an unknown environment", func(t *testing.T) {
		forged := "x1." + base64.RawURLEncoding.EncodeToString([]byte("99999999999999999999.id"))
		for _, c := range []struct {
			query, code, location string
		}{
			{"cursor=garbage", "invalid_field", "query.cursor"},
			{"cursor=" + forged, "invalid_field", "query.cursor"},
			{"cursor=x1.bm90LWEtY3Vyc29y", "invalid_field", "query.cursor"},
			{"since=2026-05-04T10:00:00Z&until=2026-05-04T09:00:00Z", "invalid_field", "query.until"},
			{"since=2026-05-04T10:00:00Z&until=2026-05-04T10:00:00Z", "invalid_field", "query.until"},
			{"since=yesterday", "validation_failed", "query.since"},
			{"until=2026-13-01T00:00:00Z", "validation_failed", "query.until"},
			{"limit=0", "validation_failed", "query.limit"},
			{"limit=201", "validation_failed", "query.limit"},
			{"limit=many", "validation_failed", "query.limit"},
			{"status=lost", "validation_failed", "query.status"},
			{"lead_id=a%20b", "validation_failed", "query.lead_id"},
			{"user_id=" + url.QueryEscape(string(make([]byte, 65))), "validation_failed", "query.user_id"},
		} {
			wantProblem(t, p.c.get(env+"/calls?"+c.query), http.StatusUnprocessableEntity, c.code, c.location)
		}
		wantProblem(t, p.c.get("/v1/environments/nowhere/calls"), http.StatusNotFound, "environment_not_found", "path.env")
	})
	t.Run("pages with the cursor, no gap and no repeat while calls are placed", func(t *testing.T) {
		q := url.Values{"limit": {"25"}}
		var got []map[string]any
		var placedMeanwhile []string
		for pages := 1; ; pages++ {
			page := p.list(t, env, q)
			if len(page.Items) > 25 {
				t.Fatalf("a page of %d calls, limit 25", len(page.Items))
			}
			got = append(got, page.Items...)
			// New calls arrive between the pages: they are newer than
			// every cursor given out so far, so they join no later page.
			placedMeanwhile = append(placedMeanwhile, p.place(t, env, "1", "corretor"), p.place(t, env, "2", "gestor"))
			if page.NextCursor == nil {
				if pages != 5 {
					t.Errorf("%d pages of 25 for 120 calls, want 5", pages)
				}
				break
			}
			q.Set("cursor", *page.NextCursor)
		}
		var ids []string
		for i, item := range got {
			ids = append(ids, item["id"].(string))
			if i > 0 && !newestFirst(t, got[i-1], item) {
				t.Errorf("item %d (%v) is not older than item %d (%v)", i, item["id"], i-1, got[i-1]["id"])
			}
		}
		want := slices.Clone(placed)
		slices.Reverse(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("pages listed %d calls %q,\nwant the 120 placed, newest first: %q", len(ids), ids, want)
		}
		// The next listing from the top has the calls placed meanwhile.
		first := p.list(t, env, url.Values{"limit": {"4"}})
		slices.Reverse(placedMeanwhile)
		for i, item := range first.Items {
			if item["id"] != placedMeanwhile[i] {
				t.Errorf("a fresh first page starts with %v, want the calls placed while paging %q", item["id"], placedMeanwhile[:4])
				break
			}
		}
	})
}
