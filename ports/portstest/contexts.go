package portstest

import (
	"context"
	"sync"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// getClickContext calls GetClickContext inside Tx and inside Read, checks
// that both answer the same, and returns the Tx's answer.
func getClickContext(t *testing.T, s ports.Store, envID, userID, leadID string) (ports.ClickContext, error) {
	t.Helper()
	var got [2]ports.ClickContext
	var errs [2]error
	if err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		got[0], errs[0] = r.GetClickContext(ctx, envID, userID, leadID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		got[1], errs[1] = r.GetClickContext(ctx, envID, userID, leadID)
		return nil
	})
	if (errs[0] == nil) != (errs[1] == nil) {
		t.Errorf("GetClickContext(%s, %s, %s): inside Tx err %v, inside Read err %v", envID, userID, leadID, errs[0], errs[1])
	} else if errs[0] == nil {
		wantClickContext(t, "GetClickContext inside Read", got[1], got[0])
	}
	return got[0], errs[0]
}

func wantClickContext(t *testing.T, what string, got, want ports.ClickContext) {
	t.Helper()
	wantEnvironment(t, what+": Env", got.Env, want.Env)
	switch {
	case (got.User == nil) != (want.User == nil):
		t.Errorf("%s: User %v, want %v", what, got.User, want.User)
	case got.User != nil:
		wantUser(t, what+": User", *got.User, *want.User)
	}
	switch {
	case (got.Lead == nil) != (want.Lead == nil):
		t.Errorf("%s: Lead %v, want %v", what, got.Lead, want.Lead)
	case got.Lead != nil:
		wantLead(t, what+": Lead", *got.Lead, *want.Lead)
	}
	wantUserSet(t, what+": Owners", got.Owners, want.Owners...)
	wantCallConnect(t, what, got.CallConnect, want.CallConnect)
}

func wantCallConnect(t *testing.T, what string, got, want *domain.Integration) {
	t.Helper()
	switch {
	case (got == nil) != (want == nil):
		t.Errorf("%s: CallConnect %v, want %v", what, got, want)
	case got != nil:
		wantIntegrations(t, what+": CallConnect", []domain.Integration{*got}, *want)
	}
}

