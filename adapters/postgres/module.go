package postgres

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/fx"

	"callconnect/ports"
)

// Config is what the postgres module takes from the service's configuration.
type Config struct {
	DatabaseURL string
	SecretsKey  []byte // SecretsKeySize bytes; seals signing secrets at rest
}

// Module provides the pool (closed on stop) and the ports.Store on it (also
// the ports.ExchangeRetention of the monitor's partitions, the
// ports.IdempotencyExpiry of the Idempotency-Key answers, the console's
// ports.ConsoleSessions, and the events' ports.Events and
// ports.EventRetention; the events' listener stops before the pool closes). A
// pgx.QueryTracer in the graph, if any, sees every query; an Enqueuer in the
// graph, if any, schedules call deliveries in the store's transactions; an
// ExchangeCounter, if any, counts the exchanges recorded. Migrating is left
// to the caller (`serve` migrates unless --no-migrate; see Migrate).
var Module = fx.Module("postgres",
	fx.Provide(
		newPoolForFx,
		fx.Annotate(newStoreForFx, fx.As(new(ports.Store)), fx.As(new(ports.ExchangeRetention)),
			fx.As(new(ports.IdempotencyExpiry)), fx.As(new(ports.ConsoleSessions)), fx.As(new(ports.Events)),
			fx.As(new(ports.EventRetention)), fx.As(new(ports.EventDeliveryRetention))),
	),
)

type poolParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    Config
	Tracer    pgx.QueryTracer `optional:"true"`
}

// newPoolForFx connects while the graph is built, so that a wrong URL stops
// start-up with NewPool's error; NewPool bounds its own wait.
func newPoolForFx(p poolParams) (*pgxpool.Pool, error) {
	pool, err := NewPool(context.Background(), p.Config.DatabaseURL, p.Tracer)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.StopHook(pool.Close))
	return pool, nil
}

type storeParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Pool      *pgxpool.Pool
	Config    Config
	Logger    *slog.Logger `optional:"true"`
	// Enqueuer is the job queue's, when the graph has one (adapters/jobs);
	// without it the store works but cannot schedule call deliveries.
	Enqueuer Enqueuer `optional:"true"`
	// Counter counts the exchanges recorded, when the graph has one.
	Counter ExchangeCounter `optional:"true"`
}

func newStoreForFx(p storeParams) (*Store, error) {
	// The other processes of the service hear of the events this one
	// commits; Close, on stop, closes the notifier's connection.
	opts := []Option{WithEventNotifications()}
	if p.Enqueuer != nil {
		opts = append(opts, WithEnqueuer(p.Enqueuer))
	}
	if p.Counter != nil {
		opts = append(opts, WithExchangeCounter(p.Counter))
	}
	if p.Logger != nil {
		opts = append(opts, WithLogger(p.Logger))
	}
	s, err := NewStore(p.Pool, p.Config.SecretsKey, opts...)
	if err != nil {
		return nil, err
	}
	// Appended after the pool's hook, so it runs before it: the listener's
	// connection closes before the pool does.
	p.Lifecycle.Append(fx.StopHook(s.Close))
	return s, nil
}
