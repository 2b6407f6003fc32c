package portstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// EventSubscriptionsHarness is one fresh, empty store under test with its
// feed and the window the suite needs onto EnqueueEventDeliveries.
type EventSubscriptionsHarness struct {
	Store     ports.Store
	Events    ports.Events
	Retention ports.EventDeliveryRetention
	// Runs says how many runs of the subscription's deliveries committed
	// transactions have scheduled so far.
	Runs func(envID, subscriptionID string) int
}

// RunEventSubscriptions runs the contract suite of
// ports.EventSubscriptions and ports.EventDeliveryRetention. Each subtest
// calls newHarness once and expects a fresh, empty store.
//
// Beyond what the ports' comments say, the suite pins down:
//   - a subscription comes back as stored (times to the microsecond, its
//     secrets with their expiries), with the cursor the store gave it;
//   - a delivery comes back as stored, its payload byte for byte, times to
//     the microsecond; replacing it keeps its event type and payload;
//   - a second pending delivery of one subscription is refused, and the
//     transaction stays usable for the caller to roll back;
//   - subscriptions list by id, and the active ones by environment then
//     id, in byte order; deliveries by event id, newest first;
//   - the same subscription id in two environments are two subscriptions;
//   - writes and EnqueueEventDeliveries fail inside Read;
//     LockEventSubscription inside Read only reads.
func RunEventSubscriptions(t *testing.T, newHarness func(t *testing.T) EventSubscriptionsHarness) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(*testing.T, EventSubscriptionsHarness)
	}{
		{"RoundTrip", testSubscriptionRoundTrip},
		{"StartsAtTheFeedsEnd", testSubscriptionStartsAtFeedEnd},
		{"CursorOnlyMovesForward", testSubscriptionCursorForward},
		{"RequiresEnvironment", testSubscriptionRequiresEnvironment},
		{"TenantIsolation", testSubscriptionTenantIsolation},
		{"DeleteTakesDeliveries", testSubscriptionDelete},
		{"Deliveries", testSubscriptionDeliveries},
		{"OnePendingDelivery", testSubscriptionOnePending},
		{"ActiveListing", testSubscriptionActiveListing},
		{"EnqueueWithTheTransaction", testSubscriptionEnqueue},
		{"ReadOnly", testSubscriptionReadOnly},
		{"Retention", testSubscriptionRetention},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newHarness(t)) })
	}
}

var subscribedAt = time.Date(2026, 3, 20, 9, 30, 0, 654321000, time.UTC)

func subscription(t *testing.T, envID, id string) domain.EventSubscription {
	t.Helper()
	s, err := domain.NewEventSubscription(envID, id, domain.EventSubscriptionInput{URL: "https://crm.example.com/hooks/" + id,
		Types: []string{"call.delivered", "lead.interaction_added"}}, domain.URLPolicy{}, "whsec_c3Vic2NyaXB0aW9uIGtleQ==", subscribedAt)
	if err != nil {
		t.Fatalf("NewEventSubscription: %v", err)
	}
	return s
}

// inTx runs fn in a transaction of s and fails the test if it does not commit.
func inTx(t *testing.T, s ports.Store, fn func(ctx context.Context, r ports.Repositories) error) {
	t.Helper()
	if err := s.Tx(t.Context(), fn); err != nil {
		t.Fatalf("Tx: %v", err)
	}
}

func putSubscription(t *testing.T, s ports.Store, subs ...domain.EventSubscription) {
	t.Helper()
	inTx(t, s, func(ctx context.Context, r ports.Repositories) error {
		for _, sub := range subs {
			if err := r.PutEventSubscription(ctx, sub); err != nil {
				return fmt.Errorf("PutEventSubscription(%s/%s): %w", sub.EnvID(), sub.ID(), err)
			}
		}
		return nil
	})
}

func getSubscription(t *testing.T, s ports.Store, envID, id string) (domain.EventSubscription, error) {
	t.Helper()
	var out domain.EventSubscription
	err := s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		var err error
		out, err = r.GetEventSubscription(ctx, envID, id)
		return err
	})
	return out, err
}

