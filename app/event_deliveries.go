package app

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"callconnect/domain"
	"callconnect/ports"
)

// Defaults of EventDeliveriesConfig.
const (
	// DefaultEventClaim outlasts an attempt with the delivery client's
	// default timeouts, the transactions around it included.
	DefaultEventClaim = time.Minute
	// DefaultEventBatch is how many events of the feed one step reads at
	// most while looking for the next one its subscription wants.
	DefaultEventBatch = 200
	// DefaultEventDeliveryBatch is how many finished deliveries one
	// statement of the retention deletes at most.
	DefaultEventDeliveryBatch = 10_000
)

// eventErrorExcerpt bounds how much of an endpoint's refusal is kept in a
// delivery's last error.
const eventErrorExcerpt = 200

// EventDeliveriesConfig tunes EventDeliveries.
type EventDeliveriesConfig struct {
	// Claim is how long a sender holds a subscription's head while its
	// attempt is on the wire: longer than an attempt can last, outcome
	// recorded. A sender that died is relieved when it lapses.
	// DefaultEventClaim when zero.
	Claim time.Duration
	// Batch is the most events one step reads; DefaultEventBatch when zero.
	Batch int
	// Retention is how long finished deliveries are kept: as long as the
	// events (the monitor's retention); DefaultMonitorRetention when zero.
	Retention time.Duration
}

// EventDeliveries pushes the environments' events to their subscriptions
// (EventSubscriptions configures them), one subscription at a time, in the
// order of the feed: Step makes one step of a subscription, and a worker
// keeps stepping while there is something to do.
//
// Each event a subscription wants becomes its head (its one pending
// delivery), taken from the feed in the transaction that moves its
// cursor; the next event is taken only once the head is delivered or
// given up, in the transaction that records that. An attempt is sent
// outside any transaction, under a claim (domain.EventDelivery.SendingUntil)
// that keeps a second sender off the head; an outcome is recorded only by
// the claim's holder, so a sender that lost its claim (it was taken for
// dead) records nothing.
type EventDeliveries struct {
	store     unitOfWork[eventDeliveryRepos]
	feed      ports.Events
	retention ports.EventDeliveryRetention
	clock     ports.Clock
	random    ports.Random
	client    ports.PartnerClient
	payloads  ports.EventPayloads
	cfg       EventDeliveriesConfig
	logger    *slog.Logger
}

// eventDeliveryRepos is what delivering events reads and writes: the
// subscriptions, their cursors and their deliveries.
type eventDeliveryRepos interface {
	GetEventSubscription(ctx context.Context, envID, id string) (domain.EventSubscription, error)
	LockEventSubscription(ctx context.Context, envID, id string) (domain.EventSubscription, error)
	ListActiveEventSubscriptions(ctx context.Context, afterEnv, afterID string, limit int) ([]domain.EventSubscription, error)
	PutEventSubscription(ctx context.Context, s domain.EventSubscription) error
	PendingEventDelivery(ctx context.Context, envID, subscriptionID string) (domain.EventDelivery, error)
	PutEventDelivery(ctx context.Context, d domain.EventDelivery) error
}

