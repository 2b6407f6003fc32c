package portstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// Harness is one fresh, empty store under test, with the two windows the
// suite needs onto what the port does not let it read back: the job queue's
// side of EnqueueDelivery, and the monitor's record of exchanges.
type Harness struct {
	Store ports.Store
	// TakeDeliveries returns the deliveries that committed transactions
	// enqueued since its last call, in the order they were enqueued, and
	// forgets them. It must not wait for transactions in progress.
	TakeDeliveries func() []ports.Delivery
	// Exchanges returns the committed exchanges of the environment, ordered
	// by OccurredAt, then ID.
	Exchanges func(envID string) []domain.Exchange
	// Retention ages the store's exchanges out.
	Retention ports.ExchangeRetention
	// Expiry deletes the store's expired Idempotency-Key answers.
	Expiry ports.IdempotencyExpiry
	// LockWaiters counts the store's transactions waiting for a lock that
	// another holds (a row's, or the whole store's), so that the suite
	// can tell that a transaction waits rather than wait and see.
	LockWaiters func() int
}

// lockWaitedFor is awaitLockWaiter for a transaction's own goroutine: it
// returns once another transaction waits for a lock, or when others tells
// that none may come any more, and fails after a minute.
func lockWaitedFor(ctx context.Context, h Harness, others func() bool) error {
	if h.LockWaiters == nil {
		return errors.New("the harness has no LockWaiters: the suite cannot tell that a transaction waits")
	}
	deadline := time.After(time.Minute)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for others() && h.LockWaiters() < 1 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return errors.New("no other transaction waited for the lock within a minute")
		case <-tick.C:
		}
	}
	return nil
}

// awaitLockWaiter waits until at least one of the store's transactions
// waits for a lock, and fails the test, naming what it waited for, if
// none does within a minute or gaveUp (when not nil) is closed first.
func awaitLockWaiter(t *testing.T, h Harness, what string, gaveUp <-chan struct{}) {
	t.Helper()
	if h.LockWaiters == nil {
		t.Fatal("the harness has no LockWaiters: the suite cannot tell that a transaction waits")
	}
	deadline := time.After(time.Minute)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for h.LockWaiters() < 1 {
		select {
		case <-gaveUp:
			t.Fatalf("%s: it ended without waiting", what)
		case <-deadline:
			t.Fatalf("%s: no transaction waited for a lock within a minute", what)
		case <-tick.C:
		}
	}
}

