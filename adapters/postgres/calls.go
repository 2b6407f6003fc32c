package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"callconnect/adapters/outbox"
	"callconnect/adapters/postgres/gen"
	"callconnect/domain"
	"callconnect/ports"
)

func (r *repositories) GetCall(ctx context.Context, envID, id string) (domain.Call, error) {
	row, err := r.q.GetCall(ctx, gen.GetCallParams{EnvID: envID, ID: id})
	if err != nil {
		return domain.Call{}, notFound(err, fmt.Sprintf("call %q of environment %q", id, envID))
	}
	return callFromRow(row)
}

// LockCall reads the call and locks its row (FOR UPDATE) until the
// transaction ends. Inside Store.Read it only reads, as LockEnvironment does.
func (r *repositories) LockCall(ctx context.Context, envID, id string) (domain.Call, error) {
	if r.readOnly {
		return r.GetCall(ctx, envID, id)
	}
	row, err := r.q.LockCall(ctx, gen.LockCallParams{EnvID: envID, ID: id})
	if err != nil {
		return domain.Call{}, notFound(err, fmt.Sprintf("call %q of environment %q", id, envID))
	}
	return callFromRow(row)
}

// LatestOpenCall reads the lead's newest call (by click time, then id)
// whose status is neither completed nor not_completed.
func (r *repositories) LatestOpenCall(ctx context.Context, envID, leadID string) (domain.Call, error) {
	row, err := r.q.LatestOpenCall(ctx, gen.LatestOpenCallParams{EnvID: envID, LeadID: leadID})
	if err != nil {
		return domain.Call{}, notFound(err, fmt.Sprintf("open call of lead %q of environment %q", leadID, envID))
	}
	return callFromRow(row)
}

func (r *repositories) PutCall(ctx context.Context, c domain.Call) error {
	attempts, err := json.Marshal(storedAttempts(c.Attempts()))
	if err != nil {
		return fmt.Errorf("postgres: call %q: attempts: %w", c.ID(), err)
	}
	payload := c.Payload()
	if payload == nil {
		payload = []byte{} // pgx sends a nil slice as NULL
	}
	params := gen.PutCallParams{
		EnvID:     c.EnvID(),
		ID:        c.ID(),
		LeadID:    c.LeadID(),
		UserID:    c.UserID(),
		Status:    string(c.Status()),
		Reason:    optional(c.Reason()),
		ClickedAt: c.ClickedAt(),
		Deadline:  c.Deadline(),
		Payload:   payload,
		Attempts:  attempts,
	}
	if at := c.DeliveredAt(); !at.IsZero() {
		params.DeliveredAt = &at
	}
	return r.writeHot(c.EnvID(), "call", func(q *gen.Queries) error { return q.PutCall(ctx, params) })
}

// ReplaceCall queues the compare-and-set write with the transaction's next
// statement or its COMMIT, as PutCall's: the delivery's outcome is
// recorded in one round trip with no read of the call first. A call that
// changed meanwhile fails that statement (see the ReplaceCall query),
// which aborts the transaction: the commit, and so Store.Tx, return an
// error for which errors.Is(err, ports.ErrCallChanged).
func (r *repositories) ReplaceCall(ctx context.Context, c domain.Call, was domain.CallStatus, attempts int) error {
	if r.readOnly {
		return errReadOnly
	}
	if attempts < 0 || attempts > math.MaxInt32 {
		return fmt.Errorf("postgres: call %q: %d attempts", c.ID(), attempts)
	}
	stored, err := json.Marshal(storedAttempts(c.Attempts()))
	if err != nil {
		return fmt.Errorf("postgres: call %q: attempts: %w", c.ID(), err)
	}
	params := gen.ReplaceCallParams{
		Status:      string(c.Status()),
		Reason:      optional(c.Reason()),
		Attempts:    stored,
		EnvID:       c.EnvID(),
		ID:          c.ID(),
		WasStatus:   string(was),
		WasAttempts: int32(attempts),
	}
	if at := c.DeliveredAt(); !at.IsZero() {
		params.DeliveredAt = &at
	}
	fail := func(err error) error {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == divisionByZero {
			return fmt.Errorf("call %q of environment %q, read as %s with %d attempts: %w", c.ID(), c.EnvID(), was, attempts,
				ports.ErrCallChanged)
		}
		return writeError(err, c.EnvID(), "call")
	}
	return gen.New(deferring{tx: r.tx, fail: fail}).ReplaceCall(ctx, params)
}

// divisionByZero is the SQLSTATE the ReplaceCall query fails with when the
// call is not as read.
const divisionByZero = "22012"

// ErrNoEnqueuer is returned by EnqueueDelivery of a Store built without
// WithEnqueuer: it cannot schedule deliveries.
var ErrNoEnqueuer = errors.New("postgres: the store has no Enqueuer (see WithEnqueuer), so it cannot schedule call deliveries")

