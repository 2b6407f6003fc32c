// Package cvio is the partner wire protocol of Call Connect: the JSON a
// partner receives when Ligar is pressed, and the three callback bodies it
// posts back (task, lead, result), read with the tolerance partners need
// and with their recordings decoded as the body streams in. It turns bytes
// into the domain's typed values and back; the rules are the domain's.
package cvio

import (
	"fmt"
	"strconv"
	"strings"

	"callconnect/domain"
)

// ParseTaskCallback reads the task callback:
//
//	{"telefone": "...", "idligacao": "...",
//	 "interacoes": [{"tipo": "L", "descricao": "...", "tarefa": {...}, "audio_base64": "..."}]}
//
// It needs at least one interaction. Which of telefone and idligacao
// identifies the lead is the caller's business: idligacao may also come in
// the URL (MergeCallID).
//
// Tolerance, shared by every callback parser: ids, phone numbers and
// numbers may be JSON numbers or strings; null is the same as absent; keys
// match case-insensitively (as encoding/json does) and unknown keys are
// ignored; "interacoes" may be a single object instead of an array; a
// leading byte order mark is skipped. Errors are *domain.Error values (domain.KindInvalid,
// domain.CodeInvalidField) whose Field is the JSON path of the culprit, such as
// "interacoes[0].tarefa.data", or "body" when the JSON itself is malformed.
func ParseTaskCallback(body []byte) (domain.TaskCallback, error) {
	return parseTaskCallback(wholeBody(body))
}

func parseTaskCallback(r *jsonReader) (domain.TaskCallback, error) {
	var c domain.TaskCallback
	seen := false
	err := r.parseObject(func(r *jsonReader, key string) error {
		var err error
		switch {
		case keyIs(key, "telefone"):
			c.Phone, err = r.phoneField("telefone")
		case keyIs(key, "idligacao"):
			c.CallID, err = r.idField("idligacao")
		case keyIs(key, "interacoes"):
			seen = true
			c.Interactions, err = r.interactions("interacoes")
		}
		return err
	})
	if err != nil {
		return domain.TaskCallback{}, err
	}
	if len(c.Interactions) == 0 {
		if !seen {
			return domain.TaskCallback{}, invalid("interacoes", "is required")
		}
		return domain.TaskCallback{}, invalid("interacoes", "must have at least one interaction")
	}
	return c, nil
}

// ParseLeadCallback reads the lead callback:
//
//	{"permitir_alteracao": true, "nome": "...", "email": "...", "telefone": "...",
//	 "idligacao": "...", "interacoes": [{"tipo": "L", "descricao": "...", "audio_base64": "..."}]}
//
// permitir_alteracao is a JSON boolean, or a string or number a partner
// plausibly means as one: "true"/"false", "S"/"N", "sim"/"não", "yes"/"no",
// 1/0, "1"/"0" (any case); absent or null is false. Anything else is an error
// rather than a guess, since true lets the partner overwrite the lead.
// interacoes may be absent or empty: a callback may only update the lead.
// The email, when given, must be a plain address. The tolerance is that of
// ParseTaskCallback.
func ParseLeadCallback(body []byte) (domain.LeadCallback, error) {
	return parseLeadCallback(wholeBody(body))
}

func parseLeadCallback(r *jsonReader) (domain.LeadCallback, error) {
	var c domain.LeadCallback
	err := r.parseObject(func(r *jsonReader, key string) error {
		var err error
		switch {
		case keyIs(key, "permitir_alteracao"):
			c.AllowUpdate, err = r.flagField("permitir_alteracao")
		case keyIs(key, "nome"):
			c.Name, err = r.textField("nome", domain.MaxNameLength)
		case keyIs(key, "email"):
			c.Email, err = r.emailField("email")
		case keyIs(key, "telefone"):
			c.Phone, err = r.phoneField("telefone")
		case keyIs(key, "idligacao"):
			c.CallID, err = r.idField("idligacao")
		case keyIs(key, "interacoes"):
			c.Interactions, err = r.interactions("interacoes")
		}
		return err
	})
	if err != nil {
		return domain.LeadCallback{}, err
	}
	return c, nil
}

