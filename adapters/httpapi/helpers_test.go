package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/httpapi"
	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// adminToken is 32 random bytes in base64url, as strong as a deployment's
// must be.
const adminToken = "wISLHmVAYrdDhi0r_NqG8rk2vcCAsetXtf-p6OU3WRo"

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// client speaks HTTP to the service: in process through the handler, or
// over a real connection when baseURL is set.
type client struct {
	t       testing.TB
	handler http.Handler
	baseURL string
	http    *http.Client
	token   string
}

// response is what a call got back.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) String() string {
	return http.StatusText(r.Status) + " " + string(r.Body)
}

// decode unmarshals the body into v, failing the test on error.
func (r *response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// object returns the body as a JSON object.
func (r *response) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// newServices wires the app on the in-memory adapters, with the strict
// partner-URL policy of production.
func newMemoryServices() (httpapi.Services, ports.Store) {
	store := memory.NewStore()
	return servicesOn(store), store
}

func servicesOn(store ports.Store) httpapi.Services {
	return httpapi.Services{
		Configuration: app.NewConfiguration(store),
		Telephony:     app.NewTelephony(store, memory.NewClock(t0), memory.NewRandom(1), domain.URLPolicy{}),
		CallButtons:   app.NewCallButtons(store),
	}
}

// newMemoryClient serves the API on in-memory adapters, in process.
func newMemoryClient(t testing.TB) *client {
	svc, _ := newMemoryServices()
	return &client{t: t, handler: httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{}), token: adminToken}
}

// overHTTP serves h on a real listener for the test's duration.
func overHTTP(t testing.TB, h http.Handler) *client {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &client{t: t, baseURL: srv.URL, http: srv.Client(), token: adminToken}
}

// withToken returns a client sending token ("" sends no Authorization header).
func (c *client) withToken(token string) *client {
	cp := *c
	cp.token = token
	return &cp
}

// do sends a request; body is JSON-encoded unless it is a string or []byte.
func (c *client) do(method, path string, body any, headers ...string) *response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req := httptest.NewRequest(method, "http://callconnect.test"+path, rd)
	if c.baseURL != "" {
		var err error
		req, err = http.NewRequest(method, c.baseURL+path, rd)
		if err != nil {
			c.t.Fatal(err)
		}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if c.baseURL == "" {
		rec := httptest.NewRecorder()
		c.handler.ServeHTTP(rec, req)
		return &response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func (c *client) get(path string) *response { c.t.Helper(); return c.do(http.MethodGet, path, nil) }
func (c *client) put(path string, body any) *response {
	c.t.Helper()
	return c.do(http.MethodPut, path, body)
}
func (c *client) post(path string, body any) *response {
	c.t.Helper()
	return c.do(http.MethodPost, path, body)
}

// ok fails the test unless the answer is 200, and returns the body as an object.
func (c *client) ok(r *response) map[string]any {
	c.t.Helper()
	if r.Status != http.StatusOK {
		c.t.Fatalf("want 200, got %s", r)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		c.t.Fatalf("want application/json, got %q", ct)
	}
	return r.object(c.t)
}

// problem is the wire shape of an RFC 9457 problem.
type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
	Code     string `json:"code"`
	Errors   []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
		Value    any    `json:"value"`
	} `json:"errors"`
}

// wantProblem checks that r is a problem+json with status and code, naming
// location among its errors when location is not empty.
func wantProblem(t testing.TB, r *response, status int, code, location string) problem {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want %d %s, got %s", status, code, r)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("want Content-Type application/problem+json, got %q (%s)", ct, r)
	}
	var p problem
	r.decode(t, &p)
	if p.Code != code {
		t.Fatalf("want code %s, got %s", code, r)
	}
	if p.Status != status || p.Title == "" || p.Type != "https://callconnect.dev/problems/"+code || p.Detail == "" {
		t.Fatalf("incomplete problem: %s", r)
	}
	if p.Errors == nil {
		t.Fatalf("errors must always be an array: %s", r)
	}
	if location != "" {
		found := false
		for _, e := range p.Errors {
			if e.Location == location {
				found = true
			}
		}
		if !found {
			t.Fatalf("want an error at %s, got %s", location, r)
		}
	}
	return p
}

// must returns the field of m at key, failing when absent.
func field(t testing.TB, m map[string]any, key string) any {
	t.Helper()
	v, ok := m[key]
	if !ok {
		t.Fatalf("no %q in %v", key, m)
	}
	return v
}
