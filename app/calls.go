package app

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// CallsConfig is the delivery policy of the deployment.
type CallsConfig struct {
	// DispatchDeadline is how long after the click (or a redeliver) a call may
	// still be delivered; past it the call is undeliverable.
	DispatchDeadline time.Duration
	// RetryMinBackoff is the first retry's ceiling; later ones double.
	RetryMinBackoff time.Duration
	// ResultDeadline is how long after the partner accepted a call its
	// result may take; past it the call is no_result (sem retorno).
	// domain.DefaultResultDeadline when zero.
	ResultDeadline time.Duration
}

// Calls places calls (Ligar) and delivers them to the partner.
type Calls struct {
	store    ports.Store
	clock    ports.Clock
	random   ports.Random
	client   ports.PartnerClient
	payloads ports.CallPayloads
	cfg      CallsConfig
	direct   DirectDeliveries // nil: every call goes through the queue
}

// NewCalls builds the service.
func NewCalls(store ports.Store, clock ports.Clock, random ports.Random, client ports.PartnerClient, payloads ports.CallPayloads, cfg CallsConfig) *Calls {
	if cfg.DispatchDeadline <= 0 {
		cfg.DispatchDeadline = 2 * time.Minute
	}
	if cfg.RetryMinBackoff <= 0 {
		cfg.RetryMinBackoff = time.Second
	}
	cfg = cfg.withResultDeadline()
	return &Calls{store: store, clock: clock, random: random, client: client, payloads: payloads, cfg: cfg}
}

// CodeCallInProgress: the user's previous call to the lead is still queued
// or being delivered; its id is the error's Ref.
const CodeCallInProgress = "call_in_progress"

// Place records a press of Ligar by userID on leadID and schedules its
// delivery in the same transaction. A press the button rules refuse (rule 6)
// creates nothing and returns the button's reason as the error code.
// traceParent (W3C, may be empty) links the delivery to the click's trace.
//
// With DeliverDirectly, and a place free, the call's first attempt starts
// as soon as the transaction commits, in this process, on what the click
// read (the integration's URL and secrets): no worker has to pick the call
// up and claim it. Its job is still enqueued with the call, held until
// later than the attempt can last, for a worker to run should this process
// die first (see DirectDeliveries). The call stays queued in storage until
// the attempt's outcome is recorded: that it is on the wire is this
// process's to know, as it is a worker's between its claim and its record.
func (s *Calls) Place(ctx context.Context, envID, leadID, userID, traceParent string) (domain.Call, error) {
	var (
		call     domain.Call
		delivery ports.Delivery
		slot     DirectSlot // taken for a direct delivery; nil otherwise
		integ    domain.Integration
	)
	defer func() {
		if slot != nil { // not handed to Run: the call was not placed
			slot.Cancel()
		}
	}()
	err := s.store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		d, err := decide(ctx, r, envID, leadID, userID)
		if err != nil {
			return err
		}
		if err := d.button.Err(); err != nil {
			return err
		}
		if d.openCallID != "" {
			// A double click, or a retry without an Idempotency-Key: the
			// first call is still on its way to the partner.
			return &domain.Error{Kind: domain.KindConflict, Code: CodeCallInProgress, Field: "lead_id", Ref: d.openCallID,
				Message: fmt.Sprintf("call %s of this user to this lead is still being delivered; a second one is not placed", d.openCallID)}
		}
		env, lead, user, cc, button := d.env, d.lead, d.user, d.cc, d.button
		byID := make(map[string]domain.User, len(d.owners))
		for _, u := range d.owners {
			byID[u.ID()] = u
		}
		id := s.random.NewID()
		now := s.clock.Now()
		payload, err := s.payloads.CallPayload(domain.PartnerPayloadInput{Env: env, Lead: lead, Actor: user, Owners: byID,
			CallID: id, ClickedAt: now, DialMode: cc.DialMode()})
		if err != nil {
			return err
		}
		call, err = domain.NewCall(id, env, lead, user, button, now, s.cfg.DispatchDeadline, payload)
		if err != nil {
			return err
		}
		if err := r.PutCall(ctx, call); err != nil {
			return err
		}
		delivery = ports.Delivery{EnvID: envID, CallID: id, TraceParent: traceParent}
		if slot == nil && s.direct != nil && domain.CallConnectLive(env, cc) {
			if taken, ok := s.direct.Reserve(); ok {
				slot, integ = taken, *cc
				delivery.NotBefore = now.Add(s.direct.Grace())
			}
		}
		return r.EnqueueDelivery(ctx, delivery)
	})
	if err == nil && slot != nil {
		placed, held := call, delivery
		slot.Run(delivery, func(ctx context.Context) (DeliveryOutcome, error) { return s.deliverDirect(ctx, placed, held, integ) })
		slot = nil
	}
	return call, err
}

