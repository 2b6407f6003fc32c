package portstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// clickedAt has a microsecond part and a zone other than UTC.
var clickedAt = time.Date(2026, 3, 19, 14, 0, 5, 123456000, saoPaulo)

// payload is JSON as only bytes keep it: keys in neither alphabetical nor
// length order, a key with spaces, a repeated key, escapes, odd whitespace
// and a final newline. jsonb would give back another text.
func payload(callID string) []byte {
	return []byte("{\"idlead\": \"l1\",\n  \"gestor\":{\"id\":\"1\",\"nome\":\"Gestora Ana\",\"ramal\":null}, " +
		"\"call-back do lead\": \"https://crm.example.com/api/cvio/lead?idligacao=" + callID + "\"," +
		"\"a\":\"\\u00e7\\u0000\", \"nome\": \"José\", \"a\": 2}\n")
}

// placedCall is a call as Ligar creates it: queued, no attempt, no reason.
func placedCall(t *testing.T, envID, id string) domain.Call {
	t.Helper()
	c, err := domain.NewCall(id, environment(t, envID), fullLead(t, envID, "l1"), users(t, envID)[0],
		domain.CallButton{Visible: true, Enabled: true}, clickedAt, 2*time.Minute, payload(id))
	if err != nil {
		t.Fatalf("NewCall: %v", err)
	}
	return c
}

// attempts are three failed attempts, their times in three zones, their
// durations whole milliseconds.
func attempts() []domain.Attempt {
	return []domain.Attempt{
		{At: clickedAt.Add(time.Millisecond), StatusCode: 503, Error: "partner answered 503", Duration: 1534 * time.Millisecond},
		{At: time.Date(2026, 3, 19, 13, 0, 9, 654321000, manaus), StatusCode: 0,
			Error: "dial tcp 203.0.113.7:443: i/o timeout", Duration: 5 * time.Second},
		{At: time.Date(2026, 3, 19, 17, 0, 20, 1000, time.UTC), StatusCode: 404, Error: "partner answered 404"},
	}
}

// restoredCall is a call with a history: undeliverable, with a reason and
// three attempts, for a lead and user the store need not hold.
func restoredCall(envID, id string) domain.Call {
	return domain.RestoreCall(envID, id, "l1", "1", domain.CallUndeliverable, domain.UndeliverablePartnerRefused,
		clickedAt, clickedAt.Add(2*time.Minute), payload(id), attempts())
}

// withAttempt returns c with one more attempt, as storage sees it.
func withAttempt(c domain.Call, a domain.Attempt) domain.Call {
	return domain.RestoreCall(c.EnvID(), c.ID(), c.LeadID(), c.UserID(), c.Status(), c.Reason(), c.ClickedAt(), c.Deadline(),
		c.Payload(), append(c.Attempts(), a)).WithDeliveredAt(c.DeliveredAt())
}

func getCall(t *testing.T, s ports.Store, envID, id string) (c domain.Call, err error) {
	t.Helper()
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		c, err = r.GetCall(ctx, envID, id)
		return nil
	})
	return c, err
}

func callString(c domain.Call) string {
	var b strings.Builder
	delivered := "unknown"
	if !c.DeliveredAt().IsZero() {
		delivered = instant(c.DeliveredAt())
	}
	fmt.Fprintf(&b, "{env:%q id:%q lead:%q user:%q status:%q reason:%q clicked_at:%s deadline:%s delivered_at:%s payload:%q attempts:[",
		c.EnvID(), c.ID(), c.LeadID(), c.UserID(), c.Status(), c.Reason(), instant(c.ClickedAt()), instant(c.Deadline()), delivered, c.Payload())
	for n, a := range c.Attempts() {
		if n > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "{at:%s status:%d error:%q duration:%v}", instant(a.At), a.StatusCode, a.Error, a.Duration)
	}
	b.WriteString("]}")
	return b.String()
}

