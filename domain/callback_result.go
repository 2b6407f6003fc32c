package domain

import (
	"strings"
	"unicode/utf8"
)

// ResultOutcome is how a call ended, as the partner says it (rule 7).
type ResultOutcome string

const (
	OutcomeCompleted    ResultOutcome = "realizada"     // completed: a recording is expected
	OutcomeNotCompleted ResultOutcome = "nao_realizada" // not completed, with a reason
)

// Reasons of a call that was not completed: the codes the CRM-facing API shows.
const (
	CallReasonNoAnswer      = "no_answer"      // nao_atendida
	CallReasonNotCompleted  = "not_completed"  // nao_completada
	CallReasonBusy          = "busy"           // ocupado
	CallReasonInvalidNumber = "invalid_number" // numero_invalido
	CallReasonCancelled     = "cancelled"      // cancelada
	CallReasonOther         = "other"          // outro, or anything this service does not know
)

// CallReasons lists the reason codes, in the order the API documents them.
var CallReasons = []string{CallReasonNoAnswer, CallReasonNotCompleted, CallReasonBusy,
	CallReasonInvalidNumber, CallReasonCancelled, CallReasonOther}

// MaxDurationSeconds bounds duracao_segundos: a day.
const MaxDurationSeconds = 24 * 60 * 60

// ParseResultOutcome reads a status as partners write it: "realizada",
// "Realizada", "não realizada", "nao-realizada", "NAO_REALIZADA"… The
// masculine forms and the English codes (completed, not_completed) are
// accepted too.
func ParseResultOutcome(s string) (ResultOutcome, bool) {
	switch FoldWord(s) {
	case "realizada", "realizado", "completed":
		return OutcomeCompleted, true
	case "nao_realizada", "nao_realizado", "not_completed":
		return OutcomeNotCompleted, true
	}
	return "", false
}

// CallStatus is the status a call takes with this outcome.
func (o ResultOutcome) CallStatus() CallStatus {
	if o == OutcomeCompleted {
		return CallCompleted
	}
	return CallNotCompleted
}

// motivos maps the folded partner reasons (foldWord) to the codes; the
// contract's values first, then their other genders and the English codes.
var motivos = map[string]string{
	"nao_atendida": CallReasonNoAnswer, "nao_atendido": CallReasonNoAnswer, "no_answer": CallReasonNoAnswer,
	"nao_completada": CallReasonNotCompleted, "nao_completado": CallReasonNotCompleted, "not_completed": CallReasonNotCompleted,
	"ocupado": CallReasonBusy, "ocupada": CallReasonBusy, "busy": CallReasonBusy,
	"numero_invalido": CallReasonInvalidNumber, "invalid_number": CallReasonInvalidNumber,
	"cancelada": CallReasonCancelled, "cancelado": CallReasonCancelled, "cancelled": CallReasonCancelled, "canceled": CallReasonCancelled,
	"outro": CallReasonOther, "outros": CallReasonOther, "other": CallReasonOther,
}

// MapMotivo maps a partner's motivo to a reason code (rule 7). Case,
// accents, spaces, dashes and underscores do not matter: "nao_atendida",
// "Não atendida" and "NÃO_ATENDIDA" are all no_answer. A motivo it does
// not know is CallReasonOther, with the partner's words (trimmed) as
// freeText; freeText is "" otherwise. A blank motivo gives ("", "").
func MapMotivo(s string) (reason string, freeText string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	if code, ok := motivos[FoldWord(s)]; ok {
		return code, ""
	}
	return CallReasonOther, s
}

// FoldWord reduces a word as people type it to a comparable form: lower
// case, Portuguese accents removed (precomposed or combining), and runs of
// spaces, dashes, dots and underscores made one underscore, none at the ends.
func FoldWord(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pendingSep := false
	for _, r := range s {
		switch {
		case r == ' ' || r == '_' || r == '-' || r == '.' || r == '\t':
			pendingSep = b.Len() > 0
			continue
		case r >= 0x300 && r <= 0x36f: // combining diacritical marks (decomposed accents)
			continue
		}
		if pendingSep {
			b.WriteByte('_')
			pendingSep = false
		}
		if f, ok := unaccent[r]; ok {
			b.WriteByte(f)
			continue
		}
		switch {
		case r >= 'A' && r <= 'Z':
			b.WriteByte(byte(r) + 'a' - 'A')
		case r < utf8.RuneSelf:
			b.WriteByte(byte(r))
		default:
			b.WriteString(strings.ToLower(string(r)))
		}
	}
	return b.String()
}

// unaccent folds the accented letters of Portuguese (and a few neighbours)
// to their lower-case base letter.
var unaccent = map[rune]byte{
	'á': 'a', 'à': 'a', 'â': 'a', 'ã': 'a', 'ä': 'a', 'Á': 'a', 'À': 'a', 'Â': 'a', 'Ã': 'a', 'Ä': 'a',
	'é': 'e', 'è': 'e', 'ê': 'e', 'ë': 'e', 'É': 'e', 'È': 'e', 'Ê': 'e', 'Ë': 'e',
	'í': 'i', 'ì': 'i', 'î': 'i', 'ï': 'i', 'Í': 'i', 'Ì': 'i', 'Î': 'i', 'Ï': 'i',
	'ó': 'o', 'ò': 'o', 'ô': 'o', 'õ': 'o', 'ö': 'o', 'Ó': 'o', 'Ò': 'o', 'Ô': 'o', 'Õ': 'o', 'Ö': 'o',
	'ú': 'u', 'ù': 'u', 'û': 'u', 'ü': 'u', 'Ú': 'u', 'Ù': 'u', 'Û': 'u', 'Ü': 'u',
	'ç': 'c', 'Ç': 'c', 'ñ': 'n', 'Ñ': 'n',
}

// ResultCallback is the body of POST /api/cvio/ligacoes/{idligacao}/resultado.
type ResultCallback struct {
	CallID          string         // idligacao in the body, if any (MergeCallID with the path)
	Outcome         ResultOutcome  // status
	Reason          string         // CallReason* when not completed; "" when completed
	ReasonText      string         // the partner's own words when motivo is not a known value
	Description     string         // descricao
	DurationSeconds *int64         // duracao_segundos; nil when absent
	Audio           *ReceivedAudio // the recording; nil when none
}

// RecordCallResult ends c as the partner reported: completed, or not
// completed with reason (one of CallReasons). It is a function rather than
// a Call method so that call.go stays with its owner.
func RecordCallResult(c *Call, outcome ResultOutcome, reason string) error {
	switch outcome {
	case OutcomeCompleted:
		reason = ""
	case OutcomeNotCompleted:
		known := false
		for _, r := range CallReasons {
			known = known || r == reason
		}
		if !known {
			return invalid("motivo", "must be one of no_answer, not_completed, busy, invalid_number, cancelled, other")
		}
	default:
		return invalid("status", "must be realizada or nao_realizada")
	}
	if err := c.transition(outcome.CallStatus()); err != nil {
		return err
	}
	c.reason = reason
	return nil
}
