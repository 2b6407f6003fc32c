package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"callconnect/adapters/outbox"
	"callconnect/adapters/postgres/gen"
	"callconnect/domain"
	"callconnect/ports"
)

var _ ports.EventDeliveryRetention = (*Store)(nil)

// ErrNoEventEnqueuer is returned by EnqueueEventDeliveries of a Store whose
// Enqueuer (WithEnqueuer) is not an outbox.EventEnqueuer, or that has none.
var ErrNoEventEnqueuer = errors.New("postgres: the store's Enqueuer cannot schedule event deliveries (see outbox.EventEnqueuer)")

func (r *repositories) GetEventSubscription(ctx context.Context, envID, id string) (domain.EventSubscription, error) {
	row, err := r.q.GetEventSubscription(ctx, gen.GetEventSubscriptionParams{EnvID: envID, ID: id})
	if err != nil {
		return domain.EventSubscription{}, notFound(err, fmt.Sprintf("event subscription %q of environment %q", id, envID))
	}
	return r.subscriptionFromRow(row)
}

func (r *repositories) LockEventSubscription(ctx context.Context, envID, id string) (domain.EventSubscription, error) {
	if r.readOnly {
		return r.GetEventSubscription(ctx, envID, id)
	}
	row, err := r.q.LockEventSubscription(ctx, gen.LockEventSubscriptionParams{EnvID: envID, ID: id})
	if err != nil {
		return domain.EventSubscription{}, notFound(err, fmt.Sprintf("event subscription %q of environment %q", id, envID))
	}
	return r.subscriptionFromRow(row)
}

func (r *repositories) ListEventSubscriptions(ctx context.Context, envID string) ([]domain.EventSubscription, error) {
	rows, err := r.q.ListEventSubscriptions(ctx, envID)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the event subscriptions of environment %q: %w", envID, err)
	}
	return r.subscriptionsFromRows(rows)
}

func (r *repositories) ListActiveEventSubscriptions(ctx context.Context, afterEnv, afterID string, limit int) ([]domain.EventSubscription, error) {
	n, err := rowLimit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := r.q.ListActiveEventSubscriptions(ctx, gen.ListActiveEventSubscriptionsParams{AfterEnv: afterEnv, AfterID: afterID, RowLimit: n})
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the active event subscriptions: %w", err)
	}
	return r.subscriptionsFromRows(rows)
}

func (r *repositories) PutEventSubscription(ctx context.Context, s domain.EventSubscription) error {
	st := s.State()
	sealed, err := r.sealSubscriptionSecrets(st.EnvID, st.ID, st.Secrets)
	if err != nil {
		return err
	}
	types := make([]string, len(st.Types))
	for i, t := range st.Types {
		types[i] = string(t)
	}
	params := gen.PutEventSubscriptionParams{EnvID: st.EnvID, ID: st.ID, Url: st.URL, Types: types, SigningSecrets: sealed,
		Status: string(st.Status), DisabledReason: optional(st.DisabledReason), DisabledAt: optionalTime(st.DisabledAt),
		FailingSince: optionalTime(st.FailingSince), Cursor: st.Cursor, CreatedAt: st.CreatedAt, UpdatedAt: st.UpdatedAt}
	if err := r.write(ctx, func(q *gen.Queries) error { return q.PutEventSubscription(ctx, params) }); err != nil {
		return writeError(err, st.EnvID, "event subscription")
	}
	return nil
}

func (r *repositories) DeleteEventSubscription(ctx context.Context, envID, id string) error {
	var n int64
	err := r.write(ctx, func(q *gen.Queries) (err error) {
		n, err = q.DeleteEventSubscription(ctx, gen.DeleteEventSubscriptionParams{EnvID: envID, ID: id})
		return err
	})
	if err != nil {
		return writeError(err, envID, "event subscription")
	}
	if n == 0 {
		return fmt.Errorf("event subscription %q of environment %q: %w", id, envID, ports.ErrNotFound)
	}
	return nil
}

