package jobs_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// A write the store queues (PutCall) is sent with the transaction's next
// statement, which in Place and Redeliver is River's job insert: its
// refusal must reach the caller as the store's error (ports.ErrNotFound
// here, for a call of an unknown environment), not as River's failure.
func TestQueuedWriteRefusalSurvivesTheJobInsert(t *testing.T) {
	t.Parallel()
	w := newWorld(t, always(http.StatusOK), worldOptions{})
	now := time.Now()
	call := domain.RestoreCall("env-missing", "c-missing", leadID, brokerID, domain.CallQueued, "", now, now.Add(time.Minute), []byte(`{}`), nil)
	err := w.store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutCall(ctx, call); err != nil {
			return err
		}
		return r.EnqueueDelivery(ctx, ports.Delivery{EnvID: "env-missing", CallID: "c-missing"})
	})
	if !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("a call of an unknown environment, then its delivery: %v, want ports.ErrNotFound", err)
	}
	var jobs int
	if err := w.pool.QueryRow(t.Context(), `SELECT count(*) FROM river_job`).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if jobs != 0 {
		t.Fatalf("%d jobs after the refused transaction", jobs)
	}
}
