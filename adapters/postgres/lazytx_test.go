package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"callconnect/adapters/postgres/pgtest"
	"callconnect/domain"
	"callconnect/ports"
)

// A statement that could not be sent (its context already cancelled) must
// not leave the transaction to run what follows in autocommit mode: BEGIN
// went with it, unsent. Whatever fn does next fails, and so does the
// commit; nothing of it is stored.
func TestUnsentStatementBreaksTheTransaction(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	s := newStore(t, pool, testKey)
	putCallConnect(t, s, "env-1")
	errFn := errors.New("the unit of work failed")
	for _, fnErr := range []error{errFn, nil} {
		id := "x-commit"
		if fnErr != nil {
			id = "x-fail"
		}
		var recordErr, readErr error
		err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			_, _ = r.GetEnvironment(cancelled, "env-1") // its error ignored
			recordErr = r.RecordExchange(ctx, domain.Exchange{ID: id, EnvID: "env-1", Direction: domain.Outbound, Method: "POST",
				URL: "https://partner.example.com/calls", StatusCode: 200, OccurredAt: time.Now()})
			_, readErr = r.GetEnvironment(ctx, "env-1")
			return fnErr
		})
		if err == nil {
			t.Fatalf("fn returning %v: the transaction reports success", fnErr)
		}
		if readErr == nil {
			t.Errorf("fn returning %v: a read after the unsent statement succeeded (record: %v)", fnErr, recordErr)
		}
		for _, e := range storedExchanges(t, pool, "env-1") {
			if e.ID == id {
				t.Fatalf("fn returning %v, transaction failed with %v: exchange %s committed all the same", fnErr, err, id)
			}
		}
	}
	// The connection went back to the pool usable.
	if err := s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		_, err := r.GetEnvironment(ctx, "env-1")
		return err
	}); err != nil {
		t.Fatalf("after a broken transaction: %v", err)
	}
}
