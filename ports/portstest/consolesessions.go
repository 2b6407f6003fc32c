package portstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"callconnect/ports"
)

// RunConsoleSessions runs the contract suite of ports.ConsoleSessions.
// newPair returns two handles on one fresh, empty store, as two replicas of
// the service would hold (for a database, each on its own connections).
//
// Beyond what the port's comments say, the suite pins down:
//   - times come back as the same instant, to the microsecond;
//   - a session opened through one handle is read, and ended, through the
//     other at once;
//   - DeleteConsoleSessionsExpiredBefore keeps a session expiring exactly at
//     the cut-off (property test over any sessions and cut-off).
func RunConsoleSessions(t *testing.T, newPair func(t *testing.T) (ports.ConsoleSessions, ports.ConsoleSessions)) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(*testing.T, ports.ConsoleSessions, ports.ConsoleSessions)
	}{
		{"RoundTrip", testConsoleSessionRoundTrip},
		{"IDTaken", testConsoleSessionIDTaken},
		{"Refused", testConsoleSessionRefused},
		{"SignOutOnEveryReplica", testConsoleSessionSignOut},
		{"ExpiredDeleted", testConsoleSessionsExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newPair(t)
			tc.run(t, a, b)
		})
	}
}

// sessionAt is a session of an hour from start.
func sessionAt(id string, start time.Time) ports.ConsoleSession {
	return ports.ConsoleSession{ID: id, TokenID: "tok-" + id, CreatedAt: start, ExpiresAt: start.Add(time.Hour)}
}

func sessionString(s ports.ConsoleSession) string {
	return fmt.Sprintf("{id:%q token:%q created:%s expires:%s}", s.ID, s.TokenID, instant(s.CreatedAt), instant(s.ExpiresAt))
}