// subscriptionString shows a subscription's state, its cursor left out
// when cursor is false, times as instants.
func subscriptionString(s domain.EventSubscription, cursor bool) string {
	st := s.State()
	if !cursor {
		st.Cursor = ""
	}
	var secrets []string
	for _, sec := range st.Secrets {
		exp := "never"
		if sec.ExpiresAt != nil {
			exp = sec.ExpiresAt.UTC().Format(time.RFC3339Nano)
		}
		secrets = append(secrets, sec.Value+"@"+exp)
	}
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%s/%s %s %v %v %s %q disabled=%s failing=%s cursor=%q created=%s updated=%s", st.EnvID, st.ID, st.URL,
		st.Types, secrets, st.Status, st.DisabledReason, at(st.DisabledAt), at(st.FailingSince), st.Cursor, at(st.CreatedAt), at(st.UpdatedAt))
}

func testSubscriptionRoundTrip(t *testing.T, h EventSubscriptionsHarness) {
	put(t, h.Store, environment(t, "env-1"))
	sub := subscription(t, "env-1", "crm")
	if err := sub.RotateSecret("whsec_bmV4dCBzZWNyZXQ=", subscribedAt.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	putSubscription(t, h.Store, sub)
	got, err := getSubscription(t, h.Store, "env-1", "crm")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := subscriptionString(got, false), subscriptionString(sub, false); g != w {
		t.Errorf("GetEventSubscription:\n got %s\nwant %s", g, w)
	}
	if got.Cursor() == "" {
		t.Error("a stored subscription has no cursor")
	} else if _, err := domain.ParseEventID("cursor", got.Cursor()); err != nil {
		t.Errorf("the cursor %q is no event id: %v", got.Cursor(), err)
	}

	// Disabled, with its streak, and every type.
	all, err := domain.NewEventSubscription("env-1", "all", domain.EventSubscriptionInput{URL: "https://crm.example.com/all?token=t",
		Types: []string{"*"}}, domain.URLPolicy{}, "whsec_c3Vic2NyaXB0aW9uIGtleQ==", subscribedAt)
	if err != nil {
		t.Fatal(err)
	}
	d := domain.NewEventDelivery(all, domain.Event{ID: domain.EventID{Tx: 1, Seq: 1}.String(), Type: domain.EventCallQueued}, nil, subscribedAt)
	failed := subscribedAt.Add(domain.EventDisableAfter)
	all.Settle(&d, domain.EventAttempt{At: subscribedAt, Ended: subscribedAt, StatusCode: 500}, 0)
	all.Settle(&d, domain.EventAttempt{At: failed, Ended: failed, StatusCode: 500}, 0)
	if all.Active() {
		t.Fatal("the fixture did not disable the subscription")
	}
	putSubscription(t, h.Store, all)
	gotAll, err := getSubscription(t, h.Store, "env-1", "all")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := subscriptionString(gotAll, false), subscriptionString(all, false); g != w {
		t.Errorf("a disabled subscription:\n got %s\nwant %s", g, w)
	}

	// Replaced: the new settings, the cursor kept.
	if _, err := got.Configure(domain.EventSubscriptionInput{URL: "https://crm.example.com/v2", Types: []string{"*"}}, domain.URLPolicy{}, subscribedAt.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	putSubscription(t, h.Store, got)
	again, err := getSubscription(t, h.Store, "env-1", "crm")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := subscriptionString(again, true), subscriptionString(got, true); g != w {
		t.Errorf("replaced:\n got %s\nwant %s", g, w)
	}

	var list []domain.EventSubscription
	if err := h.Store.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		list, err = r.ListEventSubscriptions(ctx, "env-1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID() != "all" || list[1].ID() != "crm" {
		t.Errorf("ListEventSubscriptions: %d, want all then crm", len(list))
	}
	_, err = getSubscription(t, h.Store, "env-1", "nope")
	wantNotFound(t, "GetEventSubscription of an unknown id", err)
}

// commitEvent commits a change that raises an event in env (a call placed)
// and returns the id of its event.
func commitEvent(t *testing.T, h EventSubscriptionsHarness, envID, callID string) string {
	t.Helper()
	put(t, h.Store, placedCall(t, envID, callID))
	for _, e := range ReadEvents(t, h.Events, envID, "", 1000).Events {
		if e.CallID == callID {
			return e.ID
		}
	}
	t.Fatalf("no event of call %s in the feed", callID)
	return ""
}

func testSubscriptionStartsAtFeedEnd(t *testing.T, h EventSubscriptionsHarness) {
	put(t, h.Store, environment(t, "env-1"))
	before := commitEvent(t, h, "env-1", "c1")
	putSubscription(t, h.Store, subscription(t, "env-1", "crm"))
	sub, err := getSubscription(t, h.Store, "env-1", "crm")
	if err != nil {
		t.Fatal(err)
	}
	if sub.Cursor() < before {
		t.Errorf("cursor %s is before the event %s committed before the subscription", sub.Cursor(), before)
	}
	if page := ReadEvents(t, h.Events, "env-1", sub.Cursor(), 100); len(page.Events) != 0 {
		t.Errorf("after the new subscription's cursor: %d events of before it, want none", len(page.Events))
	}
	after := commitEvent(t, h, "env-1", "c2")
	if page := ReadEvents(t, h.Events, "env-1", sub.Cursor(), 100); len(page.Events) != 1 || page.Events[0].ID != after {
		t.Errorf("after the cursor: %+v, want the event %s committed after the subscription", page.Events, after)
	}
}

func testSubscriptionCursorForward(t *testing.T, h EventSubscriptionsHarness) {
	put(t, h.Store, environment(t, "env-1"))
	putSubscription(t, h.Store, subscription(t, "env-1", "crm"))
	sub, err := getSubscription(t, h.Store, "env-1", "crm")
	if err != nil {
		t.Fatal(err)
	}
	start := sub.Cursor()
	ahead := domain.EventID{Tx: 9_000_000_000, Seq: 5}.String()
	if ahead <= start {
		t.Fatalf("fixture: %s is not after the cursor %s", ahead, start)
	}
	moved := sub
	moved.Advance(ahead)
	putSubscription(t, h.Store, moved)
	putSubscription(t, h.Store, sub) // as read before the move: the cursor stays
	got, err := getSubscription(t, h.Store, "env-1", "crm")
	if err != nil {
		t.Fatal(err)
	}
	if got.Cursor() != ahead {
		t.Errorf("cursor = %s after a write with the older %s, want %s kept", got.Cursor(), start, ahead)
	}
}

func testSubscriptionRequiresEnvironment(t *testing.T, h EventSubscriptionsHarness) {
	err := h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		return r.PutEventSubscription(ctx, subscription(t, "env-missing", "crm"))
	})
	wantNotFound(t, "PutEventSubscription in an environment that does not exist", err)
}

