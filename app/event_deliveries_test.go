package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// crmEndpoint is a CRM's webhook endpoint as the delivery client reaches
// it: it records each request and answers as answer says (a 2xx by
// default).
type crmEndpoint struct {
	mu       sync.Mutex
	requests []ports.PartnerRequest
	answer   func(req ports.PartnerRequest) ports.PartnerResponse
}

func (c *crmEndpoint) Deliver(_ context.Context, req ports.PartnerRequest) ports.PartnerResponse {
	c.mu.Lock()
	c.requests = append(c.requests, req)
	answer := c.answer
	c.mu.Unlock()
	if answer != nil {
		return answer(req)
	}
	return ports.PartnerResponse{StatusCode: 204}
}

// ids are the webhook-ids of the requests received, in order.
func (c *crmEndpoint) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.requests {
		out = append(out, r.WebhookID)
	}
	return out
}

// eventBodies writes an event as its id and type: what the suite checks
// is that each request carries its own event's body.
type eventBodies struct{}

func (eventBodies) EventPayload(e domain.Event) ([]byte, error) {
	return []byte(e.ID + " " + string(e.Type)), nil
}

type eventsFixture struct {
	store    *memory.Store
	clock    *memory.Clock
	subs     *app.EventSubscriptions
	delivery *app.EventDeliveries
	crm      *crmEndpoint
	calls    int
}

func newEventsFixture(t *testing.T) *eventsFixture {
	t.Helper()
	store := memory.NewStore()
	// Nanoseconds the stores do not keep: a sender must still recognise
	// its claim in what it reads back.
	clock := memory.NewClock(t0.Add(123456789))
	store.SetEventClock(clock)
	random := memory.NewRandom(7)
	f := &eventsFixture{store: store, clock: clock, crm: &crmEndpoint{},
		subs: app.NewEventSubscriptions(store, clock, random, domain.URLPolicy{})}
	f.delivery = app.NewEventDeliveries(store, store, store, clock, random, f.crm, eventBodies{}, app.EventDeliveriesConfig{}, nil)
	config := app.NewConfiguration(store)
	for _, env := range []string{"acme", "other"} {
		must(t)(config.PutEnvironment(t.Context(), domain.EnvironmentInput{ID: env, Name: env, PublicBaseURL: "https://" + env + ".example.com"}))
	}
	return f
}

// subscribe creates the subscription and returns its signing secret.
func (f *eventsFixture) subscribe(t *testing.T, env, id string, types ...string) string {
	t.Helper()
	res, err := f.subs.Put(t.Context(), env, id, domain.EventSubscriptionInput{URL: "https://crm.example.com/" + id, Types: types})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || !strings.HasPrefix(res.NewSecret, "whsec_") {
		t.Fatalf("a new subscription answered %+v", res)
	}
	return res.NewSecret
}

// place writes a call placed in env and then moves it through statuses,
// each in a transaction of its own: the events call.<status>.
func (f *eventsFixture) place(t *testing.T, env string, statuses ...domain.CallStatus) {
	t.Helper()
	f.calls++
	id := fmt.Sprintf("c%d", f.calls)
	for _, st := range append([]domain.CallStatus{domain.CallQueued}, statuses...) {
		reason := ""
		if st == domain.CallNotCompleted {
			reason = "no_answer"
		}
		c := domain.RestoreCall(env, id, "l1", "u1", st, reason, t0, t0.Add(time.Minute), []byte("{}"), nil)
		err := f.store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutCall(ctx, c) })
		if err != nil {
			t.Fatal(err)
		}
	}
}

// feed is the environment's events, in order.
func (f *eventsFixture) feed(t *testing.T, env string) []domain.Event {
	t.Helper()
	page, err := f.store.ListEventsAfter(t.Context(), env, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return page.Events
}

// run steps the subscription as its worker would, the clock moved over
// every wait, until it is idle or gone, or after max steps; it returns the
// last step.
func (f *eventsFixture) run(t *testing.T, env, id string, max int) app.EventStep {
	t.Helper()
	var step app.EventStep
	for range max {
		var err error
		step, err = f.delivery.Step(t.Context(), env, id)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case step.Idle, step.Gone:
			return step
		case step.Wait > 0:
			f.clock.Advance(step.Wait)
		case step.Held:
			t.Fatal("the memory store never holds events back")
		case step.Busy:
			t.Fatal("a head is busy with no other sender")
		}
	}
	return step
}

func eventIDs(events []domain.Event, types ...domain.EventType) []string {
	var out []string
	for _, e := range events {
		if len(types) == 0 || slices.Contains(types, e.Type) {
			out = append(out, e.ID)
		}
	}
	return out
}