// DirectDeliveries runs in the background the deliveries that the process
// placing a call makes itself, at once, instead of leaving them to the
// queue's workers (see Place). The queue holds a job for each
// (ports.Delivery.NotBefore, Grace after the click), which runs only if the
// process dies before the delivery's outcome is recorded; recording it
// releases the job (ports.Calls.ReleaseDelivery): dropped, or due for a
// worker when the partner asked for a retry.
type DirectDeliveries interface {
	// Reserve takes a place for one delivery; false when every place is
	// taken or the process is stopping, and the call then goes through
	// the queue. The place is the caller's until it calls Run or Cancel.
	Reserve() (DirectSlot, bool)
	// Grace is how long the queue holds a direct delivery's job back:
	// longer than a direct delivery may last, from the click to its
	// outcome recorded.
	Grace() time.Duration
}

// DirectSlot is a place taken for one direct delivery.
type DirectSlot interface {
	// Run runs deliver in the background, on a context that ends when the
	// delivery has had its time or the process stops; d says which
	// delivery it is (its NotBefore is when its held job becomes due).
	Run(d ports.Delivery, deliver func(ctx context.Context) (DeliveryOutcome, error))
	// Cancel gives the place back unused.
	Cancel()
}

// DeliverDirectly makes Place deliver calls through d when it has room
// (see DirectDeliveries). Call it before Place is used.
func (s *Calls) DeliverDirectly(d DirectDeliveries) { s.direct = d }

// deliverDirect makes the first attempt of a call that Place just
// committed (queued) with its held delivery, on the integration the click
// read, and records it.
func (s *Calls) deliverDirect(ctx context.Context, placed domain.Call, held ports.Delivery, integ domain.Integration) (DeliveryOutcome, error) {
	started := s.clock.Now()
	call := placed
	if ctx.Err() != nil || call.StartAttempt(started) != nil {
		// Stopping before the request went out, or past the dispatch
		// deadline already: the queue's worker takes the call from here
		// (and gives it up if it is too late).
		err := s.store.Tx(context.WithoutCancel(ctx), func(ctx context.Context, r ports.Repositories) error {
			return r.ReleaseDelivery(ctx, held, started)
		})
		return DeliveryOutcome{Call: placed}, err
	}
	req := ports.PartnerRequest{URL: integ.PartnerURL(), Body: call.Payload(), WebhookID: call.WebhookID(),
		Secrets: integ.SigningSecrets(started), Timestamp: started}
	return s.attempt(ctx, placed, call, req, started, &held)
}

func (cfg CallsConfig) withResultDeadline() CallsConfig {
	if cfg.ResultDeadline <= 0 {
		cfg.ResultDeadline = domain.DefaultResultDeadline
	}
	return cfg
}

// ResultDeadline is how long after the partner accepted a call its result
// may take before the call is no_result.
func (s *Calls) ResultDeadline() time.Duration { return s.cfg.ResultDeadline }

// GetCall reads a call with its attempts, as it stands now: a delivered
// call whose result deadline has passed reads no_result at once, whether
// or not the periodic job (NoResultMarker) has written it yet.
func (s *Calls) GetCall(ctx context.Context, envID, callID string) (domain.Call, error) {
	var call domain.Call
	err := s.store.Read(ctx, func(ctx context.Context, r ports.Repositories) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		call, err = r.GetCall(ctx, envID, callID)
		return callNotFound(err, callID)
	})
	return s.asRead(call, s.clock.Now()), err
}

