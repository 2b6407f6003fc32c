package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

func TestMonitorRecordsInboundRedacted(t *testing.T) {
	f := newFixture(t)
	m := app.NewMonitor(f.store, memory.NewRandom(1), nil)
	ctx := context.Background()
	m.RecordInbound(ctx, domain.Exchange{EnvID: "acme", Method: "POST", URL: "/api/cvio/lead", StatusCode: 413, OccurredAt: t0,
		RequestHeaders: map[string][]string{"token": {"cct_x_secret"}, "email": {"p@example.com"}, "content-type": {"application/json"}},
		RequestBody:    strings.Repeat("a", domain.MaxExchangeBody+10)})
	page, err := m.ListExchanges(ctx, "acme", app.ExchangeFilter{Status: "4xx"})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("ListExchanges: %v, %v", page, err)
	}
	got, err := m.GetExchange(ctx, "acme", page.Items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	// Refused, it keeps only the safe headers: no credential, not even redacted.
	if got.Direction != domain.Inbound || got.StatusCode != 413 || len(got.RequestHeaders) != 1 ||
		got.RequestHeaders["Content-Type"][0] != "application/json" {
		t.Errorf("recorded: %+v", got.RequestHeaders)
	}
	if len(got.RequestBody) != domain.MaxExchangeBody+len(domain.TruncatedMarker) {
		t.Errorf("body of %d bytes, want it cut at %d and marked", len(got.RequestBody), domain.MaxExchangeBody)
	}
	_, err = m.GetExchange(ctx, "acme", "nope")
	wantCode(t, err, domain.KindNotFound, app.CodeExchangeNotFound)
	_, err = m.ListExchanges(ctx, "nowhere", app.ExchangeFilter{})
	wantCode(t, err, domain.KindNotFound, domain.CodeEnvironmentNotFound)
}

func TestMonitorListPagesAndRefusesBadFilters(t *testing.T) {
	f := newFixture(t)
	m := app.NewMonitor(f.store, memory.NewRandom(1), nil)
	ctx := context.Background()
	for n := range 5 {
		m.RecordInbound(ctx, domain.Exchange{EnvID: "acme", Method: "POST", URL: "/api/cvio/lead", StatusCode: 200,
			OccurredAt: t0.Add(time.Duration(n) * time.Second)})
	}
	var seen int
	filter := app.ExchangeFilter{Limit: 2}
	for pages := 1; ; pages++ {
		page, err := m.ListExchanges(ctx, "acme", filter)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page.Items)
		if page.NextCursor == "" {
			if pages != 3 || seen != 5 {
				t.Fatalf("%d exchanges in %d pages, want 5 in 3", seen, pages)
			}
			break
		}
		if pages > 3 {
			t.Fatal("more than 3 pages")
		}
		filter.Cursor = page.NextCursor
	}
	// A full last page says so: no cursor to an empty page.
	if page, err := m.ListExchanges(ctx, "acme", app.ExchangeFilter{Limit: 5}); err != nil || page.NextCursor != "" || len(page.Items) != 5 {
		t.Errorf("one page of exactly 5: %d items, next %q, %v", len(page.Items), page.NextCursor, err)
	}

	for field, filter := range map[string]app.ExchangeFilter{
		"direction": {Direction: "sideways"},
		"status":    {Status: "4x"},
		"call_id":   {CallID: "a b"},
		"lead_id":   {LeadID: "a/b"},
		"until":     {Since: t0, Until: t0},
		"cursor":    {Cursor: "x1.bm90LWEtY3Vyc29y"},
		"limit":     {Limit: domain.MaxExchangePage + 1},
	} {
		_, err := m.ListExchanges(ctx, "acme", filter)
		de, ok := domain.AsError(err)
		if !ok || de.Kind != domain.KindInvalid || de.Field != field {
			t.Errorf("filter %+v: %v, want an invalid %s", filter, err, field)
		}
	}
}

// dayRetention is a ports.ExchangeRetention that remembers what it was asked.
type dayRetention struct {
	from, through, cutoff time.Time
	fail                  error
}

func (d *dayRetention) PrepareExchangeDays(_ context.Context, from, through time.Time) (int, error) {
	d.from, d.through = from, through
	return 2, d.fail
}

func (d *dayRetention) DropExchangeDays(_ context.Context, cutoff time.Time) ([]time.Time, error) {
	d.cutoff = cutoff
	return []time.Time{domain.DayStart(cutoff).AddDate(0, 0, -1)}, nil
}

var _ ports.ExchangeRetention = (*dayRetention)(nil)

func TestMonitorRetentionUsesTheClock(t *testing.T) {
	clock := memory.NewClock(time.Date(2026, 11, 27, 15, 30, 0, 0, time.UTC))
	days := &dayRetention{}
	r := app.NewMonitorRetention(days, clock, app.MonitorRetentionConfig{Retention: 10 * 24 * time.Hour}, nil)
	run, err := r.Run(context.Background())
	if err != nil || run.Prepared != 2 || len(run.Dropped) != 1 {
		t.Fatalf("Run: %+v, %v", run, err)
	}
	if !days.from.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) || !days.through.Equal(time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("prepared %s to %s, want yesterday to a week ahead", days.from, days.through)
	}
	if !days.cutoff.Equal(time.Date(2026, 11, 17, 15, 30, 0, 0, time.UTC)) {
		t.Errorf("cutoff %s, want now minus the retention", days.cutoff)
	}
	// The default retention is 30 days; a failed half does not stop the other.
	days.fail = errors.New("lock timeout")
	r = app.NewMonitorRetention(days, clock, app.MonitorRetentionConfig{}, nil)
	if _, err := r.Run(context.Background()); !errors.Is(err, days.fail) {
		t.Errorf("Run with a failing prepare: %v", err)
	}
	if !days.cutoff.Equal(time.Date(2026, 10, 28, 15, 30, 0, 0, time.UTC)) {
		t.Errorf("cutoff %s with the default retention, want 30 days before now", days.cutoff)
	}
}
