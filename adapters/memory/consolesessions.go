package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"callconnect/ports"
)

// ConsoleSessions is an in-memory ports.ConsoleSessions: the console's
// sessions of one process. Like the PostgreSQL adapter it keeps times to
// the microsecond.
type ConsoleSessions struct {
	mu       sync.Mutex
	sessions map[string]ports.ConsoleSession
}

var _ ports.ConsoleSessions = (*ConsoleSessions)(nil)

// NewConsoleSessions returns an empty session store.
func NewConsoleSessions() *ConsoleSessions {
	return &ConsoleSessions{sessions: map[string]ports.ConsoleSession{}}
}

// PutConsoleSession records a new session.
func (s *ConsoleSessions) PutConsoleSession(ctx context.Context, cs ports.ConsoleSession) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cs.CreatedAt = cs.CreatedAt.Truncate(time.Microsecond)
	cs.ExpiresAt = cs.ExpiresAt.Truncate(time.Microsecond)
	if cs.ID == "" || !cs.ExpiresAt.After(cs.CreatedAt) {
		return fmt.Errorf("memory: a console session needs an id and an end after its start, got %q from %s to %s",
			cs.ID, cs.CreatedAt, cs.ExpiresAt)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.sessions[cs.ID]; taken {
		return fmt.Errorf("console session: %w", ports.ErrConsoleSessionExists)
	}
	s.sessions[cs.ID] = cs
	return nil
}

// GetConsoleSession returns the session stored under id.
func (s *ConsoleSessions) GetConsoleSession(ctx context.Context, id string) (ports.ConsoleSession, error) {
	if err := ctx.Err(); err != nil {
		return ports.ConsoleSession{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, ok := s.sessions[id]
	if !ok {
		return ports.ConsoleSession{}, fmt.Errorf("console session: %w", ports.ErrNotFound)
	}
	return cs, nil
}

// DeleteConsoleSession ends the session.
func (s *ConsoleSessions) DeleteConsoleSession(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, id)
	return nil
}

// DeleteConsoleSessionsExpiredBefore deletes the sessions expired before cutoff.
func (s *ConsoleSessions) DeleteConsoleSessionsExpiredBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, cs := range s.sessions {
		if cs.ExpiresAt.Before(cutoff) {
			delete(s.sessions, id)
			n++
		}
	}
	return n, nil
}
