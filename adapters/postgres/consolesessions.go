package postgres

import (
	"context"
	"fmt"
	"time"

	"callconnect/adapters/postgres/gen"
	"callconnect/ports"
)

// The console's sessions are read and written outside the Store's
// transactions, each call one statement on the pool: a sign-out commits at
// once, for every replica on the database.
var _ ports.ConsoleSessions = (*Store)(nil)

// PutConsoleSession records a new session.
func (s *Store) PutConsoleSession(ctx context.Context, cs ports.ConsoleSession) error {
	if cs.ID == "" || !cs.ExpiresAt.Truncate(time.Microsecond).After(cs.CreatedAt.Truncate(time.Microsecond)) {
		return fmt.Errorf("postgres: a console session needs an id and an end after its start, got %q from %s to %s",
			cs.ID, cs.CreatedAt, cs.ExpiresAt)
	}
	n, err := gen.New(s.pool).PutConsoleSession(ctx, gen.PutConsoleSessionParams{ID: cs.ID, TokenID: cs.TokenID,
		CreatedAt: cs.CreatedAt, ExpiresAt: cs.ExpiresAt})
	if err != nil {
		return fmt.Errorf("postgres: writing a console session: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("console session: %w", ports.ErrConsoleSessionExists)
	}
	return nil
}

// GetConsoleSession returns the session stored under id.
func (s *Store) GetConsoleSession(ctx context.Context, id string) (ports.ConsoleSession, error) {
	row, err := gen.New(s.pool).GetConsoleSession(ctx, id)
	if err != nil {
		return ports.ConsoleSession{}, notFound(err, "console session")
	}
	return ports.ConsoleSession{ID: row.ID, TokenID: row.TokenID, CreatedAt: row.CreatedAt.UTC(), ExpiresAt: row.ExpiresAt.UTC()}, nil
}

// DeleteConsoleSession ends the session.
func (s *Store) DeleteConsoleSession(ctx context.Context, id string) error {
	if err := gen.New(s.pool).DeleteConsoleSession(ctx, id); err != nil {
		return fmt.Errorf("postgres: ending a console session: %w", err)
	}
	return nil
}

// DeleteConsoleSessionsExpiredBefore deletes the sessions expired before cutoff.
func (s *Store) DeleteConsoleSessionsExpiredBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := gen.New(s.pool).DeleteConsoleSessionsExpiredBefore(ctx, cutoff)
	if err != nil {
		return 0, fmt.Errorf("postgres: deleting expired console sessions: %w", err)
	}
	return n, nil
}
