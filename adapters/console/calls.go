package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// callsPage is how many calls one page of the list shows.
const callsPage = 50

type callRow struct {
	ID, Status, Reason, Clicked string
	Lead, User                  who
	Attempts                    int
}

// callRows are calls as the lists show them, their leads and users named.
func callRows(l lang, calls []domain.Call, tz *time.Location, n names) []callRow {
	rows := make([]callRow, 0, len(calls))
	for _, call := range calls {
		rows = append(rows, callRow{ID: call.ID(), Lead: n.lead(call.LeadID()), User: n.user(call.UserID()), Status: string(call.Status()),
			Reason: call.Reason(), Clicked: l.formatTime(call.ClickedAt(), tz), Attempts: len(call.Attempts())})
	}
	return rows
}

// namesOfCalls reads the names of the calls' leads and users, in one read.
func (c *Console) namesOfCalls(r *http.Request, envID string, calls []domain.Call) names {
	users := make([]string, 0, len(calls))
	leads := make([]string, 0, len(calls))
	for _, call := range calls {
		users, leads = append(users, call.UserID()), append(leads, call.LeadID())
	}
	return c.namesOf(r, envID, users, leads)
}

type callsData struct {
	Calls    []callRow
	Statuses []string
	Filter   callsQuery
	Next     string
	Error    string
}

// callsQuery is the list's filters as the form sends them.
type callsQuery struct {
	Status, Lead, User, From, To string
}

func (q callsQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"status": q.Status, "lead": q.Lead, "user": q.User, "from": q.From, "to": q.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// filter turns the form's filters into the list's, dates as whole days in
// the environment's time zone ("to" included); a date that does not parse
// is named, in l, in the problem returned.
func (q callsQuery) filter(l lang, tz *time.Location) (ports.CallFilter, string) {
	f := ports.CallFilter{Status: domain.CallStatus(q.Status), LeadID: q.Lead, UserID: q.User, Limit: callsPage}
	for _, d := range []struct {
		in   string
		out  *time.Time
		days int
		name string
	}{{q.From, &f.From, 0, "calls.clicked_from"}, {q.To, &f.To, 1, "calls.clicked_until"}} {
		if d.in == "" {
			continue
		}
		day, err := time.ParseInLocation("2006-01-02", d.in, tz)
		if err != nil {
			return f, l.t("calls.bad_date", l.t(d.name))
		}
		*d.out = day.AddDate(0, 0, d.days)
	}
	return f, ""
}

// encodeCursor encodes a position in the list for the next page's link,
// as the monitor's cursors are (domain.EncodeKeyset).
func encodeCursor(c *ports.CallCursor) string { return domain.EncodeKeyset(c.ClickedAt, c.ID) }

func decodeCursor(s string) (*ports.CallCursor, bool) {
	at, id, ok := domain.DecodeKeyset(s)
	if !ok {
		return nil, false
	}
	return &ports.CallCursor{ClickedAt: at, ID: id}, true
}

func (c *Console) calls(w http.ResponseWriter, r *http.Request, s session) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	qv := r.URL.Query()
	q := callsQuery{Status: qv.Get("status"), Lead: strings.TrimSpace(qv.Get("lead")), User: strings.TrimSpace(qv.Get("user")),
		From: qv.Get("from"), To: qv.Get("to")}
	data := callsData{Filter: q}
	for _, st := range domain.CallStatuses {
		data.Statuses = append(data.Statuses, string(st))
	}
	l := trOf(r)
	f, problem := q.filter(l, env.TimeZone())
	if before := qv.Get("before"); before != "" && problem == "" {
		if f.Before, ok = decodeCursor(before); !ok {
			problem = l.t("calls.bad_cursor")
		}
	}
	status := http.StatusOK
	if problem == "" {
		page, err := c.svc.Calls.List(r.Context(), env.ID(), f)
		if err != nil {
			status, problem = c.problemText(r, err)
		}
		data.Calls = callRows(l, page.Calls, env.TimeZone(), c.namesOfCalls(r, env.ID(), page.Calls))
		if page.Next != nil {
			v := q.values()
			v.Set("before", encodeCursor(page.Next))
			data.Next = ev.Base + "/calls?" + v.Encode()
		}
	} else {
		status = http.StatusBadRequest
	}
	c.render(w, r, status, "calls", view{Title: l.t("nav.calls") + " · " + env.Name(), Nav: "calls", CSRF: s.CSRF, Env: ev, Error: problem, Data: data})
}

// event is one line of a call's timeline.
type event struct {
	At, What, Detail, Kind string
	Status                 int
	Recording              string // a recording's console URL
}

type callData struct {
	ID, Status, Reason, Clicked, Deadline string
	Lead, User                            who
	// Delivered is when the partner accepted the call and ResultDue when
	// its result deadline passes (or passed); empty when not delivered.
	Delivered, ResultDue string
	Redeliverable        bool
	Timeline             []event
	Payload              string
}

