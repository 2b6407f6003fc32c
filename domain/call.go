package domain

import (
	"fmt"
	"time"
)

// CallStatus is where a call is in its life (rule 9, docs/rules.md):
//
//	queued → delivering → delivered → completed | not_completed
//	            ↓ (retryable failure: back to queued)   ↓ (no result within the result deadline)
//	        undeliverable                            no_result → completed | not_completed
//	        (permanent refusal, or the dispatch deadline passed)
//
// An undeliverable call can be redelivered: it goes back to queued. A
// no_result call (sem retorno) still takes the partner's late result.
type CallStatus string

const (
	CallQueued        CallStatus = "queued"
	CallDelivering    CallStatus = "delivering"
	CallDelivered     CallStatus = "delivered"
	CallCompleted     CallStatus = "completed"
	CallNotCompleted  CallStatus = "not_completed"
	CallUndeliverable CallStatus = "undeliverable"
	// CallNoResult: the partner accepted the call but reported no result
	// within the result deadline (sem retorno).
	CallNoResult CallStatus = "no_result"
)

// CallStatuses lists every status.
var CallStatuses = []CallStatus{CallQueued, CallDelivering, CallDelivered, CallCompleted, CallNotCompleted, CallUndeliverable,
	CallNoResult}

// Reasons an undeliverable call carries.
const (
	UndeliverablePartnerRefused   = "partner_refused"   // the partner answered a permanent 4xx
	UndeliverableDeadlineExceeded = "deadline_exceeded" // no attempt succeeded before the dispatch deadline
	UndeliverableNoIntegration    = "integration_inactive"
)

// Error codes of the call life cycle.
const (
	CodeCallNotFound      = "call_not_found"
	CodeInvalidTransition = "invalid_call_transition"
)

// DefaultResultDeadline is how long after the partner accepted a call its
// result may take before the call is no_result, unless configured.
const DefaultResultDeadline = 2 * time.Hour

// MaxRecordedError bounds the error text kept per attempt.
const MaxRecordedError = 500

// Attempt is one try at delivering a call to the partner.
type Attempt struct {
	At         time.Time
	StatusCode int    // 0 when no HTTP answer came back
	Error      string // empty on success
	Duration   time.Duration
}

// Call is one press of Ligar, from the click to the partner's result.
type Call struct {
	envID     string
	id        string
	leadID    string
	userID    string
	status    CallStatus
	reason    string
	clickedAt time.Time
	deadline  time.Time
	payload   []byte // the JSON sent to the partner, fixed at the click so every retry sends the same bytes
	attempts  []Attempt
	// deliveredAt is when the partner accepted the call: the end of the
	// attempt it answered 2xx. Zero until then, and when not known. It is
	// what the result deadline counts from, so it is kept apart from the
	// attempts: a late attempt recorded after the call was settled may also
	// carry a 2xx, and only the one that delivered the call counts.
	deliveredAt time.Time
}

// NewCall records a click: a queued call whose delivery must happen before
// clickedAt+dispatchWindow. The button must be enabled (rule 6); its error
// is returned otherwise.
func NewCall(id string, env Environment, lead Lead, user User, button CallButton, clickedAt time.Time, dispatchWindow time.Duration, payload []byte) (Call, error) {
	if err := button.Err(); err != nil {
		return Call{}, err
	}
	if !ValidID(id) {
		return Call{}, invalid("call_id", "must be a valid id")
	}
	if lead.envID != env.id || user.envID != env.id {
		return Call{}, invalid("env", "lead and user must belong to the environment")
	}
	if dispatchWindow <= 0 {
		return Call{}, invalid("dispatch_deadline", "must be positive")
	}
	return Call{envID: env.id, id: id, leadID: lead.id, userID: user.id, status: CallQueued,
		clickedAt: clickedAt, deadline: clickedAt.Add(dispatchWindow), payload: append([]byte(nil), payload...)}, nil
}

