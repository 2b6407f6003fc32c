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
	place    unitOfWork[placeRepos]    // Place, Redeliver
	delivery unitOfWork[deliveryRepos] // Deliver, and Place's direct deliveries
	reads    unitOfWork[callReads]     // GetCall, List, ListCalls, CallRecording
	testCall unitOfWork[testCallRepos] // SendTestCall
	clock    ports.Clock
	random   ports.Random
	client   ports.PartnerClient
	payloads ports.CallPayloads
	cfg      CallsConfig
	direct   DirectDeliveries // nil: every call goes through the queue
}

// NewCalls builds the service.
// Its parameters stay a list: fx injects each by type (cmd/callconnect/serve.go provides it as is).
func NewCalls(store ports.Store, clock ports.Clock, random ports.Random, client ports.PartnerClient, payloads ports.CallPayloads, cfg CallsConfig) *Calls {
	if cfg.DispatchDeadline <= 0 {
		cfg.DispatchDeadline = 2 * time.Minute
	}
	if cfg.RetryMinBackoff <= 0 {
		cfg.RetryMinBackoff = time.Second
	}
	cfg = cfg.withResultDeadline()
	return &Calls{
		place:    narrow(store, func(r ports.Repositories) placeRepos { return r }),
		delivery: narrow(store, func(r ports.Repositories) deliveryRepos { return r }),
		reads:    narrow(store, func(r ports.Repositories) callReads { return r }),
		testCall: narrow(store, func(r ports.Repositories) testCallRepos { return r }),
		clock:    clock, random: random, client: client, payloads: payloads, cfg: cfg,
	}
}

// inProgress refuses a click by a user on a lead while that user's
// previous call to it is still on its way to the partner (queued or
// delivering, its dispatch deadline not yet passed): a double click, or a
// retry without an Idempotency-Key.
func (s *Calls) inProgress(d decision) error {
	if d.openCallID == "" || !s.clock.Now().Before(d.openCallDeadline) {
		return nil
	}
	return &domain.Error{Kind: domain.KindConflict, Code: CodeCallInProgress, Field: "lead_id", Ref: d.openCallID,
		Message: fmt.Sprintf("call %s of this user to this lead is still being delivered; a second one is not placed", d.openCallID)}
}

// placeRepos is what placing (and redelivering) a call reads and writes.
type placeRepos interface {
	clickContexts
	LockClicks(ctx context.Context, envID, userID, leadID string) error
	GetEnvironment(ctx context.Context, id string) (domain.Environment, error)
	LockCall(ctx context.Context, envID, id string) (domain.Call, error)
	PutCall(ctx context.Context, c domain.Call) error
	EnqueueDelivery(ctx context.Context, d ports.Delivery) error
}

// deliveryRepos is what delivering a call reads and writes: its claim, and
// the record of its attempt.
type deliveryRepos interface {
	LockCallForDelivery(ctx context.Context, envID, callID string) (ports.DeliveryContext, error)
	LockCall(ctx context.Context, envID, id string) (domain.Call, error)
	PutCall(ctx context.Context, c domain.Call) error
	ReplaceCall(ctx context.Context, c domain.Call, was domain.CallStatus, attempts int) error
	ReleaseDelivery(ctx context.Context, d ports.Delivery, retryAt time.Time) error
	RecordExchange(ctx context.Context, e domain.Exchange) error
}