// asRead is c as a reader at now sees it: marked no_result when its result
// deadline has passed (a copy; nothing is written).
func (s *Calls) asRead(c domain.Call, now time.Time) domain.Call {
	if c.Status() == domain.CallDelivered && c.StatusAt(now, s.cfg.ResultDeadline) == domain.CallNoResult {
		_ = c.MarkNoResult(now, s.cfg.ResultDeadline) // StatusAt said it may
	}
	return c
}

// Redeliver puts an undeliverable call back in the queue with a fresh
// dispatch deadline and schedules a delivery.
func (s *Calls) Redeliver(ctx context.Context, envID, callID, traceParent string) (domain.Call, error) {
	var call domain.Call
	err := s.store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		call, err = r.LockCall(ctx, envID, callID)
		if err != nil {
			return callNotFound(err, callID)
		}
		if err := call.Redeliver(s.clock.Now(), s.cfg.DispatchDeadline); err != nil {
			return err
		}
		if err := r.PutCall(ctx, call); err != nil {
			return err
		}
		return r.EnqueueDelivery(ctx, ports.Delivery{EnvID: envID, CallID: callID, TraceParent: traceParent})
	})
	return call, err
}

// DeliveryOutcome tells the worker what became of one Deliver.
type DeliveryOutcome struct {
	Call domain.Call
	// Attempted is false when no request was sent (the call was already
	// settled, the deadline had passed, or the integration is off).
	Attempted  bool
	StatusCode int
	Verdict    domain.Verdict
	// RetryIn, when positive, asks for another Deliver after that long.
	RetryIn time.Duration
	// ClickToPartner is the time from the click to the partner's 2xx, when delivered.
	ClickToPartner time.Duration
}

// ErrBlockedDestination is wrapped by a PartnerClient that refused to
// connect (a private address, a redirect to another host): trying again
// cannot help, so the call is undeliverable at once.
var ErrBlockedDestination = errors.New("destination refused by the delivery policy")

// Deliver makes one delivery attempt of a call, as a worker asks: it claims
// the call (queued → delivering) in one transaction, posts it to the
// partner outside any transaction, then records the attempt, the exchange
// and the new status in a second one (see attempt).
func (s *Calls) Deliver(ctx context.Context, envID, callID string) (DeliveryOutcome, error) {
	var (
		out  DeliveryOutcome
		req  ports.PartnerRequest
		send bool
	)
	started := s.clock.Now()
	err := s.store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		dc, err := r.LockCallForDelivery(ctx, envID, callID)
		if err != nil {
			return callNotFound(err, callID)
		}
		call := dc.Call
		out.Call = call
		if call.Status() != domain.CallQueued && call.Status() != domain.CallDelivering {
			return nil // settled meanwhile: nothing to deliver
		}
		var integ domain.Integration
		active := domain.CallConnectLive(dc.Env, dc.CallConnect)
		if active {
			integ = *dc.CallConnect
		}
		switch {
		case !active:
			err = call.GiveUp(nil, domain.UndeliverableNoIntegration)
		case call.PastDeadline(started):
			err = call.GiveUp(nil, domain.UndeliverableDeadlineExceeded)
		default:
			err = call.StartAttempt(started)
			send = true
			req = ports.PartnerRequest{URL: integ.PartnerURL(), Body: call.Payload(), WebhookID: call.WebhookID(),
				Secrets: integ.SigningSecrets(started), Timestamp: started}
		}
		if err != nil {
			return err
		}
		out.Call = call
		return r.PutCall(ctx, call)
	})
	if err != nil || !send {
		return out, err
	}

	return s.attempt(ctx, out.Call, out.Call, req, started, nil)
}