func wantSession(t *testing.T, s ports.ConsoleSessions, what string, want ports.ConsoleSession) {
	t.Helper()
	got, err := s.GetConsoleSession(context.Background(), want.ID)
	if err != nil {
		t.Errorf("%s: GetConsoleSession(%q): %v", what, want.ID, err)
		return
	}
	if g, w := sessionString(got), sessionString(want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func testConsoleSessionRoundTrip(t *testing.T, a, b ports.ConsoleSessions) {
	ctx := context.Background()
	s := sessionAt("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", registeredAt)
	other := ports.ConsoleSession{ID: "other", TokenID: "tok-2", CreatedAt: registeredAt.In(manaus), ExpiresAt: graceEnds}
	for _, x := range []ports.ConsoleSession{s, other} {
		if err := a.PutConsoleSession(ctx, x); err != nil {
			t.Fatalf("PutConsoleSession(%s): %v", sessionString(x), err)
		}
	}
	wantSession(t, a, "GetConsoleSession", s)
	wantSession(t, b, "GetConsoleSession through the other handle", s)
	wantSession(t, a, "GetConsoleSession of a second session", other)
	for _, id := range []string{"nobody", "OTHER", ""} {
		_, err := a.GetConsoleSession(ctx, id)
		wantNotFound(t, fmt.Sprintf("GetConsoleSession(%q)", id), err)
	}
	// The store has no clock: an expired session is still returned.
	old := sessionAt("old", longExpired)
	if err := a.PutConsoleSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	wantSession(t, b, "GetConsoleSession of an expired session", old)
}

func testConsoleSessionIDTaken(t *testing.T, a, b ports.ConsoleSessions) {
	ctx := context.Background()
	first := sessionAt("same", registeredAt)
	if err := a.PutConsoleSession(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := ports.ConsoleSession{ID: "same", TokenID: "tok-intruder", CreatedAt: graceEnds, ExpiresAt: graceEnds.Add(time.Hour)}
	if err := b.PutConsoleSession(ctx, second); !errors.Is(err, ports.ErrConsoleSessionExists) {
		t.Errorf("PutConsoleSession with a stored id: want ErrConsoleSessionExists, got %v", err)
	}
	wantSession(t, a, "the first session after a second one under its id", first)
}

func testConsoleSessionRefused(t *testing.T, a, _ ports.ConsoleSessions) {
	ctx := context.Background()
	for _, tc := range []struct {
		what string
		s    ports.ConsoleSession
	}{
		{"no id", ports.ConsoleSession{TokenID: "t", CreatedAt: registeredAt, ExpiresAt: graceEnds}},
		{"ends as it starts", ports.ConsoleSession{ID: "x1", TokenID: "t", CreatedAt: registeredAt, ExpiresAt: registeredAt}},
		{"ends before it starts", ports.ConsoleSession{ID: "x2", TokenID: "t", CreatedAt: graceEnds, ExpiresAt: registeredAt}},
		{"no times", ports.ConsoleSession{ID: "x3", TokenID: "t"}},
	} {
		if err := a.PutConsoleSession(ctx, tc.s); err == nil {
			t.Errorf("PutConsoleSession of a session with %s succeeded", tc.what)
		}
		if tc.s.ID != "" {
			_, err := a.GetConsoleSession(ctx, tc.s.ID)
			wantNotFound(t, "GetConsoleSession of a refused session ("+tc.what+")", err)
		}
	}
}

func testConsoleSessionSignOut(t *testing.T, a, b ports.ConsoleSessions) {
	ctx := context.Background()
	mine, theirs := sessionAt("mine", registeredAt), sessionAt("theirs", registeredAt)
	for _, s := range []ports.ConsoleSession{mine, theirs} {
		if err := a.PutConsoleSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	// Signed out on one replica, gone on the other.
	if err := a.DeleteConsoleSession(ctx, mine.ID); err != nil {
		t.Fatalf("DeleteConsoleSession: %v", err)
	}
	for name, s := range map[string]ports.ConsoleSessions{"the handle that ended it": a, "the other handle": b} {
		_, err := s.GetConsoleSession(ctx, mine.ID)
		wantNotFound(t, "GetConsoleSession of an ended session through "+name, err)
	}
	wantSession(t, b, "another session after one ended", theirs)
	// Ending it again, or ending what never was, is no error.
	for _, id := range []string{mine.ID, "never"} {
		if err := b.DeleteConsoleSession(ctx, id); err != nil {
			t.Errorf("DeleteConsoleSession(%q) of no session: %v", id, err)
		}
	}
	// An ended session leaves nothing behind: its id may name a new one
	// (the console never reuses an id; its ids are random).
	if err := b.PutConsoleSession(ctx, sessionAt(mine.ID, graceEnds)); err != nil {
		t.Errorf("PutConsoleSession under an ended session's id: %v", err)
	}
	wantSession(t, a, "a new session under an ended session's id", sessionAt(mine.ID, graceEnds))
}

// testConsoleSessionsExpired: whatever the sessions and the cut-off, the
// sessions left are exactly those expiring at or after it, and the count
// says how many went.
func testConsoleSessionsExpired(t *testing.T, a, b ports.ConsoleSessions) {
	ctx := context.Background()
	base := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	round := 0
	rapid.Check(t, func(rt *rapid.T) {
		round++
		// Expiries within a few seconds of each other and of the cut-off,
		// to the microsecond, so that ties with the cut-off happen.
		offsets := rapid.SliceOfN(rapid.Int64Range(-3_000_000, 3_000_000), 0, 12).Draw(rt, "expiry offsets (µs)")
		cutoff := base.Add(time.Duration(rapid.Int64Range(-3_000_000, 3_000_000).Draw(rt, "cut-off offset (µs)")) * time.Microsecond)
		var kept []string
		for i, off := range offsets {
			s := ports.ConsoleSession{ID: fmt.Sprintf("r%d-%d", round, i), TokenID: "t",
				CreatedAt: base.Add(-time.Hour), ExpiresAt: base.Add(time.Duration(off) * time.Microsecond)}
			if err := a.PutConsoleSession(ctx, s); err != nil {
				rt.Fatal(err)
			}
			if !s.ExpiresAt.Before(cutoff) {
				kept = append(kept, s.ID)
			}
		}
		n, err := b.DeleteConsoleSessionsExpiredBefore(ctx, cutoff)
		if err != nil {
			rt.Fatalf("DeleteConsoleSessionsExpiredBefore: %v", err)
		}
		if want := int64(len(offsets) - len(kept)); n != want {
			rt.Errorf("DeleteConsoleSessionsExpiredBefore said %d deleted, want %d", n, want)
		}
		var left []string
		for i := range offsets {
			id := fmt.Sprintf("r%d-%d", round, i)
			if _, err := a.GetConsoleSession(ctx, id); err == nil {
				left = append(left, id)
			} else if !errors.Is(err, ports.ErrNotFound) {
				rt.Fatal(err)
			}
		}
		if !slices.Equal(left, kept) {
			rt.Errorf("sessions left %v, want %v (cut-off %s)", left, kept, instant(cutoff))
		}
		// Leave the store empty for the next round.
		if _, err := a.DeleteConsoleSessionsExpiredBefore(ctx, base.Add(time.Hour)); err != nil {
			rt.Fatal(err)
		}
	})
}
