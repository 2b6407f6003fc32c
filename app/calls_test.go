package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"callconnect/adapters/cvio"
	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// fakePartner answers each Deliver with the next scripted response and
// keeps the requests it got.
type fakePartner struct {
	mu     sync.Mutex
	script []ports.PartnerResponse
	got    []ports.PartnerRequest
	onCall func()
}

func (p *fakePartner) Deliver(_ context.Context, req ports.PartnerRequest) ports.PartnerResponse {
	p.mu.Lock()
	p.got = append(p.got, req)
	var resp ports.PartnerResponse
	if len(p.script) > 0 {
		resp, p.script = p.script[0], p.script[1:]
	} else {
		resp = ports.PartnerResponse{StatusCode: 200}
	}
	hook := p.onCall
	p.mu.Unlock()
	if hook != nil {
		hook()
	}
	if resp.RequestHeaders == nil {
		resp.RequestHeaders = map[string][]string{"Webhook-Signature": {"v1,secret-looking"}, "Webhook-Id": {req.WebhookID}}
	}
	if resp.Duration == 0 {
		resp.Duration = 20 * time.Millisecond
	}
	return resp
}

type callsFixture struct {
	*fixture
	mem     *memory.Store
	partner *fakePartner
	calls   *app.Calls
}

func newCallsFixture(t *testing.T, cfg app.CallsConfig) *callsFixture {
	t.Helper()
	f := setupButtons(t, "phone")
	partner := &fakePartner{}
	mem := f.store.(*memory.Store)
	return &callsFixture{fixture: f, mem: mem, partner: partner,
		calls: app.NewCalls(f.store, f.clock, memory.NewRandom(7), partner, cvio.Payloads{}, cfg)}
}

// drain runs the scheduled deliveries, as the queue's workers would,
// honouring RetryIn on the fake clock, until none is left.
func (f *callsFixture) drain(t *testing.T) []app.DeliveryOutcome {
	t.Helper()
	var outs []app.DeliveryOutcome
	pending := f.mem.TakeDeliveries()
	for len(pending) > 0 {
		d := pending[0]
		pending = pending[1:]
		out, err := f.calls.Deliver(context.Background(), d.EnvID, d.CallID)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
		if out.RetryIn > 0 {
			f.clock.Advance(out.RetryIn)
			pending = append(pending, d)
		}
		pending = append(pending, f.mem.TakeDeliveries()...)
		if len(outs) > 1000 {
			t.Fatal("delivery does not end")
		}
	}
	return outs
}

