package memory

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"callconnect/ports"
)

// sameAnswer reports whether stored is still what the caller read: the
// comparison ReplaceIdempotentAnswer and DeleteIdempotentAnswer make.
func sameAnswer(stored, read ports.IdempotentAnswer) bool {
	return stored.RequestHash == read.RequestHash && stored.StatusCode == read.StatusCode &&
		stored.CreatedAt.Equal(read.CreatedAt.Truncate(time.Microsecond))
}

// ReplaceIdempotentAnswer replaces the stored answer if it is still old.
// Transactions take turns, so of two concurrent replacements the second
// finds the first's answer, as with PostgreSQL.
func (r *repositories) ReplaceIdempotentAnswer(_ context.Context, old, a ports.IdempotentAnswer) error {
	if err := r.check(true); err != nil {
		return err
	}
	switch {
	case a.Scope == "" || a.Key == "":
		return fmt.Errorf("memory: an idempotent answer needs a scope and a key, got %q and %q", a.Scope, a.Key)
	case old.Scope != a.Scope || old.Key != a.Key:
		return fmt.Errorf("memory: replacing the answer to idempotency key %q of %q with one of key %q of %q", old.Key, old.Scope, a.Key, a.Scope)
	case !storable(a.RequestHash):
		return fmt.Errorf("memory: idempotency key %q: text PostgreSQL cannot hold", a.Key)
	case a.StatusCode < 100 || a.StatusCode > 999:
		return fmt.Errorf("memory: idempotency key %q: status code %d out of range", a.Key, a.StatusCode)
	case a.CreatedAt.IsZero():
		return fmt.Errorf("memory: idempotency key %q: the answer has no time", a.Key)
	}
	k := answerKey{a.Scope, a.Key}
	stored, ok := r.state.answers[k]
	if !ok || !sameAnswer(stored, old) {
		return fmt.Errorf("memory: idempotency key %q of %q no longer holds the answer replaced: %w", a.Key, a.Scope, ports.ErrIdempotencyConflict)
	}
	a.CreatedAt = a.CreatedAt.Truncate(time.Microsecond)
	a.Body = bytes.Clone(a.Body)
	if a.Body == nil {
		a.Body = []byte{}
	}
	r.state.answers[k] = a
	return nil
}

// DeleteIdempotentAnswer deletes the stored answer if it is still a.
func (r *repositories) DeleteIdempotentAnswer(_ context.Context, a ports.IdempotentAnswer) error {
	if err := r.check(true); err != nil {
		return err
	}
	k := answerKey{a.Scope, a.Key}
	if stored, ok := r.state.answers[k]; ok && sameAnswer(stored, a) {
		delete(r.state.answers, k)
	}
	return nil
}