// RestoreCall rebuilds a call from storage.
func RestoreCall(envID, id, leadID, userID string, status CallStatus, reason string, clickedAt, deadline time.Time, payload []byte, attempts []Attempt) Call {
	return Call{envID: envID, id: id, leadID: leadID, userID: userID, status: status, reason: reason,
		clickedAt: clickedAt, deadline: deadline, payload: append([]byte(nil), payload...), attempts: append([]Attempt(nil), attempts...)}
}

func (c Call) EnvID() string        { return c.envID }
func (c Call) ID() string           { return c.id }
func (c Call) LeadID() string       { return c.leadID }
func (c Call) UserID() string       { return c.userID }
func (c Call) Status() CallStatus   { return c.status }
func (c Call) Reason() string       { return c.reason }
func (c Call) ClickedAt() time.Time { return c.clickedAt }
func (c Call) Deadline() time.Time  { return c.deadline }
func (c Call) Payload() []byte      { return append([]byte(nil), c.payload...) }
func (c Call) Attempts() []Attempt  { return append([]Attempt(nil), c.attempts...) }

// DeliveredAt is when the partner accepted the call (its 2xx came back);
// zero when the call was never delivered, or when that is not known (a call
// the partner's result reached before its delivery was recorded).
func (c Call) DeliveredAt() time.Time { return c.deliveredAt }

// WithDeliveredAt returns c with the time the partner accepted it, for
// storage restoring a call (RestoreCall takes the rest).
func (c Call) WithDeliveredAt(at time.Time) Call {
	c.deliveredAt = at
	return c
}

// WebhookID is the Standard Webhooks message id of the call's delivery: the
// same for every retry, so the partner can recognise a repeat.
func (c Call) WebhookID() string { return "msg_" + c.id }

func (c *Call) transition(to CallStatus) error {
	if !CanTransition(c.status, to) {
		return &Error{Kind: KindConflict, Code: CodeInvalidTransition, Field: "status",
			Message: fmt.Sprintf("a %s call cannot become %s", c.status, to)}
	}
	c.status = to
	return nil
}

// CanTransition reports whether the life cycle allows from → to.
func CanTransition(from, to CallStatus) bool {
	switch from {
	case CallQueued:
		// A result may come while a retry waits: the partner got an attempt
		// we saw fail (a timeout after it had the call).
		return to == CallDelivering || to == CallUndeliverable || to == CallCompleted || to == CallNotCompleted
	case CallDelivering:
		// delivering → delivering: a worker that died mid-attempt is replaced
		// and the new one starts its own attempt. A result may also overtake
		// our record of the delivery (the partner answered before we wrote 2xx down).
		return to == CallDelivering || to == CallDelivered || to == CallQueued || to == CallUndeliverable ||
			to == CallCompleted || to == CallNotCompleted
	case CallDelivered:
		return to == CallCompleted || to == CallNotCompleted || to == CallNoResult
	case CallNoResult:
		// A late result still settles the call.
		return to == CallCompleted || to == CallNotCompleted
	case CallUndeliverable:
		// Redelivered, or the partner placed the call after all.
		return to == CallQueued || to == CallCompleted || to == CallNotCompleted
	}
	return false
}

// PastDeadline reports whether no attempt may start at now any more.
func (c Call) PastDeadline(now time.Time) bool { return !now.Before(c.deadline) }

// StartAttempt moves the call to delivering. Past the deadline it is
// refused: the caller gives up on the call instead (GiveUp).
func (c *Call) StartAttempt(now time.Time) error {
	if c.PastDeadline(now) {
		return &Error{Kind: KindConflict, Code: CodeInvalidTransition, Field: "status", Message: "the dispatch deadline has passed"}
	}
	return c.transition(CallDelivering)
}

func (c *Call) record(a Attempt) {
	if len(a.Error) > MaxRecordedError {
		a.Error = a.Error[:MaxRecordedError]
	}
	c.attempts = append(c.attempts, a)
}

