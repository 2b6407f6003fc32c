package portstest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"callconnect/domain"
	"callconnect/ports"
)

// testLatestCallRecordings: one read answers for every call asked what
// LatestCallRecording answers for its lead and id; calls without a
// recording, of another environment or unknown are left out.
func testLatestCallRecordings(t *testing.T, s ports.Store) {
	at := historyAt
	put(t, s, environment(t, "env-a"), environment(t, "env-b"),
		listedCall("env-a", "c1", "l1", "u1", domain.CallCompleted, clickedAt),
		listedCall("env-a", "c2", "l1", "u1", domain.CallCompleted, clickedAt),
		listedCall("env-a", "c3", "l2", "u1", domain.CallCompleted, clickedAt),
		listedCall("env-a", "c4", "l2", "u1", domain.CallDelivered, clickedAt),
		listedCall("env-b", "c1", "l1", "u1", domain.CallCompleted, clickedAt),
		// c1 on l1: a tie broken by id (descending, byte order: "a" before
		// "B"), an older one and a newer entry without a recording.
		callInteraction(t, "env-a", "l1", "B", "c1", "rec-tie-B", at.In(manaus)),
		callInteraction(t, "env-a", "l1", "a", "c1", "rec-tie-a", at.In(time.UTC)),
		callInteraction(t, "env-a", "l1", "z", "c1", "rec-old", at.Add(-time.Hour)),
		callInteraction(t, "env-a", "l1", "i-later", "c1", "", at.Add(time.Minute)),
		callInteraction(t, "env-a", "l1", "i-c2", "c2", "rec-c2", at),
		// c3's id on another lead than c3's is not c3's recording.
		callInteraction(t, "env-a", "l1", "i-c3", "c3", "rec-c3-elsewhere", at),
		callInteraction(t, "env-b", "l1", "i-b", "c1", "rec-b", at),
	)
	latest := func(envID string, ids ...string) map[string]string {
		t.Helper()
		var got map[string]string
		read(t, s, func(ctx context.Context, r ports.Repositories) error {
			var err error
			got, err = r.LatestCallRecordings(ctx, envID, ids)
			if err != nil {
				t.Fatalf("LatestCallRecordings(%s, %q): %v", envID, ids, err)
			}
			return nil
		})
		return got
	}
	for _, c := range []struct {
		what, env string
		ids       []string
		want      map[string]string
	}{
		{"every call", "env-a", []string{"c1", "c2", "c3", "c4", "missing"}, map[string]string{"c1": "rec-tie-a", "c2": "rec-c2"}},
		{"one call", "env-a", []string{"c2"}, map[string]string{"c2": "rec-c2"}},
		{"another environment's call of the same id", "env-b", []string{"c1", "c2"}, map[string]string{"c1": "rec-b"}},
		{"no ids", "env-a", nil, map[string]string{}},
		{"a missing environment", "env-missing", []string{"c1"}, map[string]string{}},
	} {
		got := latest(c.env, c.ids...)
		if !maps.Equal(got, c.want) {
			t.Errorf("LatestCallRecordings of %s: %v, want %v", c.what, got, c.want)
		}
		for _, id := range c.ids {
			var lead string
			read(t, s, func(ctx context.Context, r ports.Repositories) error {
				call, err := r.GetCall(ctx, c.env, id)
				if errors.Is(err, ports.ErrNotFound) {
					return nil
				}
				lead = call.LeadID()
				return err
			})
			if lead == "" {
				continue
			}
			// A call without a recording has none: not found.
			one, err := latestCallRecording(t, s, c.env, lead, id)
			if err != nil && !errors.Is(err, ports.ErrNotFound) {
				t.Fatal(err)
			}
			if one != got[id] {
				t.Errorf("%s: LatestCallRecordings says %q for %s, LatestCallRecording %q", c.what, got[id], id, one)
			}
		}
	}
}