func testSubscriptionTenantIsolation(t *testing.T, h EventSubscriptionsHarness) {
	put(t, h.Store, environment(t, "env-1"), environment(t, "env-2"))
	a := subscription(t, "env-1", "crm")
	putSubscription(t, h.Store, a)
	_, err := getSubscription(t, h.Store, "env-2", "crm")
	wantNotFound(t, "another environment's subscription", err)
	b, err := domain.NewEventSubscription("env-2", "crm", domain.EventSubscriptionInput{URL: "https://other.example.com/h", Types: []string{"*"}},
		domain.URLPolicy{}, "whsec_b3RoZXIga2V5", subscribedAt)
	if err != nil {
		t.Fatal(err)
	}
	putSubscription(t, h.Store, b)
	gotA, err := getSubscription(t, h.Store, "env-1", "crm")
	if err != nil {
		t.Fatal(err)
	}
	if gotA.URL() != a.URL() {
		t.Errorf("env-1's subscription became %s when env-2 stored one of the same id", gotA.URL())
	}
	err = h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		return r.DeleteEventSubscription(ctx, "env-2", "crm")
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := getSubscription(t, h.Store, "env-1", "crm"); err != nil {
		t.Errorf("deleting env-2's subscription took env-1's: %v", err)
	}
}

func delivery(t *testing.T, sub domain.EventSubscription, tx uint64, at time.Time) domain.EventDelivery {
	t.Helper()
	e := domain.Event{ID: domain.EventID{Tx: tx, Seq: 1}.String(), Type: domain.EventCallDelivered}
	return domain.NewEventDelivery(sub, e, []byte(fmt.Sprintf(`{"id": "%s",  "n": %d}`, e.ID, tx)), at)
}

