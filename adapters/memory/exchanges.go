package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// ListExchanges filters and sorts the environment's exchanges as the
// PostgreSQL adapter's index does: newest first, then id descending.
func (r *repositories) ListExchanges(_ context.Context, envID string, f domain.ExchangeFilter, after domain.ExchangeCursor, limit int) ([]domain.Exchange, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("memory: ListExchanges: limit %d, want at least 1", limit)
	}
	var out []domain.Exchange
	for _, e := range r.state.exchanges {
		if e.EnvID == envID && f.Matches(e) && after.Before(e) {
			out = append(out, summary(e))
		}
	}
	slices.SortFunc(out, func(a, b domain.Exchange) int {
		return cmp.Or(b.OccurredAt.Compare(a.OccurredAt), cmp.Compare(b.ID, a.ID))
	})
	return out[:min(limit, len(out))], nil
}

// summary is what the list shows of an exchange: no headers, no bodies.
func summary(e domain.Exchange) domain.Exchange {
	e.RequestHeaders, e.RequestBody, e.ResponseBody = nil, "", ""
	return e
}

func (r *repositories) GetExchange(_ context.Context, envID, id string) (domain.Exchange, error) {
	if err := r.check(false); err != nil {
		return domain.Exchange{}, err
	}
	e, ok := r.state.exchanges[id]
	if !ok || e.EnvID != envID {
		return domain.Exchange{}, fmt.Errorf("memory: exchange %q of environment %q: %w", id, envID, ports.ErrNotFound)
	}
	e.RequestHeaders = copyHeaders(e.RequestHeaders)
	return e, nil
}

var _ ports.ExchangeRetention = (*Store)(nil)

// PrepareExchangeDays has nothing to prepare: every day is ready.
func (s *Store) PrepareExchangeDays(context.Context, time.Time, time.Time) (int, error) {
	return 0, nil
}

// DropExchangeDays deletes the exchanges of the UTC days that ended at or
// before cutoff and returns the days that had any.
func (s *Store) DropExchangeDays(ctx context.Context, cutoff time.Time) ([]time.Time, error) {
	var days []time.Time
	err := s.tx(ctx, func(_ context.Context, r *repositories) error {
		for id, e := range r.state.exchanges {
			day := domain.DayStart(e.OccurredAt)
			if day.Add(24 * time.Hour).After(cutoff) {
				continue
			}
			delete(r.state.exchanges, id)
			if !slices.ContainsFunc(days, day.Equal) {
				days = append(days, day)
			}
		}
		return nil
	})
	slices.SortFunc(days, time.Time.Compare)
	return days, err
}