func testClickContext(t *testing.T, s ports.Store) {
	envA, envB := environment(t, "env-a"), environment(t, "env-b")
	all := users(t, "env-a")
	lead, lonely, orphan := fullLead(t, "env-a", "l1"), minimalLead(t, "env-a", "l2"), fullLead(t, "env-a", "l3")
	cc, other := rotatedCallConnect("env-a", true), otherProvider("env-a", "other-pbx", false)
	put(t, s, envA, envB, cc, other, lead, lonely, orphan)
	put(t, s, all[0], all[1], all[2], all[3])
	// env-b has the same ids with other contents: none of it may leak into env-a's context.
	bUser := newUser(t, domain.UserInput{EnvID: "env-b", ID: "2", Name: "Outro João", Role: "manager"})
	put(t, s, bUser, minimalLead(t, "env-b", "l1"), otherProvider("env-b", domain.ProviderCallConnect, false))
	// l3's owners: 1 and 2 stored, ag-7 missing (in env-a, ag-7 is removed by
	// giving l3 owners of which one is absent).
	orphanIn := orphan.Input()
	orphanIn.AgencyID, orphanIn.ManagerID = "", "gone"
	orphan = newLead(t, orphanIn)
	put(t, s, orphan)

	manager, broker, agency, agencyUser := all[0], all[1], all[2], all[3]
	for _, tc := range []struct {
		what           string
		env, user, lid string
		want           ports.ClickContext
	}{
		{"a user on a lead with three owners", "env-a", agencyUser.ID(), "l1",
			ports.ClickContext{Env: envA, User: &agencyUser, Lead: &lead, Owners: []domain.User{manager, broker, agency}, CallConnect: &cc}},
		{"an owner on their own lead", "env-a", broker.ID(), "l1",
			ports.ClickContext{Env: envA, User: &broker, Lead: &lead, Owners: []domain.User{manager, broker, agency}, CallConnect: &cc}},
		{"a lead without owners", "env-a", manager.ID(), "l2",
			ports.ClickContext{Env: envA, User: &manager, Lead: &lonely, CallConnect: &cc}},
		{"a lead with a missing owner", "env-a", manager.ID(), "l3",
			ports.ClickContext{Env: envA, User: &manager, Lead: &orphan, Owners: []domain.User{broker}, CallConnect: &cc}},
		{"a missing user", "env-a", "nobody", "l1",
			ports.ClickContext{Env: envA, Lead: &lead, Owners: []domain.User{manager, broker, agency}, CallConnect: &cc}},
		{"no user (an empty id)", "env-a", "", "l1",
			ports.ClickContext{Env: envA, Lead: &lead, Owners: []domain.User{manager, broker, agency}, CallConnect: &cc}},
		{"no lead (an empty id): a batch's context", "env-a", broker.ID(), "",
			ports.ClickContext{Env: envA, User: &broker, CallConnect: &cc}},
		{"a missing lead", "env-a", manager.ID(), "nothing",
			ports.ClickContext{Env: envA, User: &manager, CallConnect: &cc}},
		{"another environment's user id", "env-a", "au.9", "l1",
			ports.ClickContext{Env: envA, User: &agencyUser, Lead: &lead, Owners: []domain.User{manager, broker, agency}, CallConnect: &cc}},
		{"the same ids in env-b", "env-b", "2", "l1", func() ports.ClickContext {
			l, in := minimalLead(t, "env-b", "l1"), otherProvider("env-b", domain.ProviderCallConnect, false)
			return ports.ClickContext{Env: envB, User: &bUser, Lead: &l, CallConnect: &in}
		}()},
		{"env-b's missing user and lead", "env-b", "1", "l3", ports.ClickContext{Env: envB, CallConnect: func() *domain.Integration {
			in := otherProvider("env-b", domain.ProviderCallConnect, false)
			return &in
		}()}},
	} {
		got, err := getClickContext(t, s, tc.env, tc.user, tc.lid)
		if err != nil {
			t.Errorf("GetClickContext of %s: %v", tc.what, err)
			continue
		}
		wantClickContext(t, "GetClickContext of "+tc.what, got, tc.want)
	}

	// An environment with only another provider, or none, has no Call Connect.
	put(t, s, environment(t, "env-c"), otherProvider("env-c", "other-pbx", true), environment(t, "env-d"))
	for _, env := range []string{"env-c", "env-d"} {
		got, err := getClickContext(t, s, env, "1", "l1")
		if err != nil {
			t.Fatalf("GetClickContext(%s): %v", env, err)
		}
		wantCallConnect(t, "GetClickContext of "+env, got.CallConnect, nil)
	}
	_, err := getClickContext(t, s, "env-missing", "1", "l1")
	wantNotFound(t, "GetClickContext of a missing environment", err)
}

func lockCallForDelivery(t *testing.T, s ports.Store, envID, callID string) (ports.DeliveryContext, error) {
	t.Helper()
	var got ports.DeliveryContext
	var err error
	if txErr := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		got, err = r.LockCallForDelivery(ctx, envID, callID)
		return nil
	}); txErr != nil {
		t.Fatal(txErr)
	}
	return got, err
}

func testLockCallForDelivery(t *testing.T, s ports.Store) {
	envA, envB := environment(t, "env-a"), environment(t, "env-b")
	cc := rotatedCallConnect("env-a", true)
	inA, inB := placedCall(t, "env-a", "c1"), restoredCall("env-b", "c1")
	put(t, s, envA, envB, cc, otherProvider("env-a", "other-pbx", false), otherProvider("env-b", "other-pbx", true), inA, inB)

	got, err := lockCallForDelivery(t, s, "env-a", "c1")
	if err != nil {
		t.Fatal(err)
	}
	wantCall(t, "LockCallForDelivery: Call", got.Call, inA)
	wantEnvironment(t, "LockCallForDelivery: Env", got.Env, envA)
	wantCallConnect(t, "LockCallForDelivery", got.CallConnect, &cc)

	got, err = lockCallForDelivery(t, s, "env-b", "c1")
	if err != nil {
		t.Fatal(err)
	}
	wantCall(t, "LockCallForDelivery in env-b: Call", got.Call, inB)
	wantEnvironment(t, "LockCallForDelivery in env-b: Env", got.Env, envB)
	wantCallConnect(t, "LockCallForDelivery in env-b (another provider only)", got.CallConnect, nil)

	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		got, err := r.LockCallForDelivery(ctx, "env-a", "c1")
		if err != nil {
			t.Errorf("LockCallForDelivery inside Read: %v", err)
			return nil
		}
		wantCall(t, "LockCallForDelivery inside Read: Call", got.Call, inA)
		wantEnvironment(t, "LockCallForDelivery inside Read: Env", got.Env, envA)
		wantCallConnect(t, "LockCallForDelivery inside Read", got.CallConnect, &cc)
		_, err = r.LockCallForDelivery(ctx, "env-a", "missing")
		wantNotFound(t, "LockCallForDelivery of a missing call inside Read", err)
		return nil
	})
	for _, c := range []struct{ env, id, what string }{
		{"env-a", "missing", "a missing call"},
		{"env-c", "c1", "a call of other environments"},
		{"env-missing", "c1", "a call in a missing environment"},
	} {
		_, err := lockCallForDelivery(t, s, c.env, c.id)
		wantNotFound(t, "LockCallForDelivery of "+c.what, err)
	}
}