func TestEventsReachTheSubscriptionInOrderSigned(t *testing.T) {
	f := newEventsFixture(t)
	f.place(t, "acme", domain.CallDelivered) // before the subscription: not its
	secret := f.subscribe(t, "acme", "crm", "*")
	if n := f.store.EventDeliveryRuns("acme", "crm"); n != 1 {
		t.Errorf("creating the subscription scheduled %d runs, want 1", n)
	}
	before := len(f.feed(t, "acme"))
	for range 4 {
		f.place(t, "acme", domain.CallDelivered, domain.CallNotCompleted)
	}
	f.place(t, "other", domain.CallDelivered) // another environment's
	if step := f.run(t, "acme", "crm", 100); !step.Idle {
		t.Fatalf("the run ended %+v, want idle", step)
	}
	want := eventIDs(f.feed(t, "acme")[before:])
	if got := f.crm.ids(); !slices.Equal(got, want) {
		t.Fatalf("webhook-ids received\n got %v\nwant %v (the feed after the subscription, in order)", got, want)
	}
	for _, r := range f.crm.requests {
		if r.URL != "https://crm.example.com/crm" || !slices.Equal(r.Secrets, []string{secret}) ||
			!strings.HasPrefix(string(r.Body), r.WebhookID+" ") || !r.Timestamp.Equal(f.clock.Now()) {
			t.Errorf("request %s: %s %v %q at %v", r.WebhookID, r.URL, r.Secrets, r.Body, r.Timestamp)
		}
	}
	page, err := f.subs.Deliveries(t.Context(), "acme", "crm", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Deliveries) != len(want) || page.Next != "" {
		t.Fatalf("%d deliveries listed (next %q), want %d", len(page.Deliveries), page.Next, len(want))
	}
	for i, d := range page.Deliveries {
		if d.EventID != want[len(want)-1-i] || d.Status != domain.EventDeliveryDelivered || d.Attempts != 1 || d.LastStatusCode != 204 {
			t.Errorf("delivery %d: %+v", i, d)
		}
	}
}

func TestOnlySubscribedTypesAreSent(t *testing.T) {
	f := newEventsFixture(t)
	f.subscribe(t, "acme", "results", "call.completed", "call.not_completed")
	before := len(f.feed(t, "acme"))
	f.place(t, "acme", domain.CallDelivered, domain.CallCompleted)
	f.place(t, "acme", domain.CallDelivered)
	f.place(t, "acme", domain.CallDelivered, domain.CallNotCompleted)
	f.run(t, "acme", "results", 100)
	want := eventIDs(f.feed(t, "acme")[before:], domain.EventCallCompleted, domain.EventCallNotCompleted)
	if got := f.crm.ids(); len(want) != 2 || !slices.Equal(got, want) {
		t.Fatalf("received %v, want the two results %v", got, want)
	}
	sub, err := f.subs.Get(t.Context(), "acme", "results")
	if err != nil {
		t.Fatal(err)
	}
	all := f.feed(t, "acme")
	if sub.Cursor() != all[len(all)-1].ID {
		t.Errorf("cursor %s, want past the events not wanted, at %s", sub.Cursor(), all[len(all)-1].ID)
	}
}

// TestOutageKeepsOrder: the endpoint fails for a while; the head is
// retried, backing off, and nothing after it is sent before it is
// delivered; once the endpoint is back every event arrives, once, in order.
func TestOutageKeepsOrder(t *testing.T) {
	f := newEventsFixture(t)
	f.subscribe(t, "acme", "crm", "*")
	before := len(f.feed(t, "acme"))
	failures := 0
	f.crm.answer = func(ports.PartnerRequest) ports.PartnerResponse {
		if failures < 6 {
			failures++
			return ports.PartnerResponse{StatusCode: 503, Body: []byte("down for maintenance")}
		}
		return ports.PartnerResponse{StatusCode: 200}
	}
	for range 3 {
		f.place(t, "acme", domain.CallDelivered)
	}
	var waits []time.Duration
	for range 100 {
		step, err := f.delivery.Step(t.Context(), "acme", "crm")
		if err != nil {
			t.Fatal(err)
		}
		if step.Idle {
			break
		}
		if step.Wait > 0 {
			waits = append(waits, step.Wait)
			f.clock.Advance(step.Wait)
		}
	}
	want := eventIDs(f.feed(t, "acme")[before:])
	got := f.crm.ids()
	if !slices.Equal(slices.Compact(slices.Clone(got)), want) {
		t.Fatalf("received %v, want %v in order (repeats of the head allowed)", got, want)
	}
	if len(got) != len(want)+6 {
		t.Errorf("%d requests, want %d events plus 6 failed attempts", len(got), len(want))
	}
	if len(waits) != 6 {
		t.Fatalf("waits %v, want one per failure", waits)
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] < domain.EventMinBackoff/2 {
			t.Errorf("wait %d is %v, shorter than the least backoff", i, waits[i])
		}
	}
	if waits[5] <= waits[0] {
		t.Errorf("the waits do not grow: %v", waits)
	}
	page, _ := f.subs.Deliveries(t.Context(), "acme", "crm", "", 0)
	first := page.Deliveries[len(page.Deliveries)-1]
	if first.Attempts != 7 || first.Status != domain.EventDeliveryDelivered {
		t.Errorf("the first event: %d attempts, %s; want 7, delivered", first.Attempts, first.Status)
	}
	sub, _ := f.subs.Get(t.Context(), "acme", "crm")
	if !sub.FailingSince().IsZero() {
		t.Error("the subscription is still failing after a delivery")
	}
}

