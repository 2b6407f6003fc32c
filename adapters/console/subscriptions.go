package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"callconnect/domain"
)

// The event subscriptions in the console: the overview lists them, with a
// notice for each one that was disabled, and a subscription's page lists
// its deliveries. They are configured through /v1 (the CRM's backend
// holds their secrets); the console shows what became of them.

// deliveriesPage is how many deliveries one page shows.
const deliveriesPage = 50

// subscriptionView is a subscription as the overview shows it.
type subscriptionView struct {
	ID, URL, Status string
	// Types are the subscribed event types, in words; "*" reads as every type.
	Types string
	// Disabled is when it was disabled, in the environment's zone; "" while active.
	Disabled string
	// FailingSince is the first failure of the current streak; "" while the endpoint answers.
	FailingSince string
	Link         string
}

// subscriptionViews are the environment's subscriptions as the overview
// shows them, in l; nil when the console has no subscriptions' service.
func (c *Console) subscriptionViews(ctx context.Context, l lang, env domain.Environment) ([]subscriptionView, error) {
	if c.svc.EventSubscriptions == nil {
		return nil, nil
	}
	subs, err := c.svc.EventSubscriptions.List(ctx, env.ID())
	if err != nil {
		return nil, err
	}
	tz := env.TimeZone()
	out := make([]subscriptionView, 0, len(subs))
	for _, s := range subs {
		out = append(out, subscriptionView{ID: s.ID(), URL: s.ShownURL(), Status: string(s.Status()), Types: typesText(l, s),
			Disabled: l.formatTime(s.DisabledAt(), tz), FailingSince: l.formatTime(s.FailingSince(), tz),
			Link: envBase(env.ID()) + "/event-subscriptions/" + url.PathEscape(s.ID())})
	}
	return out, nil
}

// typesText says which events a subscription receives.
func typesText(l lang, s domain.EventSubscription) string {
	if s.AllTypes() {
		return l.t("subs.all_types")
	}
	names := s.TypeNames()
	for i, n := range names {
		names[i] = l.label("event", n)
	}
	return strings.Join(names, ", ")
}

// deliveryRow is a delivery as a subscription's page shows it.
type deliveryRow struct {
	EventID, EventType, Status string
	Attempts                   int
	StatusCode                 int
	Error                      string
	Created, Next, Finished    string
}

type subscriptionData struct {
	Subscription subscriptionView
	Deliveries   []deliveryRow
	Next         string
	// The rules, in days, as the page says them.
	RetryDays, DisableDays int
}

// subscription shows a subscription and its deliveries, newest first.
func (c *Console) subscription(w http.ResponseWriter, r *http.Request, s session) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	l := trOf(r)
	id := r.PathValue("subscription")
	if c.svc.EventSubscriptions == nil || !domain.ValidID(id) {
		c.notFound(w, r)
		return
	}
	sub, err := c.svc.EventSubscriptions.Get(r.Context(), env.ID(), id)
	if err != nil {
		if isNotFound(err) {
			c.render(w, r, http.StatusNotFound, "message", view{Title: l.t("subs.not_found_title"), CSRF: s.CSRF, Env: ev,
				Data: message{Heading: l.t("subs.not_found_title"), Text: l.t("subs.not_found", id), Link: ev.Base + "/", LinkText: l.t("nav.overview")}})
			return
		}
		c.failed(w, r, s, err)
		return
	}
	page, err := c.svc.EventSubscriptions.Deliveries(r.Context(), env.ID(), id, r.URL.Query().Get("cursor"), deliveriesPage)
	if err != nil {
		if _, bad := domain.AsError(err); bad && !isNotFound(err) {
			c.render(w, r, http.StatusBadRequest, "message", view{Title: l.t("subs.heading", id), CSRF: s.CSRF, Env: ev,
				Data: message{Heading: l.t("subs.heading", id), Text: l.t("calls.bad_cursor"), Link: r.URL.Path, LinkText: l.t("subs.first_page")}})
			return
		}
		c.failed(w, r, s, err)
		return
	}
	tz := env.TimeZone()
	data := subscriptionData{RetryDays: retryWindowDays, DisableDays: disableDays, Subscription: subscriptionView{ID: sub.ID(), URL: sub.ShownURL(), Status: string(sub.Status()),
		Types: typesText(l, sub), Disabled: l.formatTime(sub.DisabledAt(), tz), FailingSince: l.formatTime(sub.FailingSince(), tz)}}
	for _, d := range page.Deliveries {
		data.Deliveries = append(data.Deliveries, deliveryRow{EventID: d.EventID, EventType: string(d.EventType), Status: string(d.Status),
			Attempts: d.Attempts, StatusCode: d.LastStatusCode, Error: d.LastError, Created: l.formatTime(d.CreatedAt, tz),
			Next: l.formatTime(d.NextAttemptAt, tz), Finished: l.formatTime(d.FinishedAt, tz)})
	}
	if page.Next != "" {
		data.Next = r.URL.Path + "?cursor=" + url.QueryEscape(page.Next)
	}
	c.render(w, r, http.StatusOK, "subscription", view{Title: l.t("subs.heading", id), Nav: "overview", CSRF: s.CSRF, Env: ev, Data: data})
}

// disabledNotices are the overview's notices: the disabled subscriptions.
func disabledNotices(subs []subscriptionView) []subscriptionView {
	var out []subscriptionView
	for _, s := range subs {
		if s.Status == string(domain.SubscriptionDisabled) {
			out = append(out, s)
		}
	}
	return out
}

// retryWindowDays and disableDays are the subscriptions' rules, in days,
// as the pages say them.
var (
	retryWindowDays = int(domain.EventRetryWindow / (24 * time.Hour))
	disableDays     = int(domain.EventDisableAfter / (24 * time.Hour))
)
