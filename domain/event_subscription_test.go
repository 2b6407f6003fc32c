package domain_test

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"callconnect/domain"
)

var subT0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func mustSubscription(t tb, in domain.EventSubscriptionInput) domain.EventSubscription {
	t.Helper()
	s, err := domain.NewEventSubscription("acme", "crm", in, domain.URLPolicy{}, secret1, subT0)
	if err != nil {
		t.Fatalf("NewEventSubscription(%+v): %v", in, err)
	}
	return s
}

func TestNewEventSubscription(t *testing.T) {
	s := mustSubscription(t, domain.EventSubscriptionInput{URL: "https://crm.example.com/hooks?token=abc",
		Types: []string{"lead.interaction_added", "call.queued", "call.queued"}})
	if !s.Active() || s.Status() != domain.SubscriptionActive || s.DisabledReason() != "" {
		t.Errorf("a new subscription is %s (%q), want active", s.Status(), s.DisabledReason())
	}
	// Each type once, in the feed's order of types.
	if got := s.TypeNames(); !slices.Equal(got, []string{"call.queued", "lead.interaction_added"}) {
		t.Errorf("types = %v", got)
	}
	if !s.Wants(domain.EventCallQueued) || s.Wants(domain.EventCallDelivered) {
		t.Error("Wants does not follow the types")
	}
	if got := s.ShownURL(); got != "https://crm.example.com/hooks?token=[redacted]" {
		t.Errorf("ShownURL = %q", got)
	}
	if got := s.SigningSecrets(subT0); !slices.Equal(got, []string{secret1}) {
		t.Errorf("SigningSecrets = %v", got)
	}

	all := mustSubscription(t, domain.EventSubscriptionInput{URL: "https://crm.example.com/hooks", Types: []string{"*"}})
	if !all.AllTypes() || !slices.Equal(all.TypeNames(), []string{"*"}) {
		t.Errorf("* reads back as %v", all.TypeNames())
	}
	for _, typ := range domain.EventTypes {
		if !all.Wants(typ) {
			t.Errorf("* does not want %s", typ)
		}
	}
}

func TestNewEventSubscriptionRefusals(t *testing.T) {
	good := domain.EventSubscriptionInput{URL: "https://crm.example.com/hooks", Types: []string{"*"}}
	for _, tc := range []struct {
		name   string
		id     string
		in     domain.EventSubscriptionInput
		policy domain.URLPolicy
		field  string
	}{
		{"bad id", "a b", good, domain.URLPolicy{}, "subscription_id"},
		{"no url", "crm", domain.EventSubscriptionInput{Types: []string{"*"}}, domain.URLPolicy{}, "url"},
		{"plain http", "crm", domain.EventSubscriptionInput{URL: "http://crm.example.com/h", Types: []string{"*"}}, domain.URLPolicy{}, "url"},
		{"loopback", "crm", domain.EventSubscriptionInput{URL: "https://127.0.0.1/h", Types: []string{"*"}}, domain.URLPolicy{}, "url"},
		{"metadata address", "crm", domain.EventSubscriptionInput{URL: "https://169.254.169.254/latest", Types: []string{"*"}}, domain.URLPolicy{}, "url"},
		{"private name", "crm", domain.EventSubscriptionInput{URL: "https://crm.internal/h", Types: []string{"*"}}, domain.URLPolicy{}, "url"},
		{"credentials", "crm", domain.EventSubscriptionInput{URL: "https://u:p@crm.example.com/h", Types: []string{"*"}}, domain.URLPolicy{}, "url"},
		{"no types", "crm", domain.EventSubscriptionInput{URL: good.URL}, domain.URLPolicy{}, "types"},
		{"empty types", "crm", domain.EventSubscriptionInput{URL: good.URL, Types: []string{}}, domain.URLPolicy{}, "types"},
		{"unknown type", "crm", domain.EventSubscriptionInput{URL: good.URL, Types: []string{"call.exploded"}}, domain.URLPolicy{}, "types"},
		{"star with others", "crm", domain.EventSubscriptionInput{URL: good.URL, Types: []string{"*", "call.queued"}}, domain.URLPolicy{}, "types"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := domain.NewEventSubscription("acme", tc.id, tc.in, tc.policy, secret1, subT0)
			wantInvalid(t, err, tc.field)
		})
	}
	// The deployment's policy opens what it opens, as for partners.
	local := domain.EventSubscriptionInput{URL: "http://127.0.0.1:8080/h", Types: []string{"*"}}
	if _, err := domain.NewEventSubscription("acme", "crm", local, domain.URLPolicy{AllowHTTP: true, AllowPrivate: true}, secret1, subT0); err != nil {
		t.Errorf("a private http URL under a policy allowing them: %v", err)
	}
}