func keyIs(key, name string) bool { return len(key) == len(name) && strings.EqualFold(key, name) }

// interactions reads "interacoes": an array of at most domain.MaxInteractions
// objects (null: none; a lone object: one).
func (r *jsonReader) interactions(path string) ([]domain.PartnerInteraction, error) {
	switch r.peek() {
	case '[':
		var list []domain.PartnerInteraction
		err := r.array(func(i int) error {
			if i >= domain.MaxInteractions {
				if i == domain.MaxInteractions {
					r.fail(path, "must have at most %d interactions", domain.MaxInteractions)
				}
				return nil // skipped, still checked for syntax
			}
			it, err := r.interaction(path + "[" + strconv.Itoa(i) + "]")
			list = append(list, it)
			return err
		})
		return list, err
	case '{':
		it, err := r.interaction(path + "[0]")
		return []domain.PartnerInteraction{it}, err
	case 'n':
		return nil, r.skip()
	}
	kind, _, err := r.scalar()
	if err == nil {
		r.fail(path, "must be an array of interactions, not %s", jsonKindName(kind))
	}
	return nil, err
}

func (r *jsonReader) interaction(path string) (domain.PartnerInteraction, error) {
	it := domain.PartnerInteraction{Type: domain.InteractionTypeCall}
	if r.peek() != '{' {
		kind, _, err := r.scalar()
		if err == nil {
			r.fail(path, "must be an object, not %s", jsonKindName(kind))
		}
		return it, err
	}
	status, motivo := "", ""
	err := r.object(func(key string) error {
		var err error
		switch {
		case keyIs(key, "tipo"):
			var tipo string
			tipo, err = r.textField(path+".tipo", domain.MaxNameLength)
			if t := domain.FoldWord(tipo); t != "" && t != "l" && t != "ligacao" {
				r.fail(path+".tipo", "must be L (a call): Call Connect records calls only")
			}
		case keyIs(key, "descricao"):
			it.Description, err = r.descriptionField(path + ".descricao")
		case keyIs(key, "tarefa"):
			it.Task, err = r.task(path + ".tarefa")
		case keyIs(key, "audio_base64"):
			it.Audio, err = r.audioField(path + ".audio_base64")
		case keyIs(key, "status"):
			status, err = r.textField(path+".status", domain.MaxNameLength)
		case keyIs(key, "motivo"):
			motivo, err = r.textField(path+".motivo", domain.MaxNameLength)
		}
		return err
	})
	if err != nil {
		return it, err
	}
	it.Outcome, err = domain.NewReportedOutcome(status, motivo, path+".status")
	r.failWith(err)
	return it, nil
}

func (r *jsonReader) task(path string) (*domain.PartnerTask, error) {
	switch r.peek() {
	case 'n':
		return nil, r.skip()
	case '{':
	default:
		kind, _, err := r.scalar()
		if err == nil {
			r.fail(path, "must be an object, not %s", jsonKindName(kind))
		}
		return nil, err
	}
	var t domain.PartnerTask
	err := r.object(func(key string) error {
		var err error
		switch {
		case keyIs(key, "nome"):
			t.Name, err = r.textField(path+".nome", domain.MaxNameLength)
		case keyIs(key, "data"):
			t.Due, err = r.civilField(path + ".data")
		case keyIs(key, "situacao"):
			t.Status, err = r.codeField(path + ".situacao")
		case keyIs(key, "prioridade"):
			t.Priority, err = r.codeField(path + ".prioridade")
		case keyIs(key, "tipo_responsavel"):
			t.ResponsibleType, err = r.codeField(path + ".tipo_responsavel")
		case keyIs(key, "idresponsavel"):
			t.ResponsibleID, err = r.idField(path + ".idresponsavel")
		case keyIs(key, "lembrete_tarefa"):
			t.Reminder, err = r.flagField(path + ".lembrete_tarefa")
		}
		return err
	})
	return &t, err
}

