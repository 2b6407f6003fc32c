package console

import "net/http"

// who is a user or a lead as the pages show one: its name, and its id,
// which alone shows when the name is not known (an id the CRM has not
// sent yet, or a read that failed).
type who struct{ ID, Name string }

func (w who) String() string {
	if w.Name == "" {
		return w.ID
	}
	return w.Name + " (" + w.ID + ")"
}

// names are the names of some users and leads of an environment, by id.
type names struct{ users, leads map[string]string }

func (n names) user(id string) who { return who{ID: id, Name: n.users[id]} }
func (n names) lead(id string) who { return who{ID: id, Name: n.leads[id]} }

// namesOf reads the names of the users and leads a page shows, all in one
// read whatever their number. A failure is logged and the page shows ids.
func (c *Console) namesOf(r *http.Request, envID string, userIDs, leadIDs []string) names {
	userIDs, leadIDs = distinct(userIDs), distinct(leadIDs)
	if len(userIDs) == 0 && len(leadIDs) == 0 {
		return names{}
	}
	users, leads, err := c.svc.Configuration.Names(r.Context(), envID, userIDs, leadIDs)
	if err != nil {
		c.cfg.Logger.WarnContext(r.Context(), "console: reading names failed; the page shows ids", "error", err)
		return names{}
	}
	return names{users: users, leads: leads}
}

// distinct is ids without repeats or empty ids, in their order.
func distinct(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