func TestConfigureEventSubscription(t *testing.T) {
	s := mustSubscription(t, domain.EventSubscriptionInput{URL: "https://crm.example.com/hooks?key=k1", Types: []string{"*"}})

	// The URL as shown, sent back, keeps its secret; not fresh.
	fresh, err := s.Configure(domain.EventSubscriptionInput{URL: s.ShownURL(), Types: []string{"call.completed"}}, domain.URLPolicy{}, subT0)
	if err != nil || fresh {
		t.Fatalf("Configure(shown URL) = %v, %v; want not fresh", fresh, err)
	}
	if s.URL() != "https://crm.example.com/hooks?key=k1" || !slices.Equal(s.TypeNames(), []string{"call.completed"}) {
		t.Errorf("after Configure: %s %v", s.URL(), s.TypeNames())
	}
	// Another URL is tried afresh.
	fresh, err = s.Configure(domain.EventSubscriptionInput{URL: "https://crm.example.com/v2", Types: []string{"*"}}, domain.URLPolicy{}, subT0)
	if err != nil || !fresh {
		t.Fatalf("Configure(new URL) = %v, %v; want fresh", fresh, err)
	}
	// A refused configuration changes nothing.
	if _, err := s.Configure(domain.EventSubscriptionInput{URL: "ftp://x", Types: []string{"*"}}, domain.URLPolicy{}, subT0); err == nil {
		t.Fatal("ftp URL accepted")
	}
	if s.URL() != "https://crm.example.com/v2" {
		t.Errorf("a refused Configure changed the URL to %s", s.URL())
	}
}

func TestRotateSubscriptionSecret(t *testing.T) {
	s := mustSubscription(t, domain.EventSubscriptionInput{URL: "https://crm.example.com/h", Types: []string{"*"}})
	if err := s.RotateSecret(secret2, subT0); err != nil {
		t.Fatal(err)
	}
	if got := s.SigningSecrets(subT0.Add(time.Hour)); !slices.Equal(got, []string{secret2, secret1}) {
		t.Errorf("within the grace both sign, current first: %v", got)
	}
	if got := s.SigningSecrets(subT0.Add(domain.PreviousSecretGrace)); !slices.Equal(got, []string{secret2}) {
		t.Errorf("after the grace only the new one signs: %v", got)
	}
	if err := s.RotateSecret("plain", subT0); err == nil {
		t.Error("a secret without whsec_ accepted")
	}
}

func TestEventBackoff(t *testing.T) {
	for _, tc := range []struct {
		n          int
		jitter     float64
		retryAfter time.Duration
		want       time.Duration
	}{
		{1, 0, 0, domain.EventMinBackoff / 2},
		{1, 0.999999, 0, domain.EventMinBackoff - 1},
		{2, 0, 0, domain.EventMinBackoff},
		{3, 0.5, 0, 3 * domain.EventMinBackoff},
		{30, 0, 0, domain.EventMaxBackoff / 2},
		{1, 0, time.Minute, time.Minute},
		{0, 2, 0, domain.EventMinBackoff / 2}, // out of range: the least
	} {
		if got := domain.EventBackoff(tc.n, tc.jitter, tc.retryAfter); got.Round(time.Millisecond) != tc.want.Round(time.Millisecond) {
			t.Errorf("EventBackoff(%d, %v, %v) = %v, want %v", tc.n, tc.jitter, tc.retryAfter, got, tc.want)
		}
	}
}