// wrongType records that field holds a value of the wrong kind.
func (r *jsonReader) wrongType(field, want string, kind byte) {
	r.fail(field, "must be %s, not %s", want, jsonKindName(kind))
}

// textField reads one line of text (a string; null is ""), trimmed, of at
// most max bytes of valid UTF-8 without control characters.
func (r *jsonReader) textField(field string, max int) (string, error) {
	return r.stringField(field, "a string", func(s string) error { return domain.CheckText(field, s, max) })
}

// descriptionField reads free text that may span lines.
func (r *jsonReader) descriptionField(field string) (string, error) {
	return r.stringField(field, "a string", func(s string) error { return domain.CheckMultiline(field, s, domain.MaxDescriptionLength) })
}

// stringField reads a string (null is ""), trimmed, and records check's
// complaint about it; want names the expected type in a wrong-type error.
func (r *jsonReader) stringField(field, want string, check func(string) error) (string, error) {
	kind, s, err := r.scalar()
	if err != nil {
		return "", err
	}
	switch kind {
	case jsonString:
		s = strings.TrimSpace(s)
		if check != nil {
			r.failWith(check(s))
		}
		return s, nil
	case jsonNull:
		return "", nil
	}
	r.wrongType(field, want, kind)
	return "", nil
}

// audioField reads a recording. In a CallbackBody the string is a
// reference to the recording ReadCallbackBody decoded as the body streamed
// in; in a whole body (the parsers of []byte) the string itself is decoded
// here. A string of whitespace only is no recording (nil).
func (r *jsonReader) audioField(field string) (*domain.ReceivedAudio, error) {
	s, err := r.stringField(field, "a base64 string", nil)
	if err != nil || s == "" {
		return nil, err
	}
	if r.body == nil {
		index := r.audios
		r.audios++
		decoded, err := DecodeAudioBase64(s, r.maxAudio)
		return &domain.ReceivedAudio{Index: index, Size: int64(len(decoded)), Head: decoded[:min(len(decoded), domain.AudioSniffLen)], Err: err}, nil
	}
	a, ok := r.body.audio(s)
	if !ok {
		// ReadCallbackBody replaces every such string; a reference it did not
		// make cannot be here.
		r.fail(field, "is not a recording")
		return nil, nil
	}
	if a.blank {
		return nil, nil
	}
	return &domain.ReceivedAudio{Index: a.Index, Size: a.Size, Head: a.Head, Err: a.Err}, nil
}

// idField reads an identifier: a string with the CRM's id rules (domain.ValidID:
// ids are URL-safe strings chosen by the CRM, often but not always digits)
// or a non-negative integer JSON number (6065 or 6065.0, not 6065.5 or 6e3).
func (r *jsonReader) idField(field string) (string, error) {
	kind, s, err := r.scalar()
	if err != nil {
		return "", err
	}
	switch kind {
	case jsonString:
		s = strings.TrimSpace(s)
		if s != "" && !domain.ValidID(s) {
			r.fail(field, "must be an id: 1 to %d letters, digits, - _ . ~", domain.MaxIDLength)
			return "", nil
		}
		return s, nil
	case jsonNumber:
		if d, ok := integerDigits(s); ok && d[0] != '-' && len(d) <= domain.MaxIDLength {
			return d, nil
		}
		r.fail(field, "must be an id: a whole number or a string, not %s", s)
		return "", nil
	case jsonNull:
		return "", nil
	}
	r.wrongType(field, "an id (a string or a whole number)", kind)
	return "", nil
}

