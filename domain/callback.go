package domain

import (
	"strconv"
	"strings"
	"time"
)

// Limits on what one partner callback may carry.
const (
	MaxInteractions      = 50     // interactions per callback
	MaxDescriptionLength = 10_000 // bytes of descricao
	MaxNameLength        = 200    // bytes of nome (lead, task) and of motivo
	MaxTaskCodeLength    = 2      // bytes of situacao, prioridade, tipo_responsavel
)

// InteractionTypeCall is the history type of a call ("Ligação"), the only
// interaction type Call Connect records.
const InteractionTypeCall = "L"

// Task codes as the CRM writes them. Other letters are stored as sent: the
// CRM may have codes this service does not know, and it is the CRM that
// shows them.
const (
	TaskStatusDone    = "C" // situação: concluída
	TaskStatusPending = "P" // situação: pendente

	TaskPriorityHigh   = "A" // prioridade: alta
	TaskPriorityMedium = "M" // prioridade: média
	TaskPriorityLow    = "B" // prioridade: baixa

	ResponsibleManager = "G" // tipo_responsavel: gestor
	ResponsibleBroker  = "C" // tipo_responsavel: corretor
	ResponsibleAgency  = "I" // tipo_responsavel: imobiliária
)

// TaskCallback is the body of POST /api/cvio/lead_tarefas/cadastrar.
type TaskCallback struct {
	Phone        Phone  // telefone: finds the lead when CallID does not; zero when absent
	CallID       string // idligacao, when the body carries it
	Interactions []PartnerInteraction
}

// LeadCallback is the body of POST /api/cvio/lead.
type LeadCallback struct {
	AllowUpdate  bool   // permitir_alteracao
	Name         string // nome; "" when absent
	Email        string // email as sent (trimmed); matched case-insensitively
	Phone        Phone  // telefone; zero when absent
	CallID       string // idligacao, when the body carries it
	Interactions []PartnerInteraction
}

// PartnerInteraction is one element of "interacoes". Both callbacks read the
// same shape: the article's own example gives partners the task URL for both
// callbacks, so a lead-shaped interaction (with audio_base64) may well arrive
// at the task endpoint, and a task at the lead endpoint.
type PartnerInteraction struct {
	Type        string       // always InteractionTypeCall
	Description string       // descricao (may span lines)
	Task        *PartnerTask // tarefa; nil when absent
	// AudioBase64 is the recording exactly as sent (data: prefix, line breaks
	// and all); DecodeAudioBase64 decodes it. It is the only copy the parser
	// makes of what can be tens of megabytes.
	AudioBase64 string
	// Audio is the recording instead when the body was a CallbackBody,
	// decoded as it was read; nil when there is none.
	Audio *PartnerAudio
}

// PartnerTask is a "tarefa" as the partner sent it.
type PartnerTask struct {
	Name            string     // nome
	Due             *CivilTime // data; nil when absent
	Status          string     // situacao: TaskStatus* or another code of the CRM
	Priority        string     // prioridade: TaskPriority* or another code
	ResponsibleType string     // tipo_responsavel: Responsible* or another code
	ResponsibleID   string     // idresponsavel
	Reminder        bool       // lembrete_tarefa
}

// Task returns the history task, its due time read in loc (the environment's zone).
func (t PartnerTask) Task(loc *time.Location) Task {
	task := Task{Name: t.Name, Status: t.Status, Priority: t.Priority, ResponsibleType: t.ResponsibleType,
		ResponsibleID: t.ResponsibleID, Reminder: t.Reminder}
	if t.Due != nil {
		due := t.Due.In(loc)
		task.DueAt = &due
	}
	return task
}

// Input returns the history entry this interaction becomes; the caller
// fills in the ids, the call, the recording and the time.
func (p PartnerInteraction) Input(loc *time.Location) InteractionInput {
	in := InteractionInput{Type: p.Type, Description: p.Description}
	if p.Task != nil {
		t := p.Task.Task(loc)
		in.Task = &t
	}
	return in
}

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
// leading byte order mark is skipped. Errors are *Error values (KindInvalid,
// CodeInvalidField) whose Field is the JSON path of the culprit, such as
// "interacoes[0].tarefa.data", or "body" when the JSON itself is malformed.
func ParseTaskCallback(body []byte) (TaskCallback, error) {
	return parseTaskCallback(&jsonReader{data: body})
}