// callReads is what reading calls reads.
type callReads interface {
	GetEnvironment(ctx context.Context, id string) (domain.Environment, error)
	GetCall(ctx context.Context, envID, id string) (domain.Call, error)
	ListCalls(ctx context.Context, envID string, f ports.CallFilter) ([]domain.Call, error)
	LatestCallRecording(ctx context.Context, envID, leadID, callID string) (string, error)
	LatestCallRecordings(ctx context.Context, envID string, callIDs []string) (map[string]string, error)
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
	err := s.place.Tx(ctx, func(ctx context.Context, r placeRepos) error {
		if err := r.LockClicks(ctx, envID, userID, leadID); err != nil {
			return err
		}
		d, err := decide(ctx, r, envID, leadID, userID)
		if err != nil {
			return err
		}
		if err := d.button.Err(); err != nil {
			return err
		}
		if err := s.inProgress(d); err != nil {
			return err
		}
		call, err = s.newCall(d)
		if err != nil {
			return err
		}
		if err := r.PutCall(ctx, call); err != nil {
			return err
		}
		delivery = ports.Delivery{EnvID: envID, CallID: call.ID(), TraceParent: traceParent}
		if slot == nil && s.direct != nil && domain.CallConnectLive(d.env, d.cc) {
			if taken, ok := s.direct.Reserve(); ok {
				slot, integ = taken, *d.cc
				delivery.NotBefore = call.ClickedAt().Add(s.direct.Grace())
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

// newCall makes the call that the decided click places, with the body its
// partner receives for every attempt.
func (s *Calls) newCall(d decision) (domain.Call, error) {
	byID := make(map[string]domain.User, len(d.owners))
	for _, u := range d.owners {
		byID[u.ID()] = u
	}
	id := s.random.NewID()
	now := s.clock.Now()
	payload, err := s.payloads.CallPayload(domain.PartnerPayloadInput{Env: d.env, Lead: d.lead, Actor: d.user, Owners: byID,
		CallID: id, ClickedAt: now, DialMode: d.cc.DialMode()})
	if err != nil {
		return domain.Call{}, err
	}
	return domain.NewCall(id, d.env, d.lead, d.user, d.button, now, s.cfg.DispatchDeadline, payload)
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
		err := s.delivery.Tx(context.WithoutCancel(ctx), func(ctx context.Context, r deliveryRepos) error {
			return r.ReleaseDelivery(ctx, held, started)
		})
		return DeliveryOutcome{Call: placed}, err
	}
	req := ports.PartnerRequest{URL: integ.PartnerURL(), Body: call.Payload(), WebhookID: call.WebhookID(),
		Secrets: integ.SigningSecrets(started), Timestamp: started}
	return s.attempt(ctx, attemptPlan{claimed: placed, call: call, req: req, started: started, held: &held})
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
	err := s.reads.Read(ctx, func(ctx context.Context, r callReads) error {
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
	err := s.place.Tx(ctx, func(ctx context.Context, r placeRepos) error {
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

// Deliver makes one delivery attempt of a call, as a worker asks: it claims
// the call (queued → delivering) in one transaction, posts it to the
// partner outside any transaction, then records the attempt, the exchange
// and the new status in a second one (see attempt).
func (s *Calls) Deliver(ctx context.Context, envID, callID string) (DeliveryOutcome, error) {
	started := s.clock.Now()
	var c claim
	err := s.delivery.Tx(ctx, func(ctx context.Context, r deliveryRepos) error {
		var err error
		c, err = claimCall(ctx, r, envID, callID, started)
		return err
	})
	if err != nil || !c.send {
		return DeliveryOutcome{Call: c.call}, err
	}
	return s.attempt(ctx, attemptPlan{claimed: c.call, call: c.call, req: c.req, started: started})
}

// claim is what claiming a call for an attempt decided: the call as it now
// stands and, when send, the request to post.
type claim struct {
	call domain.Call
	send bool
	req  ports.PartnerRequest
}

// claimCall takes the call for an attempt starting at started: queued (or a
// delivering call whose claim was abandoned) becomes delivering, with the
// request to post; without a live integration, or past the dispatch
// deadline, the call is given up instead. A settled call is left as it is.
// On an error, the claim's call is how far it got, as Deliver reports it.
func claimCall(ctx context.Context, r deliveryRepos, envID, callID string, started time.Time) (claim, error) {
	dc, err := r.LockCallForDelivery(ctx, envID, callID)
	if err != nil {
		return claim{}, callNotFound(err, callID)
	}
	c := claim{call: dc.Call}
	call := dc.Call
	if call.Status() != domain.CallQueued && call.Status() != domain.CallDelivering {
		return c, nil // settled meanwhile: nothing to deliver
	}
	active := domain.CallConnectLive(dc.Env, dc.CallConnect)
	switch {
	case !active:
		err = call.GiveUp(nil, domain.UndeliverableNoIntegration)
	case call.PastDeadline(started):
		err = call.GiveUp(nil, domain.UndeliverableDeadlineExceeded)
	default:
		err = call.StartAttempt(started)
		integ := *dc.CallConnect
		c.send = true
		c.req = ports.PartnerRequest{URL: integ.PartnerURL(), Body: call.Payload(), WebhookID: call.WebhookID(),
			Secrets: integ.SigningSecrets(started), Timestamp: started}
	}
	if err != nil {
		return claim{call: dc.Call}, err
	}
	c.call = call
	return c, r.PutCall(ctx, call)
}

// attemptPlan is one attempt of a call about to go on the wire.
type attemptPlan struct {
	claimed domain.Call // the call as stored when the attempt started
	call    domain.Call // the call, delivering, in memory
	req     ports.PartnerRequest
	started time.Time
	held    *ports.Delivery // a direct delivery's held job, as enqueued; nil for a worker's attempt
}

// sentAttempt is what came of posting an attempt: the attempt as the call
// keeps it, the partner's verdict, and the exchange for the monitor.
type sentAttempt struct {
	attempt    domain.Attempt
	verdict    domain.Verdict
	statusCode int
	retryAfter time.Duration // the partner's Retry-After
	ended      time.Time
	exchange   domain.Exchange
}

// settled is the call after an attempt's verdict: when to try again (zero:
// no retry) and, for a delivered call, the time from its click to the
// partner's answer.
type settled struct {
	call           domain.Call
	retryIn        time.Duration
	clickToPartner time.Duration
}

// attempt posts a.req to the partner outside any transaction, and records
// its outcome: the exchange, the attempt, the call's new status and, for a
// direct delivery (a.held), the end of its held job (or its retry by the
// queue). The outcome is written only if the call is still as claimed
// (ports.Calls.ReplaceCall), with no read of it first: the whole record is
// one round trip. When something wrote the call meanwhile (the partner's
// result may overtake our record of the delivery), the record is made
// again on the call as it now is, locked.
func (s *Calls) attempt(ctx context.Context, a attemptPlan) (DeliveryOutcome, error) {
	sent := s.post(ctx, a)
	out := DeliveryOutcome{Call: a.call, Attempted: true, StatusCode: sent.statusCode, Verdict: sent.verdict}
	// The outcome is recorded even if the worker's context ended meanwhile:
	// the partner may have the call, and that must not be forgotten.
	recordCtx := context.WithoutCancel(ctx)
	next, err := s.settle(a.call, sent)
	if err != nil {
		return out, err
	}
	// Its commit need not wait for the disk (ports.WithAsyncCommit): should
	// the database lose it in a crash, the call is as a process that died
	// on the wire left it, queued with its job, and is delivered again
	// under the same webhook-id (rule 10 of docs/rules.md).
	err = s.delivery.Tx(ports.WithAsyncCommit(recordCtx), func(ctx context.Context, r deliveryRepos) error {
		return recordAttempt(ctx, r, a, sent, next)
	})
	if err == nil {
		out.Call, out.RetryIn, out.ClickToPartner = next.call, next.retryIn, next.clickToPartner
		return out, nil
	}
	if !errors.Is(err, ports.ErrCallChanged) {
		return out, err
	}
	err = s.delivery.Tx(recordCtx, func(ctx context.Context, r deliveryRepos) error {
		return s.recordOnChangedCall(ctx, r, a, sent, &out)
	})
	return out, err
}

// post sends the attempt to the partner and judges the answer.
func (s *Calls) post(ctx context.Context, a attemptPlan) sentAttempt {
	resp := s.client.Deliver(ctx, a.req)
	if resp.Duration <= 0 {
		resp.Duration = s.clock.Now().Sub(a.started)
	}
	sent := sentAttempt{statusCode: resp.StatusCode, retryAfter: resp.RetryAfter, ended: a.started.Add(resp.Duration),
		attempt: domain.Attempt{At: a.started, StatusCode: resp.StatusCode, Duration: resp.Duration}}
	if resp.Err != nil {
		sent.attempt.Error = resp.Err.Error()
	} else if domain.Judge(resp.StatusCode) != domain.VerdictDelivered {
		sent.attempt.Error = fmt.Sprintf("partner answered %d", resp.StatusCode)
	}
	sent.verdict = domain.Judge(resp.StatusCode)
	if errors.Is(resp.Err, ports.ErrBlockedDestination) {
		sent.verdict = domain.VerdictPermanent
	}
	call := a.call
	sent.exchange = domain.Exchange{
		ID: s.random.NewID(), EnvID: call.EnvID(), Direction: domain.Outbound, Method: "POST", URL: domain.RedactURL(a.req.URL),
		StatusCode: resp.StatusCode, Duration: resp.Duration, CallID: call.ID(), LeadID: call.LeadID(), OccurredAt: a.started,
		RequestHeaders: domain.RedactHeaders(resp.RequestHeaders), RequestBody: domain.TruncateBody(a.req.Body),
		ResponseBody: domain.TruncateBody(resp.Body), Error: sent.attempt.Error,
	}
	return sent
}

// recordAttempt records the attempt on the call as it was claimed: the
// exchange, the call as settled (provided it is still as claimed) and the
// end of a direct delivery's held job.
func recordAttempt(ctx context.Context, r deliveryRepos, a attemptPlan, sent sentAttempt, next settled) error {
	if err := r.RecordExchange(ctx, sent.exchange); err != nil {
		return err
	}
	if err := r.ReplaceCall(ctx, next.call, a.claimed.Status(), len(a.claimed.Attempts())); err != nil {
		return err
	}
	return releaseHeld(ctx, r, a.held, sent.ended, next.retryIn)
}

// recordOnChangedCall records the attempt on the call as it now is, locked,
// when something wrote it while the attempt was on the wire, and says in
// out what became of it.
func (s *Calls) recordOnChangedCall(ctx context.Context, r deliveryRepos, a attemptPlan, sent sentAttempt, out *DeliveryOutcome) error {
	call, err := r.LockCall(ctx, a.call.EnvID(), a.call.ID())
	if err != nil {
		return callNotFound(err, a.call.ID())
	}
	if err := r.RecordExchange(ctx, sent.exchange); err != nil {
		return err
	}
	out.RetryIn, out.ClickToPartner = 0, 0
	if call.Status() != domain.CallDelivering {
		// Something settled the call while we were on the wire (a
		// result from the partner, say): keep the attempt, not its status.
		if err := call.LateAttempt(sent.attempt); err != nil {
			return err
		}
		out.Call = call
		if err := r.PutCall(ctx, call); err != nil {
			return err
		}
		return releaseHeld(ctx, r, a.held, sent.ended, 0)
	}
	// Another attempt's claim (a worker that took the call for
	// abandoned): this outcome is the call's all the same.
	next, err := s.settle(call, sent)
	out.RetryIn, out.ClickToPartner = next.retryIn, next.clickToPartner
	if err != nil {
		return err
	}
	out.Call = next.call
	if err := r.PutCall(ctx, next.call); err != nil {
		return err
	}
	return releaseHeld(ctx, r, a.held, sent.ended, out.RetryIn)
}

// releaseHeld ends a direct delivery's held job (nothing for a worker's
// attempt, held nil): over, or due again retryIn after the attempt ended.
func releaseHeld(ctx context.Context, r deliveryRepos, held *ports.Delivery, ended time.Time, retryIn time.Duration) error {
	if held == nil {
		return nil
	}
	var retryAt time.Time
	if retryIn > 0 {
		retryAt = ended.Add(retryIn)
	}
	return r.ReleaseDelivery(ctx, *held, retryAt)
}

// settle applies an attempt's verdict to call, which is delivering. On an
// error the times are still those the verdict gave.
func (s *Calls) settle(call domain.Call, sent sentAttempt) (settled, error) {
	var (
		st  settled
		err error
	)
	switch sent.verdict {
	case domain.VerdictDelivered:
		err = call.Delivered(sent.attempt)
		st.clickToPartner = sent.ended.Sub(call.ClickedAt())
	case domain.VerdictRetry:
		n := len(call.Attempts()) + 1
		wait := domain.Backoff(n, s.cfg.RetryMinBackoff, s.jitter(), sent.retryAfter)
		if !sent.ended.Add(wait).Before(call.Deadline()) {
			attempt := sent.attempt
			err = call.GiveUp(&attempt, domain.UndeliverableDeadlineExceeded)
		} else {
			err = call.Retry(sent.attempt)
			st.retryIn = max(wait, time.Millisecond)
		}
	default:
		attempt := sent.attempt
		err = call.GiveUp(&attempt, domain.UndeliverablePartnerRefused)
	}
	st.call = call
	return st, err
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
	err := s.reads.Read(ctx, func(ctx context.Context, r callReads) error {
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
	err := s.reads.Read(ctx, func(ctx context.Context, r callReads) error {
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