func TestPlaceSchedulesOneDeliveryInTheSameTransaction(t *testing.T) {
	f := newCallsFixture(t, app.CallsConfig{DispatchDeadline: 2 * time.Minute, RetryMinBackoff: time.Second})
	call, err := f.calls.Place(context.Background(), "acme", "l1", "b1", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	if err != nil {
		t.Fatal(err)
	}
	if call.Status() != domain.CallQueued || call.LeadID() != "l1" || call.UserID() != "b1" {
		t.Fatalf("placed call: %s %s %s", call.Status(), call.LeadID(), call.UserID())
	}
	ds := f.mem.TakeDeliveries()
	if len(ds) != 1 || ds[0].CallID != call.ID() || ds[0].TraceParent == "" {
		t.Fatalf("deliveries: %+v", ds)
	}
}

func TestRefusedPressCreatesNothing(t *testing.T) {
	f := newCallsFixture(t, app.CallsConfig{})
	ctx := context.Background()
	for _, tc := range []struct{ lead, user, code string }{
		{"l1", "b2", "not_owner"},
		{"l1", "m2", "not_owner"},
		{"l2", "b3", "missing_phone"},
		{"nope", "b1", domain.CodeLeadNotFound},
		{"l1", "nope", domain.CodeUserNotFound},
	} {
		_, err := f.calls.Place(ctx, "acme", tc.lead, tc.user, "")
		if de, ok := domain.AsError(err); !ok || de.Code != tc.code {
			t.Errorf("%s by %s: got %v, want %s", tc.lead, tc.user, err, tc.code)
		}
	}
	must(t)(f.tel.Deactivate(ctx, "acme", "call-connect", "admin"))
	_, err := f.calls.Place(ctx, "acme", "l1", "b1", "")
	if de, ok := domain.AsError(err); !ok || de.Code != "integration_inactive" || de.Kind != domain.KindConflict {
		t.Errorf("inactive integration: %v", err)
	}
	if ds := f.mem.TakeDeliveries(); len(ds) != 0 {
		t.Fatalf("refused presses scheduled %d deliveries", len(ds))
	}
}

func TestRetriesKeepTheWebhookIDAndEndDelivered(t *testing.T) {
	f := newCallsFixture(t, app.CallsConfig{DispatchDeadline: 2 * time.Minute, RetryMinBackoff: time.Second})
	f.partner.script = []ports.PartnerResponse{
		{StatusCode: 500}, {StatusCode: 503, RetryAfter: 7 * time.Second}, {Err: errors.New("i/o timeout")}, {StatusCode: 202},
	}
	call, err := f.calls.Place(context.Background(), "acme", "l1", "b1", "")
	if err != nil {
		t.Fatal(err)
	}
	outs := f.drain(t)
	if len(outs) != 4 || outs[3].Verdict != domain.VerdictDelivered {
		t.Fatalf("outcomes: %+v", outs)
	}
	if outs[1].RetryIn < 7*time.Second {
		t.Fatalf("Retry-After 7s not honoured: %s", outs[1].RetryIn)
	}
	got, _ := f.calls.GetCall(context.Background(), "acme", call.ID())
	if got.Status() != domain.CallDelivered || len(got.Attempts()) != 4 {
		t.Fatalf("call: %s with %d attempts", got.Status(), len(got.Attempts()))
	}
	codes := []int{}
	for _, a := range got.Attempts() {
		codes = append(codes, a.StatusCode)
	}
	if fmt.Sprint(codes) != "[500 503 0 202]" || got.Attempts()[2].Error != "i/o timeout" {
		t.Fatalf("attempts: %+v", got.Attempts())
	}
	for _, r := range f.partner.got {
		if r.WebhookID != call.WebhookID() || string(r.Body) != string(call.Payload()) || r.URL != "https://partner.example.com" {
			t.Fatalf("every retry sends the same id and bytes: %+v", r)
		}
		if len(r.Secrets) != 1 || !strings.HasPrefix(r.Secrets[0], "whsec_") {
			t.Fatalf("secrets: %v", r.Secrets)
		}
	}
	if outs[3].ClickToPartner <= 0 {
		t.Fatal("click-to-partner latency must be measured")
	}
	ex := f.mem.Exchanges("acme")
	if len(ex) != 4 || ex[0].Direction != domain.Outbound || ex[0].CallID != call.ID() || ex[0].LeadID != "l1" {
		t.Fatalf("every attempt is an exchange: %+v", ex)
	}
	if ex[0].RequestHeaders["Webhook-Signature"][0] != domain.Redacted || !strings.Contains(ex[0].RequestBody, `"idligacao"`) {
		t.Fatalf("exchange must redact the signature and keep the body: %+v", ex[0])
	}
}

func TestPermanentRefusalIsUndeliverableAtOnce(t *testing.T) {
	for _, code := range []int{400, 401, 404, 410, 422} {
		f := newCallsFixture(t, app.CallsConfig{})
		f.partner.script = []ports.PartnerResponse{{StatusCode: code}}
		call, _ := f.calls.Place(context.Background(), "acme", "l1", "b1", "")
		outs := f.drain(t)
		got, _ := f.calls.GetCall(context.Background(), "acme", call.ID())
		if len(outs) != 1 || got.Status() != domain.CallUndeliverable || got.Reason() != domain.UndeliverablePartnerRefused || len(f.partner.got) != 1 {
			t.Fatalf("%d: %s %s after %d requests", code, got.Status(), got.Reason(), len(f.partner.got))
		}
	}
}

func TestBlockedDestinationIsUndeliverableAtOnce(t *testing.T) {
	f := newCallsFixture(t, app.CallsConfig{})
	f.partner.script = []ports.PartnerResponse{{Err: fmt.Errorf("dialing 10.0.0.1: %w", ports.ErrBlockedDestination)}}
	call, _ := f.calls.Place(context.Background(), "acme", "l1", "b1", "")
	f.drain(t)
	got, _ := f.calls.GetCall(context.Background(), "acme", call.ID())
	if got.Status() != domain.CallUndeliverable || len(f.partner.got) != 1 {
		t.Fatalf("%s after %d requests", got.Status(), len(f.partner.got))
	}
}

func TestNoAttemptAfterTheDispatchDeadline(t *testing.T) {
	f := newCallsFixture(t, app.CallsConfig{DispatchDeadline: 30 * time.Second, RetryMinBackoff: 2 * time.Second})
	f.partner.script = make([]ports.PartnerResponse, 1000)
	for i := range f.partner.script {
		f.partner.script[i] = ports.PartnerResponse{StatusCode: 503}
	}
	call, _ := f.calls.Place(context.Background(), "acme", "l1", "b1", "")
	var latest time.Time
	f.partner.onCall = func() { latest = f.clock.Now() }
	f.drain(t)
	got, _ := f.calls.GetCall(context.Background(), "acme", call.ID())
	if got.Status() != domain.CallUndeliverable || got.Reason() != domain.UndeliverableDeadlineExceeded {
		t.Fatalf("%s %s", got.Status(), got.Reason())
	}
	if !latest.Before(got.Deadline()) || len(f.partner.got) < 2 {
		t.Fatalf("last attempt at %s, deadline %s, %d attempts", latest, got.Deadline(), len(f.partner.got))
	}

	// A delivery picked up late (the queue was down) is not attempted at all.
	call2, _ := f.calls.Place(context.Background(), "acme", "l1", "b1", "")
	f.clock.Advance(31 * time.Second)
	before := len(f.partner.got)
	f.drain(t)
	got2, _ := f.calls.GetCall(context.Background(), "acme", call2.ID())
	if got2.Status() != domain.CallUndeliverable || len(f.partner.got) != before || len(got2.Attempts()) != 0 {
		t.Fatalf("late pick-up: %s, %d new requests", got2.Status(), len(f.partner.got)-before)
	}

	// Redeliver gives it a fresh deadline.
	f.partner.script = nil
	re, err := f.calls.Redeliver(context.Background(), "acme", call2.ID(), "")
	if err != nil || re.Status() != domain.CallQueued {
		t.Fatalf("redeliver: %v %s", err, re.Status())
	}
	f.drain(t)
	got2, _ = f.calls.GetCall(context.Background(), "acme", call2.ID())
	if got2.Status() != domain.CallDelivered {
		t.Fatalf("after redeliver: %s", got2.Status())
	}
	_, err = f.calls.Redeliver(context.Background(), "acme", call2.ID(), "")
	if de, ok := domain.AsError(err); !ok || de.Code != domain.CodeInvalidTransition {
		t.Fatalf("redeliver of a delivered call: %v", err)
	}
}

func TestDeactivatedIntegrationStopsDelivery(t *testing.T) {
	f := newCallsFixture(t, app.CallsConfig{})
	call, _ := f.calls.Place(context.Background(), "acme", "l1", "b1", "")
	must(t)(f.tel.Deactivate(context.Background(), "acme", "call-connect", "admin"))
	f.drain(t)
	got, _ := f.calls.GetCall(context.Background(), "acme", call.ID())
	if got.Status() != domain.CallUndeliverable || got.Reason() != domain.UndeliverableNoIntegration || len(f.partner.got) != 0 {
		t.Fatalf("%s %s, %d requests", got.Status(), got.Reason(), len(f.partner.got))
	}
}

func TestSettledCallIsNotDeliveredAgain(t *testing.T) {
	f := newCallsFixture(t, app.CallsConfig{})
	call, _ := f.calls.Place(context.Background(), "acme", "l1", "b1", "")
	f.drain(t)
	// A duplicate job (a rescued worker, say) finds the call delivered.
	out, err := f.calls.Deliver(context.Background(), "acme", call.ID())
	if err != nil || out.Attempted || len(f.partner.got) != 1 {
		t.Fatalf("duplicate delivery: attempted=%v, %d requests, %v", out.Attempted, len(f.partner.got), err)
	}
	_, err = f.calls.GetCall(context.Background(), "other", call.ID())
	if de, ok := domain.AsError(err); !ok || de.Code != domain.CodeEnvironmentNotFound {
		t.Fatalf("another environment: %v", err)
	}
	_, err = f.calls.GetCall(context.Background(), "acme", "nope")
	if de, ok := domain.AsError(err); !ok || de.Code != domain.CodeCallNotFound {
		t.Fatalf("unknown call: %v", err)
	}
}

// List pages through an environment's calls newest first, with a cursor
// that ends on the last page, and refuses an unknown status.
func TestListCallsPages(t *testing.T) {
	ctx := context.Background()
	f := newCallsFixture(t, app.CallsConfig{})
	var placed []string
	for range 5 {
		c, err := f.calls.Place(ctx, "acme", "l1", "b1", "")
		if err != nil {
			t.Fatal(err)
		}
		placed = append(placed, c.ID())
		f.drain(t) // delivered, so the next click is not a second click while it is under way
		f.clock.Advance(time.Second)
	}
	var got []string
	filter := ports.CallFilter{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the cursor never ends")
		}
		page, err := f.calls.List(ctx, "acme", filter)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Calls {
			got = append(got, c.ID())
		}
		if page.Next == nil {
			break
		}
		filter.Before = page.Next
	}
	want := []string{placed[4], placed[3], placed[2], placed[1], placed[0]}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("pages: got %v, want %v", got, want)
	}
	_, err := f.calls.List(ctx, "acme", ports.CallFilter{Status: "failed"})
	wantCode(t, err, domain.KindInvalid, domain.CodeInvalidField)
	_, err = f.calls.List(ctx, "nowhere", ports.CallFilter{})
	wantCode(t, err, domain.KindNotFound, domain.CodeEnvironmentNotFound)
}

