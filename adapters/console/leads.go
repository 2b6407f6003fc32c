package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

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
		out = append(out, recentLead{ID: call.LeadID(), LastCall: formatTime(call.ClickedAt(), env.TimeZone()), Status: string(call.Status())})
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
	if id != "" {
		status, problem = http.StatusBadRequest, "A lead id is 1 to 64 letters, digits, dots, dashes, underscores or tildes."
	}
	c.render(w, r, status, "leads", view{Title: "Leads · " + env.Name(), Nav: "leads", CSRF: s.CSRF, Env: ev, Error: problem,
		Data: leadsData{Lead: id, Recent: c.recentLeads(r, env)}})
}

type ownerView struct {
	Role, ID, Name, Button string
	Enabled                bool
}

// interactionTypes names the CRM's interaction type codes.
var interactionTypes = map[string]string{domain.InteractionTypeCall: "Call"}

type interactionView struct {
	At, Type, Description, Call, Recording string
	Task                                   *taskView
}

type taskView struct {
	Name, Due, Status, Priority, Responsible string
	Reminder                                 bool
}

type leadData struct {
	ID, Name, Email, Phone string
	Owners                 []ownerView
	History                []interactionView
	Calls                  []callRow
	MoreCalls              string
}

// ownerRoles names the lead's owner fields.
var ownerRoles = map[domain.Role]string{domain.RoleManager: "Manager", domain.RoleBroker: "Broker", domain.RoleAgency: "Agency"}

// buttonText says what an owner sees on the lead: the call button's decision.
func buttonText(b domain.CallButton) string {
	switch {
	case b.Enabled:
		return "Call button enabled"
	case !b.Visible:
		return "Call button hidden (" + string(b.Reason) + ")"
	}
	text := map[domain.ButtonReason]string{
		domain.ReasonNotOwner:            "not linked to this lead",
		domain.ReasonIntegrationInactive: "Call Connect is not active",
		domain.ReasonMissingPhone:        "the user has no phone number",
		domain.ReasonMissingExtension:    "the user has no extension",
	}[b.Reason]
	return "Call button disabled: " + text + " (" + string(b.Reason) + ")"
}

func (c *Console) lead(w http.ResponseWriter, r *http.Request, s session) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	ctx := r.Context()
	owned, err := c.svc.CallButtons.DecideForOwners(ctx, env.ID(), r.PathValue("lead"))
	if err != nil {
		if isNotFound(err) {
			c.render(w, r, http.StatusNotFound, "leads", view{Title: "Leads · " + env.Name(), Nav: "leads", CSRF: s.CSRF, Env: ev,
				Error: "There is no lead “" + r.PathValue("lead") + "” in this environment.",
				Data:  leadsData{Lead: r.PathValue("lead"), Recent: c.recentLeads(r, env)}})
			return
		}
		c.failed(w, r, s, err)
		return
	}
	lead := owned.Lead
	tz := env.TimeZone()
	d := leadData{ID: lead.ID(), Name: lead.Name(), Email: lead.Email(), Phone: lead.Phone().String()}
	for _, o := range owned.Owners {
		ov := ownerView{Role: ownerRoles[o.Role], ID: o.UserID}
		if o.User == nil {
			ov.Button = "unknown user"
		} else {
			ov.Name = o.User.Name()
			ov.Button, ov.Enabled = buttonText(o.CallButton), o.Enabled
		}
		d.Owners = append(d.Owners, ov)
	}
	history, err := c.svc.Callbacks.History(ctx, env.ID(), lead.ID())
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	for _, in := range history {
		iv := interactionView{At: formatTime(in.OccurredAt(), tz), Type: interactionTypes[in.Type()], Description: in.Description(), Call: in.CallID()}
		if iv.Type == "" {
			iv.Type = in.Type()
		}
		if in.RecordingID() != "" {
			iv.Recording = ev.Base + "/recordings/" + url.PathEscape(in.RecordingID())
		}
		if t := in.Task(); t != nil {
			tv := &taskView{Name: t.Name, Status: t.Status, Priority: t.Priority, Reminder: t.Reminder}
			if t.DueAt != nil {
				tv.Due = formatTime(*t.DueAt, tz)
			}
			if t.ResponsibleType != "" || t.ResponsibleID != "" {
				tv.Responsible = strings.TrimSpace(t.ResponsibleType + " " + t.ResponsibleID)
			}
			iv.Task = tv
		}
		d.History = append(d.History, iv)
	}
	page, err := c.svc.Calls.List(ctx, env.ID(), ports.CallFilter{LeadID: lead.ID(), Limit: 10})
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	d.Calls = callRows(page.Calls, tz)
	if page.Next != nil {
		d.MoreCalls = ev.Base + "/calls?lead=" + url.QueryEscape(lead.ID())
	}
	c.render(w, r, http.StatusOK, "lead", view{Title: lead.Name() + " · Leads", Nav: "leads", CSRF: s.CSRF, Env: ev, Data: d})
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

// formatTime shows an instant in the environment's time zone.
func formatTime(t time.Time, tz *time.Location) string {
	if t.IsZero() {
		return ""
	}
	if tz == nil {
		tz = time.UTC
	}
	return t.In(tz).Format("2006-01-02 15:04:05 MST")
}
