package portstest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// listExchanges reads one page of the monitor's list.
func listExchanges(t *testing.T, s ports.Store, envID string, f domain.ExchangeFilter, after domain.ExchangeCursor, limit int) []domain.Exchange {
	t.Helper()
	var out []domain.Exchange
	read(t, s, func(ctx context.Context, r ports.Repositories) (err error) {
		out, err = r.ListExchanges(ctx, envID, f, after, limit)
		return err
	})
	return out
}

func exchangeIDs(es []domain.Exchange) string {
	ids := make([]string, len(es))
	for n, e := range es {
		ids[n] = e.ID
	}
	return strings.Join(ids, " ")
}

// monitorExchange is an exchange of the list's test set.
func monitorExchange(envID, id string, dir domain.Direction, status int, callID, leadID string, at time.Time) domain.Exchange {
	return domain.Exchange{
		ID: id, EnvID: envID, Direction: dir, Method: "POST", URL: "https://partner.example.com/" + id,
		StatusCode: status, Duration: 12 * time.Millisecond, CallID: callID, LeadID: leadID, OccurredAt: at,
		RequestHeaders: map[string][]string{"Content-Type": {"application/json"}},
		RequestBody:    `{"id":"` + id + `"}`, ResponseBody: "answer " + id, Error: "error " + id,
	}
}

// monitorSet records, in env-a, exchanges a to h (a oldest; c and d share
// an instant, so the id orders them) and one in env-b with the same call
// and lead as some of env-a's.
func monitorSet(t *testing.T, s ports.Store) (t0 time.Time) {
	t0 = time.Date(2026, 3, 19, 14, 0, 0, 0, time.UTC)
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	put(t, s, environment(t, "env-a"), environment(t, "env-b"),
		monitorExchange("env-a", "a", domain.Outbound, 503, "c1", "l1", at(0)),
		monitorExchange("env-a", "b", domain.Outbound, 200, "c1", "l1", at(1)),
		monitorExchange("env-a", "d", domain.Inbound, 401, "", "", at(2)),
		monitorExchange("env-a", "c", domain.Inbound, 200, "c1", "l1", at(2)),
		monitorExchange("env-a", "e", domain.Outbound, 0, "c2", "l2", at(3)),
		monitorExchange("env-a", "f", domain.Inbound, 422, "c2", "l2", at(4)),
		monitorExchange("env-a", "g", domain.Inbound, 413, "", "l2", at(5)),
		monitorExchange("env-a", "h", domain.Outbound, 404, "c3", "l1", at(6)),
		monitorExchange("env-b", "z", domain.Outbound, 200, "c1", "l1", at(3)),
	)
	return t0
}

func testExchangeListFilters(t *testing.T, h Harness) {
	t0 := monitorSet(t, h.Store)
	status := func(lo, hi int) *domain.StatusRange { return &domain.StatusRange{Min: lo, Max: hi} }
	for _, c := range []struct {
		what string
		f    domain.ExchangeFilter
		want string
	}{
		{"no filter: newest first, the id breaking the tie", domain.ExchangeFilter{}, "h g f e d c b a"},
		{"direction in", domain.ExchangeFilter{Direction: domain.Inbound}, "g f d c"},
		{"direction out", domain.ExchangeFilter{Direction: domain.Outbound}, "h e b a"},
		{"call c1", domain.ExchangeFilter{CallID: "c1"}, "c b a"},
		{"lead l2", domain.ExchangeFilter{LeadID: "l2"}, "g f e"},
		{"status 200", domain.ExchangeFilter{Status: status(200, 200)}, "c b"},
		{"status 4xx", domain.ExchangeFilter{Status: status(400, 499)}, "h g f d"},
		{"status 0 (no answer)", domain.ExchangeFilter{Status: status(0, 0)}, "e"},
		{"since, inclusive", domain.ExchangeFilter{Since: t0.Add(4 * time.Minute)}, "h g f"},
		{"until, exclusive", domain.ExchangeFilter{Until: t0.Add(2 * time.Minute)}, "b a"},
		{"since and until", domain.ExchangeFilter{Since: t0.Add(2 * time.Minute), Until: t0.Add(4 * time.Minute)}, "e d c"},
		{"all at once", domain.ExchangeFilter{Direction: domain.Inbound, LeadID: "l2", Status: status(400, 499),
			Since: t0.Add(4 * time.Minute), Until: t0.Add(5 * time.Minute)}, "f"},
		{"a call of another environment", domain.ExchangeFilter{CallID: "c9"}, ""},
	} {
		if got := exchangeIDs(listExchanges(t, h.Store, "env-a", c.f, domain.ExchangeCursor{}, 50)); got != c.want {
			t.Errorf("ListExchanges(env-a, %s): got [%s], want [%s]", c.what, got, c.want)
		}
	}
	if got := exchangeIDs(listExchanges(t, h.Store, "env-b", domain.ExchangeFilter{CallID: "c1"}, domain.ExchangeCursor{}, 50)); got != "z" {
		t.Errorf("ListExchanges(env-b, call c1): got [%s], want [z]", got)
	}
	if got := listExchanges(t, h.Store, "env-c", domain.ExchangeFilter{}, domain.ExchangeCursor{}, 50); len(got) != 0 {
		t.Errorf("ListExchanges of an environment that does not exist: got [%s], want nothing", exchangeIDs(got))
	}

	// The list holds summaries: no headers, no bodies.
	got := listExchanges(t, h.Store, "env-a", domain.ExchangeFilter{CallID: "c3"}, domain.ExchangeCursor{}, 50)
	want := monitorExchange("env-a", "h", domain.Outbound, 404, "c3", "l1", t0.Add(6*time.Minute))
	want.RequestHeaders, want.RequestBody, want.ResponseBody = nil, "", ""
	if len(got) != 1 || exchangeString(got[0]) != exchangeString(want) || got[0].RequestHeaders != nil {
		t.Errorf("ListExchanges(call c3):\n got %v\nwant %s", got, exchangeString(want))
	}
}

