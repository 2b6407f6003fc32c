package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Pool defaults, used when the database URL does not say otherwise.
const (
	// defaultMaxConns bounds one replica's share of the server's
	// max_connections (100 by default); pgxpool's own default grows with the
	// CPU count, which on a big machine would let a few replicas exhaust it.
	defaultMaxConns = 10
	// defaultConnectTimeout keeps a wrong host from hanging start-up (pgconn
	// waits forever without connect_timeout).
	defaultConnectTimeout = 10 * time.Second
	// pingTimeout bounds the start-up check that the database answers.
	pingTimeout = 15 * time.Second
)

// NewPool connects to the database at databaseURL (a postgres:// URL or a
// key=value string; pool_max_conns, connect_timeout and the other pgx and
// libpq parameters are honoured) and checks that it answers, so that a wrong
// URL fails start-up with a clear error rather than the first request. tracer,
// when not nil, sees every query (OpenTelemetry, for instance).
func NewPool(ctx context.Context, databaseURL string, tracer pgx.QueryTracer) (*pgxpool.Pool, error) {
	if strings.TrimSpace(databaseURL) == "" {
		return nil, errors.New("postgres: the database URL is empty")
	}
	cfg, err := pgxpool.ParseConfig(databaseURL) // its errors redact the password
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid database URL: %w", err)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "callconnect"
	}
	if tracer != nil {
		cfg.ConnConfig.Tracer = tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", describe(cfg.ConnConfig), err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: cannot reach the database %s: %w", describe(cfg.ConnConfig), err)
	}
	return pool, nil
}

// describe names the database without its password: user@host:port/database.
func describe(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}