// call is the page of one call: its delivery and what became of it, as a
// timeline.
func (c *Console) call(w http.ResponseWriter, r *http.Request, s session) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	ctx := r.Context()
	call, err := c.svc.Calls.GetCall(ctx, env.ID(), r.PathValue("call"))
	if err != nil {
		if isNotFound(err) {
			c.notFound(w, r)
			return
		}
		c.failed(w, r, s, err)
		return
	}
	history, err := c.svc.Callbacks.History(ctx, env.ID(), call.LeadID())
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	tz := env.TimeZone()
	l := trOf(r)
	n := c.namesOf(r, env.ID(), []string{call.UserID()}, []string{call.LeadID()})
	d := callData{ID: call.ID(), Lead: n.lead(call.LeadID()), User: n.user(call.UserID()), Status: string(call.Status()), Reason: call.Reason(),
		Clicked: l.formatTime(call.ClickedAt(), tz), Deadline: l.formatTime(call.Deadline(), tz),
		Redeliverable: call.Status() == domain.CallUndeliverable, Payload: prettyJSON(call.Payload())}
	t := callTimeline{l: l, tz: tz, call: call, history: history, recordings: ev.Base + "/recordings/"}
	deadline := c.svc.Calls.ResultDeadline()
	due, delivered := call.ResultDue(deadline)
	if delivered {
		d.Delivered, d.ResultDue = l.formatTime(call.DeliveredAt(), tz), l.formatTime(due, tz)
	}
	d.Timeline = t.delivery(d.User.String(), d.Lead.String())
	if delivered {
		d.Timeline = append(d.Timeline, t.noResult(deadline, due)...)
	}
	d.Timeline = append(d.Timeline, t.results()...)
	c.render(w, r, http.StatusOK, "call", view{Title: l.t("call.heading") + " " + call.ID(), Nav: "calls", CSRF: s.CSRF, Env: ev,
		Flash: flashOf(r), Data: d})
}

// callTimeline builds the events of a call's page.
type callTimeline struct {
	l          lang
	tz         *time.Location
	call       domain.Call
	history    []domain.Interaction // the lead's, newest first
	recordings string               // the console path recordings' ids are appended to
}

// delivery is the press of Ligar by user on lead, each delivery attempt,
// and the call giving up when it did.
func (t callTimeline) delivery(user, lead string) []event {
	l, tz, call := t.l, t.tz, t.call
	out := []event{{At: l.formatTime(call.ClickedAt(), tz), Kind: "clicked", What: l.t("event.clicked"),
		Detail: l.t("event.clicked_detail", user, lead)}}
	for i, a := range call.Attempts() {
		e := event{At: l.formatTime(a.At, tz), Kind: "attempt", What: l.t("event.attempt", strconv.Itoa(i+1)), Status: a.StatusCode,
			Detail: attemptError(l, a.Error)}
		if a.Error == "" {
			e.Kind, e.Detail = "delivered", l.t("event.delivered")
		}
		if a.Duration > 0 {
			e.Detail += " (" + a.Duration.Round(time.Millisecond).String() + ")"
		}
		out = append(out, e)
	}
	if call.Status() == domain.CallUndeliverable {
		out = append(out, event{Kind: "undeliverable", What: l.label("status", string(domain.CallUndeliverable)),
			Detail: l.label("undeliverable", call.Reason())})
	}
	return out
}

// noResult is the result deadline (due, deadline after delivery) passing
// of a delivered call, an event of its own when no result had come by
// then: the call is no_result now, or its result came late.
func (t callTimeline) noResult(deadline time.Duration, due time.Time) []event {
	call := t.call
	firstResult := time.Time{}
	for _, in := range t.history {
		if in.CallID() == call.ID() && (firstResult.IsZero() || in.OccurredAt().Before(firstResult)) {
			firstResult = in.OccurredAt()
		}
	}
	if call.Status() == domain.CallNoResult || !firstResult.IsZero() && firstResult.After(due) &&
		(call.Status() == domain.CallCompleted || call.Status() == domain.CallNotCompleted) {
		return []event{{At: t.l.formatTime(due, t.tz), Kind: "no_result", What: t.l.t("event.no_result"),
			Detail: t.l.t("event.no_result_detail", shortDuration(deadline))}}
	}
	return nil
}

// results are the call's entries of the lead's history, oldest first.
func (t callTimeline) results() []event {
	var out []event
	for i := len(t.history) - 1; i >= 0; i-- { // oldest first
		in := t.history[i]
		if in.CallID() != t.call.ID() {
			continue
		}
		e := event{At: t.l.formatTime(in.OccurredAt(), t.tz), Kind: "result", What: t.l.t("event.result"), Detail: in.Description()}
		if in.RecordingID() != "" {
			e.Recording = t.recordings + url.PathEscape(in.RecordingID())
		}
		out = append(out, e)
	}
	return out
}

// shortDuration writes d without its zero minutes and seconds: 2h, 1h30m, 45s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (c *Console) redeliver(w http.ResponseWriter, r *http.Request, s session) {
	env, _, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	id := r.PathValue("call")
	if _, err := c.svc.Calls.Redeliver(r.Context(), env.ID(), id, ""); err != nil {
		c.failed(w, r, s, err)
		return
	}
	http.Redirect(w, r, envBase(env.ID())+"/calls/"+url.PathEscape(id)+"?done=redelivered", http.StatusSeeOther)
}

// prettyJSON indents JSON for reading; anything else is shown as it is.
func prettyJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, bytes.TrimSpace(b), "", "  ") == nil {
		return out.String()
	}
	return string(b)
}