// RunStore runs the contract suite of ports.Store and of each port its
// units of work hand out (ports.Repositories), a group of subtests per
// port: Environment (Environments), User (Users), Lead (Leads),
// Integration (Integrations), Call and Delivery (Calls), CallContexts,
// Exchange (Exchanges), PartnerToken (PartnerTokens), Interaction and
// Recording (History), Idempotency; RunEventSubscriptions has
// EventSubscriptions. Each subtest calls newHarness once and expects a
// fresh, empty store.
//
// Beyond what the port's comments say, the suite pins down:
//   - PutUser, PutLead, PutIntegration, PutCall and RecordExchange for an
//     environment that does not exist fail with an error for which
//     errors.Is(err, ports.ErrNotFound);
//   - GetLeads, GetUsers and ListIntegrations of an environment that does not
//     exist return nothing, without an error;
//   - ListIntegrations orders by provider in byte order (Go's string order;
//     in PostgreSQL, COLLATE "C"), whatever the database's locale;
//   - replacing an environment keeps its users, leads and integrations;
//   - times come back as the same instant, to the microsecond; durations
//     (of attempts and exchanges) to the millisecond, truncated;
//   - a call's payload comes back byte for byte; PutCall refuses a status
//     outside domain.CallStatuses; a call needs no stored lead or user;
//   - text that PostgreSQL cannot hold (NUL, invalid UTF-8) in an attempt's
//     error or an exchange is stored with U+FFFD in its place, not refused;
//   - an exchange's headers come back as a map (empty, not nil, when none);
//   - Tx returns fn's error (errors.Is finds it), lets a panic of fn through
//     after rolling back, and refuses to start with a cancelled context;
//   - writes, EnqueueDelivery and ReleaseDelivery fail inside Read;
//     LockEnvironment and LockCall inside Read only read.
//   - ReplaceCall of a call that is not stored fails with ErrCallChanged; a
//     direct delivery released with a retryAt comes out of TakeDeliveries
//     with that retryAt as its NotBefore, and a held one not at all;
//   - FindLeadsMatchingPhone of no phone and FindLeadsByEmail of "" find
//     nothing (not the leads without a phone or e-mail); phones compare by
//     domain.Phone.MatchKey, e-mails lowercased;
//   - ListCalls, ListEnvironments and ListIntegrationManagers order ids in
//     byte order and refuse a limit that is not positive;
//   - LatestOpenCall breaks a tie in click time by id descending (byte
//     order); undeliverable and no_result calls are open;
//   - a call's DeliveredAt comes back to the microsecond, zero when unknown;
//     LockCallsAwaitingResult takes the delivered calls of every
//     environment, and never one that a concurrent transaction settled;
//   - LatestCallRecording of "" (no call) finds nothing, not the recordings
//     of interactions without a call;
//   - partner token ids are global: PutPartnerToken with the id of another
//     environment's token fails and changes nothing; in its own environment
//     it replaces the token (a revocation); tokens created at the same
//     instant list by id descending (byte order);
//   - AddInteraction refuses an id the environment already has; an
//     interaction with a task of empty fields keeps its (empty) task;
//   - PutIdempotentAnswer replaces an answer older than
//     ports.IdempotencyRetention at the new answer's CreatedAt, and a
//     conflict leaves the transaction usable;
//   - DeleteIdempotencyKeysBefore with a cancelled context fails and
//     deletes nothing;
//   - PutPartnerToken, AddInteraction and PutRecording for an environment
//     that does not exist fail with ports.ErrNotFound.
func RunStore(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	onStore := func(run func(*testing.T, ports.Store)) func(*testing.T, Harness) {
		return func(t *testing.T, h Harness) { run(t, h.Store) }
	}
	for _, tc := range []struct {
		name string
		run  func(*testing.T, Harness)
	}{
		{"Environment/RoundTrip", onStore(testEnvironmentRoundTrip)},
		{"Environment/ReplaceKeepsChildren", onStore(testEnvironmentReplace)},
		{"Environment/NotFound", onStore(testEnvironmentNotFound)},
		{"User/RoundTrip", onStore(testUserRoundTrip)},
		{"User/ReplaceWholeResource", onStore(testUserReplace)},
		{"User/TenantIsolation", onStore(testUserTenantIsolation)},
		{"User/RequiresEnvironment", onStore(testUserRequiresEnvironment)},
		{"User/GetUsersMix", onStore(testGetUsersMix)},
		{"User/GetUsersNothing", onStore(testGetUsersNothing)},
		{"Lead/RoundTrip", onStore(testLeadRoundTrip)},
		{"Lead/ReplaceWholeResource", onStore(testLeadReplace)},
		{"Lead/TenantIsolation", onStore(testLeadTenantIsolation)},
		{"Lead/RequiresEnvironment", onStore(testLeadRequiresEnvironment)},
		{"Lead/GetLeadsMix", onStore(testGetLeadsMix)},
		{"Lead/GetLeadsBatch", onStore(testGetLeadsBatch)},
		{"Lead/GetLeadsNothing", onStore(testGetLeadsNothing)},
		{"Integration/RoundTrip", onStore(testIntegrationRoundTrip)},
		{"Integration/ReplaceWholeResource", onStore(testIntegrationReplace)},
		{"Integration/OrderIsByteOrder", onStore(testIntegrationOrder)},
		{"Integration/TenantIsolation", onStore(testIntegrationTenantIsolation)},
		{"Integration/RequiresEnvironment", onStore(testIntegrationRequiresEnvironment)},
		{"Integration/SingleActive", onStore(testSingleActive)},
		{"Call/RoundTrip", onStore(testCallRoundTrip)},
		{"Call/EveryStatus", onStore(testCallEveryStatus)},
		{"Call/ReplaceWholeResource", onStore(testCallReplace)},
		{"Call/NotFound", onStore(testCallNotFound)},
		{"Call/RequiresEnvironment", onStore(testCallRequiresEnvironment)},
		{"Call/OutlivesItsLead", onStore(testCallOutlivesLead)},
		{"Call/StorableText", onStore(testCallStorableText)},
		{"Call/Rollback", onStore(testCallRollback)},
		{"Call/List", onStore(testListCalls)},
		{"Call/ListPages", onStore(testListCallsPages)},
		{"Call/ListPagesProperty", onStore(testListCallsPagesProperty)},
		{"Call/DeliveredAt", onStore(testCallDeliveredAt)},
		{"Call/ListAsTheyRead", onStore(testListCallsAsTheyRead)},
		{"Call/AwaitingResult", onStore(testLockCallsAwaitingResult)},
		{"Call/AwaitingResultInRead", onStore(testLockCallsAwaitingResultInRead)},
		{"Concurrency/AwaitingResultSettledMeanwhile", testAwaitingResultSettledMeanwhile},
		{"List/NeedsALimit", onStore(testListsNeedALimit)},
		{"Environment/List", onStore(testListEnvironments)},
		{"User/ListIntegrationManagers", onStore(testListIntegrationManagers)},
		{"Delivery/VisibleAfterCommit", testDeliveryAfterCommit},
		{"Delivery/GoneOnRollback", testDeliveryRollback},
		{"Delivery/GoneOnPanic", testDeliveryPanic},
		{"Delivery/Order", testDeliveryOrder},
		{"Delivery/Direct", testDirectDelivery},
		{"Call/Replace", onStore(testReplaceCall)},
		{"Exchange/RoundTrip", testExchangeRoundTrip},
		{"Exchange/Rollback", testExchangeRollback},
		{"Exchange/RequiresEnvironment", testExchangeRequiresEnvironment},
		{"Exchange/Refused", testExchangeRefused},
		{"Exchange/StorableText", testExchangeStorableText},
		{"Exchange/ListFilters", testExchangeListFilters},
		{"Exchange/ListPages", testExchangeListPages},
		{"Exchange/Get", testExchangeGet},
		{"Exchange/Retention", testExchangeRetention},
		{"Tx/ReadsItsOwnWrites", onStore(testTxReadsOwnWrites)},
		{"Tx/Commit", onStore(testTxCommit)},
		{"Tx/Rollback", onStore(testTxRollback)},
		{"Tx/Panic", onStore(testTxPanic)},
		{"Tx/CancelledContext", onStore(testTxCancelledContext)},
		{"Tx/LockEnvironment", onStore(testLockEnvironment)},
		{"Tx/LockCall", onStore(testLockCall)},
		{"CallContexts/Click", onStore(testClickContext)},
		{"CallContexts/ClickOpenCall", onStore(testClickOpenCall)},
		{"CallContexts/Delivery", onStore(testLockCallForDelivery)},
		{"CallContexts/DeliveryLockTakesTurns", testLockCallForDeliveryTakesTurns},
		{"Read/ReadOnly", testReadOnly},
		{"Read/Snapshot", testReadSnapshot},
		{"Read/LocksOnlyRead", onStore(testReadLocks)},
		{"Lead/FindByPhone", onStore(testFindLeadsByPhone)},
		{"Lead/FindByEmail", onStore(testFindLeadsByEmail)},
		{"Call/LatestOpen", onStore(testLatestOpenCall)},
		{"PartnerToken/RoundTrip", onStore(testPartnerTokenRoundTrip)},
		{"PartnerToken/AcrossEnvironments", onStore(testPartnerTokenAcrossEnvironments)},
		{"PartnerToken/List", onStore(testPartnerTokenList)},
		{"Interaction/RoundTrip", onStore(testInteractionRoundTrip)},
		{"Interaction/Order", onStore(testInteractionOrder)},
		{"Interaction/Isolation", onStore(testInteractionIsolation)},
		{"Interaction/HasInteraction", onStore(testHasInteraction)},
		{"Recording/LatestOfCall", onStore(testLatestCallRecording)},
		{"Recording/LatestOfCalls", onStore(testLatestCallRecordings)},
		{"Recording/RoundTrip", onStore(testRecordingRoundTrip)},
		{"Recording/WithSHA256", onStore(testRecordingsWithSHA256)},
		{"Recording/Referenced", onStore(testReferencedAudio)},
		{"Recording/LockContent", testLockRecordingContent},
		{"Idempotency/RoundTrip", onStore(testIdempotencyRoundTrip)},
		{"Idempotency/Conflict", onStore(testIdempotencyConflict)},
		{"Idempotency/Rollback", onStore(testIdempotencyRollback)},
		{"Idempotency/Expiry", testIdempotencyExpiry},
		{"Concurrency/IdempotencyFirstUse", testIdempotencyConcurrentFirstUse},
		{"Idempotency/Replace", onStore(testIdempotencyReplace)},
		{"Idempotency/Delete", onStore(testIdempotencyDelete)},
		{"Concurrency/IdempotencyReplace", testIdempotencyConcurrentReplace},
		{"Concurrency/ActivateUnderLock", onStore(func(t *testing.T, s ports.Store) { testRacingActivations(t, s, true) })},
		{"Concurrency/ActivateWithoutLock", onStore(func(t *testing.T, s ports.Store) { testRacingActivations(t, s, false) })},
		{"Concurrency/LockCallTakesTurns", testLockCallTakesTurns},
		{"Concurrency/LockCallLosesNoUpdate", testLockCallLosesNoUpdate},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newHarness(t)) })
	}
}