// EnqueueDelivery hands the delivery to the store's Enqueuer inside this
// transaction, so that the delivery job commits or rolls back with the call
// (the outbox). An error from the Enqueuer may leave the transaction aborted:
// return it rather than carrying on.
func (r *repositories) EnqueueDelivery(ctx context.Context, d ports.Delivery) error {
	if r.readOnly {
		return errReadOnly
	}
	if err := checkDelivery(d); err != nil {
		return err
	}
	if r.enqueuer == nil {
		return ErrNoEnqueuer
	}
	if err := r.enqueuer.EnqueueDelivery(ctx, r.tx, d); err != nil {
		return fmt.Errorf("postgres: enqueueing the delivery of call %q of environment %q: %w", d.CallID, d.EnvID, err)
	}
	return nil
}

// ReleaseDelivery hands the end of a direct delivery to the store's
// Enqueuer, in this transaction, so that the held job is dropped or made
// due with the outcome that decided it.
func (r *repositories) ReleaseDelivery(ctx context.Context, d ports.Delivery, retryAt time.Time) error {
	if r.readOnly {
		return errReadOnly
	}
	if err := checkDelivery(d); err != nil {
		return err
	}
	releaser, ok := r.enqueuer.(outbox.Releaser)
	if !ok {
		return ErrNoReleaser
	}
	if err := releaser.ReleaseDelivery(ctx, r.tx, d, retryAt); err != nil {
		return fmt.Errorf("postgres: releasing the delivery of call %q of environment %q: %w", d.CallID, d.EnvID, err)
	}
	return nil
}

// ErrNoReleaser is returned by ReleaseDelivery of a Store whose Enqueuer is
// no outbox.Releaser: it cannot schedule direct deliveries either.
var ErrNoReleaser = errors.New("postgres: the store's Enqueuer cannot release direct deliveries (it is no Releaser)")

func checkDelivery(d ports.Delivery) error {
	if d.EnvID == "" || d.CallID == "" {
		return fmt.Errorf("postgres: a delivery needs an environment and a call, got %+v", d)
	}
	return nil
}

// storedAttempt is one element of calls.attempts.
type storedAttempt struct {
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

// storedAttempts converts attempts for storage: times in UTC to the
// microsecond (as timestamptz keeps them), durations to the millisecond, and
// error text that jsonb accepts.
func storedAttempts(attempts []domain.Attempt) []storedAttempt {
	out := make([]storedAttempt, 0, len(attempts))
	for _, a := range attempts {
		out = append(out, storedAttempt{
			At:         a.At.UTC().Truncate(time.Microsecond),
			StatusCode: a.StatusCode,
			Error:      storableText(a.Error),
			DurationMS: a.Duration.Milliseconds(),
		})
	}
	return out
}

func callFromRow(row gen.Call) (domain.Call, error) {
	var stored []storedAttempt
	if err := json.Unmarshal(row.Attempts, &stored); err != nil {
		return domain.Call{}, fmt.Errorf("postgres: stored call %q of environment %q: attempts: %v", row.ID, row.EnvID, err)
	}
	attempts := make([]domain.Attempt, 0, len(stored))
	for _, a := range stored {
		attempts = append(attempts, domain.Attempt{At: a.At.UTC(), StatusCode: a.StatusCode, Error: a.Error,
			Duration: time.Duration(a.DurationMS) * time.Millisecond})
	}
	c := domain.RestoreCall(row.EnvID, row.ID, row.LeadID, row.UserID, domain.CallStatus(row.Status), deref(row.Reason),
		row.ClickedAt.UTC(), row.Deadline.UTC(), row.Payload, attempts)
	if row.DeliveredAt != nil {
		c = c.WithDeliveredAt(row.DeliveredAt.UTC())
	}
	return c, nil
}

// LockCallsAwaitingResult locks, FOR UPDATE SKIP LOCKED, the delivered calls
// accepted at or before acceptedBy. It is no read: inside Store.Read it
// fails, as writes do.
func (r *repositories) LockCallsAwaitingResult(ctx context.Context, acceptedBy time.Time, limit int) ([]domain.Call, error) {
	if r.readOnly {
		return nil, errReadOnly
	}
	n, err := rowLimit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := r.q.LockCallsAwaitingResult(ctx, gen.LockCallsAwaitingResultParams{AcceptedBy: acceptedBy, RowLimit: n})
	if err != nil {
		return nil, fmt.Errorf("postgres: locking the calls awaiting a result since %s: %w", acceptedBy.UTC().Format(time.RFC3339Nano), err)
	}
	return callsFromRows(rows)
}

func callsFromRows(rows []gen.Call) ([]domain.Call, error) {
	out := make([]domain.Call, 0, len(rows))
	for _, row := range rows {
		c, err := callFromRow(row)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
