package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/postgres"
	"callconnect/adapters/system"
	"callconnect/app"
)

// TestWidgetEventsOnPostgres: a widget token reads, of its environment's
// events feed, its own user's calls alone, as JSON pages and as a stream
// (with ?token=, as EventSource sends it, from the page's allowed origin),
// over real HTTP with PostgreSQL behind it.
func TestWidgetEventsOnPostgres(t *testing.T) {
	ctx := context.Background()
	store, pool, _ := pgStore(t, 0, postgres.WithEnqueuer(tableEnqueuer{}))
	t.Cleanup(store.Close)
	if _, err := pool.Exec(ctx,
		`CREATE TABLE test_deliveries (id bigserial PRIMARY KEY, env_id text NOT NULL, call_id text NOT NULL, trace_parent text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	audio, err := audiostore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := callbackServices(store, audio, system.Clock{}, system.NewRandom(), 0)
	svc.Events = app.NewEvents(store, store, app.EventsConfig{Heartbeat: 300 * time.Millisecond})
	c := overHTTP(t, httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{}))
	r := &callbackRig{client: c, audio: audio}
	r.setUp()
	c.ok(c.put(env, map[string]any{"name": "Acme Imóveis", "public_base_url": "https://acme.crm.example.com",
		"call_connect_enabled": true, "widget_origins": []string{"https://crm.example.com"}}))
	deliver := func() {
		t.Helper()
		for _, d := range takeCommittedDeliveries(t, pool) {
			if _, err := svc.Calls.Deliver(ctx, d.EnvID, d.CallID); err != nil {
				t.Fatal(err)
			}
		}
	}
	place := func(user string) string {
		t.Helper()
		return accepted(t, c.post(env+"/leads/1/calls", map[string]any{"user_id": user}))["id"].(string)
	}
	mine := place("corretor")
	theirs := place("gestor")
	deliver()

	res := c.post(env+"/widget-tokens", map[string]any{"user_id": "corretor"})
	if res.Status != http.StatusCreated {
		t.Fatalf("mint: %s", res)
	}
	token := res.object(t)["token"].(string)
	w := c.withToken(token)

	// A page: the admin sees both users' calls; the widget, its user's.
	all := readFeed(t, c, env+"/events")
	page := readFeed(t, w, env+"/events")
	if len(callEvents(all.Items, theirs)) == 0 || len(callEvents(all.Items, mine)) != 2 {
		t.Fatalf("the feed as the admin reads it: %v", all.Items)
	}
	if got := callEvents(page.Items, mine); len(got) != 2 || len(page.Items) != 2 {
		t.Fatalf("the feed as the widget reads it: %v", page.Items)
	}
	for _, it := range page.Items {
		if it.Data["user_id"] != "corretor" {
			t.Fatalf("the widget was shown another user's event: %+v", it)
		}
	}
	if page.NextAfter != all.NextAfter {
		t.Fatalf("next_after %q, want the feed's %q: the widget pages on where the feed is", page.NextAfter, all.NextAfter)
	}

	// A stream, as EventSource opens it: the token in the query, from the
	// page's origin, resumed after an event.
	req, _ := http.NewRequest(http.MethodGet, c.baseURL+env+"/events?token="+url.QueryEscape(token), nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Origin", "https://crm.example.com")
	stream, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if stream.StatusCode != 200 || stream.Header.Get("Access-Control-Allow-Origin") != "https://crm.example.com" ||
		!strings.HasPrefix(stream.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("the widget's stream: %d %v", stream.StatusCode, stream.Header)
	}
	events := make(chan string, 100)
	go func() {
		defer close(events)
		br := bufio.NewReader(stream.Body)
		var block bytes.Buffer
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\n" {
				if strings.Contains(block.String(), "data:") {
					events <- block.String()
				}
				block.Reset()
				continue
			}
			block.WriteString(line)
		}
	}()
	next := func() string {
		t.Helper()
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no event within 5s")
		}
		return ""
	}
	for range 2 {
		if e := next(); !strings.Contains(e, `"call_id":"`+mine+`"`) {
			t.Fatalf("the stream sent the widget %s", e)
		}
	}
	// Another user's new call is not sent; the widget's user's is, at once.
	place("gestor")
	third := place("corretor")
	if e := next(); !strings.Contains(e, "event: call.queued") || !strings.Contains(e, `"call_id":"`+third+`"`) {
		t.Fatalf("after two clicks the stream sent the widget %s", e)
	}

	// Without a token, ?token= is nothing; the admin token is not taken there.
	wantProblem(t, c.withToken("").get(env+"/events?token="+url.QueryEscape(adminToken)), 401, "unauthorized", "")
}
