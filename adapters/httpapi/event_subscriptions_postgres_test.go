package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/httpapi"
	"callconnect/adapters/jobs"
	"callconnect/adapters/postgres"
	"callconnect/adapters/system"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// subscriptionsAPI serves the API over HTTP on PostgreSQL with the
// production URL policy: two environments, acme and other.
func subscriptionsAPI(t *testing.T) (*client, *postgres.Store) {
	t.Helper()
	store, _, _ := pgStore(t, 0, postgres.WithEnqueuer(jobs.NewEnqueuer()))
	svc := httpapi.Services{
		Configuration:      app.NewConfiguration(store),
		EventSubscriptions: app.NewEventSubscriptions(store, system.Clock{}, system.NewRandom(), domain.URLPolicy{}),
	}
	c := overHTTP(t, httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{}))
	for _, id := range []string{"acme", "other"} {
		c.ok(c.put("/v1/environments/"+id, map[string]any{"name": id, "public_base_url": "https://" + id + ".example.com"}))
	}
	return c, store
}

const subs = "/v1/environments/acme/event-subscriptions"

func TestEventSubscriptionsOverHTTP(t *testing.T) {
	c, _ := subscriptionsAPI(t)
	created := c.ok(c.put(subs+"/crm", map[string]any{"url": "https://crm.example.com/hooks?token=abc", "types": []string{"call.completed", "call.queued"}}))
	secret, _ := created["signing_secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 {
		t.Fatalf("the new subscription's secret: %v", created)
	}
	if created["status"] != "active" || created["url"] != "https://crm.example.com/hooks?token=[redacted]" ||
		fmt.Sprint(created["types"]) != "[call.queued call.completed]" || created["disabled_reason"] != nil || created["failing_since"] != nil {
		t.Errorf("created: %v", created)
	}
	got := c.ok(c.get(subs + "/crm"))
	if _, shown := got["signing_secret"]; shown || got["url"] != created["url"] || got["created_at"] != created["created_at"] {
		t.Errorf("read back: %v", got)
	}
	if strings.Contains(string(c.get(subs+"/crm").Body), "abc") {
		t.Error("the URL's secret query value is shown")
	}

	// Replaced with the URL as shown: its secret query value kept, no
	// secret shown again.
	again := c.ok(c.put(subs+"/crm", map[string]any{"url": created["url"], "types": []string{"*"}}))
	if _, shown := again["signing_secret"]; shown || fmt.Sprint(again["types"]) != "[*]" || again["url"] != created["url"] {
		t.Errorf("replaced: %v", again)
	}
	rotated := c.ok(c.post(subs+"/crm/rotate-secret", nil))
	if s, _ := rotated["signing_secret"].(string); !strings.HasPrefix(s, "whsec_") || s == secret {
		t.Errorf("rotated: %v", rotated)
	}
	c.ok(c.put(subs+"/another", map[string]any{"url": "https://crm.example.com/other", "types": []string{"*"}}))
	list := c.ok(c.get(subs))
	items, _ := list["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["id"] != "another" || items[1].(map[string]any)["id"] != "crm" {
		t.Fatalf("list: %v", list)
	}
	for _, it := range items {
		if _, shown := it.(map[string]any)["signing_secret"]; shown {
			t.Error("a listed subscription shows its secret")
		}
	}
	deliveries := c.ok(c.get(subs + "/crm/deliveries"))
	if fmt.Sprint(deliveries["items"]) != "[]" || deliveries["next_cursor"] != nil {
		t.Errorf("a new subscription's deliveries: %v", deliveries)
	}

	// Deleted: gone, and so are its deliveries.
	if r := c.do(http.MethodDelete, subs+"/another", nil); r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("DELETE: %s", r)
	}
	wantProblem(t, c.get(subs+"/another"), http.StatusNotFound, app.CodeSubscriptionNotFound, "path.subscription_id")
	wantProblem(t, c.do(http.MethodDelete, subs+"/another", nil), http.StatusNotFound, app.CodeSubscriptionNotFound, "path.subscription_id")
}

