package console

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"callconnect/app"
	"callconnect/domain"
)

// monitorRoutes registers the integration monitor's pages: the list (and
// its rows alone, which the page fetches to stay up to date) and one exchange.
func (c *Console) monitorRoutes(env string) {
	c.mux.HandleFunc("GET "+env+"/monitor", c.auth(c.monitor))
	c.mux.HandleFunc("GET "+env+"/monitor/rows", c.auth(c.monitorRows))
	c.mux.HandleFunc("GET "+env+"/monitor/{exchange}", c.auth(c.exchange))
}

// monitorQuery is the monitor's filters as the form sends them: the API's
// filters, with the times as the operator types them (in the environment's
// time zone).
type monitorQuery struct {
	Direction, Call, Lead, Status, Since, Until, Cursor string
}

func readMonitorQuery(r *http.Request) monitorQuery {
	q := r.URL.Query()
	get := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	return monitorQuery{Direction: get("direction"), Call: get("call"), Lead: get("lead"), Status: get("status"),
		Since: get("since"), Until: get("until"), Cursor: get("cursor")}
}

// values are the filters as a query string, without the cursor.
func (q monitorQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"direction": q.Direction, "call": q.Call, "lead": q.Lead, "status": q.Status,
		"since": q.Since, "until": q.Until} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// localTimeLayout is what an <input type="datetime-local"> sends.
const localTimeLayout = "2006-01-02T15:04"

// filter turns the form into the monitor service's filter; a time that does
// not parse is named, in l, in the problem returned.
func (q monitorQuery) filter(l lang, tz *time.Location) (app.ExchangeFilter, string) {
	f := app.ExchangeFilter{Direction: q.Direction, CallID: q.Call, LeadID: q.Lead, Status: q.Status, Cursor: q.Cursor, Limit: monitorPage}
	for _, t := range []struct {
		in   string
		out  *time.Time
		name string
	}{{q.Since, &f.Since, "monitor.since"}, {q.Until, &f.Until, "monitor.until"}} {
		if t.in == "" {
			continue
		}
		at, err := time.ParseInLocation(localTimeLayout, t.in, tz)
		if err != nil {
			at, err = time.ParseInLocation(localTimeLayout+":05", t.in, tz)
		}
		if err != nil {
			return f, l.t("monitor.bad_time", l.t(t.name))
		}
		*t.out = at
	}
	return f, ""
}

// monitorPage is how many exchanges one page of the monitor shows.
const monitorPage = 50

type exchangeRow struct {
	ID, At, Direction, Method, URL, Call, Error, Duration string
	Lead                                                  who
	Status                                                int
	StatusClass                                           string
}

type monitorData struct {
	Filter monitorQuery
	Rows   []exchangeRow
	Next   string
	// Live is the URL the page polls for fresh rows; only the first page
	// (no cursor) updates itself.
	Live     string
	Statuses []string
}

// statusClass names a status's badge: s2 for 2xx, s4, s5, s0 for no answer.
func statusClass(code int) string {
	if code == 0 {
		return "s0"
	}
	return "s" + strconv.Itoa(code/100)
}