func instant(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func wantCall(t *testing.T, what string, got, want domain.Call) {
	t.Helper()
	if g, w := callString(got), callString(want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func testCallRoundTrip(t *testing.T, s ports.Store) {
	placed, restored := placedCall(t, "env-1", "c1"), restoredCall("env-1", "c2")
	put(t, s, environment(t, "env-1"), placed, restored)
	for _, want := range []domain.Call{placed, restored} {
		got, err := getCall(t, s, "env-1", want.ID())
		if err != nil {
			t.Fatalf("GetCall(%s): %v", want.ID(), err)
		}
		wantCall(t, "GetCall("+want.ID()+")", got, want)
		if !bytes.Equal(got.Payload(), want.Payload()) {
			t.Errorf("GetCall(%s): the payload's bytes changed:\n got %q\nwant %q", want.ID(), got.Payload(), want.Payload())
		}
	}
	got, err := getCall(t, s, "env-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status() != domain.CallQueued || got.Reason() != "" || len(got.Attempts()) != 0 ||
		!got.Deadline().Equal(clickedAt.Add(2*time.Minute)) {
		t.Errorf("a placed call: got %s, want queued, no reason or attempt, deadline 2m after the click", callString(got))
	}
}

func testCallEveryStatus(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-1"))
	for _, status := range domain.CallStatuses {
		c := domain.RestoreCall("env-1", "c-"+string(status), "l1", "1", status, "", clickedAt, clickedAt.Add(time.Minute), payload("c"), nil)
		put(t, s, c)
		got, err := getCall(t, s, "env-1", c.ID())
		if err != nil {
			t.Errorf("GetCall of a %s call: %v", status, err)
			continue
		}
		wantCall(t, "a "+string(status)+" call", got, c)
	}
	for _, status := range []domain.CallStatus{"", "bogus", "Queued", "failed"} {
		c := domain.RestoreCall("env-1", "c-bad", "l1", "1", status, "", clickedAt, clickedAt.Add(time.Minute), payload("c"), nil)
		err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutCall(ctx, c) })
		if err == nil {
			t.Errorf("PutCall with status %q succeeded, want it refused (not one of domain.CallStatuses)", status)
		}
	}
	_, err := getCall(t, s, "env-1", "c-bad")
	wantNotFound(t, "GetCall after refused PutCalls", err)
}

func testCallReplace(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-1"), restoredCall("env-1", "c1"))
	// Redelivered: queued again, no reason, a later deadline, one attempt fewer.
	second := domain.RestoreCall("env-1", "c1", "l2", "2", domain.CallQueued, "", clickedAt, clickedAt.Add(time.Hour),
		[]byte(`{"short":true}`), attempts()[:2])
	put(t, s, second)
	got, err := getCall(t, s, "env-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	wantCall(t, "GetCall after a second PutCall", got, second)

	third := domain.RestoreCall("env-1", "c1", "l2", "2", domain.CallDelivering, "", clickedAt, clickedAt.Add(time.Hour), []byte(`{}`), nil)
	put(t, s, third)
	got, err = getCall(t, s, "env-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	wantCall(t, "GetCall after a PutCall without attempts", got, third)
}

func testCallNotFound(t *testing.T, s ports.Store) {
	inA, inB := restoredCall("env-a", "c1"), placedCall(t, "env-b", "c1")
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), environment(t, "env-c"), inA, inB,
		restoredCall("env-a", "only-a"))
	if got, err := getCall(t, s, "env-a", "c1"); err != nil {
		t.Errorf("GetCall(env-a, c1): %v", err)
	} else {
		wantCall(t, "call c1 of env-a", got, inA)
	}
	if got, err := getCall(t, s, "env-b", "c1"); err != nil {
		t.Errorf("GetCall(env-b, c1): %v", err)
	} else {
		wantCall(t, "call c1 of env-b (same id as in env-a)", got, inB)
	}
	for _, c := range []struct{ env, id, what string }{
		{"env-c", "c1", "a call of other environments"},
		{"env-b", "only-a", "another environment's call"},
		{"env-a", "missing", "a missing call"},
		{"env-a", "C1", "a call by its id in another case"},
		{"env-missing", "c1", "a call in a missing environment"},
	} {
		_, err := getCall(t, s, c.env, c.id)
		wantNotFound(t, "GetCall of "+c.what, err)
		err = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			_, err := r.LockCall(ctx, c.env, c.id)
			return err
		})
		wantNotFound(t, "LockCall of "+c.what, err)
	}
}

func testCallRequiresEnvironment(t *testing.T, s ports.Store) {
	c := restoredCall("env-1", "c1")
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutCall(ctx, c) })
	wantNotFound(t, "PutCall in a missing environment", err)
	put(t, s, environment(t, "env-1"))
	_, err = getCall(t, s, "env-1", "c1")
	wantNotFound(t, "GetCall after a refused PutCall", err)
}