// NewEventDeliveries builds the service. The events are sent by the
// partners' delivery client: the same signature, timeouts and address
// checks.
// Its parameters stay a list: fx injects each by type (cmd/callconnect/serve.go provides it as is).
func NewEventDeliveries(store ports.Store, feed ports.Events, retention ports.EventDeliveryRetention, clock ports.Clock,
	random ports.Random, client ports.PartnerClient, payloads ports.EventPayloads, cfg EventDeliveriesConfig, logger *slog.Logger) *EventDeliveries {
	if cfg.Claim <= 0 {
		cfg.Claim = DefaultEventClaim
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultEventBatch
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultMonitorRetention
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &EventDeliveries{store: narrow(store, func(r ports.Repositories) eventDeliveryRepos { return r }),
		feed: feed, retention: retention, clock: clock, random: random, client: client, payloads: payloads, cfg: cfg, logger: logger}
}

// EventStep is what one Step did, and what the subscription waits for.
// Exactly one of its flags is set, or Wait.
type EventStep struct {
	// Attempted: an attempt of the head was made and recorded; Delivery is
	// the head after it.
	Attempted bool
	Delivery  domain.EventDelivery
	// Progressed: the cursor moved over events the subscription does not
	// want, or a step lost a race: step again at once.
	Progressed bool
	// Wait: the head is not due for this long (it backs off).
	Wait time.Duration
	// Busy: another sender holds the head, and carries on with the events
	// after it; should it have died, its claim lapses and the head is due
	// again.
	Busy bool
	// Held: events have committed that cannot be read yet (ports.EventPage.Held):
	// step again shortly.
	Held bool
	// Idle: nothing is pending and the feed has nothing new: nothing to do
	// until new events.
	Idle bool
	// Gone: the subscription is deleted or disabled: nothing to do until it
	// is configured again.
	Gone bool
}

// SubscriptionRef names a subscription.
type SubscriptionRef struct{ EnvID, ID string }

// Step makes one step of the subscription's deliveries: an attempt of its
// head when one is due, or else the taking of its next event (which is
// then attempted at once).
func (s *EventDeliveries) Step(ctx context.Context, envID, id string) (EventStep, error) {
	var (
		sub  domain.EventSubscription
		head domain.EventDelivery
		has  bool
	)
	err := s.store.Read(ctx, func(ctx context.Context, r eventDeliveryRepos) error {
		var err error
		if sub, err = r.GetEventSubscription(ctx, envID, id); err != nil {
			return err
		}
		head, err = r.PendingEventDelivery(ctx, envID, id)
		if errors.Is(err, ports.ErrNotFound) {
			return nil
		}
		has = err == nil
		return err
	})
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return EventStep{Gone: true}, nil
	case err != nil:
		return EventStep{}, err
	case !sub.Active():
		return EventStep{Gone: true}, nil
	}
	if has {
		if now := s.clock.Now(); !head.Due(now) {
			return notDue(head, now), nil
		}
		return s.claim(ctx, envID, id, head.EventID)
	}
	return s.take(ctx, sub)
}

// take reads the feed after the subscription's cursor and makes the first
// event it wants its head, claimed, and attempts it; the events before, it
// passes over.
func (s *EventDeliveries) take(ctx context.Context, sub domain.EventSubscription) (EventStep, error) {
	page, err := s.feed.ListEventsAfter(ctx, sub.EnvID(), sub.Cursor(), s.cfg.Batch)
	if err != nil {
		return EventStep{}, err
	}
	if len(page.Events) == 0 {
		if page.Held {
			return EventStep{Held: true}, nil
		}
		return EventStep{Idle: true}, nil
	}
	next, payload, err := s.firstWanted(sub, page.Events)
	if err != nil {
		return EventStep{}, err
	}
	var head domain.EventDelivery
	lost := false
	err = s.store.Tx(ctx, func(ctx context.Context, r eventDeliveryRepos) error {
		cur, err := r.LockEventSubscription(ctx, sub.EnvID(), sub.ID())
		if err != nil {
			return err
		}
		// Another sender took events meanwhile, or the subscription changed.
		if !cur.Active() || cur.Cursor() != sub.Cursor() {
			lost = true
			return nil
		}
		if _, err := r.PendingEventDelivery(ctx, sub.EnvID(), sub.ID()); err == nil {
			lost = true
			return nil
		} else if !errors.Is(err, ports.ErrNotFound) {
			return err
		}
		if next == nil {
			cur.Advance(page.Events[len(page.Events)-1].ID)
			return r.PutEventSubscription(ctx, cur)
		}
		now := s.clock.Now()
		head = domain.NewEventDelivery(cur, *next, payload, now)
		head.Claim(now.Add(s.cfg.Claim))
		cur.Advance(next.ID)
		if err := r.PutEventSubscription(ctx, cur); err != nil {
			return err
		}
		return r.PutEventDelivery(ctx, head)
	})
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return EventStep{Gone: true}, nil
	case err != nil:
		return EventStep{}, err
	case lost || next == nil:
		return EventStep{Progressed: true}, nil
	}
	return s.attempt(ctx, sub, head)
}