// integerDigits returns the integer a JSON number literal spells, without
// a fraction of zeros ("12.00" → "12"); ok is false for 12.5 and 1e3.
func integerDigits(lit string) (string, bool) {
	intPart, frac, hasFrac := strings.Cut(lit, ".")
	if strings.ContainsAny(lit, "eE") || intPart == "" || intPart == "-" {
		return "", false
	}
	if hasFrac && strings.Trim(frac, "0") != "" {
		return "", false
	}
	if intPart == "-0" {
		intPart = "0"
	}
	return intPart, true
}

// intField reads a whole number in [lo, hi] given as a JSON number or a
// numeric string; null or "" is absent.
func (r *jsonReader) intField(field string, lo, hi int64) (*int64, error) {
	kind, s, err := r.scalar()
	if err != nil {
		return nil, err
	}
	switch kind {
	case jsonString:
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, nil
		}
	case jsonNumber:
	case jsonNull:
		return nil, nil
	default:
		r.wrongType(field, "a whole number", kind)
		return nil, nil
	}
	d, ok := integerDigits(s)
	if !ok || !isJSONInteger(d) {
		r.fail(field, "must be a whole number, not %q", truncateForMessage(s))
		return nil, nil
	}
	v, err := strconv.ParseInt(d, 10, 64)
	if err != nil || v < lo || v > hi {
		r.fail(field, "must be between %d and %d", lo, hi)
		return nil, nil
	}
	return &v, nil
}

// isJSONInteger reports whether s is -?[0-9]+ (a numeric string may be
// anything; integerDigits only strips a fraction).
func isJSONInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func truncateForMessage(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "…"
}

// flagField reads a yes/no: a JSON boolean, or "S"/"N", "sim"/"não",
// "true"/"false", "yes"/"no", "1"/"0", 1/0. Null or "" is false.
func (r *jsonReader) flagField(field string) (bool, error) {
	kind, s, err := r.scalar()
	if err != nil {
		return false, err
	}
	switch kind {
	case jsonTrue:
		return true, nil
	case jsonFalse, jsonNull:
		return false, nil
	case jsonString, jsonNumber:
		if kind == jsonNumber {
			if d, ok := integerDigits(s); ok {
				s = d
			}
		}
		switch domain.FoldWord(s) {
		case "s", "sim", "true", "t", "yes", "y", "1":
			return true, nil
		case "n", "nao", "false", "f", "no", "0", "":
			return false, nil
		}
		r.fail(field, "must be S or N (or true or false), not %q", truncateForMessage(s))
		return false, nil
	}
	r.wrongType(field, "S or N (or a boolean)", kind)
	return false, nil
}

// codeField reads a CRM code (situacao, prioridade, tipo_responsavel): up
// to domain.MaxTaskCodeLength ASCII letters, stored as sent.
func (r *jsonReader) codeField(field string) (string, error) {
	kind, s, err := r.scalar()
	if err != nil {
		return "", err
	}
	switch kind {
	case jsonString:
		s = strings.TrimSpace(s)
		if !domain.ValidTaskCode(s) {
			r.fail(field, "must be a code of at most %d letters, such as C, P, A, M, B, G or I", domain.MaxTaskCodeLength)
			return "", nil
		}
		return s, nil
	case jsonNull:
		return "", nil
	}
	r.wrongType(field, "a code (a string)", kind)
	return "", nil
}

// civilField reads a partner date (domain.ParseCivilTime); null or "" is absent.
func (r *jsonReader) civilField(field string) (*domain.CivilTime, error) {
	kind, s, err := r.scalar()
	if err != nil {
		return nil, err
	}
	switch kind {
	case jsonString:
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		c, err := domain.ParseCivilTime(field, s)
		if err != nil {
			r.failWith(err)
			return nil, nil
		}
		return &c, nil
	case jsonNull:
		return nil, nil
	}
	r.wrongType(field, "a date string such as 2024-03-19 14:00", kind)
	return nil, nil
}