// listExchanges reads the page the request asks for, or says what is wrong
// with its filters.
func (c *Console) listExchanges(r *http.Request, env domain.Environment, base string) (monitorData, int, string) {
	q := readMonitorQuery(r)
	d := monitorData{Filter: q, Statuses: []string{"2xx", "3xx", "4xx", "5xx", "0"}}
	if q.Status != "" && !slices.Contains(d.Statuses, q.Status) {
		d.Statuses = append(d.Statuses, q.Status)
	}
	l := trOf(r)
	f, problem := q.filter(l, env.TimeZone())
	if problem != "" {
		return d, http.StatusBadRequest, problem
	}
	page, err := c.svc.Monitor.ListExchanges(r.Context(), env.ID(), f)
	if err != nil {
		status, text := c.problemText(r, err)
		return d, status, text
	}
	tz := env.TimeZone()
	leads := make([]string, 0, len(page.Items))
	for _, e := range page.Items {
		leads = append(leads, e.LeadID)
	}
	n := c.namesOf(r, env.ID(), nil, leads)
	for _, e := range page.Items {
		d.Rows = append(d.Rows, newExchangeRow(l, e, tz, n))
	}
	v := q.values()
	if page.NextCursor != "" {
		next := q.values()
		next.Set("cursor", page.NextCursor)
		d.Next = base + "/monitor?" + next.Encode()
	}
	if q.Cursor == "" {
		d.Live = base + "/monitor/rows"
		if len(v) > 0 {
			d.Live += "?" + v.Encode()
		}
	}
	return d, http.StatusOK, ""
}

func (c *Console) monitor(w http.ResponseWriter, r *http.Request, s session) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	d, status, problem := c.listExchanges(r, env, ev.Base)
	c.render(w, r, status, "monitor", view{Title: trOf(r).t("nav.monitor") + " · " + env.Name(), Nav: "monitor", CSRF: s.CSRF, Env: ev, Error: problem, Data: d})
}

// monitorRows answers the live page's poll with the table's rows alone.
func (c *Console) monitorRows(w http.ResponseWriter, r *http.Request, s session) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	d, status, problem := c.listExchanges(r, env, ev.Base)
	if problem != "" {
		http.Error(w, problem, status)
		return
	}
	var buf bytes.Buffer
	l := trOf(r)
	if err := c.pages[l]["monitor"].ExecuteTemplate(&buf, "rows", view{Lang: l, Env: ev, Data: d}); err != nil {
		c.cfg.Logger.ErrorContext(r.Context(), "console: rendering the monitor's rows failed", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", string(l))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

type headerView struct{ Name, Value string }

type exchangeData struct {
	exchangeRow
	Headers                   []headerView
	RequestBody, ResponseBody string
}

func (c *Console) exchange(w http.ResponseWriter, r *http.Request, s session) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	e, err := c.svc.Monitor.GetExchange(r.Context(), env.ID(), r.PathValue("exchange"))
	if err != nil {
		if de, ok := domain.AsError(err); ok && (de.Kind == domain.KindNotFound || de.Kind == domain.KindInvalid) {
			c.notFound(w, r)
			return
		}
		c.failed(w, r, s, err)
		return
	}
	l := trOf(r)
	d := exchangeData{exchangeRow: newExchangeRow(l, e, env.TimeZone(), c.namesOf(r, env.ID(), nil, []string{e.LeadID}))}
	names := make([]string, 0, len(e.RequestHeaders))
	for k := range e.RequestHeaders {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		d.Headers = append(d.Headers, headerView{Name: k, Value: strings.Join(e.RequestHeaders[k], ", ")})
	}
	d.RequestBody, d.ResponseBody = prettyJSON([]byte(e.RequestBody)), prettyJSON([]byte(e.ResponseBody))
	c.render(w, r, http.StatusOK, "exchange", view{Title: l.t("exchange.heading") + " " + e.ID, Nav: "monitor", CSRF: s.CSRF, Env: ev, Data: d})
}

// newExchangeRow is how the monitor shows an exchange, times in tz, its
// lead named.
func newExchangeRow(l lang, e domain.Exchange, tz *time.Location, n names) exchangeRow {
	row := exchangeRow{ID: e.ID, At: l.formatTime(e.OccurredAt, tz), Direction: string(e.Direction), Method: e.Method, URL: e.URL,
		Call: e.CallID, Lead: n.lead(e.LeadID), Error: attemptError(l, e.Error), Status: e.StatusCode, StatusClass: statusClass(e.StatusCode)}
	if e.Duration > 0 {
		row.Duration = e.Duration.Round(time.Millisecond).String()
	}
	return row
}
