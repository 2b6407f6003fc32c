package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"callconnect/adapters/httpapi"
	"callconnect/adapters/jobs"
	"callconnect/adapters/postgres"
	"callconnect/adapters/system"
	"callconnect/adapters/webhook"
	"callconnect/app"
	"callconnect/domain"
)

// The event subscriptions end to end: the API configures them over HTTP,
// calls placed and delivered to the partner raise events in PostgreSQL,
// River's workers send them with the real delivery client to a CRM
// endpoint on loopback, which checks each signature with the Standard
// Webhooks library.

const eventsAdminToken = "wISLHmVAYrdDhi0r_NqG8rk2vcCAsetXtf-p6OU3WRo"

// movableClock is the system clock moved forward by an offset the test
// sets: the retries' waits and the 3- and 5-day rules pass without
// waiting, while the timestamps of requests stay close enough to the
// endpoint's clock for short jumps.
type movableClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *movableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// advanceTo moves the clock to at least t.
func (c *movableClock) advanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := time.Until(t) - c.offset; d > 0 {
		c.offset += d + time.Millisecond
	}
}

func (c *movableClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// crmRequest is one request the CRM endpoint got.
type crmRequest struct {
	WebhookID string
	Header    http.Header
	Body      []byte
	Status    int // what it answered
}

// crmEndpoint is the CRM's webhook endpoint on loopback: it answers
// 503 while down, 204 otherwise.
type crmEndpoint struct {
	srv *httptest.Server

	mu       sync.Mutex
	down     bool
	requests []crmRequest
	arrived  chan struct{} // a value per request, dropped when nobody takes it
}

func newCRMEndpoint(t *testing.T) *crmEndpoint {
	c := &crmEndpoint{arrived: make(chan struct{}, 1)}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		status := http.StatusNoContent
		if c.down {
			status = http.StatusServiceUnavailable
		}
		c.requests = append(c.requests, crmRequest{WebhookID: r.Header.Get("webhook-id"), Header: r.Header.Clone(), Body: body, Status: status})
		c.mu.Unlock()
		select {
		case c.arrived <- struct{}{}:
		default:
		}
		w.WriteHeader(status)
		if status != http.StatusNoContent {
			_, _ = w.Write([]byte("em manutenção"))
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *crmEndpoint) setDown(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
}

func (c *crmEndpoint) all() []crmRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.requests)
}

// accepted are the requests answered 2xx, in order.
func (c *crmEndpoint) accepted() []crmRequest {
	var out []crmRequest
	for _, r := range c.all() {
		if r.Status < 300 {
			out = append(out, r)
		}
	}
	return out
}

type eventsWorld struct {
	*world
	crm   *crmEndpoint
	clock *movableClock
	api   *apiClient
}

// newEventsWorld is a world whose events reach subscriptions: a River
// client working the calls' and the events' queues, the process's kicker,
// and the API over HTTP.
func newEventsWorld(t *testing.T) *eventsWorld {
	t.Helper()
	w := newWorld(t, always(http.StatusOK), worldOptions{})
	store := w.store.(*postgres.Store)
	t.Cleanup(store.Close) // its listener, before the pool closes
	clock := &movableClock{}
	random := system.NewRandom()
	client := webhook.New(webhook.Config{AllowPrivate: true, Timeout: 5 * time.Second})
	t.Cleanup(client.CloseIdleConnections)
	deliveries := app.NewEventDeliveries(store, store, store, clock, random, client, httpapi.EventPayloads{},
		app.EventDeliveriesConfig{Claim: 10 * time.Second}, testLogger(t))

	callWorker := jobs.NewDeliverCallWorker(w.calls, jobs.WorkerConfig{Logger: testLogger(t)})
	workers, err := jobs.NewWorkers(callWorker)
	if err != nil {
		t.Fatal(err)
	}
	// Snoozes of a few milliseconds: the test's clock jumps, River's waits
	// do not.
	eventsWorker := jobs.NewDeliverEventsWorker(deliveries, jobs.EventsWorkerConfig{MaxWait: 20 * time.Millisecond, Logger: testLogger(t)})
	if err := river.AddWorkerSafely(workers, eventsWorker); err != nil {
		t.Fatal(err)
	}
	rc, err := jobs.NewClient(w.pool, workers, jobs.Config{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = rc.Stop(ctx)
	})
	kicker := jobs.NewEventKicker(w.pool, deliveries, store, 0, testLogger(t))
	eventsWorker.WithKicker(kicker)
	kicker.Start()
	t.Cleanup(kicker.Stop)

	svc := httpapi.Services{
		Configuration:      app.NewConfiguration(store),
		Events:             app.NewEvents(store, store, app.EventsConfig{}),
		EventSubscriptions: app.NewEventSubscriptions(store, clock, random, domain.URLPolicy{AllowHTTP: true, AllowPrivate: true}),
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Config{AdminToken: eventsAdminToken}, svc, httpapi.Ops{}))
	t.Cleanup(srv.Close)
	return &eventsWorld{world: w, crm: newCRMEndpoint(t), clock: clock, api: &apiClient{t: t, base: srv.URL + "/v1/environments/" + envID}}
}