// TestPropertyEventBackoffBounds: whatever the attempt and the jitter, a
// wait is between half its ceiling and the ceiling, never above
// EventMaxBackoff, and does not shrink from one attempt to the next
// at the same jitter.
func TestPropertyEventBackoffBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 500).Draw(t, "n")
		j := rapid.Float64Range(0, 0.999999).Draw(t, "jitter")
		w := domain.EventBackoff(n, j, 0)
		if w < domain.EventMinBackoff/2 || w > domain.EventMaxBackoff {
			t.Fatalf("EventBackoff(%d, %v) = %v, out of [%v, %v]", n, j, w, domain.EventMinBackoff/2, domain.EventMaxBackoff)
		}
		if next := domain.EventBackoff(n+1, j, 0); next < w {
			t.Fatalf("attempt %d waits %v, less than attempt %d's %v", n+1, next, n, w)
		}
	})
}

func head(t tb, s domain.EventSubscription, at time.Time) domain.EventDelivery {
	t.Helper()
	e := domain.Event{ID: domain.EventID{Tx: 7, Seq: 1}.String(), EnvID: "acme", Type: domain.EventCallQueued}
	return domain.NewEventDelivery(s, e, []byte(`{}`), at)
}

func TestSettleDeliveredEndsTheStreak(t *testing.T) {
	s := mustSubscription(t, domain.EventSubscriptionInput{URL: "https://crm.example.com/h", Types: []string{"*"}})
	d := head(t, s, subT0)
	if !d.Due(subT0) || d.Status != domain.EventDeliveryPending {
		t.Fatalf("a new head is %s, due %v", d.Status, d.Due(subT0))
	}
	s.Settle(&d, domain.EventAttempt{At: subT0, Ended: subT0, StatusCode: 503}, 0)
	if d.Status != domain.EventDeliveryPending || d.Attempts != 1 || d.LastError == "" || d.LastStatusCode != 503 {
		t.Errorf("after a 503: %+v", d)
	}
	if !s.FailingSince().Equal(subT0) {
		t.Errorf("FailingSince = %v, want the first failure", s.FailingSince())
	}
	if d.Due(subT0) || !d.Due(d.NextAttemptAt) {
		t.Errorf("after a 503 due at once, or not at NextAttemptAt (%v)", d.NextAttemptAt)
	}
	later := subT0.Add(time.Minute)
	s.Settle(&d, domain.EventAttempt{At: later, Ended: later, StatusCode: 204}, 0)
	if d.Status != domain.EventDeliveryDelivered || d.Attempts != 2 || d.LastError != "" || !d.FinishedAt.Equal(later) ||
		!d.NextAttemptAt.IsZero() || d.Due(later) {
		t.Errorf("after a 204: %+v", d)
	}
	if !s.FailingSince().IsZero() {
		t.Errorf("a delivery did not end the failing streak (%v)", s.FailingSince())
	}
}