// testLockCallForDeliveryTakesTurns: a second writer of the call waits for
// the transaction that locked it for delivery, and reads what it wrote.
func testLockCallForDeliveryTakesTurns(t *testing.T, h Harness) {
	s := h.Store
	placed := placedCall(t, "env-1", "c1")
	put(t, s, environment(t, "env-1"), placed)
	delivering := withAttempt(placed, domain.Attempt{At: clickedAt.Add(time.Second), StatusCode: 200})
	locked, secondDone := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var first, err error
	wg.Go(func() {
		first = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			if _, err := r.LockCallForDelivery(ctx, "env-1", "c1"); err != nil {
				close(locked)
				return err
			}
			close(locked)
			// The second writer arrives meanwhile, and waits.
			if err := lockWaitedFor(ctx, h, func() bool {
				select {
				case <-secondDone:
					return false
				default:
					return true
				}
			}); err != nil {
				return err
			}
			return r.PutCall(ctx, delivering)
		})
	})
	<-locked
	wg.Go(func() {
		defer close(secondDone)
		err = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			got, err := r.LockCall(ctx, "env-1", "c1")
			if err != nil {
				return err
			}
			wantCall(t, "LockCall after another transaction's LockCallForDelivery", got, delivering)
			return nil
		})
	})
	wg.Wait()
	if first != nil || err != nil {
		t.Fatalf("transactions: %v, %v", first, err)
	}
}

// testClickOpenCall: the click context names the clicking user's call to
// the lead still queued or delivering with the latest dispatch deadline,
// and LockClicks is taken inside Tx and refused inside Read.
func testClickOpenCall(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), fullLead(t, "env-a", "l1"), fullLead(t, "env-b", "l1"))
	all := users(t, "env-a")
	put(t, s, all[0], all[1], all[2], all[3])
	call := func(env, id, user string, status domain.CallStatus, deadline time.Duration) domain.Call {
		return domain.RestoreCall(env, id, "l1", user, status, "", clickedAt, clickedAt.Add(deadline), payload(id), nil)
	}
	u1, u2 := all[0].ID(), all[1].ID()
	put(t, s, call("env-a", "c-queued", u1, domain.CallQueued, 2*time.Minute),
		call("env-a", "c-delivering", u1, domain.CallDelivering, 5*time.Minute),
		call("env-a", "c-delivered", u1, domain.CallDelivered, 9*time.Minute),
		call("env-a", "c-other-user", u2, domain.CallQueued, 10*time.Minute),
		call("env-b", "c-other-env", u1, domain.CallQueued, 20*time.Minute))
	for _, tc := range []struct {
		what, env, user string
		id              string
		deadline        time.Duration
	}{
		{"the user with a queued and a delivering call", "env-a", u1, "c-delivering", 5 * time.Minute},
		{"another user of the lead", "env-a", u2, "c-other-user", 10 * time.Minute},
		{"a user without a call", "env-a", all[2].ID(), "", 0},
	} {
		got, err := getClickContext(t, s, tc.env, tc.user, "l1")
		if err != nil {
			t.Fatalf("GetClickContext of %s: %v", tc.what, err)
		}
		want := time.Time{}
		if tc.id != "" {
			want = clickedAt.Add(tc.deadline)
		}
		if got.OpenCallID != tc.id || !got.OpenCallDeadline.Equal(want) {
			t.Errorf("GetClickContext of %s: open call %q due %v, want %q due %v", tc.what, got.OpenCallID, got.OpenCallDeadline, tc.id, want)
		}
	}
	if err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		return r.LockClicks(ctx, "env-a", u1, "l1")
	}); err != nil {
		t.Errorf("LockClicks in Tx: %v", err)
	}
	if err := s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		return r.LockClicks(ctx, "env-a", u1, "l1")
	}); err == nil {
		t.Error("LockClicks in Read succeeded; it writes, and Read is read-only")
	}
}