func (r *repositories) PendingEventDelivery(ctx context.Context, envID, subscriptionID string) (domain.EventDelivery, error) {
	row, err := r.q.PendingEventDelivery(ctx, gen.PendingEventDeliveryParams{EnvID: envID, SubscriptionID: subscriptionID})
	if err != nil {
		return domain.EventDelivery{}, notFound(err, fmt.Sprintf("pending delivery of event subscription %q of environment %q", subscriptionID, envID))
	}
	return deliveryFromRow(row), nil
}

func (r *repositories) PutEventDelivery(ctx context.Context, d domain.EventDelivery) error {
	params := gen.PutEventDeliveryParams{EnvID: d.EnvID, SubscriptionID: d.SubscriptionID, EventID: d.EventID,
		EventType: string(d.EventType), Payload: d.Payload, Status: string(d.Status), Attempts: int32(d.Attempts),
		CreatedAt: d.CreatedAt, NextAttemptAt: optionalTime(d.NextAttemptAt), SendingUntil: optionalTime(d.SendingUntil),
		LastAttemptAt: optionalTime(d.LastAttemptAt), LastError: optional(storableText(d.LastError)),
		FinishedAt: optionalTime(d.FinishedAt)}
	if d.Payload == nil {
		params.Payload = []byte{}
	}
	if d.LastStatusCode != 0 {
		code := int32(d.LastStatusCode)
		params.LastStatusCode = &code
	}
	if err := r.write(ctx, func(q *gen.Queries) error { return q.PutEventDelivery(ctx, params) }); err != nil {
		if isSQLState(err, foreignKeyViolation) {
			return fmt.Errorf("event subscription %q of environment %q: %w", d.SubscriptionID, d.EnvID, ports.ErrNotFound)
		}
		return writeError(err, d.EnvID, "event delivery")
	}
	return nil
}

func (r *repositories) ListEventDeliveries(ctx context.Context, envID, subscriptionID, before string, limit int) ([]domain.EventDelivery, error) {
	n, err := rowLimit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := r.q.ListEventDeliveries(ctx, gen.ListEventDeliveriesParams{EnvID: envID, SubscriptionID: subscriptionID,
		Before: before, RowLimit: n})
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the deliveries of event subscription %q of environment %q: %w", subscriptionID, envID, err)
	}
	out := make([]domain.EventDelivery, 0, len(rows))
	for _, row := range rows {
		out = append(out, deliveryFromRow(row))
	}
	return out, nil
}

// EnqueueEventDeliveries hands the run to the store's Enqueuer inside this
// transaction: it commits or rolls back with what called for it.
func (r *repositories) EnqueueEventDeliveries(ctx context.Context, envID, subscriptionID string) error {
	if r.readOnly {
		return errReadOnly
	}
	e, ok := r.enqueuer.(outbox.EventEnqueuer)
	if !ok {
		return ErrNoEventEnqueuer
	}
	if err := e.EnqueueEventDeliveries(ctx, r.tx, envID, subscriptionID); err != nil {
		return fmt.Errorf("postgres: scheduling the deliveries of event subscription %q of environment %q: %w", subscriptionID, envID, err)
	}
	return nil
}

// DeleteEventDeliveriesFinishedBefore deletes up to limit finished
// deliveries, the oldest first, in one statement (its own transaction).
func (s *Store) DeleteEventDeliveriesFinishedBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	n, err := rowLimit(limit)
	if err != nil {
		return 0, err
	}
	deleted, err := gen.New(s.pool).DeleteEventDeliveriesFinishedBefore(ctx, gen.DeleteEventDeliveriesFinishedBeforeParams{Cutoff: cutoff, MaxRows: n})
	if err != nil {
		return 0, fmt.Errorf("postgres: deleting old event deliveries: %w", err)
	}
	return deleted, nil
}