// TestCallRecordingIsTheCallsLatest: a call's recording is the one of the
// newest entry of its lead's history that belongs to the call and has one;
// newer entries without one, and other calls' recordings, do not count.
func TestCallRecordingIsTheCallsLatest(t *testing.T) {
	f := newCallsFixture(t, app.CallsConfig{})
	ctx := context.Background()
	place := func(lead, user string) domain.Call {
		t.Helper()
		c, err := f.calls.Place(ctx, "acme", lead, user, "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first, second, other := place("l1", "b1"), place("l1", "m1"), place("l2", "m1")
	at := time.Date(2026, 3, 19, 14, 0, 0, 0, time.UTC)
	entry := func(id, callID, recordingID string, at time.Time) domain.Interaction {
		t.Helper()
		in := domain.InteractionInput{ID: id, EnvID: "acme", LeadID: "l1", Type: domain.InteractionTypeCall,
			CallID: callID, RecordingID: recordingID, OccurredAt: at}
		if recordingID != "" {
			in.RecordingSHA256 = strings.Repeat("a", 64)
		}
		i, err := domain.NewInteraction(in)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	err := f.store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		for _, i := range []domain.Interaction{
			entry("i1", first.ID(), "rec-first-old", at),
			entry("i2", first.ID(), "rec-first-new", at.Add(time.Minute)),
			entry("i3", first.ID(), "", at.Add(2*time.Minute)),
			entry("i4", second.ID(), "rec-second", at.Add(3*time.Minute)),
			entry("i5", "", "rec-no-call", at.Add(4*time.Minute)),
		} {
			if err := r.AddInteraction(ctx, i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		call domain.Call
		want string
	}{{first, "rec-first-new"}, {second, "rec-second"}, {other, ""}} {
		got, err := f.calls.CallRecording(ctx, "acme", c.call)
		if err != nil || got != c.want {
			t.Errorf("CallRecording of %s: %q, %v; want %q", c.call.ID(), got, err, c.want)
		}
	}
}

// A second click by the same user on the same lead while the first call is
// still on its way is refused with the first call's id; once it is
// delivered, or for another user, a click places a call again.
func TestSecondClickWhileTheFirstIsUnderWay(t *testing.T) {
	f := newCallsFixture(t, app.CallsConfig{})
	ctx := context.Background()
	first, err := f.calls.Place(ctx, "acme", "l1", "b1", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.calls.Place(ctx, "acme", "l1", "b1", "")
	de, ok := domain.AsError(err)
	if !ok || de.Code != app.CodeCallInProgress || de.Kind != domain.KindConflict || de.Ref != first.ID() {
		t.Fatalf("second click: %v (%+v), want call_in_progress naming %s", err, de, first.ID())
	}
	// Another owner of the same lead is not held up by it.
	if _, err := f.calls.Place(ctx, "acme", "l1", "m1", ""); err != nil {
		t.Fatalf("another user's click: %v", err)
	}
	if n := len(f.drain(t)); n != 2 {
		t.Fatalf("%d deliveries, want 2: the refused click scheduled one", n)
	}
	if _, err := f.calls.Place(ctx, "acme", "l1", "b1", ""); err != nil {
		t.Fatalf("a click after the first call was delivered: %v", err)
	}
}

// A call still queued at its dispatch deadline (no worker took it in time)
// no longer holds the user's next click on the lead.
func TestClickAfterTheFirstCallsDeadline(t *testing.T) {
	f := newCallsFixture(t, app.CallsConfig{DispatchDeadline: time.Minute})
	ctx := context.Background()
	first, err := f.calls.Place(ctx, "acme", "l1", "b1", "")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(59 * time.Second)
	if _, err := f.calls.Place(ctx, "acme", "l1", "b1", ""); err == nil {
		t.Fatal("a click before the first call's deadline placed a call")
	}
	f.clock.Advance(time.Second)
	second, err := f.calls.Place(ctx, "acme", "l1", "b1", "")
	if err != nil || second.ID() == first.ID() {
		t.Fatalf("a click at the first call's deadline: %v, %v", second.ID(), err)
	}
}