// phoneField reads a phone number (domain.ParsePhone): a string or a whole number.
func (r *jsonReader) phoneField(field string) (domain.Phone, error) {
	kind, s, err := r.scalar()
	if err != nil {
		return domain.Phone{}, err
	}
	switch kind {
	case jsonString:
	case jsonNumber:
		d, ok := integerDigits(s)
		if !ok || d[0] == '-' {
			r.fail(field, "must be a phone number")
			return domain.Phone{}, nil
		}
		s = d
	case jsonNull:
		return domain.Phone{}, nil
	default:
		r.wrongType(field, "a phone number", kind)
		return domain.Phone{}, nil
	}
	p, err := domain.ParsePhone(field, s)
	r.failWith(err)
	return p, nil
}

// emailField reads an e-mail address; "" or null is absent.
func (r *jsonReader) emailField(field string) (string, error) {
	kind, s, err := r.scalar()
	if err != nil {
		return "", err
	}
	switch kind {
	case jsonString:
		s = strings.TrimSpace(s)
		if s != "" && !domain.ValidEmail(s) {
			r.fail(field, "must be a plain e-mail address such as name@example.com")
			return "", nil
		}
		return s, nil
	case jsonNull:
		return "", nil
	}
	r.wrongType(field, "an e-mail address (a string)", kind)
	return "", nil
}

// ParseResultCallback reads the result callback:
//
//	{"status": "realizada"|"nao_realizada", "motivo": "nao_atendida", "descricao": "...",
//	 "duracao_segundos": 42, "audio_base64": "..."}
//
// status is required (domain.ParseResultOutcome). motivo is mapped with
// domain.MapMotivo and only matters when the call was not completed; a
// not-completed result without one gets the reason other. duracao_segundos
// is a whole number of seconds from 0 to a day, as a JSON number or a
// numeric string. Whether a completed call must carry audio is the
// caller's rule, not the parser's. The tolerance is that of
// ParseTaskCallback.
func ParseResultCallback(body []byte) (domain.ResultCallback, error) {
	return parseResultCallback(wholeBody(body))
}

func parseResultCallback(r *jsonReader) (domain.ResultCallback, error) {
	var c domain.ResultCallback
	status, motivo := "", ""
	err := r.parseObject(func(r *jsonReader, key string) error {
		var err error
		switch {
		case keyIs(key, "status"):
			status, err = r.textField("status", domain.MaxNameLength)
		case keyIs(key, "motivo"):
			motivo, err = r.textField("motivo", domain.MaxNameLength)
		case keyIs(key, "descricao"):
			c.Description, err = r.descriptionField("descricao")
		case keyIs(key, "duracao_segundos"):
			c.DurationSeconds, err = r.intField("duracao_segundos", 0, domain.MaxDurationSeconds)
		case keyIs(key, "audio_base64"):
			c.Audio, err = r.audioField("audio_base64")
		case keyIs(key, "idligacao"):
			c.CallID, err = r.idField("idligacao")
		}
		return err
	})
	if err != nil {
		return domain.ResultCallback{}, err
	}
	if status == "" {
		return domain.ResultCallback{}, invalid("status", "is required: realizada or nao_realizada")
	}
	o, err := domain.NewReportedOutcome(status, motivo, "status")
	if err != nil {
		return domain.ResultCallback{}, err
	}
	c.Outcome, c.Reason, c.ReasonText = o.Outcome, o.Reason, o.ReasonText
	return c, nil
}

// DefaultMaxAudioBytes bounds a decoded recording of the whole-body parsers.
const DefaultMaxAudioBytes = 50 << 20

// wholeBody is a reader of a body held whole.
func wholeBody(body []byte) *jsonReader {
	return &jsonReader{data: body, maxAudio: DefaultMaxAudioBytes}
}

// invalid is the error of a field the partner got wrong.
func invalid(field, format string, args ...any) *domain.Error {
	return &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidField, Field: field, Message: fmt.Sprintf(format, args...)}
}
