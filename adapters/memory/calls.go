package memory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

func (r *repositories) GetCall(_ context.Context, envID, id string) (domain.Call, error) {
	if err := r.check(false); err != nil {
		return domain.Call{}, err
	}
	c, ok := r.state.calls[key{envID, id}]
	if !ok {
		return domain.Call{}, fmt.Errorf("memory: call %q of environment %q: %w", id, envID, ports.ErrNotFound)
	}
	return c, nil
}

// LockCall needs no lock of its own: the Tx holds the store's mutex. Inside
// Read it only reads, as the PostgreSQL adapter does.
func (r *repositories) LockCall(ctx context.Context, envID, id string) (domain.Call, error) {
	return r.GetCall(ctx, envID, id)
}

// PutCall stores a copy of c as PostgreSQL keeps it: times to the
// microsecond, attempt durations to the millisecond, attempt errors storable
// as text. Like the schema's CHECKs, it refuses an unknown status and ids that
// are not valid.
func (r *repositories) PutCall(_ context.Context, c domain.Call) error {
	if err := r.check(true); err != nil {
		return err
	}
	if err := r.requireEnvironment(c.EnvID()); err != nil {
		return err
	}
	for _, id := range []string{c.ID(), c.LeadID(), c.UserID()} {
		if !domain.ValidID(id) {
			return fmt.Errorf("memory: call %q: id %q is not valid", c.ID(), id)
		}
	}
	if !slices.Contains(domain.CallStatuses, c.Status()) {
		return fmt.Errorf("memory: call %q: unknown status %q", c.ID(), c.Status())
	}
	attempts := c.Attempts()
	for n, a := range attempts {
		attempts[n] = domain.Attempt{At: a.At.Truncate(time.Microsecond), StatusCode: a.StatusCode,
			Error: storableText(a.Error), Duration: a.Duration.Truncate(time.Millisecond)}
	}
	k := key{c.EnvID(), c.ID()}
	var from domain.CallStatus // "": a new call
	if prev, ok := r.state.calls[k]; ok {
		from = prev.Status()
	}
	r.state.calls[k] = domain.RestoreCall(c.EnvID(), c.ID(), c.LeadID(), c.UserID(), c.Status(), c.Reason(),
		c.ClickedAt().Truncate(time.Microsecond), c.Deadline().Truncate(time.Microsecond), c.Payload(), attempts).
		WithDeliveredAt(c.DeliveredAt().Truncate(time.Microsecond))
	r.callChanged(from, r.state.calls[k])
	return nil
}

// LockCallsAwaitingResult needs no lock of its own either: nothing else
// holds a call while the Tx holds the store's mutex, so none is skipped.
// Calls accepted at the same instant come by environment, then id.
func (r *repositories) LockCallsAwaitingResult(_ context.Context, acceptedBy time.Time, limit int) ([]domain.Call, error) {
	if err := r.check(true); err != nil {
		return nil, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	var out []domain.Call
	for _, c := range r.state.calls {
		if c.Status() == domain.CallDelivered && !c.DeliveredAt().IsZero() && !c.DeliveredAt().After(acceptedBy) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b domain.Call) int {
		return cmp.Or(a.DeliveredAt().Compare(b.DeliveredAt()), cmp.Compare(a.EnvID(), b.EnvID()), cmp.Compare(a.ID(), b.ID()))
	})
	return out[:min(limit, len(out))], nil
}

// EnqueueDelivery keeps d with the transaction: it joins the store's outbox
// (see TakeDeliveries) only if the transaction commits. A direct delivery
// (d.NotBefore set) is held instead (see HeldDeliveries) until released.
func (r *repositories) EnqueueDelivery(_ context.Context, d ports.Delivery) error {
	if err := r.check(true); err != nil {
		return err
	}
	if d.EnvID == "" || d.CallID == "" {
		return fmt.Errorf("memory: a delivery needs an environment and a call, got %+v", d)
	}
	if !d.NotBefore.IsZero() {
		r.state.held[key{d.EnvID, d.CallID}] = d
		return nil
	}
	r.deliveries = append(r.deliveries, d)
	return nil
}

// ReleaseDelivery drops the call's held delivery or, with a retryAt, moves
// it to the outbox due then (its NotBefore), when the transaction commits.
func (r *repositories) ReleaseDelivery(_ context.Context, held ports.Delivery, retryAt time.Time) error {
	if err := r.check(true); err != nil {
		return err
	}
	if held.EnvID == "" || held.CallID == "" {
		return fmt.Errorf("memory: a delivery needs an environment and a call, got %+v", held)
	}
	d, ok := r.state.held[key{held.EnvID, held.CallID}]
	if !ok || !d.NotBefore.Equal(held.NotBefore) {
		return nil
	}
	delete(r.state.held, key{held.EnvID, held.CallID})
	if !retryAt.IsZero() {
		d.NotBefore = retryAt
		r.deliveries = append(r.deliveries, d)
	}
	return nil
}

