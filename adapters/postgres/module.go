package postgres

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/fx"

	"callconnect/adapters/outbox"
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
// ports.EventRetention; the events' listener stops before the pool closes).
// It takes from the graph, besides its Config: the pgx.QueryTracer that sees
// every query, the outbox.Enqueuer that schedules jobs in the store's
// transactions (adapters/jobs), the ExchangeCounter that counts the
// exchanges recorded, and the *slog.Logger. Migrating is left to the caller
// (`serve` migrates unless --no-migrate; see Migrate).
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
	Tracer    pgx.QueryTracer
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
	Logger    *slog.Logger
	// Enqueuer is the job queue's (adapters/jobs).
	Enqueuer outbox.Enqueuer
	// Counter counts the exchanges recorded.
	Counter ExchangeCounter
}

func newStoreForFx(p storeParams) (*Store, error) {
	// The other processes of the service hear of the events this one
	// commits; Close, on stop, closes the notifier's connection.
	s, err := NewStore(p.Pool, p.Config.SecretsKey, WithEventNotifications(),
		WithEnqueuer(p.Enqueuer), WithExchangeCounter(p.Counter), WithLogger(p.Logger))
	if err != nil {
		return nil, err
	}
	// Appended after the pool's hook, so it runs before it: the listener's
	// connection closes before the pool does.
	p.Lifecycle.Append(fx.StopHook(s.Close))
	return s, nil
}