// errAbort is what the suite's failing transactions return.
var errAbort = errors.New("portstest: fn gave up")

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("%s: want an error wrapping ports.ErrNotFound, got %v", what, err)
	}
}

func testEnvironmentRoundTrip(t *testing.T, s ports.Store) {
	full := environment(t, "env-1")
	plain := newEnvironment(t, domain.EnvironmentInput{ID: "Env_2.x~", Name: "Ambiente Dois", PublicBaseURL: "http://crm.example.com:8080/a/b/"})
	if plain.TimeZone().String() != domain.DefaultTimeZone || plain.CallConnectEnabled() {
		t.Fatalf("fixture: %+v", plain.Input())
	}
	put(t, s, full, plain)
	for _, want := range []domain.Environment{full, plain} {
		got, err := getEnvironment(t, s, want.ID())
		if err != nil {
			t.Fatalf("GetEnvironment(%s): %v", want.ID(), err)
		}
		wantEnvironment(t, "GetEnvironment", got, want)
		if got.TimeZone() == nil || got.TimeZone().String() != want.TimeZone().String() {
			t.Errorf("time zone: got %v, want %v", got.TimeZone(), want.TimeZone())
		}
	}
}

func testEnvironmentReplace(t *testing.T, s ports.Store) {
	before := environment(t, "env-1")
	user := users(t, "env-1")[0]
	lead := fullLead(t, "env-1", "l1")
	integration := callConnect(t, "env-1")
	put(t, s, before, user, lead, integration)

	after := newEnvironment(t, domain.EnvironmentInput{ID: "env-1", Name: "Renamed", PublicBaseURL: "https://other.example.com"})
	put(t, s, after)
	got, err := getEnvironment(t, s, "env-1")
	if err != nil {
		t.Fatal(err)
	}
	wantEnvironment(t, "GetEnvironment after a second PutEnvironment", got, after)

	// PUT replaces the environment's own fields, not the tenant's data.
	if u, err := getUser(t, s, "env-1", user.ID()); err != nil {
		t.Errorf("GetUser after replacing the environment: %v", err)
	} else {
		wantUser(t, "user after replacing the environment", u, user)
	}
	if l, err := getLead(t, s, "env-1", lead.ID()); err != nil {
		t.Errorf("GetLead after replacing the environment: %v", err)
	} else {
		wantLead(t, "lead after replacing the environment", l, lead)
	}
	wantIntegrations(t, "ListIntegrations after replacing the environment", listIntegrations(t, s, "env-1"), integration)
}

func testEnvironmentNotFound(t *testing.T, s ports.Store) {
	_, err := getEnvironment(t, s, "missing")
	wantNotFound(t, "GetEnvironment of an empty store", err)
	put(t, s, environment(t, "env-1"))
	_, err = getEnvironment(t, s, "env-2")
	wantNotFound(t, "GetEnvironment of a missing environment", err)
	_, err = getEnvironment(t, s, "ENV-1")
	wantNotFound(t, "GetEnvironment is case-sensitive", err)
}

func testUserRoundTrip(t *testing.T, s ports.Store) {
	us := users(t, "env-1")
	values := []any{environment(t, "env-1")}
	for _, u := range us {
		values = append(values, u)
	}
	put(t, s, values...)
	for _, want := range us {
		got, err := getUser(t, s, "env-1", want.ID())
		if err != nil {
			t.Fatalf("GetUser(%s): %v", want.ID(), err)
		}
		wantUser(t, "GetUser("+want.ID()+")", got, want)
	}
	// The phone is stored normalised, and an extension keeps its leading zeros.
	if got, err := getUser(t, s, "env-1", "1"); err != nil || got.Phone().String() != "5548999476359" {
		t.Errorf("phone: got %q (%v), want the normalised 5548999476359", got.Phone(), err)
	}
	if got, err := getUser(t, s, "env-1", "au.9"); err != nil {
		t.Errorf("GetUser(au.9): %v", err)
	} else if got.Extension().String() != "0099" || got.AgencyID() != "ag-7" {
		t.Errorf("agency user: got extension %q agency %q, want 0099 and ag-7", got.Extension(), got.AgencyID())
	}
}

