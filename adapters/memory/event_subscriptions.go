package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

var _ ports.EventDeliveryRetention = (*Store)(nil)

// deliveryKey names the delivery of an event to a subscription.
type deliveryKey struct{ env, subscription, event string }

func (r *repositories) GetEventSubscription(_ context.Context, envID, id string) (domain.EventSubscription, error) {
	if err := r.check(false); err != nil {
		return domain.EventSubscription{}, err
	}
	s, ok := r.state.subscriptions[key{envID, id}]
	if !ok {
		return domain.EventSubscription{}, fmt.Errorf("memory: event subscription %q of environment %q: %w", id, envID, ports.ErrNotFound)
	}
	return s, nil
}

// LockEventSubscription needs no lock of its own: the Tx holds the store's
// mutex.
func (r *repositories) LockEventSubscription(ctx context.Context, envID, id string) (domain.EventSubscription, error) {
	return r.GetEventSubscription(ctx, envID, id)
}

func (r *repositories) ListEventSubscriptions(_ context.Context, envID string) ([]domain.EventSubscription, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	var out []domain.EventSubscription
	for k, s := range r.state.subscriptions {
		if k.env == envID {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b domain.EventSubscription) int { return strings.Compare(a.ID(), b.ID()) })
	return out, nil
}

func (r *repositories) ListActiveEventSubscriptions(_ context.Context, afterEnv, afterID string, limit int) ([]domain.EventSubscription, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("memory: a listing needs a positive limit, got %d", limit)
	}
	var out []domain.EventSubscription
	for k, s := range r.state.subscriptions {
		if s.Active() && (k.env > afterEnv || k.env == afterEnv && k.id > afterID) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b domain.EventSubscription) int {
		return cmp.Or(strings.Compare(a.EnvID(), b.EnvID()), strings.Compare(a.ID(), b.ID()))
	})
	return out[:min(limit, len(out))], nil
}

// PutEventSubscription stores the subscription. A new one without a cursor
// starts after the last event the store's feed has now: transactions commit
// one at a time, so every event after it is of a transaction that commits
// later.
func (r *repositories) PutEventSubscription(ctx context.Context, s domain.EventSubscription) error {
	if err := r.check(true); err != nil {
		return err
	}
	if err := r.requireEnvironment(s.EnvID()); err != nil {
		return err
	}
	k := key{s.EnvID(), s.ID()}
	st := s.State()
	stored, exists := r.state.subscriptions[k]
	switch {
	case exists && st.Cursor <= stored.Cursor():
		st.Cursor = stored.Cursor()
	case !exists && st.Cursor == "":
		st.Cursor = feedEnd(ctx)
	}
	if r.state.subscriptions == nil {
		r.state.subscriptions = map[key]domain.EventSubscription{}
	}
	// Times to the microsecond, as PostgreSQL keeps them.
	st.DisabledAt, st.FailingSince = st.DisabledAt.Truncate(time.Microsecond), st.FailingSince.Truncate(time.Microsecond)
	st.CreatedAt, st.UpdatedAt = st.CreatedAt.Truncate(time.Microsecond), st.UpdatedAt.Truncate(time.Microsecond)
	r.state.subscriptions[k] = domain.RestoreEventSubscription(st)
	return nil
}

// feedEnd is the id of the last event the store's feed has, as the
// position after which a new subscription starts; the store is the one
// whose Tx ctx is of (the store's mutex is held, so no transaction adds
// events meanwhile).
func feedEnd(ctx context.Context) string {
	v, _ := ctx.Value(inTx{}).(inTx)
	if v.store == nil {
		return domain.EventID{}.String()
	}
	l := &v.store.events
	l.mu.Lock()
	defer l.mu.Unlock()
	return domain.EventID{Tx: l.lastTx, Seq: l.lastSeq}.String()
}

func (r *repositories) DeleteEventSubscription(_ context.Context, envID, id string) error {
	if err := r.check(true); err != nil {
		return err
	}
	if _, ok := r.state.subscriptions[key{envID, id}]; !ok {
		return fmt.Errorf("memory: event subscription %q of environment %q: %w", id, envID, ports.ErrNotFound)
	}
	delete(r.state.subscriptions, key{envID, id})
	for k := range r.state.eventDeliveries {
		if k.env == envID && k.subscription == id {
			delete(r.state.eventDeliveries, k)
		}
	}
	return nil
}