// attempt posts req, an attempt of call (delivering, in memory) started at
// started, to the partner outside any transaction, and records its outcome:
// the exchange, the attempt, the call's new status and, for a direct
// delivery (held, as enqueued), the end of its held job (or its retry by
// the queue). claimed is
// the call as stored when the attempt started; the outcome is written only
// if the call is still so (ports.Calls.ReplaceCall), with no read of it
// first: the whole record is one round trip. When something wrote the call
// meanwhile (the partner's result may overtake our record of the
// delivery), the record is made again on the call as it now is, locked.
func (s *Calls) attempt(ctx context.Context, claimed, call domain.Call, req ports.PartnerRequest, started time.Time, held *ports.Delivery) (DeliveryOutcome, error) {
	envID, callID := call.EnvID(), call.ID()
	out := DeliveryOutcome{Call: call}
	resp := s.client.Deliver(ctx, req)
	out.Attempted, out.StatusCode = true, resp.StatusCode
	if resp.Duration <= 0 {
		resp.Duration = s.clock.Now().Sub(started)
	}
	ended := started.Add(resp.Duration)
	attempt := domain.Attempt{At: started, StatusCode: resp.StatusCode, Duration: resp.Duration}
	if resp.Err != nil {
		attempt.Error = resp.Err.Error()
	} else if domain.Judge(resp.StatusCode) != domain.VerdictDelivered {
		attempt.Error = fmt.Sprintf("partner answered %d", resp.StatusCode)
	}
	out.Verdict = domain.Judge(resp.StatusCode)
	if errors.Is(resp.Err, ErrBlockedDestination) {
		out.Verdict = domain.VerdictPermanent
	}
	exchange := domain.Exchange{
		ID: s.random.NewID(), EnvID: envID, Direction: domain.Outbound, Method: "POST", URL: domain.RedactURL(req.URL),
		StatusCode: resp.StatusCode, Duration: resp.Duration, CallID: callID, LeadID: call.LeadID(), OccurredAt: started,
		RequestHeaders: domain.RedactHeaders(resp.RequestHeaders), RequestBody: domain.TruncateBody(req.Body),
		ResponseBody: domain.TruncateBody(resp.Body), Error: attempt.Error,
	}
	// release ends a direct delivery's held job: over, or due again after
	// retryIn.
	release := func(ctx context.Context, r ports.Repositories, retryIn time.Duration) error {
		if held == nil {
			return nil
		}
		var retryAt time.Time
		if retryIn > 0 {
			retryAt = ended.Add(retryIn)
		}
		return r.ReleaseDelivery(ctx, *held, retryAt)
	}

	// The outcome is recorded even if the worker's context ended meanwhile:
	// the partner may have the call, and that must not be forgotten.
	recordCtx := context.WithoutCancel(ctx)
	next := call
	retryIn, toPartner, err := s.settle(&next, attempt, out.Verdict, ended, resp.RetryAfter)
	if err != nil {
		return out, err
	}
	err = s.store.Tx(recordCtx, func(ctx context.Context, r ports.Repositories) error {
		if err := r.RecordExchange(ctx, exchange); err != nil {
			return err
		}
		if err := r.ReplaceCall(ctx, next, claimed.Status(), len(claimed.Attempts())); err != nil {
			return err
		}
		return release(ctx, r, retryIn)
	})
	if err == nil {
		out.Call, out.RetryIn, out.ClickToPartner = next, retryIn, toPartner
		return out, nil
	}
	if !errors.Is(err, ports.ErrCallChanged) {
		return out, err
	}
	err = s.store.Tx(recordCtx, func(ctx context.Context, r ports.Repositories) error {
		call, err := r.LockCall(ctx, envID, callID)
		if err != nil {
			return callNotFound(err, callID)
		}
		if err := r.RecordExchange(ctx, exchange); err != nil {
			return err
		}
		out.RetryIn, out.ClickToPartner = 0, 0
		if call.Status() != domain.CallDelivering {
			// Something settled the call while we were on the wire (a
			// result from the partner, say): keep the attempt, not its status.
			if err := call.LateAttempt(attempt); err != nil {
				return err
			}
			out.Call = call
			if err := r.PutCall(ctx, call); err != nil {
				return err
			}
			return release(ctx, r, 0)
		}
		// Another attempt's claim (a worker that took the call for
		// abandoned): this outcome is the call's all the same.
		if out.RetryIn, out.ClickToPartner, err = s.settle(&call, attempt, out.Verdict, ended, resp.RetryAfter); err != nil {
			return err
		}
		out.Call = call
		if err := r.PutCall(ctx, call); err != nil {
			return err
		}
		return release(ctx, r, out.RetryIn)
	})
	return out, err
}

