package domain

import (
	"strings"
	"unicode"
)

// ReportedOutcome is a call's result as a partner states it: realizada, or
// não realizada with a reason (one of CallReasons; ReasonText keeps the
// partner's words when its motivo is not a known value).
type ReportedOutcome struct {
	Outcome    ResultOutcome
	Reason     string
	ReasonText string
}

// NewReportedOutcome reads the status and motivo words an interaction may
// carry, as the result endpoint reads them (ParseResultOutcome, MapMotivo).
// Both blank: nil, no outcome stated. A motivo without a status means não
// realizada (only a call that did not happen has a reason); não realizada
// without a motivo has the reason other. statusField and motivoField name
// the fields in an error.
func NewReportedOutcome(status, motivo, statusField string) (*ReportedOutcome, error) {
	status, motivo = strings.TrimSpace(status), strings.TrimSpace(motivo)
	if status == "" && motivo == "" {
		return nil, nil
	}
	o := &ReportedOutcome{Outcome: OutcomeNotCompleted}
	if status != "" {
		outcome, ok := ParseResultOutcome(status)
		if !ok {
			return nil, invalid(statusField, "must be realizada or nao_realizada")
		}
		o.Outcome = outcome
	}
	if o.Outcome == OutcomeNotCompleted {
		o.Reason, o.ReasonText = MapMotivo(motivo)
		if o.Reason == "" {
			o.Reason = CallReasonOther
		}
	}
	return o, nil
}

// OutcomeSource says what told an interaction's outcome.
type OutcomeSource string

const (
	OutcomeFromFields      OutcomeSource = "status"      // explicit status and motivo
	OutcomeFromRecording   OutcomeSource = "recording"   // a recording: the call took place
	OutcomeFromDescription OutcomeSource = "description" // the article's words in descricao
)

// CallOutcome is what an interaction says of its call's result, strongest
// evidence first: its explicit status and motivo; else a recording, which
// means realizada; else the article's words in its description
// (DescriptionOutcome); else nothing (ok false), and the call's status is
// left as it is.
func (p PartnerInteraction) CallOutcome() (o ReportedOutcome, from OutcomeSource, ok bool) {
	switch {
	case p.Outcome != nil:
		return *p.Outcome, OutcomeFromFields, true
	case p.Audio != nil:
		return ReportedOutcome{Outcome: OutcomeCompleted}, OutcomeFromRecording, true
	}
	if o, ok := DescriptionOutcome(p.Description); ok {
		return o, OutcomeFromDescription, true
	}
	return ReportedOutcome{}, "", false
}

// CallbackOutcome is the outcome a callback's interactions report, the
// strongest evidence of any of them winning (CallOutcome's order); among
// interactions of the same strength, the first in the body wins.
func CallbackOutcome(interactions []PartnerInteraction) (o ReportedOutcome, from OutcomeSource, ok bool) {
	rank := map[OutcomeSource]int{OutcomeFromFields: 3, OutcomeFromRecording: 2, OutcomeFromDescription: 1}
	for _, p := range interactions {
		if po, pf, pok := p.CallOutcome(); pok && rank[pf] > rank[from] {
			o, from, ok = po, pf, true
		}
	}
	return o, from, ok
}

// descriptionPhrases are the article's words for a call's outcome, folded
// (lower case, no accents), as sequences of whole words.
var descriptionPhrases = []struct {
	words   []string
	outcome ReportedOutcome
}{
	{[]string{"nao", "atendida"}, notCompleted(CallReasonNoAnswer)},
	{[]string{"nao", "atendido"}, notCompleted(CallReasonNoAnswer)},
	{[]string{"nao", "completada"}, notCompleted(CallReasonNotCompleted)},
	{[]string{"nao", "completado"}, notCompleted(CallReasonNotCompleted)},
	{[]string{"numero", "invalido"}, notCompleted(CallReasonInvalidNumber)},
	{[]string{"ocupado"}, notCompleted(CallReasonBusy)},
	{[]string{"ocupada"}, notCompleted(CallReasonBusy)},
	{[]string{"cancelada"}, notCompleted(CallReasonCancelled)},
	{[]string{"cancelado"}, notCompleted(CallReasonCancelled)},
}

func notCompleted(reason string) ReportedOutcome {
	return ReportedOutcome{Outcome: OutcomeNotCompleted, Reason: reason}
}

// DescriptionOutcome reads a description for the article's words:
// "realizada"; "não realizada"; "não atendida", "não completada",
// "ocupado", "número inválido", "cancelada" (and their masculine forms).
// Case, accents, punctuation and spacing do not matter, but words must be
// whole: "realizadas" or "desocupado" say nothing. "Realizada" preceded by
// "não" — directly or with one word between, as in "não foi realizada" — is
// não realizada (reason other). When several appear, the first in the text
// wins: "Ligação realizada; cliente não atendeu a segunda" is realizada
// ("não atendeu" is not one of the words), "Ligação não atendida, depois
// realizada" is não atendida. A description with none of them says nothing
// (ok false).
func DescriptionOutcome(description string) (ReportedOutcome, bool) {
	words := foldedWords(description)
	for i := range words {
		for _, p := range descriptionPhrases {
			if hasWordsAt(words, i, p.words) {
				return p.outcome, true
			}
		}
		if w := words[i]; w == "realizada" || w == "realizado" {
			if i >= 1 && words[i-1] == "nao" || i >= 2 && words[i-2] == "nao" {
				return notCompleted(CallReasonOther), true
			}
			return ReportedOutcome{Outcome: OutcomeCompleted}, true
		}
	}
	return ReportedOutcome{}, false
}

func hasWordsAt(words []string, i int, phrase []string) bool {
	if i+len(phrase) > len(words) {
		return false
	}
	for j, w := range phrase {
		if words[i+j] != w {
			return false
		}
	}
	return true
}

// foldedWords splits text into its words (runs of letters and digits),
// each lower-cased and without accents; everything else separates words.
func foldedWords(s string) []string {
	var words []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			words = append(words, b.String())
			b.Reset()
		}
	}
	for _, r := range s {
		switch {
		case r >= 0x300 && r <= 0x36f: // a combining accent: part of the letter before
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if f, ok := unaccent[r]; ok {
				b.WriteByte(f)
			} else {
				b.WriteRune(unicode.ToLower(r))
			}
		default:
			flush()
		}
	}
	flush()
	return words
}