func testUserReplace(t *testing.T, s ports.Store) {
	first := newUser(t, domain.UserInput{EnvID: "env-1", ID: "u1", Name: "Ana", Role: "agency_user", AgencyID: "ag-1",
		Phone: "48 99947-6359", Extension: "123", CanManageIntegrations: true})
	second := newUser(t, domain.UserInput{EnvID: "env-1", ID: "u1", Name: "Ana Maria", Role: "broker"})
	put(t, s, environment(t, "env-1"), first)
	put(t, s, second)
	got, err := getUser(t, s, "env-1", "u1")
	if err != nil {
		t.Fatal(err)
	}
	wantUser(t, "GetUser after a PUT without phone, extension, agency or permission", got, second)
	if !got.Phone().IsZero() {
		t.Errorf("the phone of the first PUT survived the second: %q", got.Phone())
	}
}

func testUserTenantIsolation(t *testing.T, s ports.Store) {
	a := newUser(t, domain.UserInput{EnvID: "env-a", ID: "7", Name: "Seven of A", Role: "manager", Phone: "4830251234"})
	b := newUser(t, domain.UserInput{EnvID: "env-b", ID: "7", Name: "Seven of B", Role: "broker", Extension: "55"})
	only := newUser(t, domain.UserInput{EnvID: "env-a", ID: "only-a", Name: "Only in A", Role: "broker"})
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), a, b, only)

	if got, err := getUser(t, s, "env-a", "7"); err != nil {
		t.Errorf("GetUser(env-a, 7): %v", err)
	} else {
		wantUser(t, "user 7 of env-a", got, a)
	}
	if got, err := getUser(t, s, "env-b", "7"); err != nil {
		t.Errorf("GetUser(env-b, 7): %v", err)
	} else {
		wantUser(t, "user 7 of env-b (same id as in env-a)", got, b)
	}
	_, err := getUser(t, s, "env-b", "only-a")
	wantNotFound(t, "GetUser of another environment's user", err)
	_, err = getUser(t, s, "env-a", "missing")
	wantNotFound(t, "GetUser of a missing user", err)
	_, err = getUser(t, s, "env-missing", "7")
	wantNotFound(t, "GetUser in a missing environment", err)
}

func testUserRequiresEnvironment(t *testing.T, s ports.Store) {
	u := users(t, "env-1")[0]
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutUser(ctx, u) })
	wantNotFound(t, "PutUser in a missing environment", err)
	put(t, s, environment(t, "env-1"))
	_, err = getUser(t, s, "env-1", u.ID())
	wantNotFound(t, "GetUser after a refused PutUser", err)
}

// wantUserSet checks that got holds exactly one entry per user of want.
func wantUserSet(t *testing.T, what string, got []domain.User, want ...domain.User) {
	t.Helper()
	wantSet(t, what, "user", got, want, wantUser)
}

// wantSet checks that got holds exactly one entry per element of want (by
// id, in any order), each as check compares it.
func wantSet[T interface {
	ID() string
	EnvID() string
}](t *testing.T, what, kind string, got, want []T, check func(t *testing.T, what string, got, want T)) {
	t.Helper()
	byID := map[string]T{}
	for _, w := range want {
		byID[w.ID()] = w
	}
	seen := map[string]int{}
	for _, g := range got {
		seen[g.ID()]++
		w, ok := byID[g.ID()]
		switch {
		case !ok:
			t.Errorf("%s: unexpected %s %s/%s", what, kind, g.EnvID(), g.ID())
		case seen[g.ID()] == 2:
			t.Errorf("%s: %s %s returned more than once", what, kind, g.ID())
		case seen[g.ID()] == 1:
			check(t, what+": "+kind+" "+g.ID(), g, w)
		}
	}
	for id := range byID {
		if seen[id] == 0 {
			t.Errorf("%s: %s %s is missing", what, kind, id)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: got %d %ss, want %d", what, len(got), kind, len(want))
	}
}

func getUsers(t *testing.T, s ports.Store, envID string, ids []string) []domain.User {
	t.Helper()
	var us []domain.User
	read(t, s, func(ctx context.Context, r ports.Repositories) (err error) {
		us, err = r.GetUsers(ctx, envID, ids)
		return err
	})
	return us
}

func testGetUsersMix(t *testing.T, s ports.Store) {
	a := users(t, "env-a")
	otherOne := newUser(t, domain.UserInput{EnvID: "env-b", ID: "1", Name: "Um de B", Role: "broker"})
	onlyB := newUser(t, domain.UserInput{EnvID: "env-b", ID: "only-b", Name: "Só de B", Role: "manager"})
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), a[0], a[1], a[2], a[3], otherOne, onlyB)

	got := getUsers(t, s, "env-a", []string{"1", "missing", "au.9", "1", "only-b", "au.9"})
	wantUserSet(t, "GetUsers(env-a, 1 missing au.9 1 only-b au.9)", got, a[0], a[3])
	got = getUsers(t, s, "env-b", []string{"ag-7", "1", "only-b", "2"})
	wantUserSet(t, "GetUsers(env-b, ag-7 1 only-b 2)", got, otherOne, onlyB)
	got = getUsers(t, s, "env-a", []string{"2", "ag-7", "au.9", "1"})
	wantUserSet(t, "GetUsers(env-a, every user)", got, a...)

	// In a writing Tx too, where it sees the Tx's own writes.
	added := newUser(t, domain.UserInput{EnvID: "env-a", ID: "new", Name: "Nova", Role: "broker"})
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutUser(ctx, added); err != nil {
			return err
		}
		got, err := r.GetUsers(ctx, "env-a", []string{"new", "2"})
		wantUserSet(t, "GetUsers in the writing Tx", got, added, a[1])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testGetUsersNothing(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-1"), users(t, "env-1")[0])
	for _, c := range []struct {
		env string
		ids []string
	}{
		{"env-1", nil},
		{"env-1", []string{}},
		{"env-1", []string{"missing", "other"}},
		{"env-missing", []string{"1"}},
	} {
		if got := getUsers(t, s, c.env, c.ids); len(got) != 0 {
			t.Errorf("GetUsers(%s, %q): got %d users, want none", c.env, c.ids, len(got))
		}
	}
}

