package audiostore

import (
	"context"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"callconnect/ports"
)

// Store is a ports.AudioStore with the upkeep that both adapters offer:
// Check for a readiness probe, RemoveTemp for a periodic sweep of what
// crashed Puts left behind (no Put in progress is harmed when before is an
// hour ago).
type Store interface {
	ports.AudioStore
	Check(ctx context.Context) error
	RemoveTemp(ctx context.Context, before time.Time) (int, error)
}

var (
	_ Store = (*FS)(nil)
	_ Store = (*S3)(nil)
)

// Config chooses and configures the store: S3 when S3.Endpoint or S3.Bucket
// is set (both must be), otherwise FS under Dir.
type Config struct {
	Dir string // CALLCONNECT_RECORDINGS_DIR; empty: DefaultDir
	S3  S3Config
}

// UsesS3 tells whether New returns an S3 store.
func (c Config) UsesS3() bool { return c.S3.Endpoint != "" || c.S3.Bucket != "" }

// New returns the store that cfg chooses. It makes no request to S3: see
// S3.EnsureBucket, which Module runs on start.
func New(cfg Config) (Store, error) {
	if cfg.UsesS3() {
		return NewS3(cfg.S3)
	}
	return NewFS(cfg.Dir)
}

// Module provides the Store, also as ports.AudioStore, from a Config in the
// graph (supply it with fx.Supply(audiostore.Config{...})). With S3, starting checks the
// bucket — creating it if S3Config.CreateBucket says so — and fails when it
// cannot be reached; the graph's *slog.Logger, unless the Config names
// another, hears of temporary objects left behind.
var Module = fx.Module("audiostore",
	fx.Provide(
		fx.Annotate(newForFx, fx.As(fx.Self()), fx.As(new(ports.AudioStore))),
	),
)

type storeParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    Config
	Logger    *slog.Logger
}

func newForFx(p storeParams) (Store, error) {
	if !p.Config.UsesS3() {
		return NewFS(p.Config.Dir)
	}
	cfg := p.Config.S3
	if cfg.Logger == nil {
		cfg.Logger = p.Logger
	}
	s, err := NewS3(cfg)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.StartHook(s.EnsureBucket))
	return s, nil
}
