package domain_test

import (
	"slices"
	"testing"

	"pgregory.net/rapid"

	"callconnect/domain"
)

func TestCallEventType(t *testing.T) {
	for _, tc := range []struct {
		from, to domain.CallStatus
		want     domain.EventType // "" for none
	}{
		{"", domain.CallQueued, domain.EventCallQueued},
		{"", domain.CallDelivering, ""},
		{"", domain.CallCompleted, domain.EventCallCompleted},
		{domain.CallQueued, domain.CallDelivering, ""},
		{domain.CallDelivering, domain.CallQueued, ""}, // a retry
		{domain.CallDelivering, domain.CallDelivered, domain.EventCallDelivered},
		{domain.CallDelivering, domain.CallUndeliverable, domain.EventCallUndeliverable},
		{domain.CallUndeliverable, domain.CallQueued, domain.EventCallQueued}, // a redelivery
		{domain.CallDelivered, domain.CallCompleted, domain.EventCallCompleted},
		{domain.CallDelivered, domain.CallNotCompleted, domain.EventCallNotCompleted},
		{domain.CallDelivered, domain.CallNoResult, domain.EventCallNoResult},
		{domain.CallNoResult, domain.CallCompleted, domain.EventCallCompleted},
		{domain.CallQueued, domain.CallNotCompleted, domain.EventCallNotCompleted}, // a result overtaking the delivery
		{domain.CallDelivered, domain.CallDelivered, ""},                           // an attempt recorded late
		{domain.CallQueued, domain.CallQueued, ""},
	} {
		got, ok := domain.CallEventType(tc.from, tc.to)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("CallEventType(%q, %q) = %q, %t; want %q", tc.from, tc.to, got, ok, tc.want)
		}
	}
	// Every event type of a call is raised by some change.
	raised := map[domain.EventType]bool{}
	for _, from := range append([]domain.CallStatus{""}, domain.CallStatuses...) {
		for _, to := range domain.CallStatuses {
			if typ, ok := domain.CallEventType(from, to); ok {
				raised[typ] = true
			}
		}
	}
	for _, typ := range domain.EventTypes {
		if typ != domain.EventInteractionAdded && !raised[typ] {
			t.Errorf("no change of status raises %s", typ)
		}
	}
}

// TestEventIDOrder: an id's string round-trips, and strings sort as ids do.
func TestEventIDOrder(t *testing.T) {
	number := rapid.Uint64Range(0, 9_999_999_999_999_999)
	rapid.Check(t, func(t *rapid.T) {
		a := domain.EventID{Tx: number.Draw(t, "a.tx"), Seq: number.Draw(t, "a.seq")}
		b := domain.EventID{Tx: number.Draw(t, "b.tx"), Seq: number.Draw(t, "b.seq")}
		for _, id := range []domain.EventID{a, b} {
			got, err := domain.ParseEventID("after", id.String())
			if err != nil || got != id {
				t.Fatalf("ParseEventID(%q) = %+v, %v; want %+v", id.String(), got, err, id)
			}
		}
		if a.Less(b) != (a.String() < b.String()) {
			t.Fatalf("%s < %s is %t as ids", a, b, a.Less(b))
		}
	})
}

func TestParseEventIDRefuses(t *testing.T) {
	if id, err := domain.ParseEventID("after", ""); err != nil || id != (domain.EventID{}) {
		t.Errorf(`ParseEventID("") = %+v, %v; want the zero id`, id, err)
	}
	for _, s := range []string{"1", "x", "0000000000000001", "0000000000000001-", "0000000000000001_0000000000000002",
		"000000000000001-00000000000000002", "+000000000000001-0000000000000002", "0000000000000001-000000000000000x",
		"00000000000000001-0000000000000002", " 000000000000001-0000000000000002"} {
		_, err := domain.ParseEventID("after", s)
		de, ok := domain.AsError(err)
		if !ok || de.Kind != domain.KindInvalid || de.Field != "after" {
			t.Errorf("ParseEventID(%q): want an invalid-field error on after, got %v", s, err)
		}
	}
	if !slices.Contains(domain.EventTypes, domain.EventInteractionAdded) || len(domain.EventTypes) != 7 {
		t.Errorf("EventTypes: %v", domain.EventTypes)
	}
}
