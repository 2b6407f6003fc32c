package app

import (
	"context"
	"log/slog"

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
