package portstest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"callconnect/ports"
)

const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func wantNoDeliveries(t *testing.T, h Harness, what string) {
	t.Helper()
	if got := h.TakeDeliveries(); len(got) != 0 {
		t.Errorf("%s: deliveries %+v were enqueued, want none", what, got)
	}
}

func wantDeliveries(t *testing.T, h Harness, what string, want ...ports.Delivery) {
	t.Helper()
	got := h.TakeDeliveries()
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); len(got) != len(want) || g != w {
		t.Errorf("%s: deliveries\n got %s\nwant %s", what, g, w)
	}
}

// The outbox: a delivery enqueued with a call is scheduled when, and only
// when, the transaction commits; the queue sees nothing before.
func testDeliveryAfterCommit(t *testing.T, h Harness) {
	put(t, h.Store, environment(t, "env-1"))
	d := ports.Delivery{EnvID: "env-1", CallID: "c1", TraceParent: traceParent}
	err := h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutCall(ctx, placedCall(t, "env-1", "c1")); err != nil {
			return err
		}
		if err := r.EnqueueDelivery(ctx, d); err != nil {
			return err
		}
		wantNoDeliveries(t, h, "before the Tx commits")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantDeliveries(t, h, "after the Tx committed", d)
	wantNoDeliveries(t, h, "once taken")

	// A delivery without a trace parent is as good.
	plain := ports.Delivery{EnvID: "env-1", CallID: "c1"}
	put(t, h.Store, plain)
	wantDeliveries(t, h, "a delivery without trace parent", plain)
}

func testDeliveryRollback(t *testing.T, h Harness) {
	put(t, h.Store, environment(t, "env-1"))
	err := h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutCall(ctx, placedCall(t, "env-1", "c1")); err != nil {
			return err
		}
		if err := r.EnqueueDelivery(ctx, ports.Delivery{EnvID: "env-1", CallID: "c1", TraceParent: traceParent}); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Tx: got %v, want errAbort", err)
	}
	wantNoDeliveries(t, h, "after a rolled-back Tx")
	_, err = getCall(t, h.Store, "env-1", "c1")
	wantNotFound(t, "GetCall after a rolled-back Tx", err)

	// A refused write after the enqueue, whose error fn returns, takes the delivery with it.
	err = h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.EnqueueDelivery(ctx, ports.Delivery{EnvID: "env-1", CallID: "c1"}); err != nil {
			return err
		}
		return r.PutCall(ctx, restoredCall("env-missing", "c1"))
	})
	wantNotFound(t, "PutCall in a missing environment", err)
	wantNoDeliveries(t, h, "after a Tx that failed on a later write")
}

func testDeliveryPanic(t *testing.T, h Harness) {
	put(t, h.Store, environment(t, "env-1"))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Tx swallowed the panic of fn")
			}
		}()
		err := h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			if err := r.EnqueueDelivery(ctx, ports.Delivery{EnvID: "env-1", CallID: "c1"}); err != nil {
				return err
			}
			panic("portstest: fn panics")
		})
		t.Errorf("Tx returned %v instead of letting the panic of fn through", err)
	}()
	wantNoDeliveries(t, h, "after a panic in Tx")
}

func testDeliveryOrder(t *testing.T, h Harness) {
	put(t, h.Store, environment(t, "env-1"), environment(t, "env-2"))
	d1 := ports.Delivery{EnvID: "env-1", CallID: "c1", TraceParent: traceParent}
	d2 := ports.Delivery{EnvID: "env-2", CallID: "c9"}
	d3 := ports.Delivery{EnvID: "env-1", CallID: "c1"} // the same call again (a redeliver)
	d4 := ports.Delivery{EnvID: "env-1", CallID: "c2"}
	put(t, h.Store, d1, d2)
	put(t, h.Store, d3)
	err := h.Store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.EnqueueDelivery(ctx, ports.Delivery{EnvID: "env-1", CallID: "rolled-back"}); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Tx: got %v, want errAbort", err)
	}
	put(t, h.Store, d4)
	wantDeliveries(t, h, "three committed Tx and a rolled-back one", d1, d2, d3, d4)
}