// firstWanted returns the first of events that the subscription wants, with
// its payload; nil when it wants none of them.
func (s *EventDeliveries) firstWanted(sub domain.EventSubscription, events []domain.Event) (*domain.Event, []byte, error) {
	for i := range events {
		if !sub.Wants(events[i].Type) {
			continue
		}
		payload, err := s.payloads.EventPayload(events[i])
		if err != nil {
			return nil, nil, fmt.Errorf("writing event %s of environment %q: %w", events[i].ID, sub.EnvID(), err)
		}
		return &events[i], payload, nil
	}
	return nil, nil, nil
}

// claim takes the subscription's head, the event eventID, for an attempt
// and makes it.
func (s *EventDeliveries) claim(ctx context.Context, envID, id, eventID string) (EventStep, error) {
	var (
		sub  domain.EventSubscription
		head domain.EventDelivery
		out  EventStep
	)
	err := s.store.Tx(ctx, func(ctx context.Context, r eventDeliveryRepos) error {
		var err error
		if sub, err = r.LockEventSubscription(ctx, envID, id); err != nil {
			return err
		}
		if !sub.Active() {
			out.Gone = true
			return nil
		}
		head, err = r.PendingEventDelivery(ctx, envID, id)
		if errors.Is(err, ports.ErrNotFound) || err == nil && head.EventID != eventID {
			out.Progressed = true // settled meanwhile
			return nil
		}
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if !head.Due(now) {
			out = notDue(head, now)
			return nil
		}
		head.Claim(now.Add(s.cfg.Claim))
		return r.PutEventDelivery(ctx, head)
	})
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return EventStep{Gone: true}, nil
	case err != nil:
		return EventStep{}, err
	case out.Gone || out.Progressed || out.Busy || out.Wait > 0:
		return out, nil
	}
	return s.attempt(ctx, sub, head)
}

// recordTimeout bounds the recording of an attempt's outcome, which runs
// even when the step's context has ended: an answer the endpoint gave is
// not thrown away for want of a few milliseconds.
const recordTimeout = 5 * time.Second

// attempt sends the claimed head and records what came of it, if the claim
// is still the sender's.
func (s *EventDeliveries) attempt(ctx context.Context, sub domain.EventSubscription, head domain.EventDelivery) (EventStep, error) {
	a := s.send(ctx, sub, head)
	var (
		settled domain.EventDelivery
		kept    bool
	)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	err := s.store.Tx(rctx, func(ctx context.Context, r eventDeliveryRepos) error {
		cur, err := r.LockEventSubscription(ctx, sub.EnvID(), sub.ID())
		if err != nil {
			return err
		}
		d, err := r.PendingEventDelivery(ctx, sub.EnvID(), sub.ID())
		if errors.Is(err, ports.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		// Still this sender's claim: the same event, attempts and claim.
		if d.EventID != head.EventID || d.Attempts != head.Attempts || !d.SendingUntil.Equal(head.SendingUntil) {
			return nil
		}
		wasActive := cur.Active()
		cur.Settle(&d, a, s.jitter())
		if wasActive && !cur.Active() {
			s.logger.WarnContext(ctx, "event subscription disabled: its endpoint has failed every attempt for too long",
				"env_id", cur.EnvID(), "subscription_id", cur.ID(), "failing_since", cur.FailingSince(), "last_error", d.LastError)
		}
		if err := r.PutEventDelivery(ctx, d); err != nil {
			return err
		}
		settled, kept = d, true
		return r.PutEventSubscription(ctx, cur)
	})
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return EventStep{Gone: true}, nil
	case err != nil:
		return EventStep{}, fmt.Errorf("recording the delivery of event %s to subscription %q of environment %q: %w",
			head.EventID, sub.ID(), sub.EnvID(), err)
	case !kept:
		// Our claim lapsed and someone else has the head, or the
		// subscription was deleted or configured afresh meanwhile.
		return EventStep{Progressed: true}, nil
	}
	if settled.Status == domain.EventDeliveryFailed {
		s.logger.WarnContext(ctx, "event given up after its retry window", "env_id", sub.EnvID(), "subscription_id", sub.ID(),
			"event_id", settled.EventID, "attempts", settled.Attempts, "last_error", settled.LastError)
	}
	return EventStep{Attempted: true, Delivery: settled}, nil
}