func putDeliveries(t *testing.T, s ports.Store, ds ...domain.EventDelivery) {
	t.Helper()
	inTx(t, s, func(ctx context.Context, r ports.Repositories) error {
		for _, d := range ds {
			if err := r.PutEventDelivery(ctx, d); err != nil {
				return fmt.Errorf("PutEventDelivery(%s): %w", d.EventID, err)
			}
		}
		return nil
	})
}

func listDeliveries(t *testing.T, s ports.Store, envID, id, before string, limit int) []domain.EventDelivery {
	t.Helper()
	var out []domain.EventDelivery
	err := s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		var err error
		out, err = r.ListEventDeliveries(ctx, envID, id, before, limit)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func deliveryString(d domain.EventDelivery) string {
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%s/%s/%s %s %q %s n=%d created=%s next=%s sending=%s last=%s %d %q finished=%s", d.EnvID, d.SubscriptionID,
		d.EventID, d.EventType, d.Payload, d.Status, d.Attempts, at(d.CreatedAt), at(d.NextAttemptAt), at(d.SendingUntil),
		at(d.LastAttemptAt), d.LastStatusCode, d.LastError, at(d.FinishedAt))
}

func testSubscriptionDeliveries(t *testing.T, h EventSubscriptionsHarness) {
	put(t, h.Store, environment(t, "env-1"))
	sub := subscription(t, "env-1", "crm")
	putSubscription(t, h.Store, sub)

	first := delivery(t, sub, 10, subscribedAt)
	first.Claim(subscribedAt.Add(time.Minute))
	sub.Settle(&first, domain.EventAttempt{At: subscribedAt, Ended: subscribedAt.Add(time.Second), StatusCode: 0,
		Error: "connection refused", RetryAfter: 0}, 0.5)
	first.Claim(subscribedAt.Add(2 * time.Minute))
	putDeliveries(t, h.Store, first)
	var pending domain.EventDelivery
	err := h.Store.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		var err error
		pending, err = r.PendingEventDelivery(ctx, "env-1", "crm")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := deliveryString(pending), deliveryString(first); g != w {
		t.Errorf("PendingEventDelivery:\n got %s\nwant %s", g, w)
	}

	// Delivered: no longer pending; its payload and type are kept even
	// if a replacement says otherwise.
	done := first
	sub.Settle(&done, domain.EventAttempt{At: subscribedAt.Add(time.Hour), Ended: subscribedAt.Add(time.Hour + time.Millisecond), StatusCode: 204}, 0)
	done.Payload, done.EventType = []byte("other"), domain.EventCallQueued
	putDeliveries(t, h.Store, done)
	err = h.Store.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		_, err := r.PendingEventDelivery(ctx, "env-1", "crm")
		return err
	})
	wantNotFound(t, "PendingEventDelivery once the head was delivered", err)
	done.Payload, done.EventType = first.Payload, first.EventType
	second := delivery(t, sub, 20, subscribedAt.Add(2*time.Hour))
	third := delivery(t, sub, 300, subscribedAt.Add(3*time.Hour))
	sub.Settle(&second, domain.EventAttempt{At: second.CreatedAt, Ended: second.CreatedAt, StatusCode: 200}, 0)
	putDeliveries(t, h.Store, second, third)

	all := listDeliveries(t, h.Store, "env-1", "crm", "", 10)
	var got []string
	for _, d := range all {
		got = append(got, deliveryString(d))
	}
	want := []string{deliveryString(third), deliveryString(second), deliveryString(done)}
	if !slices.Equal(got, want) {
		t.Errorf("ListEventDeliveries, newest first:\n got %q\nwant %q", got, want)
	}
	if !bytes.Equal(all[2].Payload, first.Payload) {
		t.Errorf("payload %q, want %q byte for byte", all[2].Payload, first.Payload)
	}
	page := listDeliveries(t, h.Store, "env-1", "crm", "", 2)
	if len(page) != 2 || page[1].EventID != second.EventID {
		t.Fatalf("first page of 2: %d", len(page))
	}
	rest := listDeliveries(t, h.Store, "env-1", "crm", page[1].EventID, 2)
	if len(rest) != 1 || rest[0].EventID != done.EventID {
		t.Errorf("the page after %s: %d deliveries", page[1].EventID, len(rest))
	}
	err = h.Store.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		_, err := r.ListEventDeliveries(ctx, "env-1", "crm", "", 0)
		return err
	})
	if err == nil {
		t.Error("ListEventDeliveries with limit 0 accepted")
	}
	err = h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		return r.PutEventDelivery(ctx, delivery(t, subscription(t, "env-1", "gone"), 1, subscribedAt))
	})
	wantNotFound(t, "PutEventDelivery to a subscription that does not exist", err)
}