func testLeadRoundTrip(t *testing.T, s ports.Store) {
	leads := []domain.Lead{fullLead(t, "env-1", "l-full"), minimalLead(t, "env-1", "l-min"), zeroLead(t, "env-1", "l-zero")}
	put(t, s, environment(t, "env-1"), leads[0], leads[1], leads[2])
	for _, want := range leads {
		got, err := getLead(t, s, "env-1", want.ID())
		if err != nil {
			t.Fatalf("GetLead(%s): %v", want.ID(), err)
		}
		wantLead(t, "GetLead("+want.ID()+")", got, want)
	}
	got, err := getLead(t, s, "env-1", "l-full")
	if err != nil {
		t.Fatal(err)
	}
	if in := got.Input(); in.Phone != "5548999476359" || in.RegisteredAt == nil || !in.RegisteredAt.Equal(registeredAt) {
		t.Errorf("full lead: phone %q registered_at %s, want 5548999476359 and %s", in.Phone, timeString(in.RegisteredAt), registeredAt.UTC().Format(time.RFC3339Nano))
	}
	got, err = getLead(t, s, "env-1", "l-min")
	if err != nil {
		t.Fatal(err)
	}
	if in := got.Input(); in.Score != nil || in.RegisteredAt != nil || in.Stage != nil || len(in.Developments) != 0 {
		t.Errorf("minimal lead: want no score, registration time, stage or developments, got %s", leadString(got))
	}
	got, err = getLead(t, s, "env-1", "l-zero")
	if err != nil {
		t.Fatal(err)
	}
	if in := got.Input(); in.Score == nil || in.Stage == nil || in.RegisteredAt == nil {
		t.Errorf("a score of 0, a stage without a name or the Unix epoch came back as missing: %s", leadString(got))
	}
}

func testLeadReplace(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-1"), fullLead(t, "env-1", "l1"))
	second := minimalLead(t, "env-1", "l1")
	put(t, s, second)
	got, err := getLead(t, s, "env-1", "l1")
	if err != nil {
		t.Fatal(err)
	}
	wantLead(t, "GetLead after a PUT without the optional fields", got, second)

	// Fewer developments, in another order, replace the old list entirely.
	in := fullLead(t, "env-1", "l1").Input()
	in.Developments = []domain.Ref{{ID: "d100", Name: "Cem"}, {ID: "d30", Name: "Trinta"}}
	third := newLead(t, in)
	put(t, s, third)
	got, err = getLead(t, s, "env-1", "l1")
	if err != nil {
		t.Fatal(err)
	}
	wantLead(t, "GetLead after a PUT with other developments", got, third)
}

func testLeadTenantIsolation(t *testing.T, s ports.Store) {
	a := fullLead(t, "env-a", "100")
	b := minimalLead(t, "env-b", "100")
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), a, b, minimalLead(t, "env-a", "only-a"))
	if got, err := getLead(t, s, "env-a", "100"); err != nil {
		t.Errorf("GetLead(env-a, 100): %v", err)
	} else {
		wantLead(t, "lead 100 of env-a", got, a)
	}
	if got, err := getLead(t, s, "env-b", "100"); err != nil {
		t.Errorf("GetLead(env-b, 100): %v", err)
	} else {
		wantLead(t, "lead 100 of env-b (same id as in env-a)", got, b)
	}
	_, err := getLead(t, s, "env-b", "only-a")
	wantNotFound(t, "GetLead of another environment's lead", err)
	_, err = getLead(t, s, "env-a", "missing")
	wantNotFound(t, "GetLead of a missing lead", err)
	_, err = getLead(t, s, "env-missing", "100")
	wantNotFound(t, "GetLead in a missing environment", err)
}

func testLeadRequiresEnvironment(t *testing.T, s ports.Store) {
	l := fullLead(t, "env-1", "l1")
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutLead(ctx, l) })
	wantNotFound(t, "PutLead in a missing environment", err)
	put(t, s, environment(t, "env-1"))
	_, err = getLead(t, s, "env-1", l.ID())
	wantNotFound(t, "GetLead after a refused PutLead", err)
}

// wantLeadSet checks that got holds exactly one entry per lead of want.
func wantLeadSet(t *testing.T, what string, got []domain.Lead, want ...domain.Lead) {
	t.Helper()
	wantSet(t, what, "lead", got, want, wantLead)
}

func testGetLeadsMix(t *testing.T, s ports.Store) {
	l1, l2, l3 := fullLead(t, "env-a", "l1"), minimalLead(t, "env-a", "l2"), zeroLead(t, "env-a", "l3")
	otherL1, l4 := minimalLead(t, "env-b", "l1"), fullLead(t, "env-b", "l4")
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), l1, l2, l3, otherL1, l4)

	got := getLeads(t, s, "env-a", []string{"l1", "missing", "l2", "l1", "l4", "l2"})
	wantLeadSet(t, "GetLeads(env-a, l1 missing l2 l1 l4 l2)", got, l1, l2)
	got = getLeads(t, s, "env-b", []string{"l2", "l1", "l3", "l4"})
	wantLeadSet(t, "GetLeads(env-b, l2 l1 l3 l4)", got, otherL1, l4)
	got = getLeads(t, s, "env-a", []string{"l3"})
	wantLeadSet(t, "GetLeads(env-a, l3)", got, l3)
}