// apiClient speaks JSON to the API over HTTP.
type apiClient struct {
	t    *testing.T
	base string
}

func (c *apiClient) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+eventsAdminToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

func (c *apiClient) ok(method, path string, body any) map[string]any {
	c.t.Helper()
	code, out := c.do(method, path, body)
	if code != http.StatusOK {
		c.t.Fatalf("%s %s: %d %v", method, path, code, out)
	}
	return out
}

// subscribe creates the subscription to every type and returns its secret.
func (w *eventsWorld) subscribe(t *testing.T, id string) string {
	t.Helper()
	out := w.api.ok(http.MethodPut, "/event-subscriptions/"+id, map[string]any{"url": w.crm.srv.URL + "/hooks", "types": []string{"*"}})
	secret, _ := out["signing_secret"].(string)
	if secret == "" {
		t.Fatalf("the new subscription's answer has no signing_secret: %v", out)
	}
	return secret
}

// feed is the environment's feed as the API lists it: its items, in order.
func (w *eventsWorld) feed(t *testing.T) []map[string]any {
	t.Helper()
	out := w.api.ok(http.MethodGet, "/events?limit=500", nil)
	var items []map[string]any
	for _, it := range out["items"].([]any) {
		items = append(items, it.(map[string]any))
	}
	return items
}

// deliveries lists the subscription's deliveries as the API shows them.
func (w *eventsWorld) deliveries(t *testing.T, id string) []map[string]any {
	t.Helper()
	out := w.api.ok(http.MethodGet, "/event-subscriptions/"+id+"/deliveries?limit=200", nil)
	var items []map[string]any
	for _, it := range out["items"].([]any) {
		items = append(items, it.(map[string]any))
	}
	return items
}

// until polls cond (a row written, a request received) until it holds,
// for at most testTimeout.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	eventually(t, ctx, what, cond)
}

// wantSigned checks each request's signature with the Standard Webhooks
// library (the timestamp within its tolerance), and that its webhook-id is
// the event's id.
func wantSigned(t *testing.T, secret string, reqs []crmRequest) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if err := wh.Verify(r.Body, r.Header); err != nil {
			t.Errorf("event %s: the signature does not verify: %v", r.WebhookID, err)
		}
		var ev struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(r.Body, &ev); err != nil || ev.ID != r.WebhookID {
			t.Errorf("webhook-id %s carries the event %q (%v)", r.WebhookID, ev.ID, err)
		}
	}
}

func ids(reqs []crmRequest) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.WebhookID)
	}
	return out
}

func feedIDs(items []map[string]any) []string {
	var out []string
	for _, it := range items {
		out = append(out, it["id"].(string))
	}
	return out
}