func parseTaskCallback(r *jsonReader) (TaskCallback, error) {
	var c TaskCallback
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
		return TaskCallback{}, err
	}
	if len(c.Interactions) == 0 {
		if !seen {
			return TaskCallback{}, invalid("interacoes", "is required")
		}
		return TaskCallback{}, invalid("interacoes", "must have at least one interaction")
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
func ParseLeadCallback(body []byte) (LeadCallback, error) {
	return parseLeadCallback(&jsonReader{data: body})
}

func parseLeadCallback(r *jsonReader) (LeadCallback, error) {
	var c LeadCallback
	err := r.parseObject(func(r *jsonReader, key string) error {
		var err error
		switch {
		case keyIs(key, "permitir_alteracao"):
			c.AllowUpdate, err = r.flagField("permitir_alteracao")
		case keyIs(key, "nome"):
			c.Name, err = r.textField("nome", MaxNameLength)
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
		return LeadCallback{}, err
	}
	return c, nil
}

// MergeCallID combines the call ids a callback may carry (path, query
// string, body; "" where absent): they must agree. The result is "" when
// none is given.
func MergeCallID(path, query, body string) (string, error) {
	id := ""
	for _, c := range []struct{ field, v string }{{"idligacao", path}, {"query.idligacao", query}, {"body.idligacao", body}} {
		v := strings.TrimSpace(c.v)
		if v == "" {
			continue
		}
		if !ValidID(v) {
			return "", invalid(c.field, "must be a call id")
		}
		if id != "" && v != id {
			return "", invalid(c.field, "names another call than the rest of the request")
		}
		id = v
	}
	return id, nil
}

func keyIs(key, name string) bool { return len(key) == len(name) && strings.EqualFold(key, name) }

// interactions reads "interacoes": an array of at most MaxInteractions
// objects (null: none; a lone object: one).
func (r *jsonReader) interactions(path string) ([]PartnerInteraction, error) {
	switch r.peek() {
	case '[':
		var list []PartnerInteraction
		err := r.array(func(i int) error {
			if i >= MaxInteractions {
				if i == MaxInteractions {
					r.fail(path, "must have at most %d interactions", MaxInteractions)
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
		return []PartnerInteraction{it}, err
	case 'n':
		return nil, r.skip()
	}
	kind, _, err := r.scalar()
	if err == nil {
		r.fail(path, "must be an array of interactions, not %s", jsonKindName(kind))
	}
	return nil, err
}

func (r *jsonReader) interaction(path string) (PartnerInteraction, error) {
	it := PartnerInteraction{Type: InteractionTypeCall}
	if r.peek() != '{' {
		kind, _, err := r.scalar()
		if err == nil {
			r.fail(path, "must be an object, not %s", jsonKindName(kind))
		}
		return it, err
	}
	err := r.object(func(key string) error {
		var err error
		switch {
		case keyIs(key, "tipo"):
			var tipo string
			tipo, err = r.textField(path+".tipo", MaxNameLength)
			if t := foldWord(tipo); t != "" && t != "l" && t != "ligacao" {
				r.fail(path+".tipo", "must be L (a call): Call Connect records calls only")
			}
		case keyIs(key, "descricao"):
			it.Description, err = r.descriptionField(path + ".descricao")
		case keyIs(key, "tarefa"):
			it.Task, err = r.task(path + ".tarefa")
		case keyIs(key, "audio_base64"):
			it.AudioBase64, it.Audio, err = r.audioField(path + ".audio_base64")
		}
		return err
	})
	return it, err
}

func (r *jsonReader) task(path string) (*PartnerTask, error) {
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
	var t PartnerTask
	err := r.object(func(key string) error {
		var err error
		switch {
		case keyIs(key, "nome"):
			t.Name, err = r.textField(path+".nome", MaxNameLength)
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
	return r.stringField(field, "a string", func(s string) error { return checkText(field, s, false, max) })
}

// descriptionField reads free text that may span lines.
func (r *jsonReader) descriptionField(field string) (string, error) {
	return r.stringField(field, "a string", func(s string) error { return checkMultiline(field, s, MaxDescriptionLength) })
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

// checkMultiline is checkText for text where line breaks are expected.
func checkMultiline(field, s string, max int) error { return checkChars(field, s, max, true) }

// audioField reads the base64 recording without decoding it: the string
// made here is the one copy of it. In a CallbackBody the string is a
// reference, and the recording it names is returned instead (nil when the
// string was whitespace only, which the text "" means too).
func (r *jsonReader) audioField(field string) (string, *PartnerAudio, error) {
	s, err := r.stringField(field, "a base64 string", nil)
	if err != nil || s == "" || r.body == nil {
		return s, nil, err
	}
	a, ok := r.body.audio(s)
	if !ok {
		// ReadCallbackBody replaces every such string; a reference it did not
		// make cannot be here.
		r.fail(field, "is not a recording")
		return "", nil, nil
	}
	if a.blank {
		return "", nil, nil
	}
	return "", a, nil
}

// idField reads an identifier: a string with the CRM's id rules (ValidID:
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
		if s != "" && !ValidID(s) {
			r.fail(field, "must be an id: 1 to %d letters, digits, - _ . ~", MaxIDLength)
			return "", nil
		}
		return s, nil
	case jsonNumber:
		if d, ok := integerDigits(s); ok && d[0] != '-' && len(d) <= MaxIDLength {
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
		switch foldWord(s) {
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
// to MaxTaskCodeLength ASCII letters, stored as sent.
func (r *jsonReader) codeField(field string) (string, error) {
	kind, s, err := r.scalar()
	if err != nil {
		return "", err
	}
	switch kind {
	case jsonString:
		s = strings.TrimSpace(s)
		if len(s) > MaxTaskCodeLength || !isASCIILetters(s) {
			r.fail(field, "must be a code of at most %d letters, such as C, P, A, M, B, G or I", MaxTaskCodeLength)
			return "", nil
		}
		return s, nil
	case jsonNull:
		return "", nil
	}
	r.wrongType(field, "a code (a string)", kind)
	return "", nil
}

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// civilField reads a partner date (ParseCivilTime); null or "" is absent.
func (r *jsonReader) civilField(field string) (*CivilTime, error) {
	kind, s, err := r.scalar()
	if err != nil {
		return nil, err
	}
	switch kind {
	case jsonString:
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		c, err := ParseCivilTime(field, s)
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

// phoneField reads a phone number (ParsePhone): a string or a whole number.
func (r *jsonReader) phoneField(field string) (Phone, error) {
	kind, s, err := r.scalar()
	if err != nil {
		return Phone{}, err
	}
	switch kind {
	case jsonString:
	case jsonNumber:
		d, ok := integerDigits(s)
		if !ok || d[0] == '-' {
			r.fail(field, "must be a phone number")
			return Phone{}, nil
		}
		s = d
	case jsonNull:
		return Phone{}, nil
	default:
		r.wrongType(field, "a phone number", kind)
		return Phone{}, nil
	}
	p, err := ParsePhone(field, s)
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
		if s != "" && !validEmail(s) {
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