// TestGiveUpAfterThreeDaysDisableAfterFive: an endpoint down for good: the
// first event is given up once it has been retried for three days, the
// next one taken, and the subscription disabled five days after its first
// failure; configured again, it is active and tries the event it was on
// afresh.
func TestGiveUpAfterThreeDaysDisableAfterFive(t *testing.T) {
	f := newEventsFixture(t)
	f.subscribe(t, "acme", "crm", "*")
	before := len(f.feed(t, "acme"))
	down := true
	f.crm.answer = func(ports.PartnerRequest) ports.PartnerResponse {
		if down {
			return ports.PartnerResponse{Err: errors.New("connection to https://crm.example.com refused")}
		}
		return ports.PartnerResponse{StatusCode: 200}
	}
	f.place(t, "acme")
	f.place(t, "acme")
	f.place(t, "acme")
	events := eventIDs(f.feed(t, "acme")[before:])
	start := f.clock.Now()

	step := f.run(t, "acme", "crm", 10_000)
	if !step.Gone {
		t.Fatalf("the run ended %+v, want the subscription disabled", step)
	}
	sub, _ := f.subs.Get(t.Context(), "acme", "crm")
	if sub.Active() || sub.DisabledReason() != domain.DisabledEndpointFailing {
		t.Fatalf("subscription %s (%q), want disabled for a failing endpoint", sub.Status(), sub.DisabledReason())
	}
	if age := sub.DisabledAt().Sub(start); age < domain.EventDisableAfter || age > domain.EventDisableAfter+domain.EventMaxBackoff {
		t.Errorf("disabled %v after the first failure, want %v (within a backoff)", age, domain.EventDisableAfter)
	}
	page, _ := f.subs.Deliveries(t.Context(), "acme", "crm", "", 0)
	byEvent := map[string]domain.EventDelivery{}
	for _, d := range page.Deliveries {
		byEvent[d.EventID] = d
	}
	first, second := byEvent[events[0]], byEvent[events[1]]
	if first.Status != domain.EventDeliveryFailed || first.FinishedAt.Sub(first.CreatedAt) < domain.EventRetryWindow ||
		first.FinishedAt.Sub(first.CreatedAt) > domain.EventRetryWindow+domain.EventMaxBackoff {
		t.Errorf("the first event: %s after %v, want failed after the 3-day window", first.Status, first.FinishedAt.Sub(first.CreatedAt))
	}
	if !strings.Contains(first.LastError, "refused") || first.Attempts < 10 {
		t.Errorf("the first event's last error %q after %d attempts", first.LastError, first.Attempts)
	}
	if second.Status != domain.EventDeliveryPending {
		t.Errorf("the second event is %s, want pending (the head when the subscription was disabled)", second.Status)
	}
	if _, ok := byEvent[events[2]]; ok {
		t.Error("the third event was taken while the second was pending")
	}
	sent := len(f.crm.ids())

	// Disabled: nothing is sent, however long one waits.
	f.clock.Advance(24 * time.Hour)
	if step := f.run(t, "acme", "crm", 5); !step.Gone || len(f.crm.ids()) != sent {
		t.Fatalf("a disabled subscription stepped %+v and sent %d", step, len(f.crm.ids())-sent)
	}

	// Configured again: active, and the rest arrives in order.
	down = false
	runs := f.store.EventDeliveryRuns("acme", "crm")
	res, err := f.subs.Put(t.Context(), "acme", "crm", domain.EventSubscriptionInput{URL: "https://crm.example.com/crm", Types: []string{"*"}})
	if err != nil || res.Created || res.NewSecret != "" || !res.Subscription.Active() {
		t.Fatalf("re-enabling: %+v, %v", res, err)
	}
	if f.store.EventDeliveryRuns("acme", "crm") != runs+1 {
		t.Error("re-enabling scheduled no run")
	}
	if step := f.run(t, "acme", "crm", 100); !step.Idle {
		t.Fatalf("after re-enabling the run ended %+v", step)
	}
	got := f.crm.ids()[sent:]
	if !slices.Equal(got, events[1:]) {
		t.Errorf("after re-enabling received %v, want %v", got, events[1:])
	}
}

