package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

type leadsData struct {
	Lead string
	// Recent are the leads of the latest calls, newest first, each once.
	Recent []recentLead
}

type recentLead struct{ ID, Name, LastCall, Status string }

// recentLeads are the leads of the environment's latest calls.
func (c *Console) recentLeads(r *http.Request, env domain.Environment) []recentLead {
	page, err := c.svc.Calls.List(r.Context(), env.ID(), ports.CallFilter{Limit: 100})
	if err != nil {
		c.cfg.Logger.WarnContext(r.Context(), "console: listing the latest calls failed", "error", err)
		return nil
	}
	var out []recentLead
	var ids []string
	seen := map[string]bool{}
	for _, call := range page.Calls {
		if len(out) == 20 {
			break
		}
		if seen[call.LeadID()] {
			continue
		}
		seen[call.LeadID()] = true
		ids = append(ids, call.LeadID())
		out = append(out, recentLead{ID: call.LeadID(), LastCall: trOf(r).formatTime(call.ClickedAt(), env.TimeZone()), Status: string(call.Status())})
	}
	leads, err := c.svc.Configuration.GetLeads(r.Context(), env.ID(), ids)
	if err != nil {
		c.cfg.Logger.WarnContext(r.Context(), "console: reading the latest calls' leads failed", "error", err)
	}
	names := make(map[string]string, len(leads))
	for _, l := range leads {
		names[l.ID()] = l.Name()
	}
	for i := range out {
		out[i].Name = names[out[i].ID]
	}
	return out
}

// findLead is the leads page: a form that opens a lead by id.
func (c *Console) findLead(w http.ResponseWriter, r *http.Request, s session) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	id := strings.TrimSpace(r.URL.Query().Get("lead"))
	if id != "" && domain.ValidID(id) {
		http.Redirect(w, r, ev.Base+"/leads/"+url.PathEscape(id), http.StatusSeeOther)
		return
	}
	status, problem := http.StatusOK, ""
	l := trOf(r)
	if id != "" {
		status, problem = http.StatusBadRequest, l.t("leads.bad_id")
	}
	c.render(w, r, status, "leads", view{Title: l.t("nav.leads") + " · " + env.Name(), Nav: "leads", CSRF: s.CSRF, Env: ev, Error: problem,
		Data: leadsData{Lead: id, Recent: c.recentLeads(r, env)}})
}

type ownerView struct {
	Role, ID, Name, Button string
	Enabled                bool
}

type interactionView struct {
	At, Type, Description, Call, Recording string
	Task                                   *taskView
}

// taskView is a task in words: its name, due date, status, priority,
// responsible (named) and reminder, as far as the partner sent them.
type taskView struct{ Text string }

// taskText says a task in l; the CRM's codes (status, priority, the
// responsible's kind) in words, a code it does not know as sent.
func taskText(l lang, t *domain.Task, tz *time.Location, n names) string {
	parts := []string{l.t("task.name", t.Name)}
	if t.DueAt != nil {
		parts = append(parts, l.t("task.due", l.formatTime(*t.DueAt, tz)))
	}
	if t.Status != "" {
		parts = append(parts, l.t("task.status", l.label("task_status", t.Status)))
	}
	if t.Priority != "" {
		parts = append(parts, l.t("task.priority", l.label("task_priority", t.Priority)))
	}
	if t.ResponsibleType != "" || t.ResponsibleID != "" {
		resp := n.user(t.ResponsibleID).String()
		if t.ResponsibleType != "" {
			resp = strings.TrimSpace(l.label("responsible", t.ResponsibleType) + " " + resp)
		}
		parts = append(parts, l.t("task.responsible", resp))
	}
	if t.Reminder {
		parts = append(parts, l.t("task.reminder"))
	}
	return strings.Join(parts, ", ")
}

type leadData struct {
	ID, Name, Email, Phone string
	Owners                 []ownerView
	History                []interactionView
	Calls                  []callRow
	MoreCalls              string
}

// buttonText says what an owner sees on the lead: the call button's
// decision, its reason in words and by its code.
func buttonText(l lang, b domain.CallButton) string {
	switch {
	case b.Enabled:
		return l.t("owner.enabled")
	case !b.Visible:
		return l.t("owner.hidden", string(b.Reason))
	}
	return l.t("owner.disabled", l.label("reason", string(b.Reason)), string(b.Reason))
}

