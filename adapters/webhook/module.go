package webhook

import (
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"callconnect/ports"
)

// Module provides the *Client, also as ports.PartnerClient, from a Config in
// the graph (supply it with fx.Supply(webhook.Config{...})) and the graph's
// trace.TracerProvider, which gives each attempt a client span unless the
// Config names another. Idle connections are closed on stop.
//
// The graph's propagation.TextMapPropagator is deliberately not used: it
// carries baggage, which must not leak to partners; Config.Propagator can
// still choose one.
var Module = fx.Module("webhook",
	fx.Provide(
		fx.Annotate(newForFx, fx.As(fx.Self()), fx.As(new(ports.PartnerClient))),
	),
)

type clientParams struct {
	fx.In
	Lifecycle      fx.Lifecycle
	Config         Config
	TracerProvider trace.TracerProvider
}

func newForFx(p clientParams) *Client {
	cfg := p.Config
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = p.TracerProvider
	}
	c := New(cfg)
	p.Lifecycle.Append(fx.StopHook(c.CloseIdleConnections))
	return c
}
