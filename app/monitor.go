package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// Monitor records exchanges with partners for the integration monitor (CVIO).
type Monitor struct {
	store   unitOfWork[monitorRepos]
	random  ports.Random
	logger  *slog.Logger
	refused refusedLimiter
}

// NewMonitor builds the service.
func NewMonitor(store ports.Store, random ports.Random, logger *slog.Logger) *Monitor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Monitor{store: narrow(store, func(r ports.Repositories) monitorRepos { return r }), random: random, logger: logger,
		refused: refusedLimiter{windows: map[string]*refusedWindow{}}}
}

// monitorRepos is what the monitor reads and writes: the exchanges of an
// environment.
type monitorRepos interface {
	GetEnvironment(ctx context.Context, id string) (domain.Environment, error)
	ports.Exchanges
}

// MaxRefusedPerMinute is how many refused requests (answered 4xx or 5xx)
// of one partner token id the monitor keeps a minute, in each process:
// whoever knows a token's id (it is no secret) can have requests refused in
// its environment's name, and a flood of them must not fill that
// environment's monitor. The first ones of a minute are kept; a partner
// debugging its requests sees them.
const MaxRefusedPerMinute = 20

// RecordInbound keeps a partner's request and our answer, in a transaction
// of its own so that a refused request (whose changes rolled back) is kept
// too. Recording never fails the exchange it describes: an error is logged.
// Redaction and truncation happen here, whatever the caller did: the URL's
// secret query values and the secret headers are redacted; of a refused
// request only the safe headers are kept (domain.RefusedRequestHeaders), and
// at most MaxRefusedPerMinute refused requests a minute per token id.
func (m *Monitor) RecordInbound(ctx context.Context, e domain.Exchange) {
	e.URL = domain.RedactURL(e.URL)
	if e.EnvID == "" {
		m.logger.InfoContext(ctx, "inbound exchange without an environment (unknown token) is not kept in the monitor",
			"url", e.URL, "status", e.StatusCode)
		return
	}
	if e.StatusCode >= 400 {
		tokenID := ""
		for k, vs := range e.RequestHeaders {
			if strings.EqualFold(k, "token") && len(vs) > 0 {
				tokenID, _, _ = domain.ParsePartnerTokenString(vs[0])
			}
		}
		kept, first := m.refused.take(e.EnvID+"/"+tokenID, e.OccurredAt)
		if !kept {
			if first {
				m.logger.InfoContext(ctx, "refused requests beyond the monitor's limit a minute for this token are not kept",
					"env_id", e.EnvID, "token_id", tokenID, "limit", MaxRefusedPerMinute, "status", e.StatusCode)
			}
			return
		}
		e.RequestHeaders = domain.RefusedRequestHeaders(e.RequestHeaders)
	} else {
		e.RequestHeaders = domain.RedactHeaders(e.RequestHeaders)
	}
	if e.ID == "" {
		e.ID = m.random.NewID()
	}
	e.Direction = domain.Inbound
	e.RequestBody = domain.TruncateBody([]byte(e.RequestBody))
	e.ResponseBody = domain.TruncateBody([]byte(e.ResponseBody))
	err := m.store.Tx(context.WithoutCancel(ctx), func(ctx context.Context, r monitorRepos) error {
		return r.RecordExchange(ctx, e)
	})
	if err != nil {
		m.logger.WarnContext(ctx, "could not record an inbound exchange", "error", err, "url", e.URL, "status", e.StatusCode)
	}
}

// refusedLimiter counts refused requests per key in windows of a minute,
// timed by the requests themselves (their OccurredAt).
type refusedLimiter struct {
	mu      sync.Mutex
	windows map[string]*refusedWindow
}

type refusedWindow struct {
	start time.Time
	count int
}

// maxRefusedKeys bounds the limiter's memory: past it, windows that have
// ended are forgotten.
const maxRefusedKeys = 4096

// take counts one refused request of key at t and reports whether it is
// kept, and, when it is not, whether it is the first one of its window
// turned away (so the drop is logged once a minute, not once a request).
func (l *refusedLimiter) take(key string, t time.Time) (kept, firstDropped bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.windows[key]
	if w == nil || t.Sub(w.start) >= time.Minute || t.Before(w.start) {
		if w == nil && len(l.windows) >= maxRefusedKeys {
			for k, old := range l.windows {
				if t.Sub(old.start) >= time.Minute || t.Before(old.start) {
					delete(l.windows, k)
				}
			}
		}
		w = &refusedWindow{start: t}
		l.windows[key] = w
	}
	w.count++
	return w.count <= MaxRefusedPerMinute, w.count == MaxRefusedPerMinute+1
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
	err = m.store.Read(ctx, func(ctx context.Context, r monitorRepos) error {
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
	err := m.store.Read(ctx, func(ctx context.Context, r monitorRepos) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		e, err = r.GetExchange(ctx, envID, id)
		return notFound(err, CodeExchangeNotFound, "id", fmt.Sprintf("exchange %q", id))
	})
	return e, err
}