// Delivered records a successful attempt. The partner accepted the call
// when its answer came back, at the attempt's end: the result deadline
// counts from then.
func (c *Call) Delivered(a Attempt) error {
	if err := c.transition(CallDelivered); err != nil {
		return err
	}
	c.reason = ""
	c.deliveredAt = a.At.Add(a.Duration)
	c.record(a)
	return nil
}

// ResultDue is when a delivered call's result deadline passes: resultDeadline
// after the partner accepted it. ok is false when the call has no such
// deadline: it was never delivered, the time of its delivery is unknown, or
// resultDeadline is not positive.
func (c Call) ResultDue(resultDeadline time.Duration) (due time.Time, ok bool) {
	if c.deliveredAt.IsZero() || resultDeadline <= 0 {
		return time.Time{}, false
	}
	return c.deliveredAt.Add(resultDeadline), true
}

// StatusAt is the call's status as a reader at now sees it (rule 12): a
// delivered call whose result deadline has passed is no_result at once,
// before the periodic job writes it down (MarkNoResult); any other call has
// its stored status.
func (c Call) StatusAt(now time.Time, resultDeadline time.Duration) CallStatus {
	if c.status == CallDelivered {
		if due, ok := c.ResultDue(resultDeadline); ok && !now.Before(due) {
			return CallNoResult
		}
	}
	return c.status
}

// MarkNoResult makes a delivered call no_result: the partner accepted it
// but reported no result within resultDeadline. Before the deadline has
// passed at now, or for a call that is not delivered, it is refused and the
// call is left as it was.
func (c *Call) MarkNoResult(now time.Time, resultDeadline time.Duration) error {
	if resultDeadline <= 0 {
		return invalid("result_deadline", "must be positive")
	}
	if c.status != CallDelivered {
		return c.transition(CallNoResult) // refused, with the statuses named
	}
	due, ok := c.ResultDue(resultDeadline)
	if !ok {
		return &Error{Kind: KindConflict, Code: CodeInvalidTransition, Field: "status",
			Message: "the time the partner accepted the call is not known"}
	}
	if now.Before(due) {
		return &Error{Kind: KindConflict, Code: CodeInvalidTransition, Field: "status",
			Message: fmt.Sprintf("the result deadline passes at %s", due.UTC().Format(time.RFC3339))}
	}
	if err := c.transition(CallNoResult); err != nil {
		return err
	}
	c.reason = ""
	return nil
}

// LateAttempt records an attempt whose answer came back after something
// else had already settled the call — typically the partner's result
// callback, which can arrive before the 2xx of the request that announced
// the call. The status stays as it is; the attempt is kept so that the
// call's timeline shows every request that was sent. A call still being
// delivered records its attempts through Delivered, Retry or GiveUp.
func (c *Call) LateAttempt(a Attempt) error {
	if c.status == CallDelivering {
		return &Error{Kind: KindConflict, Code: CodeInvalidTransition, Field: "status",
			Message: "the call is being delivered: record the attempt with its outcome"}
	}
	c.record(a)
	return nil
}

// Retry records a failed attempt that will be tried again: the call waits, queued.
func (c *Call) Retry(a Attempt) error {
	if err := c.transition(CallQueued); err != nil {
		return err
	}
	c.record(a)
	return nil
}

// GiveUp records a final failed attempt (a is nil when no attempt was made,
// e.g. the deadline passed while queued) and makes the call undeliverable.
func (c *Call) GiveUp(a *Attempt, reason string) error {
	if err := c.transition(CallUndeliverable); err != nil {
		return err
	}
	c.reason = reason
	if a != nil {
		c.record(*a)
	}
	return nil
}

// Redeliver puts an undeliverable call back in the queue with a fresh
// deadline, dispatchWindow from now.
func (c *Call) Redeliver(now time.Time, dispatchWindow time.Duration) error {
	if err := c.transition(CallQueued); err != nil {
		return err
	}
	c.reason = ""
	c.deadline = now.Add(dispatchWindow)
	return nil
}
