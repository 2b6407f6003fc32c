package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callconnect/adapters/postgres/pgtest"
)

// partner is a fake partner on loopback that counts deliveries per
// webhook-id; hang makes it hold requests until the test ends, answer (when
// set) picks each request's status, or -1 to hold it like hang. Requests
// are served concurrently, as a real partner's are: answer runs outside the
// partner's lock, so a slow answer holds up its own request only, and it
// must be safe to call from several requests at once.
type partner struct {
	mu     sync.Mutex
	byID   map[string]int
	okByID map[string]int             // 2xx answers per webhook-id
	byCall map[string]map[string]bool // the body's idligacao → webhook-ids
	total  int
	last   time.Time // when the latest request arrived
	body   []byte    // the latest request's body
	hang   bool
	answer func() int
	srv    *httptest.Server
	stop   chan struct{}
}

func newPartner(t testing.TB) *partner {
	p := &partner{byID: map[string]int{}, okByID: map[string]int{}, byCall: map[string]map[string]bool{}, stop: make(chan struct{})}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var call struct {
			ID string `json:"idligacao"`
		}
		_ = json.Unmarshal(body, &call)
		id := r.Header.Get("webhook-id")
		p.mu.Lock()
		p.byID[id]++
		p.total++
		p.last = time.Now()
		p.body = body
		if call.ID != "" {
			if p.byCall[call.ID] == nil {
				p.byCall[call.ID] = map[string]bool{}
			}
			p.byCall[call.ID][id] = true
		}
		hang, answer := p.hang, p.answer
		p.mu.Unlock()
		status := http.StatusAccepted
		if hang {
			status = -1
		} else if answer != nil {
			status = answer()
		}
		if status >= 200 && status < 300 {
			// Counted before the answer leaves: the service cannot record
			// a call delivered that the partner has not counted.
			p.mu.Lock()
			p.okByID[id]++
			p.mu.Unlock()
		}
		if status < 0 {
			select {
			case <-p.stop:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(func() { close(p.stop); p.srv.Close() })
	return p
}

func (p *partner) setHang(h bool) {
	p.mu.Lock()
	p.hang = h
	p.mu.Unlock()
}

func (p *partner) counts() (map[string]int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.byID))
	for k, v := range p.byID {
		out[k] = v
	}
	return out, p.total
}

func (p *process) do(t testing.TB, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+p.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	if out == nil {
		out = map[string]any{"raw": string(b)}
	}
	return resp.StatusCode, out
}

// configure sets up an environment whose active Call Connect integration
// points at the partner, a broker with a phone and n leads of that broker.
func configure(t testing.TB, p *process, partnerURL string, leads int) {
	t.Helper()
	steps := []struct{ method, path, body string }{
		{"PUT", "/v1/environments/acme", `{"name":"Acme","public_base_url":"https://acme.example.com","call_connect_enabled":true}`},
		{"PUT", "/v1/environments/acme/users/g1", `{"name":"Gestora","role":"manager","can_manage_integrations":true}`},
		{"PUT", "/v1/environments/acme/users/c1", `{"name":"Corretor","role":"broker","phone":"48999476359"}`},
		{"PUT", "/v1/environments/acme/telephony/call-connect", `{"actor_id":"g1","partner_url":"` + partnerURL + `","dial_mode":"phone"}`},
		{"POST", "/v1/environments/acme/telephony/call-connect/activate", `{"actor_id":"g1"}`},
	}
	for _, s := range steps {
		if code, body := p.do(t, s.method, s.path, s.body); code >= 300 {
			t.Fatalf("%s %s: %d %v", s.method, s.path, code, body)
		}
	}
	addLeads(t, p, 0, leads)
}