// TestPropertyRetryWindowAndDisabling fails a subscription's heads at
// random moments, advancing the clock by random amounts, and checks after
// every attempt: a head is given up exactly when it failed at least
// EventRetryWindow after it became the head, never before; the
// subscription is disabled exactly when its first failure of the streak
// is EventDisableAfter old or more at a failed attempt; a success ends the
// streak.
func TestPropertyRetryWindowAndDisabling(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := mustSubscription(t, domain.EventSubscriptionInput{URL: "https://crm.example.com/h", Types: []string{"*"}})
		now := subT0
		d := head(t, s, now)
		var streak time.Time
		for i := range rapid.IntRange(1, 200).Draw(t, "attempts") {
			now = now.Add(time.Duration(rapid.Int64Range(0, int64(20*time.Hour)).Draw(t, "elapsed")))
			if d.Status != domain.EventDeliveryPending {
				d = domain.NewEventDelivery(s, domain.Event{ID: domain.EventID{Tx: uint64(10 + i), Seq: 1}.String(),
					Type: domain.EventCallDelivered}, nil, now)
			}
			ok := rapid.IntRange(0, 9).Draw(t, "outcome") == 0
			code := 500
			if ok {
				code = 200
			}
			wasActive := s.Active()
			s.Settle(&d, domain.EventAttempt{At: now, Ended: now, StatusCode: code}, rapid.Float64Range(0, 0.99).Draw(t, "jitter"))
			if ok {
				streak = time.Time{}
				if d.Status != domain.EventDeliveryDelivered || !s.FailingSince().IsZero() {
					t.Fatalf("a 200 left %s, failing since %v", d.Status, s.FailingSince())
				}
				continue
			}
			if streak.IsZero() {
				streak = now
			}
			if !s.FailingSince().Equal(streak) {
				t.Fatalf("FailingSince = %v, want %v", s.FailingSince(), streak)
			}
			givenUp := now.Sub(d.CreatedAt) >= domain.EventRetryWindow
			if (d.Status == domain.EventDeliveryFailed) != givenUp {
				t.Fatalf("head of %v failed at %v: status %s, given up should be %v", d.CreatedAt, now, d.Status, givenUp)
			}
			if !givenUp && !d.NextAttemptAt.After(now) {
				t.Fatalf("a head to retry is due again at %v, not after %v", d.NextAttemptAt, now)
			}
			if wasActive {
				disable := now.Sub(streak) >= domain.EventDisableAfter
				if s.Active() == disable {
					t.Fatalf("failing since %v, failed at %v: active %v", streak, now, s.Active())
				}
				if disable && (s.DisabledReason() != domain.DisabledEndpointFailing || !s.DisabledAt().Equal(now)) {
					t.Fatalf("disabled with %q at %v", s.DisabledReason(), s.DisabledAt())
				}
			}
			if !s.Active() {
				// An operator configures it again: active, the streak over.
				fresh, err := s.Configure(domain.EventSubscriptionInput{URL: s.URL(), Types: []string{"*"}}, domain.URLPolicy{}, now)
				if err != nil || !fresh || !s.Active() || !s.FailingSince().IsZero() {
					t.Fatalf("re-enabling: fresh %v, %v, active %v", fresh, err, s.Active())
				}
				d.Restart(now)
				streak = time.Time{}
				if d.Status == domain.EventDeliveryPending && (!d.Due(now) || !d.CreatedAt.Equal(now)) {
					t.Fatalf("a restarted head is not due now with a fresh window: %+v", d)
				}
			}
		}
	})
}

func TestClaimKeepsOtherSendersOff(t *testing.T) {
	s := mustSubscription(t, domain.EventSubscriptionInput{URL: "https://crm.example.com/h", Types: []string{"*"}})
	d := head(t, s, subT0)
	d.Claim(subT0.Add(time.Minute))
	if d.Due(subT0.Add(30 * time.Second)) {
		t.Error("a claimed head is due to another sender before the claim lapses")
	}
	if !d.Due(subT0.Add(time.Minute)) {
		t.Error("a head whose claim lapsed (its sender died) is not due")
	}
	// Restarting a head on the wire keeps the claim: its attempt's outcome decides.
	d.Restart(subT0.Add(10 * time.Second))
	if d.SendingUntil.IsZero() || !d.CreatedAt.Equal(subT0.Add(10*time.Second)) {
		t.Errorf("Restart of a head on the wire: %+v", d)
	}
	s.Settle(&d, domain.EventAttempt{At: subT0, Ended: subT0.Add(time.Second), StatusCode: 200}, 0)
	if !d.SendingUntil.IsZero() {
		t.Error("a settled head keeps its claim")
	}
}

func TestAdvanceNeverGoesBack(t *testing.T) {
	s := mustSubscription(t, domain.EventSubscriptionInput{URL: "https://crm.example.com/h", Types: []string{"*"}})
	a, b := domain.EventID{Tx: 9, Seq: 3}.String(), domain.EventID{Tx: 10, Seq: 1}.String()
	s.Advance(b)
	s.Advance(a)
	if s.Cursor() != b {
		t.Errorf("cursor = %s, want %s", s.Cursor(), b)
	}
	st := s.State()
	if r := domain.RestoreEventSubscription(st); r.Cursor() != b || r.URL() != s.URL() || !r.AllTypes() {
		t.Errorf("restored: %+v", r.State())
	}
}
