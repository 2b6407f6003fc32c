package console

import (
	"html/template"
	"strings"
)

// funcs are the helpers the templates use.
var funcs = template.FuncMap{
	// label turns a status code into words: not_completed → not completed.
	"label": func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	// actor builds the "acting as" field of a form that changes an integration.
	"actor": func(id string, managers []userView, selected string) actorField {
		return actorField{ID: id, Managers: managers, Selected: selected}
	},
}

// actorField is a select of the users who may manage integrations: every
// integration change is made on behalf of one of them (rule 4).
type actorField struct {
	ID       string
	Managers []userView
	Selected string
}