func testGetLeadsBatch(t *testing.T, s ports.Store) {
	const existing, asked = 300, 500 // the API takes up to 500 lead ids at once
	values := []any{environment(t, "env-1")}
	var want []domain.Lead
	var ids []string
	for n := range asked {
		id := fmt.Sprintf("lead-%03d", n)
		ids = append(ids, id)
		if n%5 < 3 && len(want) < existing {
			l := fullLead(t, "env-1", id)
			if n%2 == 0 {
				l = minimalLead(t, "env-1", id)
			}
			want = append(want, l)
			values = append(values, l)
		}
	}
	put(t, s, values...)
	wantLeadSet(t, fmt.Sprintf("GetLeads of %d ids, %d existing", asked, len(want)), getLeads(t, s, "env-1", ids), want...)
}

func testGetLeadsNothing(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-1"), minimalLead(t, "env-1", "l1"))
	for _, c := range []struct {
		env string
		ids []string
	}{
		{"env-1", nil},
		{"env-1", []string{}},
		{"env-1", []string{"missing", "other"}},
		{"env-missing", []string{"l1"}},
	} {
		if got := getLeads(t, s, c.env, c.ids); len(got) != 0 {
			t.Errorf("GetLeads(%s, %q): got %d leads, want none", c.env, c.ids, len(got))
		}
	}
}

func testIntegrationRoundTrip(t *testing.T, s ports.Store) {
	fresh := callConnect(t, "env-a")
	rotated := rotatedCallConnect("env-b", true)
	other := otherProvider("env-b", "zeta-pbx", false)
	acme := otherProvider("env-b", "acme-tel", false)
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), other, rotated, acme, fresh)

	wantIntegrations(t, "ListIntegrations(env-a)", listIntegrations(t, s, "env-a"), fresh)
	got := listIntegrations(t, s, "env-b")
	wantIntegrations(t, "ListIntegrations(env-b), ordered by provider", got, acme, rotated, other)
	if len(got) == 3 {
		secrets := got[1].Secrets()
		if len(secrets) != 3 || secrets[0].ExpiresAt != nil || secrets[1].ExpiresAt == nil || !secrets[1].ExpiresAt.Equal(graceEnds) {
			t.Errorf("secrets: got %s, want the current one first without expiry, then the rotated ones", integrationString(got[1]))
		}
	}
	if got := listIntegrations(t, s, "env-missing"); len(got) != 0 {
		t.Errorf("ListIntegrations of a missing environment: got %d, want none", len(got))
	}
}

func testIntegrationReplace(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-1"), rotatedCallConnect("env-1", true), otherProvider("env-1", "other-pbx", false))
	replaced := callConnect(t, "env-1") // inactive, another URL, dial mode and secret list
	put(t, s, replaced)
	wantIntegrations(t, "ListIntegrations after replacing call-connect", listIntegrations(t, s, "env-1"),
		replaced, otherProvider("env-1", "other-pbx", false))

	// Replacing a provider that has secrets by one that has none leaves none.
	put(t, s, otherProvider("env-1", domain.ProviderCallConnect, false))
	wantIntegrations(t, "ListIntegrations after replacing call-connect by a bare one", listIntegrations(t, s, "env-1"),
		otherProvider("env-1", domain.ProviderCallConnect, false), otherProvider("env-1", "other-pbx", false))
}

func testIntegrationOrder(t *testing.T, s ports.Store) {
	providers := []string{"zeta", "call-connect", "ab", "a-c", "acme", "a1", "b"}
	values := []any{environment(t, "env-1")}
	for _, p := range providers {
		values = append(values, otherProvider("env-1", p, false))
	}
	put(t, s, values...)
	slices.Sort(providers) // a-c a1 ab acme b call-connect zeta
	var got []string
	for _, i := range listIntegrations(t, s, "env-1") {
		got = append(got, i.Provider())
	}
	if !slices.Equal(got, providers) {
		t.Errorf("ListIntegrations order: got %q, want byte order %q (PostgreSQL: ORDER BY provider COLLATE \"C\")", got, providers)
	}
}

func testIntegrationTenantIsolation(t *testing.T, s ports.Store) {
	a := rotatedCallConnect("env-a", true)
	b := callConnect(t, "env-b")
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), environment(t, "env-c"), a, b)
	wantIntegrations(t, "ListIntegrations(env-a)", listIntegrations(t, s, "env-a"), a)
	wantIntegrations(t, "ListIntegrations(env-b)", listIntegrations(t, s, "env-b"), b)
	wantIntegrations(t, "ListIntegrations(env-c)", listIntegrations(t, s, "env-c"))
}

func testIntegrationRequiresEnvironment(t *testing.T, s ports.Store) {
	i := callConnect(t, "env-1")
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutIntegration(ctx, i) })
	wantNotFound(t, "PutIntegration in a missing environment", err)
	put(t, s, environment(t, "env-1"))
	wantIntegrations(t, "ListIntegrations after a refused PutIntegration", listIntegrations(t, s, "env-1"))
}