func testExchangeListPages(t *testing.T, h Harness) {
	t0 := monitorSet(t, h.Store)
	all := exchangeIDs(listExchanges(t, h.Store, "env-a", domain.ExchangeFilter{}, domain.ExchangeCursor{}, 50))
	for _, limit := range []int{1, 2, 3, 8, 9} {
		var pages []string
		var seen []domain.Exchange
		after := domain.ExchangeCursor{}
		for range 20 { // bounded: 8 exchanges need at most 9 pages
			page := listExchanges(t, h.Store, "env-a", domain.ExchangeFilter{}, after, limit)
			if len(page) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			pages = append(pages, exchangeIDs(page))
			seen = append(seen, page...)
			after = domain.CursorAfter(page[len(page)-1])
		}
		if got := exchangeIDs(seen); got != all {
			t.Errorf("limit %d: pages %q join to [%s], want [%s]", limit, pages, got, all)
		}
	}

	// Exchanges recorded between pages, newer than everything listed so far
	// (and one as old as the cursor, with a larger id, which sorts before it),
	// change nothing in the pages that follow.
	first := listExchanges(t, h.Store, "env-a", domain.ExchangeFilter{Direction: domain.Outbound}, domain.ExchangeCursor{}, 2)
	if exchangeIDs(first) != "h e" {
		t.Fatalf("first page: [%s], want [h e]", exchangeIDs(first))
	}
	put(t, h.Store,
		monitorExchange("env-a", "new1", domain.Outbound, 200, "c4", "l4", t0.Add(time.Hour)),
		monitorExchange("env-a", "zz", domain.Outbound, 200, "c4", "l4", t0.Add(3*time.Minute)))
	rest := listExchanges(t, h.Store, "env-a", domain.ExchangeFilter{Direction: domain.Outbound}, domain.CursorAfter(first[1]), 50)
	if got := exchangeIDs(rest); got != "b a" {
		t.Errorf("the page after the cursor, with exchanges recorded meanwhile: got [%s], want [b a]", got)
	}
	// The cursor works with filters: the call index's order is the list's.
	page := listExchanges(t, h.Store, "env-a", domain.ExchangeFilter{CallID: "c1"}, domain.ExchangeCursor{}, 1)
	page2 := listExchanges(t, h.Store, "env-a", domain.ExchangeFilter{CallID: "c1"}, domain.CursorAfter(page[0]), 5)
	if got := exchangeIDs(page) + " | " + exchangeIDs(page2); got != "c | b a" {
		t.Errorf("call c1 in pages of 1, then 5: got [%s], want [c | b a]", got)
	}
}

