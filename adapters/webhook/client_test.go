package webhook_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"callconnect/adapters/webhook"
	"callconnect/domain"
	"callconnect/ports"
)

const (
	secretNew = "whsec_bmV3ZXN0LXNlY3JldA=="
	secretOld = "whsec_cHJldmlvdXMtc2VjcmV0"
)

var callBody = []byte(`{"idlead":"1","nome":"Lead do Teste","idligacao":"01JABC"}`)

// received is one request as the fake partner saw it.
type received struct {
	header     http.Header
	body       []byte
	proto      string
	remoteAddr string
	path       string
}

// partner is a fake partner on loopback that records what reaches it.
type partner struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

// newPartner starts a fake partner; answer writes the response (200 "ok"
// when nil).
func newPartner(t *testing.T, answer http.HandlerFunc) *partner {
	t.Helper()
	p := &partner{}
	p.Server = httptest.NewServer(p.handler(answer))
	t.Cleanup(p.Close)
	return p
}

func (p *partner) handler(answer http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.reqs = append(p.reqs, received{header: r.Header.Clone(), body: body, proto: r.Proto, remoteAddr: r.RemoteAddr, path: r.URL.Path})
		p.mu.Unlock()
		if answer == nil {
			_, _ = io.WriteString(w, "ok")
			return
		}
		answer(w, r)
	}
}

func (p *partner) received() []received {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]received(nil), p.reqs...)
}

func (p *partner) only(t *testing.T) received {
	t.Helper()
	rs := p.received()
	if len(rs) != 1 {
		t.Fatalf("partner got %d requests, want 1", len(rs))
	}
	return rs[0]
}

func request(u string, secrets ...string) ports.PartnerRequest {
	if len(secrets) == 0 {
		secrets = []string{secretNew}
	}
	return ports.PartnerRequest{URL: u, Body: callBody, WebhookID: "msg_01JABC", Secrets: secrets, Timestamp: time.Now()}
}

// verify checks a received request with the reference implementation.
func verify(t *testing.T, r received, secret string) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(r.body, r.header); err != nil {
		t.Errorf("signature with %s…: %v (headers %v)", secret[:10], err, r.header)
	}
}

