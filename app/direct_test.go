package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/cvio"
	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

const clickTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

// inline runs each direct delivery as soon as it is handed over, on the
// caller's goroutine, and keeps what it was given. places bounds the
// deliveries taken (unlimited when negative); ctx is the runs' context.
type inline struct {
	places int
	ctx    context.Context
	grace  time.Duration

	ran      []ports.Delivery
	outcomes []app.DeliveryOutcome
	errs     []error
}

func (d *inline) Reserve() (app.DirectSlot, bool) {
	if d.places == 0 {
		return nil, false
	}
	d.places--
	return inlineSlot{d}, true
}

func (d *inline) Grace() time.Duration { return d.grace }

type inlineSlot struct{ d *inline }

func (s inlineSlot) Run(del ports.Delivery, deliver func(context.Context) (app.DeliveryOutcome, error)) {
	ctx := s.d.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	out, err := deliver(ctx)
	s.d.ran = append(s.d.ran, del)
	s.d.outcomes = append(s.d.outcomes, out)
	s.d.errs = append(s.d.errs, err)
}

func (s inlineSlot) Cancel() { s.d.places++ }

func newDirectFixture(t *testing.T, d *inline) *callsFixture {
	t.Helper()
	f := newCallsFixture(t, app.CallsConfig{DispatchDeadline: 2 * time.Minute, RetryMinBackoff: time.Second})
	if d.grace == 0 {
		d.grace = 22 * time.Second
	}
	f.calls.DeliverDirectly(d)
	return f
}

// A call placed with a place free is delivered by the process that placed
// it, on what the click read: its job is held until the grace has passed
// and dropped once the outcome is recorded, so no worker ever sees it.
func TestDirectDeliveryIsThePlacersOwn(t *testing.T) {
	d := &inline{places: -1}
	f := newDirectFixture(t, d)
	call, err := f.calls.Place(context.Background(), "acme", "l1", "b1", clickTrace)
	if err != nil {
		t.Fatal(err)
	}
	if call.Status() != domain.CallQueued {
		t.Errorf("Place answered the call %s, want queued", call.Status())
	}
	if len(d.ran) != 1 || d.ran[0].CallID != call.ID() || d.ran[0].TraceParent != clickTrace ||
		!d.ran[0].NotBefore.Equal(call.ClickedAt().Add(d.grace)) {
		t.Fatalf("direct deliveries %+v, want the call's, held until %s", d.ran, call.ClickedAt().Add(d.grace))
	}
	if d.errs[0] != nil || d.outcomes[0].Verdict != domain.VerdictDelivered || d.outcomes[0].Call.Status() != domain.CallDelivered {
		t.Fatalf("outcome %+v, %v", d.outcomes[0], d.errs[0])
	}
	got, err := f.calls.GetCall(context.Background(), "acme", call.ID())
	if err != nil || got.Status() != domain.CallDelivered || len(got.Attempts()) != 1 {
		t.Fatalf("stored call %s with %d attempts (%v), want delivered with one", got.Status(), len(got.Attempts()), err)
	}
	if req := f.partner.got; len(req) != 1 || req[0].WebhookID != call.WebhookID() || string(req[0].Body) != string(call.Payload()) ||
		req[0].URL != "https://partner.example.com" || len(req[0].Secrets) != 1 {
		t.Fatalf("partner requests %+v", req)
	}
	if ex := f.mem.Exchanges("acme"); len(ex) != 1 || ex[0].CallID != call.ID() {
		t.Fatalf("exchanges %+v, want the attempt's", ex)
	}
	if held, queued := f.mem.HeldDeliveries(), f.mem.TakeDeliveries(); len(held) != 0 || len(queued) != 0 {
		t.Fatalf("held %+v, queued %+v: want the job dropped", held, queued)
	}
}

// A direct attempt the partner answers 503 hands the call to the queue,
// due at its retry; a worker then delivers it.
func TestDirectDeliveryRetryIsTheQueues(t *testing.T) {
	d := &inline{places: -1}
	f := newDirectFixture(t, d)
	f.partner.script = []ports.PartnerResponse{{StatusCode: 503}, {StatusCode: 200}}
	call, err := f.calls.Place(context.Background(), "acme", "l1", "b1", "")
	if err != nil {
		t.Fatal(err)
	}
	out := d.outcomes[0]
	if out.Verdict != domain.VerdictRetry || out.RetryIn <= 0 || out.Call.Status() != domain.CallQueued {
		t.Fatalf("outcome %+v", out)
	}
	queued := f.mem.TakeDeliveries()
	if len(queued) != 1 || queued[0].CallID != call.ID() || queued[0].NotBefore.IsZero() {
		t.Fatalf("queued %+v, want the call due at its retry", queued)
	}
	if want := f.clock.Now().Add(20 * time.Millisecond).Add(out.RetryIn); !queued[0].NotBefore.Equal(want) {
		t.Errorf("due at %s, want the attempt's end plus the wait, %s", queued[0].NotBefore, want)
	}
	f.clock.Advance(out.RetryIn)
	again, err := f.calls.Deliver(context.Background(), "acme", call.ID())
	if err != nil || again.Call.Status() != domain.CallDelivered || len(again.Call.Attempts()) != 2 {
		t.Fatalf("the worker's attempt: %+v, %v", again, err)
	}
}