func (r *repositories) PendingEventDelivery(_ context.Context, envID, subscriptionID string) (domain.EventDelivery, error) {
	if err := r.check(false); err != nil {
		return domain.EventDelivery{}, err
	}
	for k, d := range r.state.eventDeliveries {
		if k.env == envID && k.subscription == subscriptionID && d.Status == domain.EventDeliveryPending {
			return cloneDelivery(d), nil
		}
	}
	return domain.EventDelivery{}, fmt.Errorf("memory: pending delivery of event subscription %q of environment %q: %w",
		subscriptionID, envID, ports.ErrNotFound)
}

// PutEventDelivery stores the delivery; like PostgreSQL's unique index, it
// refuses a second pending delivery of one subscription.
func (r *repositories) PutEventDelivery(_ context.Context, d domain.EventDelivery) error {
	if err := r.check(true); err != nil {
		return err
	}
	if _, ok := r.state.subscriptions[key{d.EnvID, d.SubscriptionID}]; !ok {
		return fmt.Errorf("memory: event subscription %q of environment %q: %w", d.SubscriptionID, d.EnvID, ports.ErrNotFound)
	}
	k := deliveryKey{d.EnvID, d.SubscriptionID, d.EventID}
	if d.Status == domain.EventDeliveryPending {
		for other, o := range r.state.eventDeliveries {
			if other != k && other.env == d.EnvID && other.subscription == d.SubscriptionID && o.Status == domain.EventDeliveryPending {
				return fmt.Errorf("memory: event subscription %q of environment %q already has a pending delivery (event %s)",
					d.SubscriptionID, d.EnvID, o.EventID)
			}
		}
	}
	if stored, ok := r.state.eventDeliveries[k]; ok {
		// The event and its payload are the delivery's for good.
		d.EventType, d.Payload = stored.EventType, stored.Payload
	}
	if r.state.eventDeliveries == nil {
		r.state.eventDeliveries = map[deliveryKey]domain.EventDelivery{}
	}
	d = cloneDelivery(d)
	for _, t := range []*time.Time{&d.CreatedAt, &d.NextAttemptAt, &d.SendingUntil, &d.LastAttemptAt, &d.FinishedAt} {
		*t = t.Truncate(time.Microsecond)
	}
	if d.Payload == nil {
		d.Payload = []byte{}
	}
	r.state.eventDeliveries[k] = d
	return nil
}

func (r *repositories) ListEventDeliveries(_ context.Context, envID, subscriptionID, before string, limit int) ([]domain.EventDelivery, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("memory: a listing needs a positive limit, got %d", limit)
	}
	var out []domain.EventDelivery
	for k, d := range r.state.eventDeliveries {
		if k.env == envID && k.subscription == subscriptionID && (before == "" || k.event < before) {
			out = append(out, cloneDelivery(d))
		}
	}
	slices.SortFunc(out, func(a, b domain.EventDelivery) int { return strings.Compare(b.EventID, a.EventID) })
	return out[:min(limit, len(out))], nil
}

// EnqueueEventDeliveries counts the run with the transaction: the memory
// store has no workers (see EventDeliveryRuns).
func (r *repositories) EnqueueEventDeliveries(_ context.Context, envID, subscriptionID string) error {
	if err := r.check(true); err != nil {
		return err
	}
	if r.state.eventRuns == nil {
		r.state.eventRuns = map[key]int{}
	}
	r.state.eventRuns[key{envID, subscriptionID}]++
	return nil
}

// EventDeliveryRuns says how many runs of the subscription's deliveries
// committed transactions scheduled (ports.EventSubscriptions.EnqueueEventDeliveries).
func (s *Store) EventDeliveryRuns(envID, subscriptionID string) int {
	return s.current.Load().eventRuns[key{envID, subscriptionID}]
}

// DeleteEventDeliveriesFinishedBefore deletes up to limit finished
// deliveries, the oldest first, as the PostgreSQL store does.
func (s *Store) DeleteEventDeliveriesFinishedBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("memory: deleting old event deliveries: the limit must be positive, got %d", limit)
	}
	var n int64
	err := s.tx(ctx, func(_ context.Context, r *repositories) error {
		var old []deliveryKey
		for k, d := range r.state.eventDeliveries {
			if !d.FinishedAt.IsZero() && d.FinishedAt.Before(cutoff) {
				old = append(old, k)
			}
		}
		slices.SortFunc(old, func(a, b deliveryKey) int {
			return r.state.eventDeliveries[a].FinishedAt.Compare(r.state.eventDeliveries[b].FinishedAt)
		})
		for _, k := range old[:min(limit, len(old))] {
			delete(r.state.eventDeliveries, k)
		}
		n = int64(min(limit, len(old)))
		return nil
	})
	return n, err
}

func cloneDelivery(d domain.EventDelivery) domain.EventDelivery {
	d.Payload = slices.Clone(d.Payload)
	return d
}
