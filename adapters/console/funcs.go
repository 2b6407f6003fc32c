package console

import (
	"html/template"
	"strings"
)

// labels are the words of the codes that are not their code with spaces.
// no_result keeps the name operators and partners know it by.
var labels = map[string]string{"no_result": "sem retorno"}

// funcs are the helpers the templates use.
var funcs = template.FuncMap{
	// label turns a status code into words: not_completed → not completed.
	"label": func(s string) string {
		if l, ok := labels[s]; ok {
			return l
		}
		return strings.ReplaceAll(s, "_", " ")
	},
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
