package console_test

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/console"
	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// subscriptionsFixture is a console whose environment has two event
// subscriptions: "crm", active, whose endpoint answered, and "off", which
// failed for five days and was disabled, with its deliveries: the first
// event given up, the second pending, and n delivered before them.
func subscriptionsFixture(t *testing.T, delivered int) *fixture {
	t.Helper()
	store := memory.NewStore()
	f := newFixtureOn(t, console.Config{}, store)
	f.svc.EventSubscriptions = app.NewEventSubscriptions(store, f.clock, memory.NewRandom(3), domain.URLPolicy{})
	f.handler = console.New(console.Config{AdminToken: token, Now: f.clock.Now, Logger: slog.New(slog.DiscardHandler),
		Sessions: memory.NewConsoleSessions()}, f.svc)
	ctx := context.Background()
	for _, id := range []string{"crm", "off"} {
		types := []string{"*"}
		if id == "crm" {
			types = []string{"call.completed", "lead.interaction_added"}
		}
		if _, err := f.svc.EventSubscriptions.Put(ctx, "acme", id, domain.EventSubscriptionInput{
			URL: "https://crm.example.com/hooks?token=segredo", Types: types}); err != nil {
			t.Fatal(err)
		}
	}
	err := store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		off, err := r.LockEventSubscription(ctx, "acme", "off")
		if err != nil {
			return err
		}
		event := func(n int) domain.Event {
			return domain.Event{ID: domain.EventID{Tx: uint64(100 + n), Seq: uint64(n + 1)}.String(), Type: domain.EventCallDelivered}
		}
		at := t0.Add(-10 * 24 * time.Hour)
		for i := range delivered {
			d := domain.NewEventDelivery(off, event(i), []byte("{}"), at)
			off.Settle(&d, domain.EventAttempt{At: at, Ended: at, StatusCode: 204}, 0)
			if err := r.PutEventDelivery(ctx, d); err != nil {
				return err
			}
		}
		first := domain.NewEventDelivery(off, event(delivered), []byte("{}"), t0.Add(-5*24*time.Hour))
		for _, age := range []time.Duration{5 * 24 * time.Hour, 2 * 24 * time.Hour} {
			at := t0.Add(-age)
			off.Settle(&first, domain.EventAttempt{At: at, Ended: at, StatusCode: 503, Error: "the endpoint answered 503: down"}, 0)
		}
		second := domain.NewEventDelivery(off, event(delivered+1), []byte("{}"), t0.Add(-2*24*time.Hour))
		off.Settle(&second, domain.EventAttempt{At: t0, Ended: t0, Error: "connection to https://crm.example.com refused"}, 0)
		if off.Active() {
			return fmt.Errorf("the fixture did not disable the subscription: failing since %v", off.FailingSince())
		}
		for _, d := range []domain.EventDelivery{first, second} {
			if err := r.PutEventDelivery(ctx, d); err != nil {
				return err
			}
		}
		return r.PutEventSubscription(ctx, off)
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A subscription disabled for a failing endpoint is a notice on the
// environment's overview, in Portuguese by default and in English when
// asked, with a link to its deliveries.
func TestDisabledSubscriptionNoticeOnTheOverview(t *testing.T) {
	f := subscriptionsFixture(t, 0)
	f.signIn(token)
	page := text(t, f.do("GET", "/console/env/acme/", nil))
	wantPortuguese(t, "the overview with subscriptions", page)
	notice := regexp.MustCompile(`(?s)<p class="warn notice" role="alert" id="subscription-disabled-off">(.*?)</p>`).FindStringSubmatch(page)
	if notice == nil {
		t.Fatalf("no notice of the disabled subscription on the overview:\n%s", page)
	}
	for _, want := range []string{"<code>off</code> foi desativada em 27/11/2026 09:00", "por 5 dias",
		`href="/console/env/acme/event-subscriptions/off"`} {
		if !strings.Contains(notice[1], want) {
			t.Errorf("the notice lacks %q:\n%s", want, notice[1])
		}
	}
	if strings.Contains(page, "subscription-disabled-crm") {
		t.Error("the active subscription has a notice")
	}
	table := regexp.MustCompile(`(?s)<table id="subscriptions">.*?</table>`).FindString(page)
	for _, want := range []string{"<code>crm</code>", "<code>off</code>", "ligação realizada, interação no histórico do lead", "todos",
		`badge-active">ativa<`, `badge-disabled">desativada<`, "token=[redacted]"} {
		if !strings.Contains(html.UnescapeString(table), want) {
			t.Errorf("the subscriptions' table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(page, "segredo") {
		t.Error("the overview shows the subscription URL's secret")
	}

	en := text(t, f.do("GET", "/console/env/acme/", nil, "Accept-Language", "en"))
	for _, want := range []string{"The event subscription <code>off</code> was disabled on 2026-11-27 09:00", "Event webhooks",
		`badge-disabled">disabled<`} {
		if !strings.Contains(en, want) {
			t.Errorf("the English overview lacks %q", want)
		}
	}
}

// A subscription's page lists its deliveries, newest first, with their
// status, attempts and last answer, a page at a time.
func TestSubscriptionDeliveriesPage(t *testing.T) {
	f := subscriptionsFixture(t, 55)
	f.signIn(token)
	page := text(t, f.do("GET", "/console/env/acme/event-subscriptions/off", nil))
	wantPortuguese(t, "the deliveries page", page)
	rows := regexp.MustCompile(`(?s)<tr>\s*<td><code>(\d{16}-\d{16})</code></td>.*?</tr>`).FindAllStringSubmatch(page, -1)
	if len(rows) != 50 {
		t.Fatalf("%d deliveries on the first page, want 50", len(rows))
	}
	pending, failed := rows[0][0], rows[1][0]
	for _, want := range []string{`badge-pending">pendente<`, "ligação entregue", "<td>1</td>", "sem resposta", "refused"} {
		if !strings.Contains(pending, want) {
			t.Errorf("the pending delivery's row lacks %q:\n%s", want, pending)
		}
	}
	for _, want := range []string{`badge-failed">abandonada<`, "<td>2</td>", "503", "the endpoint answered 503: down"} {
		if !strings.Contains(failed, want) {
			t.Errorf("the given-up delivery's row lacks %q:\n%s", want, failed)
		}
	}
	if !strings.Contains(page, `role="alert">A assinatura de eventos <code>off</code> foi desativada`) {
		t.Error("the page of a disabled subscription has no notice")
	}
	next := regexp.MustCompile(`<a href="([^"]+)" rel="next">Entregas mais antigas</a>`).FindStringSubmatch(page)
	if next == nil {
		t.Fatal("no link to the older deliveries")
	}
	older := text(t, f.do("GET", html.UnescapeString(next[1]), nil))
	more := regexp.MustCompile(`(?s)<tr>\s*<td><code>(\d{16}-\d{16})</code></td>`).FindAllStringSubmatch(older, -1)
	if len(more) != 7 || more[0][1] >= rows[49][1] {
		t.Errorf("the second page has %d deliveries, want the 7 older ones", len(more))
	}
	if strings.Contains(older, `rel="next"`) {
		t.Error("the last page links to an older one")
	}

	for path, want := range map[string]int{
		"/console/env/acme/event-subscriptions/nenhuma":              http.StatusNotFound,
		"/console/env/acme/event-subscriptions/off?cursor=estragado": http.StatusBadRequest,
		"/console/env/nenhum/event-subscriptions/off":                http.StatusNotFound,
	} {
		res := f.do("GET", path, nil)
		if body := text(t, res); res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		} else {
			wantPortuguese(t, "GET "+path, body)
		}
	}
	// Another environment's console does not show it.
	if _, err := f.svc.Configuration.PutEnvironment(context.Background(), domain.EnvironmentInput{ID: "outra", Name: "Outra",
		PublicBaseURL: "https://outra.example.com"}); err != nil {
		t.Fatal(err)
	}
	if res := f.do("GET", "/console/env/outra/event-subscriptions/off", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("another environment's console shows the subscription: %d", res.StatusCode)
	}
	if page := text(t, f.do("GET", "/console/env/outra/", nil)); strings.Contains(page, "subscription-disabled") ||
		!strings.Contains(page, "Nenhuma assinatura de eventos.") {
		t.Error("another environment's overview shows the subscriptions")
	}
}