func testSingleActive(t *testing.T, s ports.Store) {
	cc := rotatedCallConnect("env-a", true)
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), cc)

	putActiveElsewhere := func(what string, i domain.Integration) {
		t.Helper()
		err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutIntegration(ctx, i) })
		if !errors.Is(err, ports.ErrActiveElsewhere) {
			t.Errorf("%s: want an error wrapping ports.ErrActiveElsewhere, got %v", what, err)
		}
	}
	putActiveElsewhere("a second active integration (new)", otherProvider("env-a", "other-pbx", true))
	wantIntegrations(t, "after the refused PutIntegration", listIntegrations(t, s, "env-a"), cc)

	// An inactive one may sit beside the active one, but not be switched on.
	inactive := otherProvider("env-a", "other-pbx", false)
	put(t, s, inactive)
	putActiveElsewhere("a second active integration (existing)", otherProvider("env-a", "other-pbx", true))
	wantIntegrations(t, "after the refused activation", listIntegrations(t, s, "env-a"), cc, inactive)

	// The active integration may be replaced while it stays active.
	ccAgain := domain.RestoreIntegration("env-a", cc.Provider(), true, partnerURL, domain.DialByPhone, cc.Secrets()[:1])
	put(t, s, ccAgain)
	wantIntegrations(t, "after replacing the active integration", listIntegrations(t, s, "env-a"), ccAgain, inactive)

	// Another environment has its own single active integration.
	otherEnv := otherProvider("env-b", "other-pbx", true)
	put(t, s, otherEnv)
	wantIntegrations(t, "the other environment", listIntegrations(t, s, "env-b"), otherEnv)

	// Switching over in one transaction: off first, then on.
	ccOff := domain.RestoreIntegration("env-a", cc.Provider(), false, partnerURL, domain.DialByPhone, cc.Secrets()[:1])
	on := otherProvider("env-a", "other-pbx", true)
	put(t, s, ccOff, on)
	wantIntegrations(t, "after switching over", listIntegrations(t, s, "env-a"), ccOff, on)
	putActiveElsewhere("call-connect while other-pbx is active", ccAgain)
}

func testTxReadsOwnWrites(t *testing.T, s ports.Store) {
	env, user, lead, integration := environment(t, "env-1"), users(t, "env-1")[1], fullLead(t, "env-1", "l1"), callConnect(t, "env-1")
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		for _, v := range []any{env, user, lead, integration} {
			if err := putValue(ctx, r, v); err != nil {
				return err
			}
		}
		if got, err := r.GetEnvironment(ctx, "env-1"); err != nil {
			t.Errorf("GetEnvironment in the writing Tx: %v", err)
		} else {
			wantEnvironment(t, "GetEnvironment in the writing Tx", got, env)
		}
		if got, err := r.GetUser(ctx, "env-1", user.ID()); err != nil {
			t.Errorf("GetUser in the writing Tx: %v", err)
		} else {
			wantUser(t, "GetUser in the writing Tx", got, user)
		}
		if got, err := r.GetLead(ctx, "env-1", "l1"); err != nil {
			t.Errorf("GetLead in the writing Tx: %v", err)
		} else {
			wantLead(t, "GetLead in the writing Tx", got, lead)
		}
		leads, err := r.GetLeads(ctx, "env-1", []string{"l1"})
		if err != nil {
			return err
		}
		wantLeadSet(t, "GetLeads in the writing Tx", leads, lead)
		list, err := r.ListIntegrations(ctx, "env-1")
		if err != nil {
			return err
		}
		wantIntegrations(t, "ListIntegrations in the writing Tx", list, integration)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testTxCommit(t *testing.T, s ports.Store) {
	env, user, lead, integration := environment(t, "env-1"), users(t, "env-1")[0], fullLead(t, "env-1", "l1"), callConnect(t, "env-1")
	put(t, s, env, user, lead, integration)
	// Visible to a snapshot and to a later transaction.
	if _, err := getEnvironment(t, s, "env-1"); err != nil {
		t.Errorf("GetEnvironment after commit: %v", err)
	}
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if got, err := r.GetUser(ctx, "env-1", user.ID()); err != nil {
			t.Errorf("GetUser in a later Tx: %v", err)
		} else {
			wantUser(t, "GetUser in a later Tx", got, user)
		}
		if got, err := r.GetLead(ctx, "env-1", "l1"); err != nil {
			t.Errorf("GetLead in a later Tx: %v", err)
		} else {
			wantLead(t, "GetLead in a later Tx", got, lead)
		}
		list, err := r.ListIntegrations(ctx, "env-1")
		wantIntegrations(t, "ListIntegrations in a later Tx", list, integration)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// wantUntouched checks that env-1 is stored as env, with no user, lead or
// integration, and that env-2 does not exist.
func wantUntouched(t *testing.T, s ports.Store, what string, env domain.Environment) {
	t.Helper()
	got, err := getEnvironment(t, s, "env-1")
	if err != nil {
		t.Errorf("%s: GetEnvironment: %v", what, err)
	} else {
		wantEnvironment(t, what+": environment", got, env)
	}
	_, err = getUser(t, s, "env-1", "1")
	wantNotFound(t, what+": GetUser", err)
	_, err = getLead(t, s, "env-1", "l1")
	wantNotFound(t, what+": GetLead", err)
	wantIntegrations(t, what+": ListIntegrations", listIntegrations(t, s, "env-1"))
	_, err = getEnvironment(t, s, "env-2")
	wantNotFound(t, what+": GetEnvironment of the new environment", err)
}

func testTxRollback(t *testing.T, s ports.Store) {
	env := environment(t, "env-1")
	put(t, s, env)
	renamed := newEnvironment(t, domain.EnvironmentInput{ID: "env-1", Name: "Renamed", PublicBaseURL: "https://x.example.com"})
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		for _, v := range []any{renamed, users(t, "env-1")[0], fullLead(t, "env-1", "l1"), rotatedCallConnect("env-1", true), environment(t, "env-2")} {
			if err := putValue(ctx, r, v); err != nil {
				return err
			}
		}
		return fmt.Errorf("wrapped: %w", errAbort)
	})
	if !errors.Is(err, errAbort) {
		t.Errorf("Tx must return fn's error (errors.Is), got %v", err)
	}
	wantUntouched(t, s, "after a failed Tx", env)
}

