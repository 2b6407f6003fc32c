package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"callconnect/ports"
)

// gatedStore holds the first transaction it is armed for until the test
// opens the gate: a request caught in the middle of its work.
type gatedStore struct {
	ports.Store
	armed   atomic.Bool
	entered chan struct{}
	gate    chan struct{}
}

func newGatedStore(s ports.Store) *gatedStore {
	return &gatedStore{Store: s, entered: make(chan struct{}), gate: make(chan struct{})}
}

func (g *gatedStore) Tx(ctx context.Context, fn func(ctx context.Context, r ports.Repositories) error) error {
	if g.armed.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.gate
	}
	return g.Store.Tx(ctx, fn)
}

// withKey posts body to path with an Idempotency-Key.
func (p *callsOnPostgres) withKey(path, key string, body any) *response {
	return p.c.do(http.MethodPost, path, body, "Idempotency-Key", key)
}

// deliverOnly runs the deliveries committed so far, failing unless there
// are want of them.
func (p *callsOnPostgres) deliverOnly(t *testing.T, want int) {
	t.Helper()
	ds := takeCommittedDeliveries(t, p.pool)
	if len(ds) != want {
		t.Errorf("%d deliveries scheduled, want %d", len(ds), want)
	}
	for _, d := range ds {
		if _, err := p.calls.Deliver(context.Background(), d.EnvID, d.CallID); err != nil {
			t.Fatal(err)
		}
	}
}

// callCount is how many calls the environment lists.
func (p *callsOnPostgres) callCount(t *testing.T, path string) int {
	t.Helper()
	return len(p.listAll(t, path, url.Values{"limit": {"200"}}))
}

// wantReplay fails unless r is first sent again: the same status, body
// byte for byte and Location, marked Idempotent-Replayed.
func wantReplay(t *testing.T, first, r *response) {
	t.Helper()
	if r.Status != first.Status || !bytes.Equal(r.Body, first.Body) || r.Header.Get("Location") != first.Header.Get("Location") ||
		r.Header.Get("Content-Type") != first.Header.Get("Content-Type") {
		t.Errorf("not the first answer again:\nfirst  %d %q %s\nreplay %d %q %s", first.Status, first.Header.Get("Location"), first.Body,
			r.Status, r.Header.Get("Location"), r.Body)
	}
	if r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("a replay without Idempotent-Replayed: true (headers %v)", r.Header)
	}
}