func TestCRMReceivesSignedEventsInOrder(t *testing.T) {
	w := newEventsWorld(t)
	secret := w.subscribe(t, "crm")
	for range 3 {
		w.place(t)
	}
	// Each call: call.queued, then call.delivered once the partner took it.
	until(t, "the CRM receives the six events", func() bool { return len(w.crm.accepted()) >= 6 })
	feed := w.feed(t)
	got := w.crm.accepted()
	if !slices.Equal(ids(got), feedIDs(feed)) {
		t.Fatalf("received %v\nthe feed has %v", ids(got), feedIDs(feed))
	}
	wantSigned(t, secret, got)
	for i, r := range got {
		var body map[string]any
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		if a, b := fmt.Sprint(body), fmt.Sprint(feed[i]); a != b {
			t.Errorf("event %d as sent:\n%s\nas the feed shows it:\n%s", i, a, b)
		}
	}
	types := map[string]int{}
	for _, it := range feed {
		types[it["type"].(string)]++
	}
	if types["call.queued"] != 3 || types["call.delivered"] != 3 {
		t.Errorf("event types %v, want 3 call.queued and 3 call.delivered", types)
	}
	// The endpoint answered the last event a moment before its delivery's
	// outcome was written: wait for that row.
	var ds []map[string]any
	until(t, "the outcome of each delivery is recorded", func() bool {
		ds = w.deliveries(t, "crm")
		for _, d := range ds {
			if d["attempts"] == 0.0 {
				return false
			}
		}
		return true
	})
	if len(ds) != 6 {
		t.Fatalf("%d deliveries listed, want 6", len(ds))
	}
	for _, d := range ds {
		if d["status"] != "delivered" || d["attempts"] != 1.0 || d["last_status_code"] != 204.0 || d["next_attempt_at"] != nil {
			t.Errorf("delivery %v", d)
		}
	}
}

// TestCRMOutageLosesNothing: the endpoint answers 503 for a while; the
// event it was on is retried, backing off, nothing after it is sent
// meanwhile, and once it is back every event arrives, once, in order.
func TestCRMOutageLosesNothing(t *testing.T) {
	w := newEventsWorld(t)
	secret := w.subscribe(t, "crm")
	w.crm.setDown(true)
	w.place(t)
	until(t, "the first attempt reaches the endpoint", func() bool { return len(w.crm.all()) >= 1 })
	w.place(t) // during the outage
	for failed := 1; failed <= 3; failed++ {
		var head map[string]any
		until(t, fmt.Sprintf("failure %d is recorded", failed), func() bool {
			ds := w.deliveries(t, "crm")
			head = ds[0]
			return head["status"] == "pending" && head["attempts"] == float64(failed) && head["next_attempt_at"] != nil
		})
		if head["last_status_code"] != 503.0 || head["last_error"] != "the endpoint answered 503: em manutenção" {
			t.Errorf("after failure %d the head reads %v", failed, head)
		}
		if failed == 3 {
			w.crm.setDown(false)
		}
		next, err := time.Parse(time.RFC3339Nano, head["next_attempt_at"].(string))
		if err != nil {
			t.Fatal(err)
		}
		w.clock.advanceTo(next)
	}
	w.place(t) // after it
	until(t, "every event of the feed reaches the endpoint", func() bool {
		return len(w.crm.accepted()) >= 6 && len(w.crm.accepted()) >= len(w.feed(t))
	})
	feed := feedIDs(w.feed(t))
	if got := ids(w.crm.accepted()); !slices.Equal(got, feed) {
		t.Fatalf("accepted %v\nthe feed has %v (each once, in order)", got, feed)
	}
	all := ids(w.crm.all())
	if !slices.IsSorted(all) {
		t.Errorf("requests %v: an event was sent before an earlier one was delivered", all)
	}
	if len(all) != len(feed)+3 {
		t.Errorf("%d requests, want %d events and 3 failed attempts", len(all), len(feed))
	}
	wantSigned(t, secret, w.crm.accepted())
	first := w.deliveries(t, "crm")
	if d := first[len(first)-1]; d["attempts"] != 4.0 || d["status"] != "delivered" {
		t.Errorf("the first event's delivery: %v", d)
	}
}