// A call is a record of what happened: it refers to its lead and user
// without needing them stored, so that nothing done to them later can lose it.
func testCallOutlivesLead(t *testing.T, s ports.Store) {
	c := domain.RestoreCall("env-1", "c1", "ghost-lead", "ghost-user", domain.CallDelivered, "", clickedAt, clickedAt.Add(time.Minute), payload("c1"), attempts()[:1])
	put(t, s, environment(t, "env-1"), c)
	got, err := getCall(t, s, "env-1", "c1")
	if err != nil {
		t.Fatalf("GetCall of a call whose lead and user were never stored: %v", err)
	}
	wantCall(t, "GetCall", got, c)
	put(t, s, minimalLead(t, "env-1", "ghost-lead")) // a later PUT of the lead leaves the call be
	got, err = getCall(t, s, "env-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	wantCall(t, "GetCall after its lead was put", got, c)
}

// Attempt errors quote what the network said; PostgreSQL cannot hold NUL or
// invalid UTF-8, so those come back as U+FFFD rather than failing the write
// (which would lose the outcome of a delivery). Durations keep whole
// milliseconds.
func testCallStorableText(t *testing.T, s ports.Store) {
	c := domain.RestoreCall("env-1", "c1", "l1", "1", domain.CallQueued, "", clickedAt, clickedAt.Add(time.Minute), payload("c1"),
		[]domain.Attempt{{At: clickedAt, Error: "read: \x00 then \xff\xfe and ç", Duration: 1534567 * time.Microsecond}})
	put(t, s, environment(t, "env-1"), c)
	got, err := getCall(t, s, "env-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := domain.RestoreCall("env-1", "c1", "l1", "1", domain.CallQueued, "", clickedAt, clickedAt.Add(time.Minute), payload("c1"),
		[]domain.Attempt{{At: clickedAt, Error: "read: \uFFFD then \uFFFD and ç", Duration: 1534 * time.Millisecond}})
	wantCall(t, "GetCall of a call whose attempt error holds NUL and invalid UTF-8, and a duration finer than a millisecond", got, want)
}

func testCallRollback(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-1"), placedCall(t, "env-1", "c1"))
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutCall(ctx, restoredCall("env-1", "c1")); err != nil {
			return err
		}
		if err := r.PutCall(ctx, restoredCall("env-1", "c2")); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Tx: got %v, want errAbort", err)
	}
	got, err := getCall(t, s, "env-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	wantCall(t, "GetCall after a rolled-back replacement", got, placedCall(t, "env-1", "c1"))
	_, err = getCall(t, s, "env-1", "c2")
	wantNotFound(t, "GetCall of a call put in a rolled-back Tx", err)
}

func testLockCall(t *testing.T, s ports.Store) {
	c := restoredCall("env-1", "c1")
	put(t, s, environment(t, "env-1"), c)
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		got, err := r.LockCall(ctx, "env-1", "c1")
		if err != nil {
			return err
		}
		wantCall(t, "LockCall", got, c)
		// A transaction reads its own write, through either method.
		next := withAttempt(got, domain.Attempt{At: clickedAt.Add(time.Minute), StatusCode: 200})
		if err := r.PutCall(ctx, next); err != nil {
			return err
		}
		if got, err = r.LockCall(ctx, "env-1", "c1"); err != nil {
			return err
		}
		wantCall(t, "LockCall after PutCall in the same Tx", got, next)
		if got, err = r.GetCall(ctx, "env-1", "c1"); err != nil {
			return err
		}
		wantCall(t, "GetCall after PutCall in the same Tx", got, next)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testReadLocks: inside Read, LockEnvironment and LockCall read what they
// would lock (a snapshot cannot change underneath, and PostgreSQL does not
// lock rows in a read-only transaction).
func testReadLocks(t *testing.T, s ports.Store) {
	env, c := environment(t, "env-1"), restoredCall("env-1", "c1")
	put(t, s, env, c)
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		if got, err := r.LockEnvironment(ctx, "env-1"); err != nil {
			t.Errorf("LockEnvironment inside Read: %v", err)
		} else {
			wantEnvironment(t, "LockEnvironment inside Read", got, env)
		}
		if got, err := r.LockCall(ctx, "env-1", "c1"); err != nil {
			t.Errorf("LockCall inside Read: %v", err)
		} else {
			wantCall(t, "LockCall inside Read", got, c)
		}
		_, err := r.LockCall(ctx, "env-1", "missing")
		wantNotFound(t, "LockCall of a missing call inside Read", err)
		return nil
	})
}
