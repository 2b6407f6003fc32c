package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"callconnect/adapters/postgres/pgtest"
)

// subscriber is a CRM's webhook endpoint on loopback: it checks each
// request's signature with the Standard Webhooks library and answers 204,
// or holds some past the attempt's timeout when hold says so.
type subscriber struct {
	srv  *httptest.Server
	stop chan struct{}

	mu       sync.Mutex
	secret   string
	hold     func() bool
	requests []subscriberRequest
	badSigs  int
}

type subscriberRequest struct {
	id       string
	accepted bool
}

func newSubscriber(t *testing.T) *subscriber {
	s := &subscriber{stop: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		secret, hold := s.secret, s.hold
		s.mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(secret)
		ok := err == nil && wh.Verify(body, r.Header) == nil
		var event struct {
			ID string `json:"id"`
		}
		ok = ok && json.Unmarshal(body, &event) == nil && event.ID == r.Header.Get("webhook-id")
		held := ok && hold != nil && hold()
		s.mu.Lock()
		if !ok {
			s.badSigs++
		}
		// Counted before the answer leaves: the service cannot record an
		// event delivered that the endpoint has not counted.
		s.requests = append(s.requests, subscriberRequest{id: r.Header.Get("webhook-id"), accepted: ok && !held})
		s.mu.Unlock()
		switch {
		case held:
			select {
			case <-s.stop:
			case <-r.Context().Done():
			}
		case ok:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(func() { close(s.stop); s.srv.Close() })
	return s
}

// firstAccepted are the ids the endpoint accepted, each once, in the order
// it first accepted them; repeats counts the accepted requests beyond.
func (s *subscriber) firstAccepted() (ids []string, repeats int, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, r := range s.requests {
		if !r.accepted {
			continue
		}
		if seen[r.id] {
			repeats++
			continue
		}
		seen[r.id] = true
		ids = append(ids, r.id)
	}
	return ids, repeats, len(s.requests)
}

// feedIDs reads the environment's whole feed through the API.
func feedIDs(t *testing.T, p *process) []string {
	t.Helper()
	var ids []string
	after := ""
	for {
		code, page := p.do(t, "GET", "/v1/environments/acme/events?limit=500&after="+after, "")
		if code != http.StatusOK {
			t.Fatalf("the feed: %d %v", code, page)
		}
		items, _ := page["items"].([]any)
		for _, it := range items {
			ids = append(ids, it.(map[string]any)["id"].(string))
		}
		if len(items) < 500 {
			return ids
		}
		after = page["next_after"].(string)
	}
}

// An event subscription while two processes deliver, one of them killed
// with SIGKILL at random moments and restarted as clicks arrive, the
// endpoint holding some requests past the attempt's timeout: the endpoint
// gets every event of the feed, signed, each first accepted in the feed's
// order (a request cut by a kill may come again, under its webhook-id),
// and every delivery reads delivered.
func TestFaultKilledProcessLosesNoEvent(t *testing.T) {
	t.Parallel()
	clicks, load := faultSize(30, 300), time.Duration(faultSize(4, 30))*time.Second
	pool := pgtest.NewEmptyPool(t)
	url := pool.Config().ConnString()
	fake := newPartner(t)
	crm := newSubscriber(t)
	// A few requests held past the attempt's timeout: each costs its event
	// a retry, which waits seconds, and the events after it wait too.
	var holds atomic.Int32
	holds.Store(int32(faultSize(3, 10)))
	crm.mu.Lock()
	crm.hold = func() bool { return rand.IntN(10) == 0 && holds.Add(-1) >= 0 }
	crm.mu.Unlock()
	env := append([]string{"CALLCONNECT_PARTNER_TIMEOUT=1s", "CALLCONNECT_PARTNER_CONNECT_TIMEOUT=500ms",
		"CALLCONNECT_DISPATCH_DEADLINE=2m"}, deliveryEnv...)
	steady := startServiceEnv(t, url, env)
	configure(t, steady, fake.srv.URL+"/calls", clicks) // a lead per click
	code, sub := steady.do(t, "PUT", "/v1/environments/acme/event-subscriptions/crm",
		`{"url":"`+crm.srv.URL+`/hooks","types":["*"]}`)
	if code != http.StatusOK {
		t.Fatalf("subscribing: %d %v", code, sub)
	}
	crm.mu.Lock()
	crm.secret, _ = sub["signing_secret"].(string)
	crm.mu.Unlock()

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
				_, _ = clickID(faultClient, pick(i), fmt.Sprintf("l%d", i)) // a click its process's kill cut may still have committed
			}()
		}
		wg.Wait()
	}()
	kills := 0
	for loading := true; loading; {
		select {
		case <-done:
			loading = false
		case <-time.After(time.Duration(300+rand.IntN(1200)) * time.Millisecond): // shapes load: the next kill comes at a random moment of the load
			mu.Lock()
			p := victim
			victim = nil
			mu.Unlock()
			p.kill(t)
			kills++
			// shapes load: the victim stays down a random while.
			time.Sleep(time.Duration(rand.IntN(500)) * time.Millisecond)
			p = startServiceEnv(t, url, env)
			mu.Lock()
			victim = p
			mu.Unlock()
		}
	}
	if kills == 0 {
		t.Fatal("no kill: the test did not test")
	}
	// Every call settles (delivered: the partner takes them all), so the
	// feed stops growing; then the endpoint has it all. A head cut by a
	// kill waits for its claim to lapse (the attempt's timeout plus 5 s).
	waitFor(t, 3*time.Minute, "every call is delivered", func() bool {
		var open int
		if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM calls WHERE status <> 'delivered'`).Scan(&open); err != nil {
			t.Fatal(err)
		}
		return open == 0
	})
	feed := feedIDs(t, steady)
	waitFor(t, 3*time.Minute, fmt.Sprintf("the endpoint accepts all %d events of the feed", len(feed)), func() bool {
		ids, _, _ := crm.firstAccepted()
		return len(ids) >= len(feed)
	})
	ids, repeats, total := crm.firstAccepted()
	if !slices.Equal(ids, feed) {
		t.Fatalf("first accepted, in order:\n%v\nthe feed:\n%v", ids, feed)
	}
	crm.mu.Lock()
	bad := crm.badSigs
	crm.mu.Unlock()
	if bad > 0 {
		t.Errorf("%d requests did not verify", bad)
	}
	// The endpoint has every event; the process that sent one records the
	// answer just after it, or, when a kill cut that short, the process that
	// takes the abandoned job over sends it again and records it (River's
	// rescue, a minute or two): wait for those rows.
	var delivered int
	var others []map[string]any
	waitFor(t, 3*time.Minute, "every event delivery recorded", func() bool {
		delivered, others = subscriptionDeliveries(t, steady, "crm")
		return delivered+len(others) >= len(feed) && len(others) == 0
	})
	for _, d := range others {
		t.Errorf("delivery %v", d)
	}
	if delivered != len(feed) {
		t.Errorf("%d deliveries read delivered, want the feed's %d events", delivered, len(feed))
	}
	checked(t, "%d clicks, %d SIGKILLs; %d events in the feed, all first accepted by the endpoint in the feed's order, signed; "+
		"%d requests in all, %d accepted again under their webhook-id (an answer a kill cut), the rest held past the timeout and retried",
		clicks, kills, len(feed), total, repeats)
}

// subscriptionDeliveries reads every delivery of the subscription, page by
// page: how many are delivered, and the others.
func subscriptionDeliveries(t *testing.T, p *process, sub string) (delivered int, others []map[string]any) {
	t.Helper()
	cursor := ""
	for {
		code, page := p.do(t, "GET", "/v1/environments/acme/event-subscriptions/"+sub+"/deliveries?limit=200&cursor="+cursor, "")
		if code != http.StatusOK {
			t.Fatalf("deliveries: %d %v", code, page)
		}
		for _, it := range page["items"].([]any) {
			if d := it.(map[string]any); d["status"] == "delivered" {
				delivered++
			} else {
				others = append(others, d)
			}
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			return delivered, others
		}
		cursor = next
	}
}