func TestDeliverPostsTheSignedCall(t *testing.T) {
	p := newPartner(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"recebido":true}`)
	})
	c := webhook.New(webhook.Config{AllowPrivate: true, Version: "1.2.3"})
	req := request(p.URL+"/ligar?token=abc", secretNew, secretOld)

	resp := c.Deliver(context.Background(), req)

	if resp.Err != nil || resp.StatusCode != http.StatusAccepted || string(resp.Body) != `{"recebido":true}` || resp.Duration <= 0 {
		t.Fatalf("resp = %+v", resp)
	}
	got := p.only(t)
	if string(got.body) != string(callBody) {
		t.Errorf("body = %s, want the call's JSON as is", got.body)
	}
	for name, want := range map[string]string{
		"Content-Type":      "application/json",
		"User-Agent":        "CallConnect/1.2.3 (+https://callconnect.dev)",
		"webhook-id":        "msg_01JABC",
		"webhook-timestamp": strconv.FormatInt(req.Timestamp.Unix(), 10),
	} {
		if v := got.header.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	if v := got.header.Values("Idempotency-Key"); len(v) != 0 {
		t.Errorf("Idempotency-Key sent: %q", v)
	}
	// Both secrets verify, each on its own (rotation grace period).
	verify(t, got, secretNew)
	verify(t, got, secretOld)

	// What the monitor gets: the headers sent, the signature redacted.
	h := resp.RequestHeaders
	if v := h["Webhook-Signature"]; len(v) != 1 || v[0] != domain.Redacted {
		t.Errorf("RequestHeaders signature = %q, want redacted", v)
	}
	if v := h["Webhook-Id"]; len(v) != 1 || v[0] != "msg_01JABC" {
		t.Errorf("RequestHeaders webhook-id = %q", v)
	}
	if _, ok := h["Idempotency-Key"]; ok {
		t.Error("RequestHeaders shows a header that was not sent")
	}
	if v := h["User-Agent"]; len(v) != 1 || v[0] != "CallConnect/1.2.3 (+https://callconnect.dev)" {
		t.Errorf("RequestHeaders user agent = %q", v)
	}
}

func TestDeliverDefaultUserAgent(t *testing.T) {
	p := newPartner(t, nil)
	webhook.New(webhook.Config{AllowPrivate: true}).Deliver(context.Background(), request(p.URL))
	if ua := p.only(t).header.Get("User-Agent"); ua != "CallConnect/dev (+https://callconnect.dev)" {
		t.Errorf("User-Agent = %q", ua)
	}
}

// Retries of one call carry the same webhook-id (partners dedupe on it),
// each with its own timestamp and a signature that verifies.
func TestDeliverKeepsTheWebhookIDAcrossAttempts(t *testing.T) {
	p := newPartner(t, nil)
	c := webhook.New(webhook.Config{AllowPrivate: true})
	req := request(p.URL)
	c.Deliver(context.Background(), req)
	req.Timestamp = req.Timestamp.Add(2 * time.Second)
	c.Deliver(context.Background(), req)

	rs := p.received()
	if len(rs) != 2 {
		t.Fatalf("got %d requests", len(rs))
	}
	if a, b := rs[0].header.Get("webhook-id"), rs[1].header.Get("webhook-id"); a != "msg_01JABC" || a != b {
		t.Errorf("webhook-ids %q, %q: want the same", a, b)
	}
	if rs[0].header.Get("webhook-timestamp") == rs[1].header.Get("webhook-timestamp") {
		t.Error("both attempts have one timestamp")
	}
	for _, r := range rs {
		verify(t, r, secretNew)
	}
	// Keep-alive: the second attempt reused the first one's connection.
	if rs[0].remoteAddr != rs[1].remoteAddr {
		t.Errorf("a new connection per attempt: %s then %s", rs[0].remoteAddr, rs[1].remoteAddr)
	}
}

func TestDeliverInjectsTraceparent(t *testing.T) {
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	click := trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, Remote: true})
	member, _ := baggage.NewMember("tenant", "internal-secret")
	bag, _ := baggage.New(member)
	ctx := baggage.ContextWithBaggage(trace.ContextWithSpanContext(context.Background(), click), bag)

	t.Run("from the context", func(t *testing.T) {
		p := newPartner(t, nil)
		resp := webhook.New(webhook.Config{AllowPrivate: true}).Deliver(ctx, request(p.URL))
		got := p.only(t).header
		want := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		if tp := got.Get("traceparent"); tp != want {
			t.Errorf("traceparent = %q, want %q", tp, want)
		}
		if b := got.Get("baggage"); b != "" {
			t.Errorf("baggage sent to the partner: %q", b)
		}
		if v := resp.RequestHeaders["Traceparent"]; len(v) != 1 || v[0] != want {
			t.Errorf("RequestHeaders traceparent = %q", v)
		}
	})

	t.Run("through a client span", func(t *testing.T) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		p := newPartner(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
		webhook.New(webhook.Config{AllowPrivate: true, TracerProvider: tp}).Deliver(ctx, request(p.URL))
		spans := rec.Ended()
		if len(spans) != 1 {
			t.Fatalf("%d spans ended, want 1", len(spans))
		}
		s := spans[0]
		if s.SpanKind() != trace.SpanKindClient || s.Parent().SpanID() != spanID || s.SpanContext().TraceID() != traceID {
			t.Errorf("span kind %v parent %v trace %v", s.SpanKind(), s.Parent().SpanID(), s.SpanContext().TraceID())
		}
		want := "00-" + traceID.String() + "-" + s.SpanContext().SpanID().String() + "-01"
		if tp := p.only(t).header.Get("traceparent"); tp != want {
			t.Errorf("traceparent = %q, want the client span %q", tp, want)
		}
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.Emit()
		}
		if attrs["http.response.status_code"] != "503" || attrs["http.request.method"] != "POST" || s.Status().Code.String() != "Error" {
			t.Errorf("span attributes %v status %v", attrs, s.Status())
		}
	})
}

func TestDeliverTimesOutOnAHangingPartner(t *testing.T) {
	release := make(chan struct{})
	p := newPartner(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release) // before p.Close (cleanup), which waits for handlers
	c := webhook.New(webhook.Config{AllowPrivate: true, Timeout: 300 * time.Millisecond})

	start := time.Now()
	resp := c.Deliver(context.Background(), request(p.URL))
	elapsed := time.Since(start)

	if !errors.Is(resp.Err, webhook.ErrTimeout) || resp.StatusCode != 0 {
		t.Fatalf("resp = %+v, want ErrTimeout and no status", resp)
	}
	if errors.Is(resp.Err, ports.ErrBlockedDestination) {
		t.Error("a timeout is not a blocked destination: it must be retried")
	}
	if elapsed < 300*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("gave up after %s, want about the 300ms timeout", elapsed)
	}
	if resp.Duration < 300*time.Millisecond {
		t.Errorf("Duration = %s", resp.Duration)
	}
}

// A partner that sends its headers and then stalls the body is cut off at
// the total timeout too; what came is kept, and it counts as an answer.
func TestDeliverTimeoutCoversTheAnswerBody(t *testing.T) {
	release := make(chan struct{})
	p := newPartner(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c := webhook.New(webhook.Config{AllowPrivate: true, Timeout: 300 * time.Millisecond})
	start := time.Now()
	resp := c.Deliver(context.Background(), request(p.URL))
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("took %s", elapsed)
	}
	if resp.Err != nil || resp.StatusCode != 200 || string(resp.Body) != "partial" {
		t.Errorf("resp = %+v", resp)
	}
}

// The connect timeout covers resolving the name as well as connecting.
func TestDeliverConnectTimeout(t *testing.T) {
	hang := func(ctx context.Context, _, _ string) ([]netip.Addr, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	c := webhook.New(webhook.Config{ConnectTimeout: 200 * time.Millisecond, Timeout: 10 * time.Second, Lookup: hang})
	start := time.Now()
	resp := c.Deliver(context.Background(), request("https://partner.example/ligar"))
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("connect timeout of 200ms took %s", elapsed)
	}
	if !errors.Is(resp.Err, webhook.ErrTimeout) || resp.StatusCode != 0 {
		t.Errorf("resp = %+v, want ErrTimeout", resp)
	}
}

func TestDeliverConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	resp := webhook.New(webhook.Config{AllowPrivate: true}).Deliver(context.Background(), request("http://"+addr+"/ligar"))

	if resp.StatusCode != 0 || !errors.Is(resp.Err, syscall.ECONNREFUSED) || errors.Is(resp.Err, ports.ErrBlockedDestination) {
		t.Fatalf("resp = %+v, want a refused connection", resp)
	}
	if !strings.Contains(resp.Err.Error(), "refused") || resp.RequestHeaders == nil {
		t.Errorf("err %q, headers %v", resp.Err, resp.RequestHeaders)
	}
}

func TestDeliverCancelled(t *testing.T) {
	p := newPartner(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp := webhook.New(webhook.Config{AllowPrivate: true}).Deliver(ctx, request(p.URL))
	if !errors.Is(resp.Err, context.Canceled) || resp.StatusCode != 0 {
		t.Errorf("resp = %+v", resp)
	}
}

func TestDeliverReportsStatusAndRetryAfter(t *testing.T) {
	for _, c := range []struct {
		name       string
		status     int
		retryAfter string
		wantMin    time.Duration
		wantMax    time.Duration
	}{
		{"500 without Retry-After", 500, "", 0, 0},
		{"503 in seconds", 503, "120", 120 * time.Second, 120 * time.Second},
		{"429 as an HTTP-date", 429, "date+90s", 88 * time.Second, 90 * time.Second},
		{"503 capped", 503, "86400", webhook.MaxRetryAfter, webhook.MaxRetryAfter},
		{"503 unparsable", 503, "later", 0, 0},
		{"429 date in the past", 429, "Mon, 02 Jan 2006 15:04:05 GMT", 0, 0},
		{"400", 400, "", 0, 0},
		{"204", 204, "", 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newPartner(t, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case c.retryAfter == "date+90s":
					w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
				case c.retryAfter != "":
					w.Header().Set("Retry-After", c.retryAfter)
				}
				w.WriteHeader(c.status)
			})
			resp := webhook.New(webhook.Config{AllowPrivate: true}).Deliver(context.Background(), request(p.URL))
			if resp.Err != nil || resp.StatusCode != c.status {
				t.Fatalf("resp = %+v, want status %d and no error", resp, c.status)
			}
			if resp.RetryAfter < c.wantMin || resp.RetryAfter > c.wantMax {
				t.Errorf("RetryAfter = %s, want [%s, %s]", resp.RetryAfter, c.wantMin, c.wantMax)
			}
		})
	}
}

func TestDeliverBoundsTheAnswer(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	p := newPartner(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, big)
	})
	resp := webhook.New(webhook.Config{AllowPrivate: true}).Deliver(context.Background(), request(p.URL))
	if resp.Err != nil || resp.StatusCode != 500 || len(resp.Body) != webhook.DefaultMaxResponseBytes {
		t.Fatalf("status %d err %v body %d bytes, want %d", resp.StatusCode, resp.Err, len(resp.Body), webhook.DefaultMaxResponseBytes)
	}
	resp = webhook.New(webhook.Config{AllowPrivate: true, MaxResponseBytes: 10}).Deliver(context.Background(), request(p.URL))
	if string(resp.Body) != "xxxxxxxxxx" {
		t.Errorf("body = %q, want 10 bytes", resp.Body)
	}
}

// With AllowPrivate off, internal targets are refused before a byte leaves:
// the loopback partner sees nothing, and hosts written as addresses are
// refused before any DNS lookup.
func TestDeliverRefusesInternalTargets(t *testing.T) {
	p := newPartner(t, nil)
	port := p.Listener.Addr().(*net.TCPAddr).Port
	var lookedUp []string
	var mu sync.Mutex
	lookup := func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		mu.Lock()
		lookedUp = append(lookedUp, host)
		mu.Unlock()
		return net.DefaultResolver.LookupNetIP(ctx, network, host)
	}
	c := webhook.New(webhook.Config{Lookup: lookup})
	for _, u := range []string{
		p.URL + "/ligar",
		"http://[::1]:" + strconv.Itoa(port) + "/",
		"http://localhost:" + strconv.Itoa(port) + "/",
		"http://LOCALHOST.:" + strconv.Itoa(port) + "/",
		"http://127.1:" + strconv.Itoa(port) + "/",
		"http://0x7f000001:" + strconv.Itoa(port) + "/",
		"http://[::ffff:127.0.0.1]:" + strconv.Itoa(port) + "/",
		"http://0.0.0.0:" + strconv.Itoa(port) + "/",
		"http://169.254.169.254/latest/meta-data/",
		"http://metadata.google.internal/computeMetadata/v1/",
		"http://[fd00:ec2::254]/",
		"http://10.0.0.1/",
		"https://192.168.0.10/",
		"http://[fe80::1%25eth0]/",
		"ftp://partner.example/",
		"https://user:pass@partner.example/",
	} {
		resp := c.Deliver(context.Background(), request(u))
		if !errors.Is(resp.Err, ports.ErrBlockedDestination) || resp.StatusCode != 0 {
			t.Errorf("%s: resp = %+v, want ErrBlockedDestination", u, resp)
		}
	}
	if n := len(p.received()); n != 0 {
		t.Errorf("the loopback partner got %d requests", n)
	}
	if len(lookedUp) != 0 {
		t.Errorf("looked up %q before refusing", lookedUp)
	}
}

// A public-looking name that resolves to an internal address is refused at
// dial time, after resolution, and the address actually dialled is the one
// that was checked.
func TestDeliverRefusesNamesResolvingInward(t *testing.T) {
	p := newPartner(t, nil)
	port := strconv.Itoa(p.Listener.Addr().(*net.TCPAddr).Port)
	zone := map[string][]netip.Addr{
		"partner.test":         {netip.MustParseAddr("127.0.0.1")},
		"mixed.partner.test":   {netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("127.0.0.1")},
		"metadata.attacker.io": {netip.MustParseAddr("169.254.169.254")},
		"nat64.attacker.io":    {netip.MustParseAddr("64:ff9b::7f00:1")},
		"mapped.attacker.io":   {netip.MustParseAddr("::ffff:10.0.0.1")},
	}
	lookup := func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if a, ok := zone[host]; ok {
			return append([]netip.Addr(nil), a...), nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	c := webhook.New(webhook.Config{Lookup: lookup, ConnectTimeout: time.Second})
	for host := range zone {
		resp := c.Deliver(context.Background(), request("http://"+host+":"+port+"/ligar"))
		if !errors.Is(resp.Err, ports.ErrBlockedDestination) || resp.StatusCode != 0 {
			t.Errorf("%s: resp = %+v, want ErrBlockedDestination", host, resp)
		} else if !strings.Contains(resp.Err.Error(), host) {
			t.Errorf("%s: error %q does not name the host", host, resp.Err)
		}
	}
	if n := len(p.received()); n != 0 {
		t.Fatalf("the loopback partner got %d requests", n)
	}

	// The same name with AllowPrivate reaches the partner through the lookup.
	allowed := webhook.New(webhook.Config{Lookup: lookup, AllowPrivate: true})
	resp := allowed.Deliver(context.Background(), request("http://partner.test:"+port+"/ligar"))
	if resp.Err != nil || resp.StatusCode != 200 {
		t.Fatalf("with AllowPrivate: %+v", resp)
	}
	verify(t, p.only(t), secretNew)

	// An unknown name is a DNS failure, retried later: not a blocked destination.
	resp = c.Deliver(context.Background(), request("https://unknown.partner.test/"))
	if resp.Err == nil || errors.Is(resp.Err, ports.ErrBlockedDestination) {
		t.Errorf("unknown host: %v", resp.Err)
	}
}

// Redirects are never followed, to another host or the same one: the 3xx is
// the answer (the domain judges it permanent), and nothing reaches the
// target of the Location.
func TestDeliverDoesNotFollowRedirects(t *testing.T) {
	elsewhere := newPartner(t, nil)
	for _, c := range []struct {
		status   int
		location string
	}{
		{http.StatusTemporaryRedirect, elsewhere.URL + "/ligar"},
		{http.StatusPermanentRedirect, elsewhere.URL + "/ligar"},
		{http.StatusFound, "http://169.254.169.254/latest/meta-data/"},
		{http.StatusMovedPermanently, "/other-path"},
		{http.StatusSeeOther, "/other-path"},
	} {
		t.Run(strconv.Itoa(c.status)+" to "+c.location, func(t *testing.T) {
			first := newPartner(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/ligar" {
					t.Errorf("followed to %s", r.URL.Path)
				}
				w.Header().Set("Location", c.location)
				w.WriteHeader(c.status)
				_, _ = io.WriteString(w, "moved")
			})
			resp := webhook.New(webhook.Config{AllowPrivate: true}).Deliver(context.Background(), request(first.URL+"/ligar"))
			if resp.Err != nil || resp.StatusCode != c.status || string(resp.Body) != "moved" {
				t.Errorf("resp = %+v, want the %d as the answer", resp, c.status)
			}
			if n := len(first.received()); n != 1 {
				t.Errorf("first partner got %d requests, want 1", n)
			}
		})
	}
	if n := len(elsewhere.received()); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
}

func TestDeliverOverHTTP2WithTLS(t *testing.T) {
	p := &partner{}
	p.Server = httptest.NewUnstartedServer(p.handler(nil))
	p.EnableHTTP2 = true
	p.StartTLS()
	t.Cleanup(p.Close)
	tlsConfig := p.Client().Transport.(*http.Transport).TLSClientConfig

	resp := webhook.New(webhook.Config{AllowPrivate: true, TLSConfig: tlsConfig}).Deliver(context.Background(), request(p.URL))
	if resp.Err != nil || resp.StatusCode != 200 {
		t.Fatalf("resp = %+v", resp)
	}
	got := p.only(t)
	if got.proto != "HTTP/2.0" {
		t.Errorf("proto = %s, want HTTP/2.0", got.proto)
	}
	verify(t, got, secretNew)

	// A certificate the client does not trust: no answer, a TLS error, retried later.
	resp = webhook.New(webhook.Config{AllowPrivate: true}).Deliver(context.Background(), request(p.URL))
	if resp.StatusCode != 0 || resp.Err == nil || !strings.Contains(resp.Err.Error(), "TLS") || errors.Is(resp.Err, ports.ErrBlockedDestination) {
		t.Errorf("untrusted certificate: %+v", resp)
	}
}

// A request that cannot be signed is not sent at all.
func TestDeliverSendsNothingUnsigned(t *testing.T) {
	p := newPartner(t, nil)
	c := webhook.New(webhook.Config{AllowPrivate: true})
	for _, secrets := range [][]string{{"not-a-secret"}, {}} {
		req := request(p.URL)
		req.Secrets = secrets
		resp := c.Deliver(context.Background(), req)
		if !errors.Is(resp.Err, webhook.ErrBadSecret) || resp.StatusCode != 0 {
			t.Errorf("secrets %q: resp = %+v", secrets, resp)
		}
	}
	if n := len(p.received()); n != 0 {
		t.Errorf("partner got %d unsigned requests", n)
	}
}

// Errors name the scheme and host, never the query, which may carry a token.
func TestDeliverErrorsLeaveTheQueryOut(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	u := "http://" + addr + "/ligar?token=" + url.QueryEscape("s3cr3t")
	resp := webhook.New(webhook.Config{AllowPrivate: true}).Deliver(context.Background(), request(u))
	if resp.Err == nil || strings.Contains(resp.Err.Error(), "s3cr3t") {
		t.Errorf("err = %v", resp.Err)
	}
}
