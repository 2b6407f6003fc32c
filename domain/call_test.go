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
// operation changes nothing, and attempts are never lost. A call reads
// no_result exactly when it is delivered and its result deadline has
// passed (or it was marked so), it can be marked only then, and a late
// result still settles it.
func TestCallStatusMachineProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := newQueuedCall(&testing.T{})
		now := clickAt
		resultDeadline := time.Duration(rapid.IntRange(1, 600).Draw(t, "result_deadline_s")) * time.Second
		attempts := 0
		steps := rapid.IntRange(1, 30).Draw(t, "steps")
		// Mostly seconds apart, as deliveries go; now and then hours, so
		// that result deadlines pass.
		waits := rapid.SampledFrom([]time.Duration{0, time.Second, 30 * time.Second, 90 * time.Second, 10 * time.Minute, 3 * time.Hour})
		// Starting and delivering weigh more, so that many calls get as far
		// as the partner, where the result deadline applies.
		ops := rapid.SampledFrom([]int{0, 0, 0, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7})
		for range steps {
			before, beforeReason, beforeDelivered := c.Status(), c.Reason(), c.DeliveredAt()
			now = now.Add(waits.Draw(t, "wait"))
			overdue := before == domain.CallDelivered && !now.Before(beforeDelivered.Add(resultDeadline))
			if got := c.StatusAt(now, resultDeadline); (got == domain.CallNoResult) != (overdue || before == domain.CallNoResult) ||
				(got != domain.CallNoResult && got != before) {
				t.Fatalf("StatusAt: %s call delivered at %s reads %s at %s (deadline %s)", before, beforeDelivered, got, now, resultDeadline)
			}
			var err error
			recorded := false
			took := time.Duration(rapid.IntRange(0, 5000).Draw(t, "took_ms")) * time.Millisecond
			switch ops.Draw(t, "op") {
			case 0:
				err = c.StartAttempt(now)
				if err == nil && c.PastDeadline(now) {
					t.Fatalf("attempt started past the deadline")
				}
			case 1:
				err, recorded = c.Delivered(domain.Attempt{At: now, StatusCode: 200, Duration: took}), true
				if err == nil && !c.DeliveredAt().Equal(now.Add(took)) {
					t.Fatalf("delivered at %s, want the attempt's end %s", c.DeliveredAt(), now.Add(took))
				}
			case 2:
				err, recorded = c.Retry(domain.Attempt{At: now, StatusCode: 500}), true
			case 3:
				err, recorded = c.GiveUp(&domain.Attempt{At: now, StatusCode: 404}, domain.UndeliverablePartnerRefused), true
			case 4:
				err = c.GiveUp(nil, domain.UndeliverableDeadlineExceeded)
			case 5:
				err = c.Redeliver(now, 2*time.Minute)
			case 6:
				err = c.MarkNoResult(now, resultDeadline)
				if (err == nil) != overdue {
					t.Fatalf("MarkNoResult of a %s call delivered at %s, at %s: %v (overdue %v)", before, beforeDelivered, now, err, overdue)
				}
			case 7:
				if rapid.Bool().Draw(t, "completed") {
					err = domain.RecordCallResult(&c, domain.OutcomeCompleted, "")
				} else {
					err = domain.RecordCallResult(&c, domain.OutcomeNotCompleted, domain.CallReasonNoAnswer)
				}
				if before == domain.CallDelivered || before == domain.CallNoResult {
					if err != nil {
						t.Fatalf("a result refused on a %s call: %v", before, err)
					}
				}
			}
			if err != nil {
				if c.Status() != before || c.Reason() != beforeReason || !c.DeliveredAt().Equal(beforeDelivered) {
					t.Fatalf("refused operation changed %s %q %s to %s %q %s", before, beforeReason, beforeDelivered,
						c.Status(), c.Reason(), c.DeliveredAt())
				}
				continue
			}
			if c.Status() != before && !domain.CanTransition(before, c.Status()) {
				t.Fatalf("illegal transition %s → %s", before, c.Status())
			}
			if (c.Status() == domain.CallDelivered || c.Status() == domain.CallNoResult) && c.DeliveredAt().IsZero() {
				t.Fatalf("a %s call without the time it was delivered", c.Status())
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

// The result deadline, as a property: from a delivered call, whatever the
// times and the order of marks, results and late attempts, the call reads
// no_result exactly once the deadline has passed until a result settles it;
// it is marked at most once, never before the deadline; and a result, late
// or not, always settles it.
func TestResultDeadlineProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		deadline := time.Duration(rapid.Int64Range(1, int64(48*time.Hour)).Draw(t, "deadline"))
		c := newQueuedCall(&testing.T{})
		took := time.Duration(rapid.Int64Range(0, int64(15*time.Second)).Draw(t, "took"))
		if err := c.StartAttempt(clickAt); err != nil {
			t.Fatal(err)
		}
		if err := c.Delivered(domain.Attempt{At: clickAt, StatusCode: 200, Duration: took}); err != nil {
			t.Fatal(err)
		}
		due := clickAt.Add(took).Add(deadline)
		now := clickAt
		settled, marked := false, false
		for range rapid.IntRange(1, 20).Draw(t, "steps") {
			now = now.Add(time.Duration(rapid.Int64Range(0, int64(3*deadline)).Draw(t, "wait")))
			want := domain.CallDelivered
			switch {
			case settled:
				want = c.Status()
			case marked || !now.Before(due):
				want = domain.CallNoResult
			}
			if got := c.StatusAt(now, deadline); got != want {
				t.Fatalf("at %s (due %s): reads %s, want %s", now, due, got, want)
			}
			switch rapid.IntRange(0, 2).Draw(t, "op") {
			case 0:
				err := c.MarkNoResult(now, deadline)
				if ok := !settled && !marked && !now.Before(due); ok != (err == nil) {
					t.Fatalf("MarkNoResult at %s (due %s, marked %v, settled %v): %v", now, due, marked, settled, err)
				}
				marked = marked || err == nil
			case 1:
				err := domain.RecordCallResult(&c, domain.OutcomeNotCompleted, domain.CallReasonBusy)
				if !settled && err != nil {
					t.Fatalf("a result refused on a %s call: %v", c.Status(), err)
				}
				settled = settled || err == nil
			case 2:
				if err := c.LateAttempt(domain.Attempt{At: now, StatusCode: 200}); err != nil {
					t.Fatal(err)
				}
			}
			if !c.DeliveredAt().Equal(clickAt.Add(took)) {
				t.Fatalf("delivered at %s, want %s: only the delivering attempt counts", c.DeliveredAt(), clickAt.Add(took))
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
		{domain.CallDelivered, domain.CallNoResult},
		{domain.CallNoResult, domain.CallCompleted}, {domain.CallNoResult, domain.CallNotCompleted},
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

// deliveredCall is a call the partner accepted at acceptedAt: the attempt
// started 250 ms before.
func deliveredCall(t *testing.T, acceptedAt time.Time) domain.Call {
	t.Helper()
	c := newQueuedCall(t)
	start := acceptedAt.Add(-250 * time.Millisecond)
	if err := c.StartAttempt(clickAt); err != nil {
		t.Fatal(err)
	}
	if err := c.Delivered(domain.Attempt{At: start, StatusCode: 202, Duration: 250 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if !c.DeliveredAt().Equal(acceptedAt) {
		t.Fatalf("delivered at %s, want %s (the end of the attempt)", c.DeliveredAt(), acceptedAt)
	}
	return c
}

func TestNoResultOnceTheResultDeadlinePassed(t *testing.T) {
	accepted := clickAt.Add(time.Second)
	const deadline = 2 * time.Hour
	for _, tc := range []struct {
		name   string
		call   func(t *testing.T) domain.Call
		at     time.Time
		want   domain.CallStatus
		refuse bool // MarkNoResult refused
	}{
		{"just before the deadline", func(t *testing.T) domain.Call { return deliveredCall(t, accepted) },
			accepted.Add(deadline - time.Nanosecond), domain.CallDelivered, true},
		{"at the deadline", func(t *testing.T) domain.Call { return deliveredCall(t, accepted) },
			accepted.Add(deadline), domain.CallNoResult, false},
		{"a day later", func(t *testing.T) domain.Call { return deliveredCall(t, accepted) },
			accepted.Add(24 * time.Hour), domain.CallNoResult, false},
		{"queued, however late", func(t *testing.T) domain.Call { return newQueuedCall(t) },
			accepted.Add(24 * time.Hour), domain.CallQueued, true},
		{"completed, however late", func(t *testing.T) domain.Call {
			c := deliveredCall(t, accepted)
			if err := domain.RecordCallResult(&c, domain.OutcomeCompleted, ""); err != nil {
				t.Fatal(err)
			}
			return c
		}, accepted.Add(24 * time.Hour), domain.CallCompleted, true},
		{"delivered when, unknown", func(t *testing.T) domain.Call {
			return domain.RestoreCall("acme", "c1", "1", "c1", domain.CallDelivered, "", clickAt, clickAt.Add(time.Minute), nil, nil)
		}, accepted.Add(24 * time.Hour), domain.CallDelivered, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.call(t)
			if got := c.StatusAt(tc.at, deadline); got != tc.want {
				t.Errorf("StatusAt: %s, want %s", got, tc.want)
			}
			stored := c.Status()
			err := c.MarkNoResult(tc.at, deadline)
			if tc.refuse {
				if de, ok := domain.AsError(err); !ok || de.Code != domain.CodeInvalidTransition {
					t.Errorf("MarkNoResult: %v, want %s", err, domain.CodeInvalidTransition)
				}
				if c.Status() != stored {
					t.Errorf("a refused MarkNoResult changed %s to %s", stored, c.Status())
				}
				return
			}
			if err != nil || c.Status() != domain.CallNoResult {
				t.Fatalf("MarkNoResult: %v, status %s", err, c.Status())
			}
			if c.StatusAt(tc.at, deadline) != domain.CallNoResult || c.StatusAt(accepted, deadline) != domain.CallNoResult {
				t.Error("a no_result call must read no_result whatever the time")
			}
		})
	}
	c := deliveredCall(t, accepted)
	if err := c.MarkNoResult(accepted.Add(deadline), 0); err == nil {
		t.Error("MarkNoResult without a deadline must be refused")
	}
	if got := c.StatusAt(accepted.Add(deadline), 0); got != domain.CallDelivered {
		t.Errorf("StatusAt without a deadline: %s, want delivered", got)
	}
}

func TestLateResultSettlesANoResultCall(t *testing.T) {
	accepted := clickAt.Add(time.Second)
	for _, tc := range []struct {
		outcome    domain.ResultOutcome
		reason     string
		wantStatus domain.CallStatus
	}{
		{domain.OutcomeNotCompleted, domain.CallReasonNoAnswer, domain.CallNotCompleted},
		{domain.OutcomeCompleted, "", domain.CallCompleted},
	} {
		c := deliveredCall(t, accepted)
		if err := c.MarkNoResult(accepted.Add(3*time.Hour), 2*time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := domain.RecordCallResult(&c, tc.outcome, tc.reason); err != nil {
			t.Fatalf("a late %s result refused: %v", tc.outcome, err)
		}
		if c.Status() != tc.wantStatus || c.Reason() != tc.reason || !c.DeliveredAt().Equal(accepted) {
			t.Errorf("after a late %s result: %s %q delivered at %s", tc.outcome, c.Status(), c.Reason(), c.DeliveredAt())
		}
		if err := c.MarkNoResult(accepted.Add(5*time.Hour), 2*time.Hour); err == nil {
			t.Errorf("a %s call was marked no_result", c.Status())
		}
	}
}