// ReplaceCall is PutCall when the stored call is in status was with
// attempts attempts, and ports.ErrCallChanged otherwise.
func (r *repositories) ReplaceCall(ctx context.Context, c domain.Call, was domain.CallStatus, attempts int) error {
	if err := r.check(true); err != nil {
		return err
	}
	stored, ok := r.state.calls[key{c.EnvID(), c.ID()}]
	if !ok || stored.Status() != was || len(stored.Attempts()) != attempts {
		return fmt.Errorf("memory: call %q of environment %q, read as %s with %d attempts: %w", c.ID(), c.EnvID(), was, attempts,
			ports.ErrCallChanged)
	}
	return r.PutCall(ctx, c)
}

// HeldDeliveries returns the committed direct deliveries not yet released,
// by environment and call: what the queue would run once their NotBefore
// passes, had the process delivering them died.
func (s *Store) HeldDeliveries() []ports.Delivery {
	held := s.current.Load().held
	out := make([]ports.Delivery, 0, len(held))
	for _, d := range held {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b ports.Delivery) int {
		return cmp.Or(cmp.Compare(a.EnvID, b.EnvID), cmp.Compare(a.CallID, b.CallID))
	})
	return out
}

// TakeDeliveries returns the deliveries enqueued by committed transactions
// since the last call, in the order they were enqueued, and forgets them: it
// is the in-memory stand-in for the job queue's workers.
func (s *Store) TakeDeliveries() []ports.Delivery {
	s.outboxMu.Lock()
	defer s.outboxMu.Unlock()
	out := s.outbox
	s.outbox = nil
	return out
}

// RecordExchange stores a copy of e as PostgreSQL keeps it: times to the
// microsecond, the duration to the millisecond, text storable. Like the
// schema, it refuses an unknown direction, a negative duration, a status code
// outside 0–999, an id that is not valid or already recorded.
func (r *repositories) RecordExchange(_ context.Context, e domain.Exchange) error {
	if err := r.check(true); err != nil {
		return err
	}
	if err := r.requireEnvironment(e.EnvID); err != nil {
		return err
	}
	switch {
	case !domain.ValidID(e.ID):
		return fmt.Errorf("memory: exchange id %q is not valid", e.ID)
	case e.Direction != domain.Inbound && e.Direction != domain.Outbound:
		return fmt.Errorf("memory: exchange %q: unknown direction %q", e.ID, e.Direction)
	case e.Duration < 0:
		return fmt.Errorf("memory: exchange %q: negative duration %v", e.ID, e.Duration)
	case e.StatusCode < 0 || e.StatusCode > 999:
		return fmt.Errorf("memory: exchange %q: status code %d out of range", e.ID, e.StatusCode)
	}
	if _, dup := r.state.exchanges[e.ID]; dup {
		return fmt.Errorf("memory: exchange %q is already recorded", e.ID)
	}
	stored := e
	stored.Method, stored.URL = storableText(e.Method), storableText(e.URL)
	stored.RequestBody, stored.ResponseBody, stored.Error = storableText(e.RequestBody), storableText(e.ResponseBody), storableText(e.Error)
	stored.Duration = e.Duration.Truncate(time.Millisecond)
	stored.OccurredAt = e.OccurredAt.Truncate(time.Microsecond)
	stored.RequestHeaders = copyHeaders(e.RequestHeaders)
	r.state.exchanges[e.ID] = stored
	return nil
}

// Exchanges returns the committed exchanges of the environment, ordered by
// OccurredAt, then ID.
func (s *Store) Exchanges(envID string) []domain.Exchange {
	var out []domain.Exchange
	for _, e := range s.current.Load().exchanges {
		if e.EnvID == envID {
			e.RequestHeaders = copyHeaders(e.RequestHeaders)
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b domain.Exchange) int {
		return cmp.Or(a.OccurredAt.Compare(b.OccurredAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// copyHeaders copies h deeply, never returning nil (PostgreSQL keeps {}).
func copyHeaders(h map[string][]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for name, values := range maps.All(h) {
		clean := make([]string, len(values))
		for n, v := range values {
			clean[n] = storableText(v)
		}
		out[storableText(name)] = clean
	}
	return out
}

// storableText is what PostgreSQL's text and jsonb can hold: each run of
// invalid UTF-8 and each NUL becomes U+FFFD (the PostgreSQL adapter does the same).
func storableText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