// send posts the head to the subscription's endpoint, outside any
// transaction, and says what came of it.
func (s *EventDeliveries) send(ctx context.Context, sub domain.EventSubscription, head domain.EventDelivery) domain.EventAttempt {
	started := s.clock.Now()
	resp := s.client.Deliver(ctx, ports.PartnerRequest{URL: sub.URL(), Body: head.Payload, WebhookID: head.EventID,
		Secrets: sub.SigningSecrets(started), Timestamp: started})
	a := domain.EventAttempt{At: started, Ended: s.clock.Now(), StatusCode: resp.StatusCode, RetryAfter: resp.RetryAfter}
	switch {
	case resp.Err != nil:
		a.Error = domain.RedactURLsIn(resp.Err.Error())
	case !a.Succeeded():
		a.Error = refusal(resp.StatusCode, resp.Body)
	}
	return a
}

// refusal is a delivery's last error for an answer that is no 2xx: its
// status and the start of its body.
func refusal(code int, body []byte) string {
	msg := fmt.Sprintf("the endpoint answered %d", code)
	text := strings.TrimSpace(strings.ToValidUTF8(string(body), "\uFFFD"))
	if text == "" {
		return msg
	}
	if len(text) > eventErrorExcerpt {
		cut := eventErrorExcerpt
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "…"
	}
	return msg + ": " + text
}

// ActiveSubscriptions returns every active subscription of every
// environment, a page of limit at a time.
func (s *EventDeliveries) ActiveSubscriptions(ctx context.Context) ([]SubscriptionRef, error) {
	const page = 500
	var out []SubscriptionRef
	afterEnv, afterID := "", ""
	for {
		var subs []domain.EventSubscription
		err := s.store.Read(ctx, func(ctx context.Context, r eventDeliveryRepos) error {
			var err error
			subs, err = r.ListActiveEventSubscriptions(ctx, afterEnv, afterID, page)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, sub := range subs {
			out = append(out, SubscriptionRef{EnvID: sub.EnvID(), ID: sub.ID()})
		}
		if len(subs) < page {
			return out, nil
		}
		afterEnv, afterID = subs[len(subs)-1].EnvID(), subs[len(subs)-1].ID()
	}
}

// ExpireDeliveries deletes the deliveries finished more than the retention
// ago, a batch at a time, and returns how many it deleted.
func (s *EventDeliveries) ExpireDeliveries(ctx context.Context) (int64, error) {
	cutoff := s.clock.Now().Add(-s.cfg.Retention)
	var total int64
	for {
		n, err := s.retention.DeleteEventDeliveriesFinishedBefore(ctx, cutoff, DefaultEventDeliveryBatch)
		total += n
		if err != nil || n < DefaultEventDeliveryBatch {
			return total, err
		}
	}
}

// jitter returns a uniform number in [0, 1).
func (s *EventDeliveries) jitter() float64 {
	b := s.random.Bytes(8)
	return float64(binary.BigEndian.Uint64(b)>>11) / (1 << 53)
}

// notDue is the step of a head that is not due at now: held by another
// sender, or backing off.
func notDue(d domain.EventDelivery, now time.Time) EventStep {
	if now.Before(d.SendingUntil) {
		return EventStep{Busy: true}
	}
	return EventStep{Wait: max(d.NextAttemptAt.Sub(now), time.Millisecond)}
}