// While one sender has the head on the wire, another finds it busy and
// leaves it; the first one's outcome is the head's.
func TestAHeadOnTheWireIsNotSentTwice(t *testing.T) {
	f := newEventsFixture(t)
	f.subscribe(t, "acme", "crm", "*")
	f.place(t, "acme")
	var inner app.EventStep
	f.crm.answer = func(ports.PartnerRequest) ports.PartnerResponse {
		f.crm.answer = nil // the inner step must not get here
		var err error
		if inner, err = f.delivery.Step(context.Background(), "acme", "crm"); err != nil {
			t.Error(err)
		}
		return ports.PartnerResponse{StatusCode: 200}
	}
	step, err := f.delivery.Step(t.Context(), "acme", "crm")
	if err != nil {
		t.Fatal(err)
	}
	if !step.Attempted || step.Delivery.Status != domain.EventDeliveryDelivered {
		t.Errorf("the sender's step: %+v", step)
	}
	if !inner.Busy || len(f.crm.ids()) != 1 {
		t.Errorf("a second sender during the attempt: %+v, %d requests", inner, len(f.crm.ids()))
	}
}

// A sender that died mid-attempt holds the head only until its claim
// lapses; then the head is sent again, under the same webhook-id, and the
// dead sender's outcome, should it come late, is not recorded.
func TestAClaimLapses(t *testing.T) {
	f := newEventsFixture(t)
	f.subscribe(t, "acme", "crm", "*")
	f.place(t, "acme")
	f.crm.answer = func(ports.PartnerRequest) ports.PartnerResponse {
		// The process is taken for dead; another sender goes on meanwhile.
		f.crm.answer = nil
		f.clock.Advance(app.DefaultEventClaim)
		if step, err := f.delivery.Step(context.Background(), "acme", "crm"); err != nil || !step.Attempted {
			t.Errorf("the second sender: %+v, %v", step, err)
		}
		return ports.PartnerResponse{StatusCode: 500}
	}
	step, err := f.delivery.Step(t.Context(), "acme", "crm")
	if err != nil {
		t.Fatal(err)
	}
	if !step.Progressed {
		t.Errorf("the sender whose claim lapsed: %+v, want its outcome dropped", step)
	}
	ids := f.crm.ids()
	if len(ids) != 2 || ids[0] != ids[1] {
		t.Errorf("requests %v, want the head twice", ids)
	}
	page, _ := f.subs.Deliveries(t.Context(), "acme", "crm", "", 0)
	if d := page.Deliveries[0]; d.Status != domain.EventDeliveryDelivered || d.Attempts != 1 {
		t.Errorf("the head: %s after %d attempts, want delivered by the second sender's one", d.Status, d.Attempts)
	}
}