func (r *repositories) subscriptionsFromRows(rows []gen.EventSubscription) ([]domain.EventSubscription, error) {
	out := make([]domain.EventSubscription, 0, len(rows))
	for _, row := range rows {
		s, err := r.subscriptionFromRow(row)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (r *repositories) subscriptionFromRow(row gen.EventSubscription) (domain.EventSubscription, error) {
	secrets, err := r.openSubscriptionSecrets(row.EnvID, row.ID, row.SigningSecrets)
	if err != nil {
		return domain.EventSubscription{}, err
	}
	types := make([]domain.EventType, len(row.Types))
	for i, t := range row.Types {
		types[i] = domain.EventType(t)
	}
	return domain.RestoreEventSubscription(domain.EventSubscriptionState{EnvID: row.EnvID, ID: row.ID, URL: row.Url, Types: types,
		Secrets: secrets, Status: domain.SubscriptionStatus(row.Status), DisabledReason: deref(row.DisabledReason),
		DisabledAt: derefTime(row.DisabledAt), FailingSince: derefTime(row.FailingSince), Cursor: row.Cursor,
		CreatedAt: row.CreatedAt.UTC(), UpdatedAt: row.UpdatedAt.UTC()}), nil
}

func deliveryFromRow(row gen.EventDelivery) domain.EventDelivery {
	d := domain.EventDelivery{EnvID: row.EnvID, SubscriptionID: row.SubscriptionID, EventID: row.EventID,
		EventType: domain.EventType(row.EventType), Payload: row.Payload, Status: domain.EventDeliveryStatus(row.Status),
		Attempts: int(row.Attempts), CreatedAt: row.CreatedAt.UTC(), NextAttemptAt: derefTime(row.NextAttemptAt),
		SendingUntil: derefTime(row.SendingUntil), LastAttemptAt: derefTime(row.LastAttemptAt), LastError: deref(row.LastError),
		FinishedAt: derefTime(row.FinishedAt)}
	if row.LastStatusCode != nil {
		d.LastStatusCode = int(*row.LastStatusCode)
	}
	return d
}

// subscriptionSecretsAD binds sealed secrets to their subscription: moved
// to another row, they no longer open.
func subscriptionSecretsAD(envID, id string) []byte {
	return []byte("callconnect/event_subscriptions.signing_secrets\x00" + envID + "\x00" + id)
}

// sealSubscriptionSecrets encrypts the secrets list as one value, as the
// integrations' are (sealSecrets).
func (r *repositories) sealSubscriptionSecrets(envID, id string, secrets []domain.SigningSecret) ([]byte, error) {
	doc := make([]storedSecret, 0, len(secrets))
	for _, s := range secrets {
		if s.ExpiresAt != nil {
			t := s.ExpiresAt.UTC()
			s.ExpiresAt = &t
		}
		doc = append(doc, storedSecret(s))
	}
	plain, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("postgres: event subscription %q of environment %q: signing secrets: %w", id, envID, err)
	}
	return r.box.seal(plain, subscriptionSecretsAD(envID, id)), nil
}

func (r *repositories) openSubscriptionSecrets(envID, id string, sealed []byte) ([]domain.SigningSecret, error) {
	plain, err := r.box.open(sealed, subscriptionSecretsAD(envID, id))
	if err != nil {
		return nil, fmt.Errorf("postgres: event subscription %q of environment %q: %w", id, envID, err)
	}
	var doc []storedSecret
	if err := json.Unmarshal(plain, &doc); err != nil {
		return nil, fmt.Errorf("postgres: event subscription %q of environment %q: signing secrets: %v", id, envID, err)
	}
	secrets := make([]domain.SigningSecret, 0, len(doc))
	for _, s := range doc {
		secrets = append(secrets, domain.SigningSecret(s))
	}
	return secrets, nil
}

// optionalTime stores a zero time as NULL.
func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// derefTime reads NULL back as the zero time, and a time in UTC.
func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