// TestIdempotencyKeyOnPostgres: over real HTTP on PostgreSQL, a /v1 POST
// with an Idempotency-Key does its work once, whoever repeats it and when.
func TestIdempotencyKeyOnPostgres(t *testing.T) {
	var gated *gatedStore
	p := newCallsOnPostgres(t, func(s ports.Store) ports.Store { gated = newGatedStore(s); return gated })
	const other = "/v1/environments/other"
	seedCalls(t, p.c, env)
	seedCalls(t, p.c, other)
	corretor := map[string]any{"user_id": "corretor"}

	t.Run("a double click places one call", func(t *testing.T) {
		before := p.callCount(t, env)
		const clicks = 8
		answers := make([]*response, clicks)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for n := range clicks {
			wg.Go(func() {
				<-start
				answers[n] = p.withKey(env+"/leads/1/calls", "double-click", corretor)
			})
		}
		close(start)
		wg.Wait()
		var first *response
		for _, r := range answers {
			switch r.Status {
			case http.StatusAccepted:
				if first == nil {
					first = r
				} else if !bytes.Equal(r.Body, first.Body) {
					t.Errorf("two 202s with different calls:\n%s\n%s", first.Body, r.Body)
				}
			case http.StatusConflict:
				wantProblem(t, r, http.StatusConflict, "idempotency_key_in_use", "header.Idempotency-Key")
				if r.Header.Get("Retry-After") == "" {
					t.Errorf("409 idempotency_key_in_use without Retry-After")
				}
			default:
				t.Errorf("a click answered %s", r)
			}
		}
		if first == nil {
			t.Fatal("no click was answered 202")
		}
		if got := p.callCount(t, env); got != before+1 {
			t.Fatalf("%d clicks with one key placed %d calls, want 1", clicks, got-before)
		}
		// Every retry, once the first is answered, gets its answer.
		for range 2 {
			wantReplay(t, first, p.withKey(env+"/leads/1/calls", "double-click", corretor))
		}
		if got := p.callCount(t, env); got != before+1 {
			t.Fatalf("the retries placed %d more calls", got-before-1)
		}
		p.deliverOnly(t, 1)
	})

	t.Run("while the first is running, the same key waits its turn", func(t *testing.T) {
		before := p.callCount(t, env)
		gated.armed.Store(true)
		open := sync.OnceFunc(func() { close(gated.gate) })
		defer open() // a failure below must not leave the first request held
		firstDone := make(chan *response, 1)
		go func() { firstDone <- p.withKey(env+"/leads/1/calls", "slow", corretor) }()
		select {
		case <-gated.entered: // the first request holds the key, its call not yet placed
		case r := <-firstDone:
			t.Fatalf("the first request ended before placing its call: %s", r)
		}
		r := p.withKey(env+"/leads/1/calls", "slow", corretor)
		wantProblem(t, r, http.StatusConflict, "idempotency_key_in_use", "header.Idempotency-Key")
		if r.Header.Get("Retry-After") != "1" {
			t.Errorf("Retry-After %q, want 1", r.Header.Get("Retry-After"))
		}
		wantProblem(t, p.withKey(env+"/leads/1/calls", "slow", map[string]any{"user_id": "gestor"}),
			http.StatusUnprocessableEntity, "idempotency_key_reused", "header.Idempotency-Key")
		open()
		first := <-firstDone
		if first.Status != http.StatusAccepted {
			t.Fatalf("the first request: %s", first)
		}
		wantReplay(t, first, p.withKey(env+"/leads/1/calls", "slow", corretor))
		if got := p.callCount(t, env); got != before+1 {
			t.Errorf("placed %d calls, want 1", got-before)
		}
		p.settle(t)
	})

	t.Run("the same key with another request is 422 and does nothing", func(t *testing.T) {
		first := p.withKey(env+"/leads/1/calls", "k-reused", corretor)
		accepted(t, first)
		before := p.callCount(t, env)
		for _, c := range []struct {
			what, path string
			body       any
		}{
			{"another body", env + "/leads/1/calls", map[string]any{"user_id": "gestor"}},
			{"the same body written otherwise", env + "/leads/1/calls", `{"user_id":  "corretor"}`},
			{"another lead", env + "/leads/2/calls", corretor},
			{"a query", env + "/leads/1/calls?x=1", corretor},
		} {
			wantProblem(t, p.withKey(c.path, "k-reused", c.body), http.StatusUnprocessableEntity, "idempotency_key_reused", "header.Idempotency-Key")
		}
		if got := p.callCount(t, env); got != before {
			t.Errorf("refused requests placed %d calls", got-before)
		}
		wantReplay(t, first, p.withKey(env+"/leads/1/calls", "k-reused", corretor))
		p.settle(t)
	})

	t.Run("keys of two environments, or two operations, never meet", func(t *testing.T) {
		mine := p.withKey(env+"/leads/1/calls", "shared-key", corretor)
		accepted(t, mine)
		theirs := p.withKey(other+"/leads/1/calls", "shared-key", corretor)
		call := accepted(t, theirs)
		if bytes.Equal(mine.Body, theirs.Body) || theirs.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("the other environment got acme's answer: %s", theirs.Body)
		}
		if !strings.HasPrefix(theirs.Header.Get("Location"), other+"/calls/") {
			t.Errorf("Location %q", theirs.Header.Get("Location"))
		}
		if r := p.c.get(env + "/calls/" + call["id"].(string)); r.Status != http.StatusNotFound {
			t.Errorf("the other environment's call read in acme: %s", r)
		}
		// The key on another operation runs it: redelivering a queued
		// call is refused on its own terms, not as a reused key.
		wantProblem(t, p.withKey(env+"/calls/"+accepted(t, mine)["id"].(string)+"/redeliver", "shared-key", nil),
			http.StatusConflict, "invalid_call_transition", "path.call_id")
		p.settle(t)
	})

	t.Run("an answer that is not a success is not kept: the request runs again", func(t *testing.T) {
		id := accepted(t, p.c.post(env+"/leads/1/calls", corretor))["id"].(string)
		takeCommittedDeliveries(t, p.pool)
		redeliver := env + "/calls/" + id + "/redeliver"
		wantProblem(t, p.withKey(redeliver, "retry-me", nil), http.StatusConflict, "invalid_call_transition", "path.call_id")
		p.partner.answer(http.StatusBadRequest)
		if _, err := p.calls.Deliver(context.Background(), "acme", id); err != nil {
			t.Fatal(err)
		}
		p.partner.answer(http.StatusOK)
		first := p.withKey(redeliver, "retry-me", nil)
		wantCall(t, accepted(t, first), id, "queued", nil, 1)
		wantReplay(t, first, p.withKey(redeliver, "retry-me", nil))
		p.deliverOnly(t, 1)
	})

	t.Run("every /v1 POST", func(t *testing.T) {
		admin := map[string]any{"actor_id": "admin"}
		// Rotating the secret: the replay shows the same new secret, and
		// the integration signs with it: it did not rotate again.
		rotated := p.withKey(env+"/telephony/call-connect/rotate-secret", "rotate-1", admin)
		secret, _ := p.c.ok(rotated)["signing_secret"].(string)
		if secret == "" {
			t.Fatalf("rotate-secret answered %s", rotated)
		}
		wantReplay(t, rotated, p.withKey(env+"/telephony/call-connect/rotate-secret", "rotate-1", admin))
		id := accepted(t, p.c.post(env+"/leads/1/calls", corretor))["id"].(string)
		takeCommittedDeliveries(t, p.pool)
		if _, err := p.calls.Deliver(context.Background(), "acme", id); err != nil {
			t.Fatal(err)
		}
		sent := p.partner.received()
		if s := sent[len(sent)-1].Secrets; len(s) == 0 || s[0] != secret {
			t.Errorf("the call was signed with %d secrets, the current one not the rotated one (%v)", len(s), s)
		}

		// The test call reaches the partner once.
		n := len(p.partner.received())
		tested := p.withKey(env+"/telephony/call-connect/test", "test-1", admin)
		p.c.ok(tested)
		wantReplay(t, tested, p.withKey(env+"/telephony/call-connect/test", "test-1", admin))
		if got := len(p.partner.received()) - n; got != 1 {
			t.Errorf("the partner got %d test calls, want 1", got)
		}

		// A partner token is issued once: the replay shows the same token.
		token := map[string]any{"email": "parceiro@example.com", "description": "PBX"}
		issued := p.withKey(env+"/partner-tokens", "token-1", token)
		if issued.Status != http.StatusCreated {
			t.Fatalf("issuing a token: %s", issued)
		}
		wantReplay(t, issued, p.withKey(env+"/partner-tokens", "token-1", token))
		if items := p.c.ok(p.c.get(env + "/partner-tokens"))["items"].([]any); len(items) != 1 {
			t.Errorf("%d partner tokens, want 1", len(items))
		}

		for _, c := range []struct {
			path string
			body any
		}{
			{env + "/telephony/call-connect/deactivate", admin},
			{env + "/telephony/call-connect/activate", admin},
			{env + "/call-buttons", map[string]any{"user_id": "corretor", "lead_ids": []string{"1", "2"}}},
		} {
			first := p.withKey(c.path, "again-"+c.path, c.body)
			p.c.ok(first)
			wantReplay(t, first, p.withKey(c.path, "again-"+c.path, c.body))
		}
	})

	t.Run("a key that is not 1 to 255 printable ASCII characters is 422, and does nothing", func(t *testing.T) {
		before := p.callCount(t, env)
		for _, key := range []string{strings.Repeat("k", 256), "chave-çã"} {
			wantProblem(t, p.withKey(env+"/leads/1/calls", key, corretor), http.StatusUnprocessableEntity, "invalid_field", "header.Idempotency-Key")
		}
		if got := p.callCount(t, env); got != before {
			t.Errorf("placed %d calls", got-before)
		}
	})
}