func TestEventSubscriptionsManagement(t *testing.T) {
	f := newEventsFixture(t)
	ctx := t.Context()
	secret := f.subscribe(t, "acme", "crm", "call.queued")

	// Replaced: the secret stays, and is not shown.
	res, err := f.subs.Put(ctx, "acme", "crm", domain.EventSubscriptionInput{URL: "https://crm.example.com/crm", Types: []string{"*"}})
	if err != nil || res.NewSecret != "" || res.Created {
		t.Fatalf("replacing: %+v, %v", res, err)
	}
	if got := res.Subscription.SigningSecrets(f.clock.Now()); !slices.Equal(got, []string{secret}) {
		t.Errorf("replacing changed the secret: %v", got)
	}
	rot, err := f.subs.RotateSecret(ctx, "acme", "crm")
	if err != nil || !strings.HasPrefix(rot.NewSecret, "whsec_") || rot.NewSecret == secret {
		t.Fatalf("rotating: %+v, %v", rot, err)
	}
	if got := rot.Subscription.SigningSecrets(f.clock.Now()); !slices.Equal(got, []string{rot.NewSecret, secret}) {
		t.Errorf("after rotating, signing with %v", got)
	}

	// Another environment sees none of it.
	if _, err := f.subs.Get(ctx, "other", "crm"); err == nil {
		t.Error("another environment reads the subscription")
	}
	wantNotFoundCode := func(err error, code string) {
		t.Helper()
		wantCode(t, err, domain.KindNotFound, code)
	}
	_, err = f.subs.Deliveries(ctx, "other", "crm", "", 0)
	wantNotFoundCode(err, app.CodeSubscriptionNotFound)
	wantNotFoundCode(f.subs.Delete(ctx, "other", "crm"), app.CodeSubscriptionNotFound)
	_, err = f.subs.RotateSecret(ctx, "other", "crm")
	wantNotFoundCode(err, app.CodeSubscriptionNotFound)
	_, err = f.subs.List(ctx, "nowhere")
	wantNotFoundCode(err, domain.CodeEnvironmentNotFound)
	_, err = f.subs.Put(ctx, "nowhere", "crm", domain.EventSubscriptionInput{URL: "https://crm.example.com/x", Types: []string{"*"}})
	wantNotFoundCode(err, domain.CodeEnvironmentNotFound)

	// Bad input: an error naming the field, and nothing changed.
	for _, tc := range []struct {
		in    domain.EventSubscriptionInput
		field string
	}{
		{domain.EventSubscriptionInput{URL: "http://crm.example.com/x", Types: []string{"*"}}, "url"},
		{domain.EventSubscriptionInput{URL: "https://10.0.0.8/x", Types: []string{"*"}}, "url"},
		{domain.EventSubscriptionInput{URL: "https://crm.example.com/x"}, "types"},
		{domain.EventSubscriptionInput{URL: "https://crm.example.com/x", Types: []string{"call.lost"}}, "types"},
	} {
		_, err := f.subs.Put(ctx, "acme", "crm", tc.in)
		de, ok := domain.AsError(err)
		if !ok || de.Kind != domain.KindInvalid || de.Field != tc.field {
			t.Errorf("Put(%+v) = %v, want invalid %s", tc.in, err, tc.field)
		}
		_, err = f.subs.Put(ctx, "acme", "new", tc.in)
		if _, getErr := f.subs.Get(ctx, "acme", "new"); err == nil || getErr == nil {
			t.Errorf("a refused creation stored the subscription (%v)", err)
		}
	}
	if got, _ := f.subs.Get(ctx, "acme", "crm"); got.URL() != "https://crm.example.com/crm" {
		t.Errorf("a refused PUT changed the URL to %s", got.URL())
	}
	_, err = f.subs.Deliveries(ctx, "acme", "crm", "not-an-id", 0)
	wantCode(t, err, domain.KindInvalid, domain.CodeInvalidField)
	_, err = f.subs.Deliveries(ctx, "acme", "crm", "", app.MaxDeliveryPage+1)
	wantCode(t, err, domain.KindInvalid, domain.CodeInvalidField)

	// A bounded number per environment.
	for i := 1; i < domain.MaxSubscriptionsPerEnvironment; i++ {
		f.subscribe(t, "acme", fmt.Sprintf("s%d", i), "*")
	}
	_, err = f.subs.Put(ctx, "acme", "one-too-many", domain.EventSubscriptionInput{URL: "https://crm.example.com/x", Types: []string{"*"}})
	wantCode(t, err, domain.KindConflict, app.CodeTooManySubscriptions)

	if err := f.subs.Delete(ctx, "acme", "crm"); err != nil {
		t.Fatal(err)
	}
	if step := f.run(t, "acme", "crm", 3); !step.Gone {
		t.Errorf("a deleted subscription steps %+v", step)
	}
}

// TestDeliveriesPages: a subscription's deliveries page newest first, each
// once, whatever the page size.
func TestDeliveriesPages(t *testing.T) {
	f := newEventsFixture(t)
	f.subscribe(t, "acme", "crm", "*")
	before := len(f.feed(t, "acme"))
	for range 7 {
		f.place(t, "acme")
	}
	f.run(t, "acme", "crm", 100)
	want := eventIDs(f.feed(t, "acme")[before:])
	slices.Reverse(want)
	for _, size := range []int{1, 2, 3, 7, 8} {
		var got []string
		cursor := ""
		for range 20 {
			page, err := f.subs.Deliveries(t.Context(), "acme", "crm", cursor, size)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page.Deliveries {
				got = append(got, d.EventID)
			}
			if cursor = page.Next; cursor == "" {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages of %d: %v, want %v", size, got, want)
		}
	}
}