// testListCallsPagesProperty: for any calls and any filter, following the
// cursor page after page, whatever the page size, lists exactly the calls
// the filter selects, each once, newest first with ties by id descending
// in byte order; another environment's calls never show.
func testListCallsPagesProperty(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-other"))
	round := 0
	rapid.Check(t, func(rt *rapid.T) {
		round++
		envID := fmt.Sprintf("env-r%d", round)
		put(t, s, environment(t, envID))
		// Few instants, leads and users, and ids differing in case only, so
		// that ties and byte order are exercised.
		n := rapid.IntRange(0, 14).Draw(rt, "calls")
		var calls []domain.Call
		ids := map[string]bool{}
		for i := range n {
			id := rapid.StringMatching(`[aAbBzZ]{1,3}`).Draw(rt, fmt.Sprintf("id %d", i))
			if ids[id] {
				continue
			}
			ids[id] = true
			c := listedCall(envID, id,
				rapid.SampledFrom([]string{"l1", "l2"}).Draw(rt, "lead"),
				rapid.SampledFrom([]string{"u1", "u2"}).Draw(rt, "user"),
				rapid.SampledFrom([]domain.CallStatus{domain.CallQueued, domain.CallCompleted}).Draw(rt, "status"),
				clickedAt.Add(time.Duration(rapid.IntRange(0, 3).Draw(rt, "minute"))*time.Minute))
			calls = append(calls, c)
		}
		// The same ids in another environment, at the same times.
		var others []any
		for _, c := range calls {
			others = append(others, listedCall("env-other", c.ID()+fmt.Sprint(round), c.LeadID(), c.UserID(), c.Status(), c.ClickedAt()))
		}
		values := []any{}
		for _, c := range calls {
			values = append(values, c)
		}
		put(t, s, append(values, others...)...)

		f := ports.CallFilter{Limit: rapid.IntRange(1, 5).Draw(rt, "limit")}
		f.LeadID = rapid.SampledFrom([]string{"", "l1"}).Draw(rt, "lead filter")
		f.UserID = rapid.SampledFrom([]string{"", "u2"}).Draw(rt, "user filter")
		f.Status = rapid.SampledFrom([]domain.CallStatus{"", domain.CallQueued}).Draw(rt, "status filter")
		if from := rapid.IntRange(-1, 3).Draw(rt, "from minute"); from >= 0 {
			f.From = clickedAt.Add(time.Duration(from) * time.Minute)
		}
		if to := rapid.IntRange(-1, 4).Draw(rt, "to minute"); to >= 0 {
			f.To = clickedAt.Add(time.Duration(to) * time.Minute)
		}

		var want []string
		selected := slices.Clone(calls)
		slices.SortFunc(selected, func(a, b domain.Call) int {
			return cmp.Or(b.ClickedAt().Compare(a.ClickedAt()), cmp.Compare(b.ID(), a.ID()))
		})
		for _, c := range selected {
			if (f.LeadID == "" || c.LeadID() == f.LeadID) && (f.UserID == "" || c.UserID() == f.UserID) &&
				(f.Status == "" || c.Status() == f.Status) && (f.From.IsZero() || !c.ClickedAt().Before(f.From)) &&
				(f.To.IsZero() || c.ClickedAt().Before(f.To)) {
				want = append(want, c.ID())
			}
		}

		var got []string
		for page := 0; ; page++ {
			if page > len(calls)+1 {
				rt.Fatalf("more pages than calls: %q so far", got)
			}
			var listed []domain.Call
			read(t, s, func(ctx context.Context, r ports.Repositories) error {
				var err error
				listed, err = r.ListCalls(ctx, envID, f)
				return err
			})
			if len(listed) > f.Limit {
				rt.Fatalf("a page of %d calls, limit %d", len(listed), f.Limit)
			}
			for _, c := range listed {
				got = append(got, c.ID())
			}
			if len(listed) < f.Limit {
				break
			}
			last := listed[len(listed)-1]
			f.Before = &ports.CallCursor{ClickedAt: last.ClickedAt(), ID: last.ID()}
		}
		if !slices.Equal(got, want) {
			rt.Fatalf("pages listed %q, want %q (filter %+v)", got, want, f)
		}
	})
}