// settle applies an attempt's verdict to call, which is delivering: it
// returns when to try again (zero: no retry) and, for a delivered call, the
// time from its click to the partner's answer.
func (s *Calls) settle(call *domain.Call, attempt domain.Attempt, verdict domain.Verdict, ended time.Time, retryAfter time.Duration) (retryIn, clickToPartner time.Duration, err error) {
	switch verdict {
	case domain.VerdictDelivered:
		err = call.Delivered(attempt)
		clickToPartner = ended.Sub(call.ClickedAt())
	case domain.VerdictRetry:
		n := len(call.Attempts()) + 1
		wait := domain.Backoff(n, s.cfg.RetryMinBackoff, s.jitter(), retryAfter)
		if !ended.Add(wait).Before(call.Deadline()) {
			err = call.GiveUp(&attempt, domain.UndeliverableDeadlineExceeded)
		} else {
			err = call.Retry(attempt)
			retryIn = max(wait, time.Millisecond)
		}
	default:
		err = call.GiveUp(&attempt, domain.UndeliverablePartnerRefused)
	}
	return retryIn, clickToPartner, err
}

// jitter returns a uniform number in [0, 1).
func (s *Calls) jitter() float64 {
	b := s.random.Bytes(8)
	return float64(binary.BigEndian.Uint64(b)>>11) / (1 << 53)
}

func callNotFound(err error, callID string) error {
	return notFound(err, domain.CodeCallNotFound, "call_id", fmt.Sprintf("call %q", callID))
}

// CallRecording returns the id of the call's latest recording, "" when the
// partner has sent none: the recording of the newest entry of the lead's
// history that belongs to the call and has one. It reads that one entry,
// not the lead's whole history.
func (s *Calls) CallRecording(ctx context.Context, envID string, call domain.Call) (string, error) {
	var id string
	err := s.store.Read(ctx, func(ctx context.Context, r ports.Repositories) error {
		var err error
		id, err = r.LatestCallRecording(ctx, envID, call.LeadID(), call.ID())
		if errors.Is(err, ports.ErrNotFound) {
			id, err = "", nil
		}
		return err
	})
	return id, err
}

// MaxCallPage is the most calls one List returns.
const MaxCallPage = 100

// CallPage is one page of a call listing; Next continues it, nil on the last page.
type CallPage struct {
	Calls []domain.Call
	Next  *ports.CallCursor
}

// List returns the environment's calls that f selects, newest first, a page
// of f.Limit (MaxCallPage when zero or larger). The calls are as they stand
// now, as GetCall has them, and the status filter sees them so: no_result
// selects the delivered calls whose result deadline has passed, delivered
// the others.
func (s *Calls) List(ctx context.Context, envID string, f ports.CallFilter) (CallPage, error) {
	if f.Limit <= 0 || f.Limit > MaxCallPage {
		f.Limit = MaxCallPage
	}
	if f.Status != "" && !slices.Contains(domain.CallStatuses, f.Status) {
		return CallPage{}, &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidField, Field: "status",
			Message: fmt.Sprintf("unknown call status %q", f.Status)}
	}
	want := f.Limit
	f.Limit++ // one more tells whether another page follows
	now := s.clock.Now()
	f.NoResultAcceptedBy = now.Add(-s.cfg.ResultDeadline)
	var page CallPage
	err := s.store.Read(ctx, func(ctx context.Context, r ports.Repositories) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		calls, err := r.ListCalls(ctx, envID, f)
		if err != nil {
			return err
		}
		if len(calls) > want {
			calls = calls[:want]
			last := calls[want-1]
			page.Next = &ports.CallCursor{ClickedAt: last.ClickedAt(), ID: last.ID()}
		}
		for n, c := range calls {
			calls[n] = s.asRead(c, now)
		}
		page.Calls = calls
		return nil
	})
	return page, err
}
