package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/httpapi"
	"callconnect/adapters/httpguard"
	"callconnect/adapters/memory"
)

// junkJSON is a body of n bytes, made as it is read: one object whose only
// key is n-7 bytes of 'a', the body a broken or hostile partner sends to
// make the service hold it.
type junkJSON struct{ n, at int64 }

func (j *junkJSON) Read(p []byte) (int, error) {
	if j.at >= j.n {
		return 0, io.EOF
	}
	const head, tail = `{"`, `": 1}`
	k := 0
	for k < len(p) && j.at < j.n {
		switch {
		case j.at < int64(len(head)):
			p[k] = head[j.at]
		case j.at >= j.n-int64(len(tail)):
			p[k] = tail[j.at-(j.n-int64(len(tail)))]
		default:
			p[k] = 'a'
		}
		k++
		j.at++
	}
	return k, nil
}

// from sends a request to h as if from the connection's address remote
// ("ip:port"), with headers (name, value pairs).
func from(t testing.TB, h http.Handler, remote, method, path string, body io.Reader, headers ...string) *response {
	t.Helper()
	req := httptest.NewRequest(method, "http://callconnect.test"+path, body)
	req.RemoteAddr = remote
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return &response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// allocatedDuring is how many bytes the process allocated while f ran.
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A valid partner's 70 MiB of junk JSON (no recording in it, one huge
// unknown key) is refused 413 once its JSON passes the JSON limit, and
// costs the process next to nothing: the body is neither held nor read
// much past the limit.
func TestJunkCallbackJSONKeepsMemoryBounded(t *testing.T) {
	r := newCallbackRig(t, rigConfig{})
	src := &junkJSON{n: 70 << 20}
	var res *response
	alloc := allocatedDuring(func() {
		req := httptest.NewRequest(http.MethodPost, "/api/cvio/lead", src)
		req.ContentLength = src.n
		req.Header.Set("email", partnerEmail)
		req.Header.Set("token", r.token)
		rec := httptest.NewRecorder()
		r.handler.ServeHTTP(rec, req)
		res = &response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	})
	p := wantProblem(t, res, http.StatusRequestEntityTooLarge, "body_too_large", "body")
	if !strings.Contains(p.Detail, "outside its recordings") || !strings.Contains(p.Detail, "1048576") {
		t.Fatalf("the answer does not say which limit: %s", res)
	}
	if alloc > 8<<20 {
		t.Fatalf("a refused 70 MiB body allocated %d MiB", alloc>>20)
	}
	if src.at > 2<<20 {
		t.Fatalf("%d MiB of it read", src.at>>20)
	}
	r.noHistory("1", "2")
}

// The callback bodies read at once are bounded by their bytes: past the
// budget a callback is answered 503 with Retry-After before its body is
// read, while smaller ones still fit, and the budget comes back when a
// body is done.
func TestCallbackBytesInFlight(t *testing.T) {
	const limit = 1 << 20
	r := newCallbackRig(t, rigConfig{maxCallback: limit, inFlight: limit + limit/2})
	pr, pw := io.Pipe()
	done := make(chan *response)
	go func() {
		req := httptest.NewRequest(http.MethodPost, "/api/cvio/lead", pr)
		req.ContentLength = limit
		req.Header.Set("email", partnerEmail)
		req.Header.Set("token", r.token)
		rec := httptest.NewRecorder()
		r.handler.ServeHTTP(rec, req)
		done <- &response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	}()
	// The write returns once the handler reads: the body is in flight.
	if _, err := pw.Write([]byte(`{"nome": "`)); err != nil {
		t.Fatal(err)
	}

	big := strings.NewReader(contractTaskBody + strings.Repeat(" ", limit-len(contractTaskBody)))
	busy := r.bigCallback(big)
	wantProblem(t, busy, http.StatusServiceUnavailable, "server_busy", "")
	if s, err := strconv.Atoi(busy.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After %q", busy.Header.Get("Retry-After"))
	}
	r.noHistory("1")
	// A small body fits beside the one in flight.
	r.ok(r.partner("/api/cvio/lead_tarefas/cadastrar", contractTaskBody))

	_ = pw.CloseWithError(io.ErrUnexpectedEOF)
	wantProblem(t, <-done, http.StatusBadRequest, "bad_request", "")
	big.Reset(contractTaskBody + strings.Repeat(" ", limit-len(contractTaskBody)))
	r.ok(r.bigCallback(big))
}

// bigCallback posts the task callback body in src, its length declared.
func (r *callbackRig) bigCallback(src *strings.Reader) *response {
	r.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/cvio/lead_tarefas/cadastrar", src)
	req.ContentLength = src.Size()
	req.Header.Set("email", partnerEmail)
	req.Header.Set("token", r.token)
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, req)
	return &response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// Behind a trusted load balancer, 700 bad tokens from one client lock out
// neither a partner on another client address nor a valid token from the
// guesser's own address; the guesser alone gets 429. Its address is the
// one the proxy appended, whatever it wrote in X-Forwarded-For itself, and
// an IPv6 client is one client per /64.
func TestFailedAuthenticationsLimitedPerClient(t *testing.T) {
	r := newCallbackRig(t, rigConfig{proxies: "10.0.0.0/8, 2001:db8:ffff::/48"})
	const lb = "10.1.2.3:41000"
	guess := func(client string, headers ...string) *response {
		h := append([]string{"email", partnerEmail, "token", "cct_guess_" + strings.Repeat("x", 43), "X-Forwarded-For", client}, headers...)
		return from(t, r.handler, lb, http.MethodPost, "/api/cvio/lead", strings.NewReader("{}"), h...)
	}
	partner := func(remote, client, body string) *response {
		return from(t, r.handler, remote, http.MethodPost, "/api/cvio/lead_tarefas/cadastrar", strings.NewReader(body),
			"email", partnerEmail, "token", r.token, "X-Forwarded-For", client)
	}
	unauthorized, limited := 0, 0
	for i := range 700 {
		// The guesser writes an address of its own choosing first: the
		// balancer appends the real one.
		res := guess(fmt.Sprintf("198.18.0.%d, 203.0.113.7", i%250))
		switch res.Status {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusTooManyRequests:
			limited++
			if res.Header.Get("Retry-After") == "" {
				t.Fatalf("attempt %d: 429 without Retry-After", i)
			}
		default:
			t.Fatalf("attempt %d: %s", i, res)
		}
	}
	if unauthorized != httpapi.DefaultPartnerRateLimit || limited != 700-httpapi.DefaultPartnerRateLimit {
		t.Fatalf("%d of 700 bad tokens answered 401 and %d limited; want the first %d, then 429", unauthorized, limited, httpapi.DefaultPartnerRateLimit)
	}
	task := func(i int) string {
		return strings.Replace(contractTaskBody, "Ligação externa", fmt.Sprintf("Tarefa %d", i), 1)
	}
	r.ok(partner(lb, "198.51.100.9", task(1)))
	r.ok(partner(lb, "203.0.113.7", task(2)))
	// Another client's first bad token is a plain 401.
	wantProblem(t, guess("198.51.100.10"), http.StatusUnauthorized, "unauthorized", "")
	// An address not behind the balancer is its own, whatever it says: the
	// guesser's, connecting directly, is still limited.
	wantProblem(t, from(t, r.handler, "203.0.113.7:5000", http.MethodPost, "/api/cvio/lead", strings.NewReader("{}"),
		"email", partnerEmail, "token", "nope", "X-Forwarded-For", "198.51.100.11"), http.StatusTooManyRequests, "too_many_requests", "")
	if h := r.history("1"); len(h) != 2 {
		t.Fatalf("history: %v", h)
	}

	// IPv6: one /64 is one client.
	for range httpapi.DefaultPartnerRateLimit {
		if res := guess("2001:db8:1:2::1"); res.Status != http.StatusUnauthorized {
			t.Fatalf("%s", res)
		}
	}
	wantProblem(t, guess("2001:db8:1:2:aaaa::99"), http.StatusTooManyRequests, "too_many_requests", "")
	wantProblem(t, guess("2001:db8:1:3::1"), http.StatusUnauthorized, "unauthorized", "")
	r.ok(partner("[2001:db8:ffff::1]:443", "2001:db8:1:2::1", task(3)))
}

// 300 wrong admin tokens from one client are limited (429 with Retry-After)
// while the CRM's valid token passes, from another address as from the
// guesser's own.
func TestAdminTokenFailuresLimited(t *testing.T) {
	proxies, err := httpguard.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := newMemoryServices()
	clock := memory.NewClock(t0)
	h := httpapi.New(httpapi.Config{AdminToken: adminToken, TrustedProxies: proxies, Now: clock.Now, Logger: slog.New(slog.DiscardHandler)}, svc, httpapi.Ops{})
	const lb = "10.0.0.1:40000"
	get := func(client, token string) *response {
		return from(t, h, lb, http.MethodGet, "/v1/environments/acme", nil, "Authorization", "Bearer "+token, "X-Forwarded-For", client)
	}
	crm := get("198.51.100.1", adminToken)
	if crm.Status != http.StatusNotFound { // authenticated: the environment does not exist yet
		t.Fatalf("the CRM's first request: %s", crm)
	}
	unauthorized, limited := 0, 0
	for i := range 300 {
		res := get("203.0.113.9", fmt.Sprintf("wrong-%d", i))
		switch res.Status {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusTooManyRequests:
			limited++
			wantProblem(t, res, http.StatusTooManyRequests, "too_many_requests", "")
			if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 {
				t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
			}
		default:
			t.Fatalf("wrong token %d: %s", i, res)
		}
		if i%50 == 0 {
			if res := get("198.51.100.1", adminToken); res.Status != http.StatusNotFound {
				t.Fatalf("the CRM's token after %d wrong ones elsewhere: %s", i+1, res)
			}
		}
	}
	if unauthorized != httpguard.DefaultAdminFailureLimit || limited != 300-httpguard.DefaultAdminFailureLimit {
		t.Fatalf("%d answered 401, %d limited; want the first %d, then 429", unauthorized, limited, httpguard.DefaultAdminFailureLimit)
	}
	if res := get("203.0.113.9", adminToken); res.Status != http.StatusNotFound {
		t.Fatalf("a valid token from the guesser's address: %s", res)
	}
	// No header at all counts as a failure too; another client is not limited.
	wantProblem(t, from(t, h, lb, http.MethodGet, "/v1/environments/acme", nil, "X-Forwarded-For", "203.0.113.9"),
		http.StatusTooManyRequests, "too_many_requests", "")
	wantProblem(t, get("198.51.100.2", "wrong"), http.StatusUnauthorized, "unauthorized", "")
	// The limit is a rate: a minute later the address may fail again.
	clock.Advance(time.Minute)
	wantProblem(t, get("203.0.113.9", "wrong"), http.StatusUnauthorized, "unauthorized", "")
}

// CALLCONNECT_ADMIN_TOKEN may hold several tokens, each accepted, so that
// one can be replaced while the other works; one token works alone as it
// always did.
func TestSeveralAdminTokens(t *testing.T) {
	const a, b = "aN7nY0pP3wK2dQv9sT5xZr8bLm4cJh6gFe1uWi0oRty", "9f2c4e6a8b0d1f3e5c7a9b1d3f5e7c9a1b3d5f7e9c1a3b5d7f9e1c3a5b7d9f1e"
	for _, tc := range []struct {
		configured string
		valid      []string
		invalid    []string
	}{
		{a, []string{a}, []string{b, "", a + "x", a[:len(a)-1]}},
		{a + "," + b, []string{a, b}, []string{a + "," + b, "", "x"}},
		{" " + a + " , " + b + " ,", []string{a, b}, []string{" "}},
		{"", nil, []string{"", a}},
	} {
		t.Run(tc.configured, func(t *testing.T) {
			svc, _ := newMemoryServices()
			c := &client{t: t, handler: httpapi.New(httpapi.Config{AdminToken: tc.configured, Logger: slog.New(slog.DiscardHandler)}, svc, httpapi.Ops{})}
			for _, tok := range tc.valid {
				if res := c.withToken(tok).get("/v1/environments/acme"); res.Status != http.StatusNotFound {
					t.Fatalf("token %q refused: %s", tok, res)
				}
			}
			for _, tok := range tc.invalid {
				wantProblem(t, c.withToken(tok).get("/v1/environments/acme"), http.StatusUnauthorized, "unauthorized", "")
			}
		})
	}
}

// A request for thousands of ranges of a recording gets the whole recording
// (or a 416), never thousands of parts; a few ranges are served as ranges.
func TestManyRangesServedWhole(t *testing.T) {
	r := newCallbackRig(t, rigConfig{})
	ans := r.ok(r.partner("/api/cvio/lead", contractLeadBody("testeaudio8@teste.com", testMP3Base64)))
	url := env + "/recordings/" + ans["recording_ids"].([]any)[0].(string)
	ranges := func(n, step int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf("%d-%d", i*step, i*step)
		}
		return "bytes=" + strings.Join(parts, ",")
	}
	for _, tc := range []struct {
		name, rng string
		want      int
	}{
		{"one range", "bytes=0-9", http.StatusPartialContent},
		{"ten ranges", ranges(10, 100), http.StatusPartialContent},
		{"eleven ranges", ranges(11, 100), http.StatusOK},
		{"2,000 one-byte ranges", ranges(2000, 1), http.StatusOK},
		{"overlapping ranges adding up to more than the recording", "bytes=0-,0-,0-", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := r.do(http.MethodGet, url, nil, "Range", tc.rng)
			if res.Status != tc.want {
				t.Fatalf("%d ranges: %d, want %d", strings.Count(tc.rng, ",")+1, res.Status, tc.want)
			}
			if res.Status == http.StatusOK && (!bytes.Equal(res.Body, testMP3) || res.Header.Get("Content-Range") != "") {
				t.Fatalf("not the whole recording: %d bytes, Content-Range %q", len(res.Body), res.Header.Get("Content-Range"))
			}
		})
	}
}