func testTxPanic(t *testing.T, s ports.Store) {
	env := environment(t, "env-1")
	put(t, s, env)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Tx swallowed the panic of fn")
			}
		}()
		err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			for _, v := range []any{users(t, "env-1")[0], fullLead(t, "env-1", "l1"), environment(t, "env-2")} {
				if err := putValue(ctx, r, v); err != nil {
					return err
				}
			}
			panic("portstest: fn panics")
		})
		t.Errorf("Tx returned %v instead of letting the panic of fn through", err)
	}()
	wantUntouched(t, s, "after a panic in Tx", env)

	// The store is still usable: nothing was left locked.
	user := users(t, "env-1")[0]
	done := make(chan error, 1)
	go func() {
		done <- s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutUser(ctx, user) })
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Tx after a panic: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Tx after a panic in another Tx did not finish: the store was left locked")
	}
}

func testTxCancelledContext(t *testing.T, s ports.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		return r.PutEnvironment(ctx, environment(t, "env-1"))
	})
	if err == nil {
		t.Error("Tx with a cancelled context succeeded")
	}
	_, err = getEnvironment(t, s, "env-1")
	wantNotFound(t, "GetEnvironment after a Tx with a cancelled context", err)
}

func testLockEnvironment(t *testing.T, s ports.Store) {
	env := environment(t, "env-1")
	put(t, s, env)
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		got, err := r.LockEnvironment(ctx, "env-1")
		if err != nil {
			return err
		}
		wantEnvironment(t, "LockEnvironment", got, env)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		_, err := r.LockEnvironment(ctx, "missing")
		return err
	})
	wantNotFound(t, "LockEnvironment of a missing environment", err)
}

func testReadOnly(t *testing.T, h Harness) {
	s := h.Store
	put(t, s, environment(t, "env-1"))
	call := restoredCall("env-1", "c1")
	// Each write runs in a Read of its own that returns its error: the
	// write must fail, and the Read must report it.
	writes := []func(ctx context.Context, r ports.Repositories) error{
		func(ctx context.Context, r ports.Repositories) error {
			return r.PutEnvironment(ctx, environment(t, "env-2"))
		},
		func(ctx context.Context, r ports.Repositories) error { return r.PutUser(ctx, users(t, "env-1")[0]) },
		func(ctx context.Context, r ports.Repositories) error {
			return r.PutLead(ctx, minimalLead(t, "env-1", "l1"))
		},
		func(ctx context.Context, r ports.Repositories) error {
			return r.PutIntegration(ctx, callConnect(t, "env-1"))
		},
		func(ctx context.Context, r ports.Repositories) error { return r.PutCall(ctx, call) },
		func(ctx context.Context, r ports.Repositories) error {
			return r.EnqueueDelivery(ctx, ports.Delivery{EnvID: "env-1", CallID: "c1"})
		},
		func(ctx context.Context, r ports.Repositories) error {
			return r.ReplaceCall(ctx, call, domain.CallQueued, 0)
		},
		func(ctx context.Context, r ports.Repositories) error {
			return r.ReleaseDelivery(ctx, ports.Delivery{EnvID: "env-1", CallID: "c1", NotBefore: clickedAt}, time.Time{})
		},
		func(ctx context.Context, r ports.Repositories) error {
			return r.RecordExchange(ctx, outboundExchange("env-1", "x1", "c1"))
		},
	}
	for n, write := range writes {
		ran := false
		err := s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			ran = true
			return write(ctx, r)
		})
		if !ran {
			t.Fatalf("write %d: Read did not run its function (%v)", n, err)
		}
		if err == nil {
			t.Errorf("write %d inside Read succeeded", n)
		}
	}
	wantUntouched(t, s, "after writes inside Read", environment(t, "env-1"))
	_, err := getCall(t, s, "env-1", "c1")
	wantNotFound(t, "GetCall after PutCall inside Read", err)
	wantNoDeliveries(t, h, "after EnqueueDelivery inside Read")
	wantExchanges(t, "after RecordExchange inside Read", h.Exchanges("env-1"))
}

// testReadSnapshot commits a change while a Read is open: the Read must keep
// seeing the state it started with. A store whose writers wait for readers
// passes trivially.
func testReadSnapshot(t *testing.T, h Harness) {
	s := h.Store
	before := environment(t, "env-1")
	after := newEnvironment(t, domain.EnvironmentInput{ID: "env-1", Name: "After", PublicBaseURL: "https://after.example.com"})
	put(t, s, before)
	done := make(chan error, 1)
	committed := false
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		got, err := r.GetEnvironment(ctx, "env-1")
		if err != nil {
			return err
		}
		wantEnvironment(t, "Read, before the concurrent Tx", got, before)
		go func() {
			done <- s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutEnvironment(ctx, after) })
		}()
		// The Tx commits, or waits for a lock the Read holds.
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(time.Minute)
		for {
			select {
			case err := <-done:
				committed = true
				if err != nil {
					return fmt.Errorf("concurrent Tx: %w", err)
				}
				got, err = r.GetEnvironment(ctx, "env-1")
				if err != nil {
					return err
				}
				wantEnvironment(t, "Read must keep one snapshot (PostgreSQL: a REPEATABLE READ, READ ONLY transaction); after a concurrent Tx committed", got, before)
				return nil
			case <-tick.C:
				if h.LockWaiters != nil && h.LockWaiters() > 0 {
					t.Log("the Tx waits for the Read to end")
					return nil
				}
			case <-deadline:
				return errors.New("the concurrent Tx neither committed nor waited for a lock within a minute")
			}
		}
	})
	if !committed {
		if err := <-done; err != nil {
			t.Fatalf("concurrent Tx: %v", err)
		}
	}
	got, err := getEnvironment(t, s, "env-1")
	if err != nil {
		t.Fatal(err)
	}
	wantEnvironment(t, "after the Read", got, after)
}
