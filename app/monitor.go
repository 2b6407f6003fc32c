package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// Monitor records exchanges with partners for the integration monitor (CVIO).
type Monitor struct {
	store  ports.Store
	random ports.Random
	logger *slog.Logger
}

// NewMonitor builds the service.
func NewMonitor(store ports.Store, random ports.Random, logger *slog.Logger) *Monitor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Monitor{store: store, random: random, logger: logger}
}

// RecordInbound keeps a partner's request and our answer, in a transaction
// of its own so that a refused request (whose changes rolled back) is kept
// too. Recording never fails the exchange it describes: an error is logged.
// Headers are redacted and bodies truncated here, whatever the caller did.
func (m *Monitor) RecordInbound(ctx context.Context, e domain.Exchange) {
	if e.EnvID == "" {
		m.logger.InfoContext(ctx, "inbound exchange without an environment (unknown token) is not kept in the monitor",
			"url", e.URL, "status", e.StatusCode)
		return
	}
	if e.ID == "" {
		e.ID = m.random.NewID()
	}
	e.Direction = domain.Inbound
	e.RequestHeaders = domain.RedactHeaders(e.RequestHeaders)
	e.RequestBody = domain.TruncateBody([]byte(e.RequestBody))
	e.ResponseBody = domain.TruncateBody([]byte(e.ResponseBody))
	err := m.store.Tx(context.WithoutCancel(ctx), func(ctx context.Context, r ports.Repositories) error {
		return r.RecordExchange(ctx, e)
	})
	if err != nil {
		m.logger.WarnContext(ctx, "could not record an inbound exchange", "error", err, "url", e.URL, "status", e.StatusCode)
	}
}

// CodeExchangeNotFound: no such exchange in the environment.
const CodeExchangeNotFound = "exchange_not_found"

// ExchangeFilter is what the monitor's list is asked for; zero fields select
// everything. Text fields are as clients send them, and are checked here.
type ExchangeFilter struct {
	Direction string    // "in" or "out"; "" for both
	CallID    string    // exchanges of one call
	LeadID    string    // exchanges of one lead
	Status    string    // a status code ("404"; "0" for no answer) or a class ("4xx"); "" for any
	Since     time.Time // occurred at or after; zero for no bound
	Until     time.Time // occurred before; zero for no bound
	Cursor    string    // NextCursor of the previous page; "" for the first page
	Limit     int       // page size, 1 to domain.MaxExchangePage; 0 for domain.DefaultExchangePage
}

// ExchangePage is one page of the monitor's list.
type ExchangePage struct {
	// Items are newest first (then by id descending), without headers or
	// bodies (GetExchange has them).
	Items []domain.Exchange
	// NextCursor asks for the page after this one; "" when this is the last.
	NextCursor string
}

// query turns the client's filter into the store's, or names the field
// that is wrong.
func (f ExchangeFilter) query() (domain.ExchangeFilter, domain.ExchangeCursor, int, error) {
	q := domain.ExchangeFilter{Direction: domain.Direction(f.Direction), CallID: f.CallID, LeadID: f.LeadID,
		// The store keeps microseconds: bounds finer than that would
		// compare differently in memory and in PostgreSQL.
		Since: f.Since.Truncate(time.Microsecond), Until: f.Until.Truncate(time.Microsecond)}
	if f.Status != "" {
		r, err := domain.ParseStatusRange(f.Status)
		if err != nil {
			return q, domain.ExchangeCursor{}, 0, err
		}
		q.Status = &r
	}
	if err := q.Check(); err != nil {
		return q, domain.ExchangeCursor{}, 0, err
	}
	after, err := domain.ParseExchangeCursor(f.Cursor)
	if err != nil {
		return q, after, 0, err
	}
	limit := f.Limit
	switch {
	case limit == 0:
		limit = domain.DefaultExchangePage
	case limit < 0 || limit > domain.MaxExchangePage:
		return q, after, 0, &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidField, Field: "limit",
			Message: fmt.Sprintf("must be from 1 to %d, got %d", domain.MaxExchangePage, limit)}
	}
	return q, after, limit, nil
}

// ListExchanges returns a page of the environment's exchanges that f
// selects. Paging with NextCursor neither repeats nor skips an exchange
// while new ones are recorded (see domain.ExchangeCursor).
func (m *Monitor) ListExchanges(ctx context.Context, envID string, f ExchangeFilter) (ExchangePage, error) {
	q, after, limit, err := f.query()
	if err != nil {
		return ExchangePage{}, err
	}
	var page ExchangePage
	err = m.store.Read(ctx, func(ctx context.Context, r ports.Repositories) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		// One more than asked tells whether a next page exists.
		items, err := r.ListExchanges(ctx, envID, q, after, limit+1)
		if err != nil {
			return err
		}
		if len(items) > limit {
			items = items[:limit]
			page.NextCursor = domain.CursorAfter(items[limit-1]).String()
		}
		page.Items = items
		return nil
	})
	return page, err
}

// GetExchange returns one exchange of the environment with its headers and
// bodies (as recorded: secrets redacted, bodies truncated).
func (m *Monitor) GetExchange(ctx context.Context, envID, id string) (domain.Exchange, error) {
	var e domain.Exchange
	err := m.store.Read(ctx, func(ctx context.Context, r ports.Repositories) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		e, err = r.GetExchange(ctx, envID, id)
		return notFound(err, CodeExchangeNotFound, "id", fmt.Sprintf("exchange %q", id))
	})
	return e, err
}