// addLeads makes the leads l{from}..l{from+n-1} of the broker c1, 8 at a
// time.
func addLeads(t testing.TB, p *process, from, n int) {
	t.Helper()
	err := together(n, 8, func(i int) error {
		path := fmt.Sprintf("/v1/environments/acme/leads/l%d", from+i)
		code, body, err := send(http.DefaultClient, http.MethodPut, "http://"+p.addr+path, `{"name":"Lead","manager_id":"g1","broker_id":"c1"}`,
			"Authorization", "Bearer "+testAdminToken, "Content-Type", "application/json")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("PUT %s: %d %s", path, code, body)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// leadSeq hands out the leads l0, l1, … that configure or addLeads made,
// one per click. A user's click on a lead while their previous call to it is
// still queued or being delivered is refused (409 call_in_progress), so a
// load that clicks faster than calls are delivered clicks a new lead each
// time.
type leadSeq struct {
	next atomic.Int64
	end  int64
}

// newLeadSeq hands out l{from}..l{from+n-1}.
func newLeadSeq(from, n int) *leadSeq {
	s := &leadSeq{end: int64(from + n)}
	s.next.Store(int64(from))
	return s
}

// take returns the next lead's id; false once all are taken.
func (s *leadSeq) take() (string, bool) {
	i := s.next.Add(1) - 1
	if i >= s.end {
		return "", false
	}
	return fmt.Sprintf("l%d", i), true
}

func (p *process) click(t testing.TB, lead string) string {
	t.Helper()
	code, body := p.do(t, "POST", "/v1/environments/acme/leads/"+lead+"/calls", `{"user_id":"c1"}`)
	if code != http.StatusAccepted {
		t.Fatalf("click: %d %v", code, body)
	}
	return body["id"].(string)
}

func (p *process) callStatus(t testing.TB, id string) (string, int) {
	t.Helper()
	code, body := p.do(t, "GET", "/v1/environments/acme/calls/"+id, "")
	if code != 200 {
		t.Fatalf("get call: %d %v", code, body)
	}
	attempts, _ := body["attempts"].([]any)
	return body["status"].(string), len(attempts)
}

var deliveryEnv = []string{
	"CALLCONNECT_ALLOW_PRIVATE_PARTNER_URLS=true",
	"CALLCONNECT_ALLOW_HTTP_PARTNER_URLS=true",
}

// waitFor polls ok (a row written, a request received) until it holds,
// and fails the test, naming what it waited for, after within.
func waitFor(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.After(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		select {
		case <-deadline:
			t.Fatalf("%s: not within %s", what, within)
		case <-tick.C:
		}
	}
}

// A process killed with SIGKILL while the partner holds its request: the
// accepted call is still delivered, by the next process, with the same
// webhook-id.
func TestKilledMidAttemptIsDeliveredAfterRestart(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewEmptyPool(t)
	url := pool.Config().ConnString()
	fake := newPartner(t)
	env := append([]string{"CALLCONNECT_PARTNER_TIMEOUT=2s", "CALLCONNECT_PARTNER_CONNECT_TIMEOUT=1s", "CALLCONNECT_DISPATCH_DEADLINE=3m"}, deliveryEnv...)
	a := startServiceEnv(t, url, env)
	configure(t, a, fake.srv.URL+"/calls", 1)
	fake.setHang(true)
	id := a.click(t, "l0")
	waitFor(t, 10*time.Second, "the partner receives the first attempt", func() bool { _, n := fake.counts(); return n == 1 })
	a.kill(t)
	fake.setHang(false)

	b := startServiceEnv(t, url, env)
	// River's rescuer runs every 30 s and takes a job running longer than
	// the job timeout plus a margin for abandoned: about a minute at most.
	waitFor(t, 90*time.Second, "the call is delivered after the restart", func() bool {
		status, _ := b.callStatus(t, id)
		return status == "delivered"
	})
	byID, _ := fake.counts()
	if len(byID) != 1 || byID["msg_"+id] < 2 {
		t.Fatalf("both attempts must carry the call's webhook-id: %v", byID)
	}
	b.stop(t)
}

// Two service processes on one database: every call reaches the partner
// once, whichever process accepted the click.
func TestTwoProcessesDeliverEachCallOnce(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewEmptyPool(t)
	url := pool.Config().ConnString()
	fake := newPartner(t)
	a := startServiceEnv(t, url, deliveryEnv)
	const clicks = 200
	configure(t, a, fake.srv.URL+"/calls", clicks)
	b := startServiceEnv(t, url, deliveryEnv)
	ids := make([]string, clicks)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := a
			if i%2 == 1 {
				p = b
			}
			ids[i] = p.click(t, fmt.Sprintf("l%d", i))
		}()
	}
	wg.Wait()
	waitFor(t, 60*time.Second, "every call delivered", func() bool { _, n := fake.counts(); return n >= clicks })
	// A duplicate could come only from a delivery job still to run: once
	// none is left, every request the partner will get has arrived.
	waitFor(t, 60*time.Second, "every delivery job has run to its end", func() bool { return unfinishedDeliveries(t, pool) == 0 })
	byID, total := fake.counts()
	if total != clicks || len(byID) != clicks {
		t.Fatalf("partner got %d requests for %d webhook-ids, want %d each once", total, len(byID), clicks)
	}
	for _, id := range ids {
		if byID["msg_"+id] != 1 {
			t.Fatalf("call %s delivered %d times", id, byID["msg_"+id])
		}
	}
	for _, id := range ids[:5] {
		// The partner has it; the delivering process writes the 2xx down just after.
		waitFor(t, 20*time.Second, "call "+id+" recorded delivered", func() bool { s, _ := a.callStatus(t, id); return s == "delivered" })
		if _, attempts := a.callStatus(t, id); attempts != 1 {
			t.Fatalf("call %s delivered after %d attempts, want 1", id, attempts)
		}
	}
	a.stop(t)
	b.stop(t)
}

// An API-only replica (no delivery workers) accepts clicks; they wait,
// durable, for a process that delivers.
func TestAcceptedClicksWaitForADeliveringProcess(t *testing.T) {
	pool := pgtest.NewEmptyPool(t)
	url := pool.Config().ConnString()
	fake := newPartner(t)
	api := startServiceEnv(t, url, append([]string{"CALLCONNECT_DELIVERY_WORKERS=0"}, deliveryEnv...))
	configure(t, api, fake.srv.URL+"/calls", 3)
	ids := []string{api.click(t, "l0"), api.click(t, "l1"), api.click(t, "l2")}
	// The replica's whole life is its chance to deliver: once it is gone,
	// its jobs are as it left them, due and never run (not held, as a
	// direct delivery's are), and the partner has had nothing.
	api.kill(t)
	if got := pgtest.Strings(t, pool, `SELECT state::text || ' ' || attempt FROM river_job WHERE kind = 'deliver_call' ORDER BY id`); !slices.Equal(got, []string{"available 0", "available 0", "available 0"}) {
		t.Fatalf("after the API-only replica, its delivery jobs are %q, want 3 available and never run", got)
	}
	if _, n := fake.counts(); n != 0 {
		t.Fatalf("an API-only replica delivered %d calls", n)
	}
	worker := startServiceEnv(t, url, deliveryEnv)
	waitFor(t, 20*time.Second, "the waiting calls reach the partner", func() bool { _, n := fake.counts(); return n == 3 })
	// The partner has the requests; the worker writes each 2xx down just after.
	waitFor(t, 20*time.Second, "the waiting calls are recorded delivered", func() bool {
		for _, id := range ids {
			if status, _ := worker.callStatus(t, id); status != "delivered" {
				return false
			}
		}
		return true
	})
	if _, n := fake.counts(); n != 3 {
		t.Fatalf("the partner got %d requests for 3 calls", n)
	}
	worker.stop(t)
}