func testSubscriptionOnePending(t *testing.T, h EventSubscriptionsHarness) {
	put(t, h.Store, environment(t, "env-1"))
	sub := subscription(t, "env-1", "crm")
	putSubscription(t, h.Store, sub)
	putDeliveries(t, h.Store, delivery(t, sub, 10, subscribedAt))
	err := h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutEventDelivery(ctx, delivery(t, sub, 11, subscribedAt)); err == nil {
			return errors.New("a second pending delivery was accepted")
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Errorf("Tx: %v", err)
	}
	if n := len(listDeliveries(t, h.Store, "env-1", "crm", "", 10)); n != 1 {
		t.Errorf("%d deliveries, want the first alone", n)
	}
}

func testSubscriptionDelete(t *testing.T, h EventSubscriptionsHarness) {
	put(t, h.Store, environment(t, "env-1"))
	sub := subscription(t, "env-1", "crm")
	putSubscription(t, h.Store, sub)
	putDeliveries(t, h.Store, delivery(t, sub, 10, subscribedAt))
	inTx(t, h.Store, func(ctx context.Context, r ports.Repositories) error {
		return r.DeleteEventSubscription(ctx, "env-1", "crm")
	})
	_, err := getSubscription(t, h.Store, "env-1", "crm")
	wantNotFound(t, "a deleted subscription", err)
	err = h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		return r.DeleteEventSubscription(ctx, "env-1", "crm")
	})
	wantNotFound(t, "deleting it again", err)
	// Made again under the same id, it has none of the old deliveries.
	putSubscription(t, h.Store, sub)
	if n := len(listDeliveries(t, h.Store, "env-1", "crm", "", 10)); n != 0 {
		t.Errorf("a subscription made again has %d deliveries of the deleted one", n)
	}
}

func testSubscriptionActiveListing(t *testing.T, h EventSubscriptionsHarness) {
	put(t, h.Store, environment(t, "env-1"), environment(t, "env-2"), environment(t, "Env-0"))
	disabled := subscription(t, "env-1", "off")
	d := delivery(t, disabled, 1, subscribedAt)
	disabled.Settle(&d, domain.EventAttempt{At: subscribedAt, Ended: subscribedAt, StatusCode: 500}, 0)
	late := subscribedAt.Add(domain.EventDisableAfter)
	disabled.Settle(&d, domain.EventAttempt{At: late, Ended: late, StatusCode: 500}, 0)
	putSubscription(t, h.Store, subscription(t, "env-2", "a"), subscription(t, "env-1", "b"), subscription(t, "env-1", "a"),
		subscription(t, "Env-0", "z"), disabled)
	list := func(afterEnv, afterID string, limit int) []string {
		var out []string
		err := h.Store.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			subs, err := r.ListActiveEventSubscriptions(ctx, afterEnv, afterID, limit)
			for _, s := range subs {
				out = append(out, s.EnvID()+"/"+s.ID())
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got, want := list("", "", 10), []string{"Env-0/z", "env-1/a", "env-1/b", "env-2/a"}; !slices.Equal(got, want) {
		t.Errorf("ListActiveEventSubscriptions = %v, want %v (byte order, the disabled one left out)", got, want)
	}
	if got, want := list("env-1", "a", 2), []string{"env-1/b", "env-2/a"}; !slices.Equal(got, want) {
		t.Errorf("after env-1/a: %v, want %v", got, want)
	}
	err := h.Store.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		_, err := r.ListActiveEventSubscriptions(ctx, "", "", 0)
		return err
	})
	if err == nil {
		t.Error("ListActiveEventSubscriptions with limit 0 accepted")
	}
}