func testExchangeGet(t *testing.T, h Harness) {
	monitorSet(t, h.Store)
	out := outboundExchange("env-a", "x-out", "c1")
	put(t, h.Store, out)
	var got domain.Exchange
	read(t, h.Store, func(ctx context.Context, r ports.Repositories) (err error) {
		got, err = r.GetExchange(ctx, "env-a", "x-out")
		return err
	})
	wantExchanges(t, "GetExchange(env-a, x-out)", []domain.Exchange{got}, out)

	for _, c := range []struct{ env, id string }{{"env-b", "x-out"}, {"env-a", "z"}, {"env-a", "nope"}, {"env-c", "a"}} {
		err := h.Store.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			_, err := r.GetExchange(ctx, c.env, c.id)
			return err
		})
		wantNotFound(t, fmt.Sprintf("GetExchange(%s, %s)", c.env, c.id), err)
	}
}

// testExchangeRetention ages exchanges out by whole UTC days: with the
// cutoff at 14:00 on 17 February, every day up to the 16th goes (its end
// is before the cutoff) and the 17th stays whole.
func testExchangeRetention(t *testing.T, h Harness) {
	now := time.Date(2026, 3, 19, 14, 0, 0, 0, time.UTC)
	cutoff := now.Add(-30 * 24 * time.Hour) // 2026-02-17 14:00 UTC
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	x := func(id string, at time.Time) domain.Exchange {
		return monitorExchange("env-a", id, domain.Inbound, 401, "", "", at)
	}
	put(t, h.Store, environment(t, "env-a"),
		x("jan", day("2026-01-01").Add(time.Hour)),
		x("last-of-16th", day("2026-02-17").Add(-time.Microsecond)),
		x("first-of-17th", day("2026-02-17")),
		x("before-cutoff-17th", cutoff.Add(-time.Minute)),
		x("today", now),
		x("next-week", now.Add(6*24*time.Hour)),
	)
	if _, err := h.Retention.PrepareExchangeDays(t.Context(), now.Add(-24*time.Hour), now.Add(7*24*time.Hour)); err != nil {
		t.Fatalf("PrepareExchangeDays: %v", err)
	}
	dropped, err := h.Retention.DropExchangeDays(t.Context(), cutoff)
	if err != nil {
		t.Fatalf("DropExchangeDays: %v", err)
	}
	for _, d := range dropped {
		if !d.Add(24 * time.Hour).Before(cutoff.Add(time.Nanosecond)) {
			t.Errorf("DropExchangeDays(%s) dropped %s, which ends after the cutoff", cutoff, d)
		}
	}
	for _, want := range []time.Time{day("2026-01-01"), day("2026-02-16")} {
		if !slices.ContainsFunc(dropped, want.Equal) {
			t.Errorf("DropExchangeDays(%s) = %v: want %s among them", cutoff, dropped, want.Format(time.DateOnly))
		}
	}
	left := listExchanges(t, h.Store, "env-a", domain.ExchangeFilter{}, domain.ExchangeCursor{}, 50)
	if got, want := exchangeIDs(left), "next-week today before-cutoff-17th first-of-17th"; got != want {
		t.Errorf("after DropExchangeDays: [%s], want [%s]", got, want)
	}
	again, err := h.Retention.DropExchangeDays(t.Context(), cutoff)
	if err != nil || len(again) != 0 {
		t.Errorf("DropExchangeDays again: %v, %v; want nothing dropped", again, err)
	}
	// Recording goes on whatever the days: one dropped, one never prepared.
	put(t, h.Store, x("late-for-jan", day("2026-01-01").Add(2*time.Hour)), x("far-future", now.Add(400*24*time.Hour)))
	left = listExchanges(t, h.Store, "env-a", domain.ExchangeFilter{}, domain.ExchangeCursor{}, 50)
	if got, want := exchangeIDs(left), "far-future next-week today before-cutoff-17th first-of-17th late-for-jan"; got != want {
		t.Errorf("after recording into a dropped and an unprepared day: [%s], want [%s]", got, want)
	}
	// ...and the next run ages the late one out too.
	if _, err := h.Retention.PrepareExchangeDays(t.Context(), now.Add(-24*time.Hour), now.Add(7*24*time.Hour)); err != nil {
		t.Fatalf("PrepareExchangeDays: %v", err)
	}
	if _, err := h.Retention.DropExchangeDays(t.Context(), cutoff); err != nil {
		t.Fatalf("DropExchangeDays: %v", err)
	}
	left = listExchanges(t, h.Store, "env-a", domain.ExchangeFilter{}, domain.ExchangeCursor{}, 50)
	if got, want := exchangeIDs(left), "far-future next-week today before-cutoff-17th first-of-17th"; got != want {
		t.Errorf("after the next run: [%s], want [%s]", got, want)
	}
}
