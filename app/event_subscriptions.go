package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// Codes of the event subscriptions' errors.
const (
	CodeSubscriptionNotFound = "subscription_not_found"
	CodeTooManySubscriptions = "too_many_subscriptions"
)

// EventSubscriptions configures the CRM endpoints that an environment's
// events are pushed to (EventDeliveries sends them).
type EventSubscriptions struct {
	writes unitOfWork[subscriptionWrites]
	reads  unitOfWork[subscriptionReads]
	clock  ports.Clock
	random ports.Random
	policy domain.URLPolicy
}

// NewEventSubscriptions builds the service; policy says which URLs the
// deployment posts to (the partner URL's).
func NewEventSubscriptions(store ports.Store, clock ports.Clock, random ports.Random, policy domain.URLPolicy) *EventSubscriptions {
	return &EventSubscriptions{
		writes: narrow(store, func(r ports.Repositories) subscriptionWrites { return r }),
		reads:  narrow(store, func(r ports.Repositories) subscriptionReads { return r }),
		clock:  clock, random: random, policy: policy,
	}
}

// subscriptionWrites is what configuring a subscription reads and writes:
// the subscription, its pending delivery, and the run of its deliveries.
type subscriptionWrites interface {
	GetEnvironment(ctx context.Context, id string) (domain.Environment, error)
	LockEnvironment(ctx context.Context, id string) (domain.Environment, error)
	LockEventSubscription(ctx context.Context, envID, id string) (domain.EventSubscription, error)
	ListEventSubscriptions(ctx context.Context, envID string) ([]domain.EventSubscription, error)
	PutEventSubscription(ctx context.Context, s domain.EventSubscription) error
	DeleteEventSubscription(ctx context.Context, envID, id string) error
	PendingEventDelivery(ctx context.Context, envID, subscriptionID string) (domain.EventDelivery, error)
	PutEventDelivery(ctx context.Context, d domain.EventDelivery) error
	EnqueueEventDeliveries(ctx context.Context, envID, subscriptionID string) error
}

// subscriptionReads is what reading subscriptions and their deliveries reads.
type subscriptionReads interface {
	GetEnvironment(ctx context.Context, id string) (domain.Environment, error)
	GetEventSubscription(ctx context.Context, envID, id string) (domain.EventSubscription, error)
	ListEventSubscriptions(ctx context.Context, envID string) ([]domain.EventSubscription, error)
	ListEventDeliveries(ctx context.Context, envID, subscriptionID, before string, limit int) ([]domain.EventDelivery, error)
}

// SubscriptionResult is a subscription after a change. NewSecret holds
// its signing secret when this change created or rotated it, and only
// then: it is never shown again.
type SubscriptionResult struct {
	Subscription domain.EventSubscription
	NewSecret    string
	Created      bool
}

func (s *EventSubscriptions) newSecret() string {
	return "whsec_" + base64.StdEncoding.EncodeToString(s.random.Bytes(signingSecretBytes))
}

// Put creates the subscription, with a new signing secret, or replaces its
// URL and types. Replacing those of a disabled subscription makes it active
// again; then, or when its URL changed, the event it was on is tried afresh
// at once, with a new retry window. A new subscription hears the events
// that happen from now on.
func (s *EventSubscriptions) Put(ctx context.Context, envID, id string, in domain.EventSubscriptionInput) (SubscriptionResult, error) {
	var res SubscriptionResult
	err := s.writes.Tx(ctx, func(ctx context.Context, r subscriptionWrites) error {
		// Held, so that two creations in one environment count each other.
		if _, err := r.LockEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		now := storedTime(s.clock.Now())
		current, err := r.LockEventSubscription(ctx, envID, id)
		if errors.Is(err, ports.ErrNotFound) {
			all, err := r.ListEventSubscriptions(ctx, envID)
			if err != nil {
				return err
			}
			if len(all) >= domain.MaxSubscriptionsPerEnvironment {
				return &domain.Error{Kind: domain.KindConflict, Code: CodeTooManySubscriptions, Field: "subscription_id",
					Message: fmt.Sprintf("an environment has at most %d event subscriptions; delete one first", domain.MaxSubscriptionsPerEnvironment)}
			}
			secret := s.newSecret()
			sub, err := domain.NewEventSubscription(envID, id, in, s.policy, secret, now)
			if err != nil {
				return err
			}
			res = SubscriptionResult{Subscription: sub, NewSecret: secret, Created: true}
			if err := r.PutEventSubscription(ctx, sub); err != nil {
				return err
			}
			return r.EnqueueEventDeliveries(ctx, envID, id)
		}
		if err != nil {
			return err
		}
		fresh, err := current.Configure(in, s.policy, now)
		if err != nil {
			return err
		}
		res = SubscriptionResult{Subscription: current}
		if err := r.PutEventSubscription(ctx, current); err != nil {
			return err
		}
		if !fresh {
			return nil
		}
		head, err := r.PendingEventDelivery(ctx, envID, id)
		switch {
		case errors.Is(err, ports.ErrNotFound):
		case err != nil:
			return err
		default:
			head.Restart(now)
			if err := r.PutEventDelivery(ctx, head); err != nil {
				return err
			}
		}
		return r.EnqueueEventDeliveries(ctx, envID, id)
	})
	return res, err
}