// TestSubscriptionDisabledAfterFiveDays: the endpoint down for good, the
// clock moved a day after each attempt: the first event is given up after
// three days and the next taken; five days after the first failure the
// subscription is disabled. PUT again, it sends the event it was on.
func TestSubscriptionDisabledAfterFiveDays(t *testing.T) {
	w := newEventsWorld(t)
	w.subscribe(t, "crm")
	w.crm.setDown(true)
	w.place(t)
	var sub map[string]any
	seen := 0
	for day := 0; ; day++ {
		if day > 10 {
			t.Fatalf("still %v after %d days", sub, day)
		}
		// The day's work is over once an attempt more is recorded and
		// nothing is due any more (a head taken after the last one was
		// given up is due at once), or the subscription is disabled.
		until(t, fmt.Sprintf("the attempts of day %d are recorded", day), func() bool {
			n, due := 0, false
			for _, d := range w.deliveries(t, "crm") {
				n += int(d["attempts"].(float64))
				if d["status"] == "pending" {
					next, _ := d["next_attempt_at"].(string)
					at, err := time.Parse(time.RFC3339Nano, next)
					due = due || err != nil || !at.After(w.clock.Now())
				}
			}
			if n <= seen {
				return false
			}
			if due && w.api.ok(http.MethodGet, "/event-subscriptions/crm", nil)["status"] != "disabled" {
				return false
			}
			seen = n
			return true
		})
		if sub = w.api.ok(http.MethodGet, "/event-subscriptions/crm", nil); sub["status"] == "disabled" {
			break
		}
		w.clock.advance(24 * time.Hour)
	}
	if sub["disabled_reason"] != "endpoint_failing" || sub["failing_since"] == nil || sub["disabled_at"] == nil {
		t.Errorf("disabled subscription: %v", sub)
	}
	since, _ := time.Parse(time.RFC3339Nano, sub["failing_since"].(string))
	at, _ := time.Parse(time.RFC3339Nano, sub["disabled_at"].(string))
	if d := at.Sub(since); d < domain.EventDisableAfter || d > domain.EventDisableAfter+25*time.Hour {
		t.Errorf("disabled %v after the first failure, want 5 days (a day's step)", d)
	}
	ds := w.deliveries(t, "crm")
	if len(ds) != 2 {
		t.Fatalf("%d deliveries, want the given-up first event and the second: %v", len(ds), ds)
	}
	second, first := ds[0], ds[1]
	if first["status"] != "failed" || first["finished_at"] == nil {
		t.Errorf("the first event: %v, want failed", first)
	}
	created, _ := time.Parse(time.RFC3339Nano, first["created_at"].(string))
	finished, _ := time.Parse(time.RFC3339Nano, first["finished_at"].(string))
	if d := finished.Sub(created); d < domain.EventRetryWindow {
		t.Errorf("the first event was given up after %v, before 3 days", d)
	}
	if second["status"] != "pending" {
		t.Errorf("the second event: %v, want pending", second)
	}
	sent := len(w.crm.all())

	// Configured again: active, and the event it was on arrives.
	w.crm.setDown(false)
	out := w.api.ok(http.MethodPut, "/event-subscriptions/crm", map[string]any{"url": w.crm.srv.URL + "/hooks", "types": []string{"*"}})
	if out["status"] != "active" || out["disabled_reason"] != nil || out["signing_secret"] != nil {
		t.Errorf("after the PUT: %v", out)
	}
	until(t, "the second event is delivered", func() bool { return w.deliveries(t, "crm")[0]["status"] == "delivered" })
	if got := ids(w.crm.accepted()); len(got) != 1 || got[0] != second["event_id"] || len(w.crm.all()) != sent+1 {
		t.Errorf("after re-enabling the endpoint got %v (%d requests in all, %d before)", got, len(w.crm.all()), sent)
	}
}
