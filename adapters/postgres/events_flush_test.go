package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"callconnect/adapters/postgres/pgtest"
	"callconnect/domain"
	"callconnect/ports"
	"callconnect/ports/portstest"
)

// TestEventsAreListedOnceOnDisk: an event written by a transaction that
// commits without waiting for the disk (ports.WithAsyncCommit, as the
// record of a delivery's outcome does) is listed only once PostgreSQL has
// flushed its WAL past that commit, so that no reader is handed an event a
// crash could take back. The WAL writer flushes such a commit within 200 ms
// when nothing else does: the page is read at once after the commit,
// before that flush.
func TestEventsAreListedOnceOnDisk(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	base := pgtest.NewPool(t)
	// The test cluster commits every transaction without waiting for the
	// disk (synchronous_commit off), where the feed has nothing to wait
	// for; a durable cluster's sessions have it on, as this pool's do.
	cfg := base.Config()
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := newStore(t, pool, testKey)
	putCallConnect(t, s, "env-1")
	for i, id := range []string{"i1", "i2", "i3"} {
		in, err := domain.NewInteraction(domain.InteractionInput{ID: id, EnvID: "env-1", LeadID: "l1",
			Type: domain.InteractionTypeCall, Description: "resultado " + id, OccurredAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Tx(ports.WithAsyncCommit(ctx), func(ctx context.Context, r ports.Repositories) error {
			return r.AddInteraction(ctx, in)
		}); err != nil {
			t.Fatal(err)
		}
		// The commit's record ends at or before the WAL's insert position
		// now (at the page's start when nothing is written on the page past
		// its header: 40 bytes on a segment's first page, 24 on the others).
		var after, block, segment uint64
		if err := pool.QueryRow(ctx, `SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint,
			current_setting('wal_block_size')::bigint, pg_size_bytes(current_setting('wal_segment_size'))::bigint`).Scan(&after, &block, &segment); err != nil {
			t.Fatal(err)
		}
		header := uint64(24)
		if after%segment < block {
			header = 40
		}
		if after%block == header {
			after -= header
		}
		// Read as a reader does: again while the page says events are held
		// back (a transaction of another test on the cluster may be running).
		page := portstest.ReadEvents(t, s, "env-1", "", 100)
		if len(page.Events) != i+1 {
			t.Fatalf("after %d interactions: %d events listed", i+1, len(page.Events))
		}
		var flushed uint64
		if err := pool.QueryRow(ctx, `SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint`).Scan(&flushed); err != nil {
			t.Fatal(err)
		}
		if flushed < after {
			t.Errorf("interaction %s: its event was listed with the WAL flushed to %d, short of its commit, written by %d", id, flushed, after)
		}
	}
}