// lead is the page of one lead: its owners with their call buttons, its
// history and its latest calls.
func (c *Console) lead(w http.ResponseWriter, r *http.Request, s session) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	ctx := r.Context()
	owned, err := c.svc.CallButtons.DecideForOwners(ctx, env.ID(), r.PathValue("lead"))
	if err != nil {
		if isNotFound(err) {
			l := trOf(r)
			c.render(w, r, http.StatusNotFound, "leads", view{Title: l.t("nav.leads") + " · " + env.Name(), Nav: "leads", CSRF: s.CSRF, Env: ev,
				Error: l.t("leads.no_such", r.PathValue("lead")),
				Data:  leadsData{Lead: r.PathValue("lead"), Recent: c.recentLeads(r, env)}})
			return
		}
		c.failed(w, r, s, err)
		return
	}
	lead := owned.Lead
	tz := env.TimeZone()
	l := trOf(r)
	d := leadData{ID: lead.ID(), Name: lead.Name(), Email: lead.Email(), Phone: lead.Phone().String(), Owners: ownerViews(l, owned.Owners)}
	history, err := c.svc.Callbacks.History(ctx, env.ID(), lead.ID())
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	page, err := c.svc.Calls.List(ctx, env.ID(), ports.CallFilter{LeadID: lead.ID(), Limit: 10})
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	// The users of the lead's calls and of its tasks, named in one read.
	n := c.namesOf(r, env.ID(), leadUsers(page.Calls, history), nil)
	d.History = historyViews(l, tz, n, history, ev.Base+"/recordings/")
	d.Calls = callRows(l, page.Calls, tz, n)
	if page.Next != nil {
		d.MoreCalls = ev.Base + "/calls?lead=" + url.QueryEscape(lead.ID())
	}
	c.render(w, r, http.StatusOK, "lead", view{Title: lead.Name() + " · " + l.t("nav.leads"), Nav: "leads", CSRF: s.CSRF, Env: ev, Data: d})
}

// ownerViews shows the lead's owners with their call buttons.
func ownerViews(l lang, owners []app.OwnerButton) []ownerView {
	var out []ownerView
	for _, o := range owners {
		ov := ownerView{Role: l.label("role", string(o.Role)), ID: o.UserID}
		if o.User == nil {
			ov.Button = l.t("owner.unknown")
		} else {
			ov.Name = o.User.Name()
			ov.Button, ov.Enabled = buttonText(l, o.CallButton), o.Enabled
		}
		out = append(out, ov)
	}
	return out
}

// leadUsers are the users a lead's page names: who placed its calls and
// who is responsible for its tasks.
func leadUsers(calls []domain.Call, history []domain.Interaction) []string {
	var users []string
	for _, call := range calls {
		users = append(users, call.UserID())
	}
	for _, in := range history {
		if t := in.Task(); t != nil {
			users = append(users, t.ResponsibleID)
		}
	}
	return users
}

// historyViews shows a lead's history; a recording's link is its id
// appended to recordings.
func historyViews(l lang, tz *time.Location, n names, history []domain.Interaction, recordings string) []interactionView {
	var out []interactionView
	for _, in := range history {
		iv := interactionView{At: l.formatTime(in.OccurredAt(), tz), Type: l.label("interaction", in.Type()), Description: in.Description(), Call: in.CallID()}
		if in.RecordingID() != "" {
			iv.Recording = recordings + url.PathEscape(in.RecordingID())
		}
		if t := in.Task(); t != nil {
			iv.Task = &taskView{Text: taskText(l, t, tz, n)}
		}
		out = append(out, iv)
	}
	return out
}

// recording streams a recording to the console's audio player, with HTTP
// Range support (seeking) through the same service the API's download uses.
func (c *Console) recording(w http.ResponseWriter, r *http.Request, s session) {
	envID, id := r.PathValue("env"), r.PathValue("recording")
	if !domain.ValidID(envID) || !domain.ValidID(id) {
		c.notFound(w, r)
		return
	}
	rec, obj, err := c.svc.Callbacks.Recording(r.Context(), envID, id)
	if err != nil {
		if isNotFound(err) {
			c.notFound(w, r)
			return
		}
		c.failed(w, r, s, err)
		return
	}
	defer obj.Close()
	// A long recording over a slow link outlasts the server's write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(recordingTransferTimeout))
	h := w.Header()
	ct := rec.ContentType()
	if ct == "" {
		ct = obj.ContentType
	}
	h.Set("Content-Type", ct)
	h.Set("ETag", strconv.Quote(rec.SHA256()))
	h.Set("Cache-Control", "private, max-age=86400")
	http.ServeContent(w, r, "", rec.CreatedAt(), obj)
}

// recordingTransferTimeout bounds one recording's answer.
const recordingTransferTimeout = 6 * time.Minute