// The partner's result lands while the direct attempt is on the wire: the
// result's status stays, the attempt is kept, and the job is dropped.
func TestDirectDeliveryOvertakenByTheResult(t *testing.T) {
	d := &inline{places: -1}
	f := newDirectFixture(t, d)
	f.partner.onCall = func() { // the partner's result, before its answer to the call
		f.partner.mu.Lock()
		placed := strings.TrimPrefix(f.partner.got[len(f.partner.got)-1].WebhookID, "msg_")
		f.partner.mu.Unlock()
		err := f.store.Tx(context.Background(), func(ctx context.Context, r ports.Repositories) error {
			call, err := r.LockCall(ctx, "acme", placed)
			if err != nil {
				return err
			}
			if err := domain.RecordCallResult(&call, domain.OutcomeNotCompleted, "busy"); err != nil {
				return err
			}
			return r.PutCall(ctx, call)
		})
		if err != nil {
			t.Error(err)
		}
	}
	call, err := f.calls.Place(context.Background(), "acme", "l1", "b1", "")
	if err != nil {
		t.Fatal(err)
	}
	if d.errs[0] != nil {
		t.Fatal(d.errs[0])
	}
	got, _ := f.calls.GetCall(context.Background(), "acme", call.ID())
	if got.Status() != domain.CallNotCompleted || got.Reason() != "busy" || len(got.Attempts()) != 1 || got.Attempts()[0].StatusCode != 200 {
		t.Fatalf("call %s (%s) with attempts %+v, want not_completed (busy) with the 200 kept", got.Status(), got.Reason(), got.Attempts())
	}
	if out := d.outcomes[0]; out.RetryIn != 0 || out.Call.Status() != domain.CallNotCompleted {
		t.Errorf("outcome %+v", out)
	}
	if held, queued := f.mem.HeldDeliveries(), f.mem.TakeDeliveries(); len(held) != 0 || len(queued) != 0 {
		t.Fatalf("held %+v, queued %+v: want the job dropped", held, queued)
	}
	if ex := f.mem.Exchanges("acme"); len(ex) != 1 {
		t.Fatalf("%d exchanges, want the attempt's", len(ex))
	}
}

// A process stopping before the request went out sends nothing and hands
// the call to the queue at once.
func TestDirectDeliveryStoppingHandsTheCallOver(t *testing.T) {
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	d := &inline{places: -1, ctx: stopped}
	f := newDirectFixture(t, d)
	call, err := f.calls.Place(context.Background(), "acme", "l1", "b1", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.partner.got) != 0 || d.outcomes[0].Attempted || d.errs[0] != nil {
		t.Fatalf("%d requests, outcome %+v, %v: want none sent", len(f.partner.got), d.outcomes[0], d.errs[0])
	}
	queued := f.mem.TakeDeliveries()
	if len(queued) != 1 || queued[0].CallID != call.ID() || !queued[0].NotBefore.Equal(f.clock.Now()) {
		t.Fatalf("queued %+v, want the call due now", queued)
	}
	got, _ := f.calls.GetCall(context.Background(), "acme", call.ID())
	if got.Status() != domain.CallQueued || len(got.Attempts()) != 0 {
		t.Fatalf("call %s with %d attempts, want queued with none", got.Status(), len(got.Attempts()))
	}
}

// With no place free the call goes through the queue, due at once; a
// refused press takes no place.
func TestDirectDeliveryWithoutPlaceIsQueued(t *testing.T) {
	d := &inline{places: 0}
	f := newDirectFixture(t, d)
	call, err := f.calls.Place(context.Background(), "acme", "l1", "b1", "")
	if err != nil {
		t.Fatal(err)
	}
	if queued := f.mem.TakeDeliveries(); len(queued) != 1 || queued[0].CallID != call.ID() || !queued[0].NotBefore.IsZero() {
		t.Fatalf("queued %+v, want the call due now", queued)
	}
	d.places = 1
	if _, err := f.calls.Place(context.Background(), "acme", "l1", "b2", ""); err == nil {
		t.Fatal("a refused press was placed")
	}
	if d.places != 1 || len(d.ran) != 0 {
		t.Errorf("a refused press left %d places (want 1) and ran %d deliveries", d.places, len(d.ran))
	}
}

// A store that fails a write of the record leaves the job held: a worker
// runs it once the grace has passed.
func TestDirectDeliveryFailedRecordKeepsTheJobHeld(t *testing.T) {
	d := &inline{places: -1}
	f := newDirectFixture(t, d)
	failing := errors.New("the database went away")
	f.calls = app.NewCalls(failingRecord{f.store, failing}, f.clock, memory.NewRandom(8), f.partner, cvio.Payloads{}, app.CallsConfig{})
	f.calls.DeliverDirectly(d)
	call, err := f.calls.Place(context.Background(), "acme", "l1", "b1", "")
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(d.errs[0], failing) {
		t.Fatalf("the direct delivery's error %v, want the store's", d.errs[0])
	}
	if held := f.mem.HeldDeliveries(); len(held) != 1 || held[0].CallID != call.ID() {
		t.Fatalf("held %+v, want the call's job, for a worker after the grace", held)
	}
}

// failingRecord fails every transaction that records an exchange.
type failingRecord struct {
	ports.Store
	err error
}

func (s failingRecord) Tx(ctx context.Context, fn func(context.Context, ports.Repositories) error) error {
	return s.Store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		r.Exchanges = failingExchanges{r.Exchanges, s.err}
		return fn(ctx, r)
	})
}

type failingExchanges struct {
	ports.Exchanges
	err error
}

func (r failingExchanges) RecordExchange(context.Context, domain.Exchange) error { return r.err }