// Get returns the subscription.
func (s *EventSubscriptions) Get(ctx context.Context, envID, id string) (domain.EventSubscription, error) {
	var out domain.EventSubscription
	err := s.reads.Read(ctx, func(ctx context.Context, r subscriptionReads) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		out, err = r.GetEventSubscription(ctx, envID, id)
		return subscriptionNotFound(err, id)
	})
	return out, err
}

// List returns the environment's subscriptions, ordered by id.
func (s *EventSubscriptions) List(ctx context.Context, envID string) ([]domain.EventSubscription, error) {
	var out []domain.EventSubscription
	err := s.reads.Read(ctx, func(ctx context.Context, r subscriptionReads) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		out, err = r.ListEventSubscriptions(ctx, envID)
		return err
	})
	return out, err
}

// Delete deletes the subscription and its deliveries: nothing more is sent
// to it (an attempt on the wire ends as it ends, unrecorded).
func (s *EventSubscriptions) Delete(ctx context.Context, envID, id string) error {
	return s.writes.Tx(ctx, func(ctx context.Context, r subscriptionWrites) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		return subscriptionNotFound(r.DeleteEventSubscription(ctx, envID, id), id)
	})
}

// RotateSecret gives the subscription a new signing secret; the previous
// one keeps signing for domain.PreviousSecretGrace, so that the endpoint
// can switch without refusing an event.
func (s *EventSubscriptions) RotateSecret(ctx context.Context, envID, id string) (SubscriptionResult, error) {
	var res SubscriptionResult
	err := s.writes.Tx(ctx, func(ctx context.Context, r subscriptionWrites) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		sub, err := r.LockEventSubscription(ctx, envID, id)
		if err != nil {
			return subscriptionNotFound(err, id)
		}
		secret := s.newSecret()
		if err := sub.RotateSecret(secret, storedTime(s.clock.Now())); err != nil {
			return err
		}
		res = SubscriptionResult{Subscription: sub, NewSecret: secret}
		return r.PutEventSubscription(ctx, sub)
	})
	return res, err
}

// Pages of a subscription's deliveries.
const (
	DefaultDeliveryPage = 50
	MaxDeliveryPage     = 200
)

// DeliveryPage is a page of a subscription's deliveries, newest event
// first; Next continues it ("" on the last page).
type DeliveryPage struct {
	Deliveries []domain.EventDelivery
	Next       string
}

// Deliveries returns up to limit (DefaultDeliveryPage when 0, at most
// MaxDeliveryPage) of the subscription's deliveries, newest event first,
// after the cursor a previous page gave ("" from the newest).
func (s *EventSubscriptions) Deliveries(ctx context.Context, envID, id, cursor string, limit int) (DeliveryPage, error) {
	if limit == 0 {
		limit = DefaultDeliveryPage
	}
	if limit < 1 || limit > MaxDeliveryPage {
		return DeliveryPage{}, &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidField, Field: "limit",
			Message: fmt.Sprintf("must be between 1 and %d", MaxDeliveryPage)}
	}
	if cursor != "" {
		if _, err := domain.ParseEventID("cursor", cursor); err != nil {
			return DeliveryPage{}, err
		}
	}
	var page DeliveryPage
	err := s.reads.Read(ctx, func(ctx context.Context, r subscriptionReads) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		if _, err := r.GetEventSubscription(ctx, envID, id); err != nil {
			return subscriptionNotFound(err, id)
		}
		list, err := r.ListEventDeliveries(ctx, envID, id, cursor, limit+1)
		if err != nil {
			return err
		}
		if len(list) > limit {
			list = list[:limit]
			page.Next = list[limit-1].EventID
		}
		page.Deliveries = list
		return nil
	})
	return page, err
}

// storedTime is t as the stores keep it, to the microsecond: what a change
// answers is what reading it back shows.
func storedTime(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

func subscriptionNotFound(err error, id string) error {
	return notFound(err, CodeSubscriptionNotFound, "subscription_id", fmt.Sprintf("event subscription %q", id))
}
