package portstest

import (
	"context"
	"slices"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// listedCall is a call of lead by user clicked at, with status.
func listedCall(envID, id, lead, user string, status domain.CallStatus, at time.Time) domain.Call {
	return domain.RestoreCall(envID, id, lead, user, status, "", at, at.Add(2*time.Minute), payload(id), nil)
}

func listCalls(t *testing.T, s ports.Store, envID string, f ports.CallFilter) []string {
	t.Helper()
	var ids []string
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		calls, err := r.ListCalls(ctx, envID, f)
		if err != nil {
			t.Fatalf("ListCalls(%s, %+v): %v", envID, f, err)
		}
		for _, c := range calls {
			ids = append(ids, c.ID())
		}
		return nil
	})
	return ids
}

func wantIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

// testListCalls: newest first, ties by id in byte order descending, every
// filter alone and together, and another environment's calls never listed.
func testListCalls(t *testing.T, s ports.Store) {
	at := clickedAt
	put(t, s, environment(t, "env-1"), environment(t, "env-2"),
		listedCall("env-1", "c1", "l1", "u1", domain.CallDelivered, at),
		listedCall("env-1", "c2", "l2", "u1", domain.CallUndeliverable, at.Add(time.Minute)),
		// Three at one instant: byte order puts "B" before "a", so newest
		// first lists "b", "a", "B".
		listedCall("env-1", "a", "l1", "u2", domain.CallCompleted, at.Add(2*time.Minute)),
		listedCall("env-1", "B", "l1", "u2", domain.CallUndeliverable, at.Add(2*time.Minute)),
		listedCall("env-1", "b", "l2", "u2", domain.CallQueued, at.Add(2*time.Minute)),
		listedCall("env-1", "c0", "l1", "u1", domain.CallNotCompleted, at.Add(time.Hour)),
		listedCall("env-2", "c9", "l1", "u1", domain.CallDelivered, at.Add(time.Minute)),
	)
	all := ports.CallFilter{Limit: 100}
	wantIDs(t, "every call", listCalls(t, s, "env-1", all), "c0", "b", "a", "B", "c2", "c1")
	wantIDs(t, "another environment", listCalls(t, s, "env-2", all), "c9")
	wantIDs(t, "an environment without calls", listCalls(t, s, "env-3", all))
	wantIDs(t, "limit 2", listCalls(t, s, "env-1", ports.CallFilter{Limit: 2}), "c0", "b")
	wantIDs(t, "undeliverable", listCalls(t, s, "env-1", ports.CallFilter{Status: domain.CallUndeliverable, Limit: 100}), "B", "c2")
	wantIDs(t, "lead l2", listCalls(t, s, "env-1", ports.CallFilter{LeadID: "l2", Limit: 100}), "b", "c2")
	wantIDs(t, "user u2", listCalls(t, s, "env-1", ports.CallFilter{UserID: "u2", Limit: 100}), "b", "a", "B")
	wantIDs(t, "from (inclusive) to (exclusive)",
		listCalls(t, s, "env-1", ports.CallFilter{From: at.Add(time.Minute), To: at.Add(time.Hour), Limit: 100}), "b", "a", "B", "c2")
	wantIDs(t, "lead l1, user u2, undeliverable",
		listCalls(t, s, "env-1", ports.CallFilter{LeadID: "l1", UserID: "u2", Status: domain.CallUndeliverable, Limit: 100}), "B")
	wantIDs(t, "a filter nothing matches", listCalls(t, s, "env-1", ports.CallFilter{LeadID: "l1", Status: domain.CallQueued, Limit: 100}))
}

// testListCallsPages: following the cursor from page to page lists every
// call once, in order, even across a tie in click time.
func testListCallsPages(t *testing.T, s ports.Store) {
	at := clickedAt
	put(t, s, environment(t, "env-1"))
	var want []domain.Call
	for i, id := range []string{"x", "Y", "z", "a", "A", "m"} {
		c := listedCall("env-1", id, "l1", "u1", domain.CallDelivered, at.Add(time.Duration(i/3)*time.Second))
		want = append(want, c)
		put(t, s, c)
	}
	var got []string
	f := ports.CallFilter{Limit: 4}
	for range 10 {
		var page []domain.Call
		read(t, s, func(ctx context.Context, r ports.Repositories) error {
			var err error
			page, err = r.ListCalls(ctx, "env-1", f)
			return err
		})
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			got = append(got, c.ID())
		}
		last := page[len(page)-1]
		f.Before = &ports.CallCursor{ClickedAt: last.ClickedAt(), ID: last.ID()}
	}
	wantIDs(t, "pages of 4 (newest first, ties by id descending)", got, "m", "a", "A", "z", "x", "Y")
	f = ports.CallFilter{Limit: 100, Before: &ports.CallCursor{ClickedAt: at.Add(time.Second), ID: "a"}}
	wantIDs(t, "after a cursor inside a tie", listCalls(t, s, "env-1", f), "A", "z", "x", "Y")
	// A listing gives calls back whole, attempts and payload included.
	full := withAttempt(listedCall("env-1", "full", "l1", "u1", domain.CallUndeliverable, at.Add(time.Hour)), attempts()[0])
	put(t, s, full)
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		calls, err := r.ListCalls(ctx, "env-1", ports.CallFilter{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) != 1 {
			t.Fatalf("ListCalls limit 1: %d calls", len(calls))
		}
		wantCall(t, "the listed call", calls[0], full)
		return nil
	})
}