func testSubscriptionEnqueue(t *testing.T, h EventSubscriptionsHarness) {
	put(t, h.Store, environment(t, "env-1"))
	putSubscription(t, h.Store, subscription(t, "env-1", "crm"))
	err := h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.EnqueueEventDeliveries(ctx, "env-1", "crm"); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Tx: %v", err)
	}
	if n := h.Runs("env-1", "crm"); n != 0 {
		t.Errorf("a rolled-back transaction scheduled %d runs", n)
	}
	inTx(t, h.Store, func(ctx context.Context, r ports.Repositories) error {
		return r.EnqueueEventDeliveries(ctx, "env-1", "crm")
	})
	if n := h.Runs("env-1", "crm"); n < 1 {
		t.Error("a committed transaction scheduled no run")
	}
}

func testSubscriptionReadOnly(t *testing.T, h EventSubscriptionsHarness) {
	put(t, h.Store, environment(t, "env-1"))
	sub := subscription(t, "env-1", "crm")
	putSubscription(t, h.Store, sub)
	err := h.Store.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if _, err := r.LockEventSubscription(ctx, "env-1", "crm"); err != nil {
			return fmt.Errorf("LockEventSubscription inside Read: %w", err)
		}
		if r.PutEventSubscription(ctx, sub) == nil {
			return errors.New("PutEventSubscription inside Read succeeded")
		}
		if r.PutEventDelivery(ctx, delivery(t, sub, 1, subscribedAt)) == nil {
			return errors.New("PutEventDelivery inside Read succeeded")
		}
		if r.DeleteEventSubscription(ctx, "env-1", "crm") == nil {
			return errors.New("DeleteEventSubscription inside Read succeeded")
		}
		if r.EnqueueEventDeliveries(ctx, "env-1", "crm") == nil {
			return errors.New("EnqueueEventDeliveries inside Read succeeded")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func testSubscriptionRetention(t *testing.T, h EventSubscriptionsHarness) {
	put(t, h.Store, environment(t, "env-1"))
	sub := subscription(t, "env-1", "crm")
	putSubscription(t, h.Store, sub)
	var ds []domain.EventDelivery
	for i := range 4 {
		d := delivery(t, sub, uint64(10+i), subscribedAt.Add(time.Duration(i)*time.Hour))
		sub.Settle(&d, domain.EventAttempt{At: d.CreatedAt, Ended: d.CreatedAt, StatusCode: 200}, 0)
		ds = append(ds, d)
	}
	pending := delivery(t, sub, 99, subscribedAt)
	putDeliveries(t, h.Store, append(ds, pending)...)

	cutoff := subscribedAt.Add(3 * time.Hour) // the first three finished before it
	n, err := h.Retention.DeleteEventDeliveriesFinishedBefore(t.Context(), cutoff, 2)
	if err != nil || n != 2 {
		t.Fatalf("first batch: %d, %v; want 2", n, err)
	}
	left := listDeliveries(t, h.Store, "env-1", "crm", "", 10)
	var ids []string
	for _, d := range left {
		ids = append(ids, d.EventID)
	}
	if want := []string{pending.EventID, ds[3].EventID, ds[2].EventID}; !slices.Equal(ids, want) {
		t.Errorf("after the first batch: %v, want %v (the oldest finished gone first)", ids, want)
	}
	n, err = h.Retention.DeleteEventDeliveriesFinishedBefore(t.Context(), cutoff, 2)
	if err != nil || n != 1 {
		t.Errorf("second batch: %d, %v; want 1", n, err)
	}
	if _, err := h.Retention.DeleteEventDeliveriesFinishedBefore(t.Context(), cutoff, 0); err == nil {
		t.Error("a limit of 0 accepted")
	}
	if left := listDeliveries(t, h.Store, "env-1", "crm", "", 10); len(left) != 2 {
		t.Errorf("%d deliveries left, want the pending one and the one finished at the cut-off", len(left))
	}
}
