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

// Place records a press of Ligar by userID on leadID and schedules its
// delivery in the same transaction. A press the button rules refuse (rule 6)
// creates nothing and returns the button's reason as the error code.
// traceParent (W3C, may be empty) links the delivery to the click's trace.
func (s *Calls) Place(ctx context.Context, envID, leadID, userID, traceParent string) (domain.Call, error) {
	var call domain.Call
	err := s.store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		d, err := decide(ctx, r, envID, leadID, userID)
		if err != nil {
			return err
		}
		if err := d.button.Err(); err != nil {
			return err
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
		return r.EnqueueDelivery(ctx, ports.Delivery{EnvID: envID, CallID: id, TraceParent: traceParent})
	})
	return call, err
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
// and the new status in a second one.
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

	// The outcome is recorded even if the worker's context ended meanwhile:
	// the partner may have the call, and that must not be forgotten.
	recordCtx := context.WithoutCancel(ctx)
	err = s.store.Tx(recordCtx, func(ctx context.Context, r ports.Repositories) error {
		call, err := r.LockCall(ctx, envID, callID)
		if err != nil {
			return callNotFound(err, callID)
		}
		exchange := domain.Exchange{
			ID: s.random.NewID(), EnvID: envID, Direction: domain.Outbound, Method: "POST", URL: domain.RedactURL(req.URL),
			StatusCode: resp.StatusCode, Duration: resp.Duration, CallID: callID, LeadID: call.LeadID(), OccurredAt: started,
			RequestHeaders: domain.RedactHeaders(resp.RequestHeaders), RequestBody: domain.TruncateBody(req.Body),
			ResponseBody: domain.TruncateBody(resp.Body), Error: attempt.Error,
		}
		if err := r.RecordExchange(ctx, exchange); err != nil {
			return err
		}
		if call.Status() != domain.CallDelivering {
			// Something settled the call while we were on the wire (a
			// result from the partner, say): keep the attempt, not its status.
			if err := call.LateAttempt(attempt); err != nil {
				return err
			}
			out.Call, out.RetryIn = call, 0
			return r.PutCall(ctx, call)
		}
		switch out.Verdict {
		case domain.VerdictDelivered:
			err = call.Delivered(attempt)
			out.ClickToPartner = ended.Sub(call.ClickedAt())
		case domain.VerdictRetry:
			n := len(call.Attempts()) + 1
			wait := domain.Backoff(n, s.cfg.RetryMinBackoff, s.jitter(), resp.RetryAfter)
			if !ended.Add(wait).Before(call.Deadline()) {
				err = call.GiveUp(&attempt, domain.UndeliverableDeadlineExceeded)
			} else {
				err = call.Retry(attempt)
				out.RetryIn = max(wait, time.Millisecond)
			}
		default:
			err = call.GiveUp(&attempt, domain.UndeliverablePartnerRefused)
		}
		if err != nil {
			return err
		}
		out.Call = call
		return r.PutCall(ctx, call)
	})
	return out, err
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