// testListsNeedALimit: a listing without a positive limit is an error, not
// everything.
func testListsNeedALimit(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-1"), listedCall("env-1", "c1", "l1", "u1", domain.CallDelivered, clickedAt))
	// Each listing runs in a Read of its own that returns its error: the
	// listing must fail, and the Read must report it.
	for _, tc := range []struct {
		what string
		list func(ctx context.Context, r ports.Repositories) error
	}{
		{"ListCalls without a limit", func(ctx context.Context, r ports.Repositories) error {
			_, err := r.ListCalls(ctx, "env-1", ports.CallFilter{})
			return err
		}},
		{"ListEnvironments with limit 0", func(ctx context.Context, r ports.Repositories) error {
			_, err := r.ListEnvironments(ctx, "", 0)
			return err
		}},
		{"ListIntegrationManagers with limit -1", func(ctx context.Context, r ports.Repositories) error {
			_, err := r.ListIntegrationManagers(ctx, "env-1", -1)
			return err
		}},
	} {
		ran := false
		err := s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			ran = true
			return tc.list(ctx, r)
		})
		if !ran {
			t.Fatalf("%s: Read did not run its function (%v)", tc.what, err)
		}
		if err == nil {
			t.Errorf("%s succeeded", tc.what)
		}
	}
}

func testListEnvironments(t *testing.T, s ports.Store) {
	for _, id := range []string{"b", "a", "B", "a-1", "Z"} {
		put(t, s, environment(t, id))
	}
	list := func(after string, limit int) []string {
		var ids []string
		read(t, s, func(ctx context.Context, r ports.Repositories) error {
			envs, err := r.ListEnvironments(ctx, after, limit)
			if err != nil {
				t.Fatalf("ListEnvironments(%q, %d): %v", after, limit, err)
			}
			for _, e := range envs {
				ids = append(ids, e.ID())
			}
			return nil
		})
		return ids
	}
	wantIDs(t, "every environment, byte order", list("", 100), "B", "Z", "a", "a-1", "b")
	wantIDs(t, "the first two", list("", 2), "B", "Z")
	wantIDs(t, "after Z", list("Z", 100), "a", "a-1", "b")
	wantIDs(t, "after the last", list("b", 100))
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		envs, err := r.ListEnvironments(ctx, "a-0", 1)
		if err != nil || len(envs) != 1 {
			t.Fatalf("ListEnvironments: %v %v", envs, err)
		}
		wantEnvironment(t, "a listed environment", envs[0], environment(t, "a-1"))
		return nil
	})
}

func testListIntegrationManagers(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-1"), environment(t, "env-2"))
	for _, u := range users(t, "env-1") {
		put(t, s, u)
	}
	for _, id := range []string{"m", "M"} {
		put(t, s, newUser(t, domain.UserInput{EnvID: "env-1", ID: id, Name: "Manager " + id, Role: "manager", CanManageIntegrations: true}))
	}
	put(t, s, newUser(t, domain.UserInput{EnvID: "env-2", ID: "other", Name: "Other", Role: "manager", CanManageIntegrations: true}))
	list := func(envID string, limit int) []domain.User {
		var out []domain.User
		read(t, s, func(ctx context.Context, r ports.Repositories) error {
			var err error
			out, err = r.ListIntegrationManagers(ctx, envID, limit)
			if err != nil {
				t.Fatalf("ListIntegrationManagers(%s): %v", envID, err)
			}
			return nil
		})
		return out
	}
	ids := func(us []domain.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.ID())
		}
		return out
	}
	got := list("env-1", 100)
	wantIDs(t, "managers of env-1 (byte order)", ids(got), "1", "M", "m")
	if len(got) == 0 {
		t.FailNow()
	}
	wantUser(t, "a listed manager", got[0], users(t, "env-1")[0])
	wantIDs(t, "limit 2", ids(list("env-1", 2)), "1", "M")
	wantIDs(t, "managers of env-2", ids(list("env-2", 100)), "other")
	wantIDs(t, "managers of an unknown environment", ids(list("nowhere", 100)))
}