// Bad input is a 422 naming the field, and changes nothing.
func TestEventSubscriptionsRefuseBadInput(t *testing.T) {
	c, _ := subscriptionsAPI(t)
	c.ok(c.put(subs+"/crm", map[string]any{"url": "https://crm.example.com/hooks", "types": []string{"call.completed"}}))
	before := c.get(subs + "/crm")
	for _, tc := range []struct {
		name     string
		body     any
		code     string
		location string
	}{
		{"no url", map[string]any{"types": []string{"*"}}, "validation_failed", "body.url"},
		{"plain http", map[string]any{"url": "http://crm.example.com/hooks", "types": []string{"*"}}, "invalid_field", "body.url"},
		{"a private address", map[string]any{"url": "https://10.1.2.3/hooks", "types": []string{"*"}}, "invalid_field", "body.url"},
		{"the metadata address", map[string]any{"url": "https://169.254.169.254/latest/meta-data", "types": []string{"*"}}, "invalid_field", "body.url"},
		{"loopback by name", map[string]any{"url": "https://localhost/hooks", "types": []string{"*"}}, "invalid_field", "body.url"},
		{"not a URL", map[string]any{"url": "crm.example.com", "types": []string{"*"}}, "invalid_field", "body.url"},
		{"no types", map[string]any{"url": "https://crm.example.com/h"}, "validation_failed", "body.types"},
		{"an empty url", map[string]any{"url": "", "types": []string{"*"}}, "invalid_field", "body.url"},
		{"empty types", map[string]any{"url": "https://crm.example.com/h", "types": []string{}}, "validation_failed", "body.types"},
		{"an unknown type", map[string]any{"url": "https://crm.example.com/h", "types": []string{"call.exploded"}}, "invalid_field", "body.types"},
		{"* with others", map[string]any{"url": "https://crm.example.com/h", "types": []string{"*", "call.queued"}}, "invalid_field", "body.types"},
		{"types not a list", `{"url": "https://crm.example.com/h", "types": "*"}`, "validation_failed", "body.types"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, c.put(subs+"/crm", tc.body), http.StatusUnprocessableEntity, tc.code, tc.location)
			wantProblem(t, c.put(subs+"/new", tc.body), http.StatusUnprocessableEntity, tc.code, tc.location)
		})
	}
	same(t, before, c.get(subs+"/crm"))
	wantProblem(t, c.get(subs+"/new"), http.StatusNotFound, app.CodeSubscriptionNotFound, "path.subscription_id")
	wantProblem(t, c.put(subs+"/a%20b", map[string]any{"url": "https://crm.example.com/h", "types": []string{"*"}}),
		http.StatusUnprocessableEntity, "validation_failed", "path.subscription_id")
	wantProblem(t, c.put("/v1/environments/nowhere/event-subscriptions/crm", map[string]any{"url": "https://crm.example.com/h", "types": []string{"*"}}),
		http.StatusNotFound, "environment_not_found", "path.env")
	wantProblem(t, c.get(subs+"/crm/deliveries?cursor=yesterday"), http.StatusUnprocessableEntity, "validation_failed", "query.cursor")
	wantProblem(t, c.get(subs+"/crm/deliveries?limit=201"), http.StatusUnprocessableEntity, "validation_failed", "query.limit")
	wantProblem(t, c.get(subs+"/crm/deliveries?limit=0"), http.StatusUnprocessableEntity, "validation_failed", "query.limit")

	// At most 20 per environment.
	for i := 1; i < domain.MaxSubscriptionsPerEnvironment; i++ {
		c.ok(c.put(fmt.Sprintf("%s/s%02d", subs, i), map[string]any{"url": "https://crm.example.com/h", "types": []string{"*"}}))
	}
	wantProblem(t, c.put(subs+"/one-too-many", map[string]any{"url": "https://crm.example.com/h", "types": []string{"*"}}),
		http.StatusConflict, app.CodeTooManySubscriptions, "path.subscription_id")
}

// An environment sees its own subscriptions alone, and their deliveries.
func TestEventSubscriptionsTenantIsolation(t *testing.T) {
	c, store := subscriptionsAPI(t)
	c.ok(c.put(subs+"/crm", map[string]any{"url": "https://crm.example.com/acme", "types": []string{"*"}}))
	other := "/v1/environments/other/event-subscriptions"
	for _, r := range []*response{c.get(other + "/crm"), c.get(other + "/crm/deliveries"), c.post(other+"/crm/rotate-secret", nil),
		c.do(http.MethodDelete, other+"/crm", nil)} {
		wantProblem(t, r, http.StatusNotFound, app.CodeSubscriptionNotFound, "path.subscription_id")
	}
	if list := c.ok(c.get(other)); fmt.Sprint(list["items"]) != "[]" {
		t.Errorf("the other environment lists %v", list["items"])
	}
	// The same id there is another subscription.
	c.ok(c.put(other+"/crm", map[string]any{"url": "https://crm.example.com/other", "types": []string{"call.queued"}}))
	if got := c.ok(c.get(subs + "/crm")); got["url"] != "https://crm.example.com/acme" || fmt.Sprint(got["types"]) != "[*]" {
		t.Errorf("acme's subscription after other's of the same id: %v", got)
	}

	// Deliveries, a page at a time, newest event first, each once.
	err := store.Tx(context.Background(), func(ctx context.Context, r ports.Repositories) error {
		sub, err := r.LockEventSubscription(ctx, "acme", "crm")
		if err != nil {
			return err
		}
		at := time.Date(2026, 3, 19, 14, 0, 0, 0, time.UTC)
		for i := range 5 {
			d := domain.NewEventDelivery(sub, domain.Event{ID: domain.EventID{Tx: uint64(10 + i), Seq: 1}.String(), Type: domain.EventCallQueued}, []byte("{}"), at)
			sub.Settle(&d, domain.EventAttempt{At: at, Ended: at, StatusCode: 200}, 0)
			if err := r.PutEventDelivery(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	cursor := ""
	for range 5 {
		page := c.ok(c.get(subs + "/crm/deliveries?limit=2&cursor=" + cursor))
		for _, it := range page["items"].([]any) {
			d := it.(map[string]any)
			ids = append(ids, d["event_id"].(string))
			if d["status"] != "delivered" || d["attempts"] != 1.0 || d["last_status_code"] != 200.0 || d["event_type"] != "call.queued" {
				t.Errorf("delivery %v", d)
			}
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if want := "[0000000000000014-0000000000000001 0000000000000013-0000000000000001 0000000000000012-0000000000000001 " +
		"0000000000000011-0000000000000001 0000000000000010-0000000000000001]"; fmt.Sprint(ids) != want {
		t.Errorf("pages: %v, want %s", ids, want)
	}
	if page := c.ok(c.get(other + "/crm/deliveries")); fmt.Sprint(page["items"]) != "[]" {
		t.Errorf("the other environment's subscription of the same id lists %v", page["items"])
	}
}
