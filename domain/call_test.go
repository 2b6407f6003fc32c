package domain_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"callconnect/domain"
)

var clickAt = time.Date(2020, 2, 4, 23, 0, 0, 0, time.UTC) // 20:00 in São Paulo

func newQueuedCall(t *testing.T) domain.Call {
	t.Helper()
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "acme", Name: "Acme", PublicBaseURL: "https://acme.example.com", CallConnectEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	lead, err := domain.NewLead(domain.LeadInput{EnvID: "acme", ID: "1", Name: "Lead", BrokerID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	user, err := domain.NewUser(domain.UserInput{EnvID: "acme", ID: "c1", Name: "Broker", Role: "broker", Phone: "48999476359"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := domain.NewCall("call1", env, lead, user, domain.CallButton{Visible: true, Enabled: true}, clickAt, 2*time.Minute, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewCallRefusesADisabledButton(t *testing.T) {
	env, _ := domain.NewEnvironment(domain.EnvironmentInput{ID: "acme", Name: "Acme", PublicBaseURL: "https://acme.example.com"})
	lead, _ := domain.NewLead(domain.LeadInput{EnvID: "acme", ID: "1", Name: "Lead"})
	user, _ := domain.NewUser(domain.UserInput{EnvID: "acme", ID: "c1", Name: "Broker", Role: "broker"})
	for _, b := range []domain.CallButton{
		{Reason: domain.ReasonNotOwner},
		{Visible: true, Reason: domain.ReasonNotOwner},
		{Visible: true, Reason: domain.ReasonIntegrationInactive},
		{Visible: true, Reason: domain.ReasonMissingPhone},
		{Visible: true, Reason: domain.ReasonMissingExtension},
	} {
		_, err := domain.NewCall("c", env, lead, user, b, clickAt, time.Minute, nil)
		de, ok := domain.AsError(err)
		if !ok || de.Code != string(b.Reason) {
			t.Errorf("button %+v: got %v, want code %s (rule 6)", b, err, b.Reason)
		}
	}
}

func TestCallHappyPath(t *testing.T) {
	c := newQueuedCall(t)
	if c.Status() != domain.CallQueued || !c.Deadline().Equal(clickAt.Add(2*time.Minute)) {
		t.Fatalf("new call: %s deadline %s", c.Status(), c.Deadline())
	}
	if err := c.StartAttempt(clickAt.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := c.Retry(domain.Attempt{At: clickAt.Add(time.Second), StatusCode: 503}); err != nil {
		t.Fatal(err)
	}
	if c.Status() != domain.CallQueued {
		t.Fatalf("a retried call waits queued, got %s", c.Status())
	}
	if err := c.StartAttempt(clickAt.Add(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := c.Delivered(domain.Attempt{At: clickAt.Add(3 * time.Second), StatusCode: 200}); err != nil {
		t.Fatal(err)
	}
	if c.Status() != domain.CallDelivered || len(c.Attempts()) != 2 || c.Attempts()[0].StatusCode != 503 {
		t.Fatalf("got %s with %+v", c.Status(), c.Attempts())
	}
	if c.WebhookID() != "msg_call1" {
		t.Fatalf("webhook id: %s", c.WebhookID())
	}
}

func TestNoAttemptAfterTheDeadline(t *testing.T) {
	c := newQueuedCall(t)
	err := c.StartAttempt(c.Deadline())
	if de, ok := domain.AsError(err); !ok || de.Code != domain.CodeInvalidTransition {
		t.Fatalf("an attempt at the deadline must be refused, got %v", err)
	}
	if err := c.GiveUp(nil, domain.UndeliverableDeadlineExceeded); err != nil {
		t.Fatal(err)
	}
	if c.Status() != domain.CallUndeliverable || c.Reason() != domain.UndeliverableDeadlineExceeded {
		t.Fatalf("got %s %s", c.Status(), c.Reason())
	}
	later := c.Deadline().Add(time.Hour)
	if err := c.Redeliver(later, time.Minute); err != nil {
		t.Fatal(err)
	}
	if c.Status() != domain.CallQueued || c.Reason() != "" || !c.Deadline().Equal(later.Add(time.Minute)) {
		t.Fatalf("redeliver: %s %q %s", c.Status(), c.Reason(), c.Deadline())
	}
	if err := c.StartAttempt(later.Add(time.Second)); err != nil {
		t.Fatalf("a redelivered call has a fresh deadline: %v", err)
	}
}

func TestIllegalTransitionsAreRefused(t *testing.T) {
	c := newQueuedCall(t)
	if err := c.Delivered(domain.Attempt{}); err == nil {
		t.Fatal("queued → delivered without an attempt in flight must be refused")
	}
	if err := c.Redeliver(clickAt, time.Minute); err == nil {
		t.Fatal("only an undeliverable call can be redelivered")
	}
	_ = c.StartAttempt(clickAt)
	_ = c.Delivered(domain.Attempt{StatusCode: 200})
	for name, f := range map[string]func() error{
		"retry":      func() error { return c.Retry(domain.Attempt{}) },
		"give up":    func() error { return c.GiveUp(nil, "x") },
		"start":      func() error { return c.StartAttempt(clickAt) },
		"redeliver":  func() error { return c.Redeliver(clickAt, time.Minute) },
		"deliver 2x": func() error { return c.Delivered(domain.Attempt{}) },
	} {
		if err := f(); err == nil {
			t.Errorf("%s of a delivered call must be refused", name)
		}
	}
	if c.Status() != domain.CallDelivered || len(c.Attempts()) != 1 {
		t.Fatalf("a refused transition changed the call: %s %d", c.Status(), len(c.Attempts()))
	}
}

func TestAttemptErrorIsBounded(t *testing.T) {
	c := newQueuedCall(t)
	_ = c.StartAttempt(clickAt)
	_ = c.Retry(domain.Attempt{Error: strings.Repeat("x", 10_000)})
	if got := len(c.Attempts()[0].Error); got != domain.MaxRecordedError {
		t.Fatalf("error kept %d bytes", got)
	}
}

// The status machine, as a property: whatever sequence of operations is
// applied, every status change is an allowed transition, a refused
// operation changes nothing, and attempts are never lost.
func TestCallStatusMachineProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := newQueuedCall(&testing.T{})
		now := clickAt
		attempts := 0
		for i := 0; i < rapid.IntRange(1, 30).Draw(t, "steps"); i++ {
			before := c.Status()
			now = now.Add(time.Duration(rapid.IntRange(0, 90).Draw(t, "seconds")) * time.Second)
			var err error
			recorded := false
			switch rapid.IntRange(0, 5).Draw(t, "op") {
			case 0:
				err = c.StartAttempt(now)
				if err == nil && c.PastDeadline(now) {
					t.Fatalf("attempt started past the deadline")
				}
			case 1:
				err, recorded = c.Delivered(domain.Attempt{At: now, StatusCode: 200}), true
			case 2:
				err, recorded = c.Retry(domain.Attempt{At: now, StatusCode: 500}), true
			case 3:
				err, recorded = c.GiveUp(&domain.Attempt{At: now, StatusCode: 404}, domain.UndeliverablePartnerRefused), true
			case 4:
				err = c.GiveUp(nil, domain.UndeliverableDeadlineExceeded)
			case 5:
				err = c.Redeliver(now, 2*time.Minute)
			}
			if err != nil {
				if c.Status() != before {
					t.Fatalf("refused operation changed %s to %s", before, c.Status())
				}
				continue
			}
			if c.Status() != before && !domain.CanTransition(before, c.Status()) {
				t.Fatalf("illegal transition %s → %s", before, c.Status())
			}
			if recorded {
				attempts++
			}
			if len(c.Attempts()) != attempts {
				t.Fatalf("attempts: %d, want %d", len(c.Attempts()), attempts)
			}
		}
	})
}

func TestCanTransitionTable(t *testing.T) {
	allowed := map[[2]domain.CallStatus]bool{}
	for _, p := range [][2]domain.CallStatus{
		{domain.CallQueued, domain.CallDelivering}, {domain.CallQueued, domain.CallUndeliverable},
		{domain.CallQueued, domain.CallCompleted}, {domain.CallQueued, domain.CallNotCompleted},
		{domain.CallUndeliverable, domain.CallCompleted}, {domain.CallUndeliverable, domain.CallNotCompleted},
		{domain.CallDelivering, domain.CallDelivering}, {domain.CallDelivering, domain.CallDelivered},
		{domain.CallDelivering, domain.CallQueued}, {domain.CallDelivering, domain.CallUndeliverable},
		{domain.CallDelivering, domain.CallCompleted}, {domain.CallDelivering, domain.CallNotCompleted},
		{domain.CallDelivered, domain.CallCompleted}, {domain.CallDelivered, domain.CallNotCompleted},
		{domain.CallUndeliverable, domain.CallQueued},
	} {
		allowed[p] = true
	}
	for _, from := range domain.CallStatuses {
		for _, to := range domain.CallStatuses {
			if got := domain.CanTransition(from, to); got != allowed[[2]domain.CallStatus{from, to}] {
				t.Errorf("%s → %s: %v", from, to, got)
			}
		}
	}
}

func TestJudge(t *testing.T) {
	for code, want := range map[int]domain.Verdict{
		0: domain.VerdictRetry, 200: domain.VerdictDelivered, 202: domain.VerdictDelivered, 204: domain.VerdictDelivered,
		301: domain.VerdictPermanent, 400: domain.VerdictPermanent, 401: domain.VerdictPermanent, 404: domain.VerdictPermanent,
		408: domain.VerdictRetry, 409: domain.VerdictPermanent, 422: domain.VerdictPermanent, 425: domain.VerdictRetry,
		429: domain.VerdictRetry, 500: domain.VerdictRetry, 502: domain.VerdictRetry, 503: domain.VerdictRetry, 504: domain.VerdictRetry,
	} {
		if got := domain.Judge(code); got != want {
			t.Errorf("Judge(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestBackoffProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 40).Draw(t, "n")
		min := time.Duration(rapid.IntRange(1, 5000).Draw(t, "min_ms")) * time.Millisecond
		jitter := rapid.Float64Range(0, 0.999999).Draw(t, "jitter")
		ra := time.Duration(rapid.IntRange(0, 600).Draw(t, "retry_after_s")) * time.Second
		got := domain.Backoff(n, min, jitter, ra)
		ceiling := min << min2(n-1, 30)
		if ceiling > domain.MaxBackoff || ceiling <= 0 {
			ceiling = domain.MaxBackoff
		}
		if got < ra {
			t.Fatalf("Retry-After %s not honoured: %s", ra, got)
		}
		if got > max(ceiling, ra) {
			t.Fatalf("wait %s above the ceiling %s", got, ceiling)
		}
		if got < 0 {
			t.Fatal("negative wait")
		}
	})
	if domain.Backoff(1, time.Second, 0.5, 0) != 500*time.Millisecond || domain.Backoff(3, time.Second, 0.5, 0) != 2*time.Second {
		t.Fatal("full jitter: uniform share of min·2^(n-1)")
	}
}

func min2(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func TestRedactAndTruncate(t *testing.T) {
	h := domain.RedactHeaders(map[string][]string{"webhook-signature": {"v1,abc"}, "TOKEN": {"t"}, "authorization": {"Bearer x"}, "content-type": {"application/json"}})
	if h["Webhook-Signature"][0] != domain.Redacted || h["Token"][0] != domain.Redacted || h["Authorization"][0] != domain.Redacted || h["Content-Type"][0] != "application/json" {
		t.Fatalf("redaction: %v", h)
	}
	big := strings.Repeat("é", domain.MaxExchangeBody) // 2 bytes each
	got := domain.TruncateBody([]byte(big))
	if !strings.HasSuffix(got, domain.TruncatedMarker) || len(got) > domain.MaxExchangeBody+len(domain.TruncatedMarker) {
		t.Fatalf("truncation: %d bytes", len(got))
	}
	if s := strings.TrimSuffix(got, domain.TruncatedMarker); strings.ContainsRune(s, '\uFFFD') {
		t.Fatal("cut inside a UTF-8 character")
	}
	if domain.TruncateBody([]byte(`{"a":1}`)) != `{"a":1}` {
		t.Fatal("short bodies are kept whole")
	}
	var v any
	if err := json.Unmarshal([]byte(domain.TruncateBody([]byte(`{"a":1}`))), &v); err != nil {
		t.Fatal(err)
	}
}

func TestLateAttemptKeepsTheStatus(t *testing.T) {
	c := newQueuedCall(t)
	if err := c.StartAttempt(clickAt); err != nil {
		t.Fatal(err)
	}
	a := domain.Attempt{At: clickAt, StatusCode: 200, Duration: time.Millisecond}
	if err := c.LateAttempt(a); err == nil {
		t.Fatal("a delivering call took a late attempt instead of an outcome")
	}
	if err := domain.RecordCallResult(&c, domain.OutcomeCompleted, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.LateAttempt(a); err != nil {
		t.Fatal(err)
	}
	if c.Status() != domain.CallCompleted || len(c.Attempts()) != 1 || c.Attempts()[0] != a {
		t.Fatalf("%s %+v", c.Status(), c.Attempts())
	}
}
