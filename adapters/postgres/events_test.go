package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/domain"
	"callconnect/ports"
	"callconnect/ports/portstest"
)

func TestEventsContract(t *testing.T) {
	t.Parallel()
	portstest.RunEvents(t, func(t *testing.T) portstest.EventsHarness {
		store := newStore(t, pgtest.NewPool(t), testKey)
		t.Cleanup(store.Close) // before the pool closes
		return portstest.EventsHarness{Store: store, Events: store, Retention: store}
	})
}

// eventWait bounds the waits for a watcher: far more than the second the
// port promises, so that a loaded machine does not fail the test.
const eventWait = 10 * time.Second

// queuedCall is a call as Ligar creates it, in an environment of its own.
func queuedCall(t *testing.T, env domain.Environment, id string) domain.Call {
	t.Helper()
	lead, err := domain.NewLead(domain.LeadInput{EnvID: env.ID(), ID: "l1", Name: "Lead"})
	if err != nil {
		t.Fatal(err)
	}
	user, err := domain.NewUser(domain.UserInput{EnvID: env.ID(), ID: "u1", Name: "Corretor", Role: "broker", Phone: "48999476359"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := domain.NewCall(id, env, lead, user, domain.CallButton{Visible: true, Enabled: true}, time.Now(), time.Minute, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func putEnvironment(t *testing.T, s ports.Store, id string) domain.Environment {
	t.Helper()
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: id, Name: id, PublicBaseURL: "https://crm.example.com", CallConnectEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutEnvironment(ctx, env) }); err != nil {
		t.Fatal(err)
	}
	return env
}

func putCalls(t *testing.T, s ports.Store, calls ...domain.Call) {
	t.Helper()
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		for _, c := range calls {
			if err := r.PutCall(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func callIDs(events []domain.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.CallID
	}
	return out
}

// TestEventsHeldBackByAnOpenTransaction is the case a plain sequence gets
// wrong: a transaction writes an event and stays open while a later one
// writes another and commits. The later event is not listed until the
// earlier transaction ends, and then both are, the earlier first, so that a
// reader that went on after the later one would not have missed the
// earlier.
func TestEventsHeldBackByAnOpenTransaction(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := newStore(t, pool, testKey)
	env := putEnvironment(t, store, "acme")
	putCalls(t, store, queuedCall(t, env, "first"))
	first := portstest.ReadEvents(t, store, "acme", "", 100)
	if len(first.Events) != 1 || first.Held {
		t.Fatalf("one call placed: %+v", first)
	}
	cursor := first.Events[0].ID

	// An open transaction on a connection of its own writes an event...
	open, err := pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Rollback(context.WithoutCancel(t.Context()))
	if _, err := open.Exec(t.Context(), `INSERT INTO calls (env_id, id, lead_id, user_id, status, clicked_at, deadline, payload)
		VALUES ('acme', 'slow', 'l1', 'u1', 'queued', now(), now() + interval '1 minute', '{}')`); err != nil {
		t.Fatal(err)
	}
	// ...and a later one commits its own.
	putCalls(t, store, queuedCall(t, env, "fast"))
	// One read: the hold is what is checked.
	page, err := store.ListEventsAfter(t.Context(), "acme", cursor, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 0 || !page.Held {
		t.Fatalf("while the earlier transaction is open: %v held:%t; want nothing listed, held", callIDs(page.Events), page.Held)
	}

	if err := open.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Other tests' transactions on the cluster may hold the horizon back a
	// moment longer: read until nothing is held.
	page = portstest.ReadEvents(t, store, "acme", cursor, 100)
	if got := callIDs(page.Events); len(got) != 2 || got[0] != "slow" || got[1] != "fast" || page.Held {
		t.Fatalf("after the commit: %v held:%t; want [slow fast]", got, page.Held)
	}
}

// TestEventsWatchAcrossProcesses has two stores on one database, as two
// processes of the service: a watcher of one is woken by a commit through
// the other, and again after its listening connection was cut.
func TestEventsWatchAcrossProcesses(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	otherPool, err := pgxpool.New(context.Background(), pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(otherPool.Close)
	writer, watcher := newStore(t, pool, testKey, postgres.WithEventNotifications()), newStore(t, otherPool, testKey)
	t.Cleanup(writer.Close)
	t.Cleanup(watcher.Close)
	env := putEnvironment(t, writer, "acme")
	putEnvironment(t, writer, "other")

	ready, stop := watcher.WatchEvents("acme")
	defer stop()
	awaitCall := func(what, id string) {
		t.Helper()
		deadline := time.After(eventWait)
		for {
			select {
			case <-ready:
			case <-deadline:
				t.Fatalf("%s: the watcher was not woken within %s", what, eventWait)
			}
			// Held back by a transaction still running: read again shortly,
			// as a follower of the feed does.
			page := portstest.ReadEvents(t, watcher, "acme", "", 100)
			if n := len(page.Events); n > 0 && page.Events[n-1].CallID == id {
				return
			}
		}
	}
	// The listener starts with the first watcher; the first wake-up may be
	// its own (it tells watchers when it starts listening).
	for n := range 3 {
		id := fmt.Sprintf("c%d", n)
		start := time.Now()
		putCalls(t, writer, queuedCall(t, env, id))
		awaitCall("a call placed through the other process", id)
		t.Logf("woken %s after the commit", time.Since(start).Round(time.Millisecond))
	}

	// The listening connection is cut: the watcher still hears of what
	// commits (the listener reconnects, and wakes its watchers meanwhile).
	var cut int
	if err := pool.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN callconnect_events'`).Scan(&cut); err != nil || cut != 1 {
		t.Fatalf("cutting the listener: %d connections (%v)", cut, err)
	}
	putCalls(t, writer, queuedCall(t, env, "after-the-cut"))
	awaitCall("a call placed after the listener's connection was cut", "after-the-cut")
}

// TestEventNotificationsCostTheWritersNothing: telling the other processes
// of a commit (WithEventNotifications) adds no statement to the writer's
// pool: the notifier has a connection of its own, and sends after the
// commit. What the transaction cost is all the pool sees, before and after
// the other process has heard of it.
func TestEventNotificationsCostTheWritersNothing(t *testing.T) {
	t.Parallel()
	base := pgtest.NewPool(t)
	cfg := base.Config()
	counter := &queryCounter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	writer, watcher := newStore(t, pool, testKey, postgres.WithEventNotifications()), newStore(t, base, testKey)
	t.Cleanup(writer.Close)
	t.Cleanup(watcher.Close)
	env := putEnvironment(t, writer, "acme")
	ready, stop := watcher.WatchEvents("acme")
	defer stop()

	for n := range 3 {
		id := fmt.Sprintf("c%d", n)
		before := counter.n.Load()
		putCalls(t, writer, queuedCall(t, env, id))
		spent := counter.n.Load() - before
		deadline := time.After(eventWait)
		for heard := false; !heard; {
			select {
			case <-ready:
			case <-deadline:
				t.Fatalf("call %d: the other process did not hear of it within %s", n, eventWait)
			}
			events := portstest.ReadEvents(t, watcher, "acme", "", 100).Events
			heard = len(events) == n+1 && events[n].CallID == id
		}
		if after := counter.n.Load() - before; after != spent {
			t.Errorf("call %d: the transaction made %d round trips on the pool, %d by the time the other process heard of it", n, spent, after)
		}
	}
}
