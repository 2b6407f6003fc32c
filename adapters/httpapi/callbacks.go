package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"callconnect/adapters/cvio"
	"callconnect/app"
	"callconnect/domain"
)

// callbackPrefix starts every partner-facing path.
const callbackPrefix = "/api/cvio/"

// Partner-facing paths, exactly as the partner contract names them.
const (
	pathTaskCallback   = "/api/cvio/lead_tarefas/cadastrar"
	pathLeadCallback   = "/api/cvio/lead"
	pathResultCallback = "/api/cvio/ligacoes/{idligacao}/resultado"
)

// maxIdempotencyKey bounds an Idempotency-Key header.
const maxIdempotencyKey = 255

// busyRetryAfter is the Retry-After, in seconds, of a callback refused
// because the process reads as many bodies as it may.
const busyRetryAfter = 10

// PartnerID documents an id a partner may send as a JSON string or number.
type PartnerID string

// Schema documents PartnerID as a string or an integer.
func (PartnerID) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{
		OneOf:       []*huma.Schema{{Type: huma.TypeString, MaxLength: ptr(64)}, {Type: huma.TypeInteger}},
		Description: "An id, as a JSON string or number.",
		Examples:    []any{"6065"},
	}
}

// PartnerPhone documents a phone number a partner may send as a string or number.
type PartnerPhone string

// Schema documents PartnerPhone.
func (PartnerPhone) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{
		OneOf: []*huma.Schema{{Type: huma.TypeString, MaxLength: ptr(40)}, {Type: huma.TypeInteger}},
		Description: "A Brazilian phone number, as a string or number; compared by digits only, with or without the " +
			"country code 55, area code punctuation or spaces.",
		Examples: []any{"48999476359"},
	}
}

// PartnerFlag documents a yes/no a partner may send as a boolean, string or number.
type PartnerFlag string

// Schema documents PartnerFlag.
func (PartnerFlag) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{
		OneOf: []*huma.Schema{{Type: huma.TypeBoolean}, {Type: huma.TypeString, MaxLength: ptr(5)}, {Type: huma.TypeInteger}},
		Description: "A yes/no: true/false, or \"S\"/\"N\", \"sim\"/\"não\", \"yes\"/\"no\", \"true\"/\"false\", 1/0 " +
			"(any case). Absent or null is no.",
		Examples: []any{true},
	}
}

// PartnerSeconds documents a whole number of seconds a partner may send as a number or string.
type PartnerSeconds string

// Schema documents PartnerSeconds.
func (PartnerSeconds) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{
		OneOf:       []*huma.Schema{{Type: huma.TypeInteger, Minimum: ptr(0.0), Maximum: ptr(float64(domain.MaxDurationSeconds))}, {Type: huma.TypeString, MaxLength: ptr(10)}},
		Description: "Whole seconds, 0 to a day, as a number or a numeric string.",
		Examples:    []any{42},
	}
}

func ptr[T any](v T) *T { return &v }

// PartnerTaskBody is a "tarefa" of an interaction.
type PartnerTaskBody struct {
	_               struct{}    `additionalProperties:"true"`
	Nome            string      `json:"nome,omitempty" maxLength:"200" doc:"The task's name." example:"Ligação externa"`
	Data            string      `json:"data,omitempty" doc:"When the task is due, in the environment's time zone: YYYY-MM-DD HH:MM, with or without :SS." example:"2024-03-19 14:00"`
	Situacao        string      `json:"situacao,omitempty" maxLength:"2" doc:"C (concluída), P (pendente) or another code of the CRM." example:"C"`
	Prioridade      string      `json:"prioridade,omitempty" maxLength:"2" doc:"A (alta), M (média), B (baixa) or another code." example:"A"`
	TipoResponsavel string      `json:"tipo_responsavel,omitempty" maxLength:"2" doc:"G (gestor), C (corretor), I (imobiliária) or another code." example:"G"`
	IDResponsavel   PartnerID   `json:"idresponsavel,omitempty"`
	LembreteTarefa  PartnerFlag `json:"lembrete_tarefa,omitempty"`
}

// PartnerInteractionBody is one element of "interacoes".
type PartnerInteractionBody struct {
	_           struct{}         `additionalProperties:"true"`
	Tipo        string           `json:"tipo,omitempty" enum:"L" doc:"L: a call (Ligação), the only type." example:"L"`
	Descricao   string           `json:"descricao,omitempty" maxLength:"10000" doc:"What happened; may span lines. For an interaction tied to a call, without status, motivo or a recording, the article's words here end the call: realizada; não realizada; não atendida, não completada, ocupado, número inválido, cancelada (case, accents and spacing do not matter; whole words; the first in the text wins). A description without them changes no status, and never overturns a result the call already has." example:"Ligação não atendida"`
	Status      string           `json:"status,omitempty" maxLength:"200" doc:"The call's result, as the result endpoint takes it: realizada or nao_realizada (any case or accents). Wins over a recording and over the description's words. Without it, a motivo means nao_realizada." example:"nao_realizada"`
	Motivo      string           `json:"motivo,omitempty" maxLength:"200" doc:"Why the call did not take place: nao_atendida, nao_completada, ocupado, numero_invalido, cancelada, outro, or free text (reason other)." example:"nao_atendida"`
	Tarefa      *PartnerTaskBody `json:"tarefa,omitempty" doc:"A task to record with the interaction."`
	AudioBase64 string           `json:"audio_base64,omitempty" doc:"The call's recording (MP3, WAV, OGG, M4A or WebM; 50 MiB decoded at most), base64 standard or URL-safe, padded or not, line breaks allowed, or a data:audio/...;base64, URI. An interaction with a recording makes its call realizada." example:"SUQzAwAAAAAAOVRQRTEAAAAL"`
}

// TaskCallbackBody is the body of POST /api/cvio/lead_tarefas/cadastrar.
type TaskCallbackBody struct {
	_          struct{}                 `additionalProperties:"true"`
	Telefone   PartnerPhone             `json:"telefone,omitempty"`
	IDLigacao  PartnerID                `json:"idligacao,omitempty" doc:"The call (as Call Connect sent it); may also come in the query string."`
	Interacoes []PartnerInteractionBody `json:"interacoes" minItems:"1" maxItems:"50" doc:"The interactions to record (a single object is taken as a list of one)."`
}

// LeadCallbackBody is the body of POST /api/cvio/lead.
type LeadCallbackBody struct {
	_                 struct{}                 `additionalProperties:"true"`
	PermitirAlteracao PartnerFlag              `json:"permitir_alteracao,omitempty"`
	Nome              string                   `json:"nome,omitempty" maxLength:"200" doc:"The lead's name; replaces it when permitir_alteracao is yes." example:"Teste audio 8"`
	Email             string                   `json:"email,omitempty" maxLength:"254" doc:"Finds the lead (case-insensitively) when idligacao is not given; otherwise replaces its e-mail when permitir_alteracao is yes." example:"testeaudio8@teste.com"`
	Telefone          PartnerPhone             `json:"telefone,omitempty"`
	IDLigacao         PartnerID                `json:"idligacao,omitempty" doc:"The call (as Call Connect sent it); may also come in the query string."`
	Interacoes        []PartnerInteractionBody `json:"interacoes,omitempty" maxItems:"50" doc:"The interactions to record; may be empty when the callback only updates the lead."`
}

// ResultCallbackBody is the body of POST /api/cvio/ligacoes/{idligacao}/resultado.
type ResultCallbackBody struct {
	_               struct{}       `additionalProperties:"true"`
	Status          string         `json:"status" enum:"realizada,nao_realizada" doc:"Whether the call took place." example:"nao_realizada"`
	Motivo          string         `json:"motivo,omitempty" maxLength:"200" doc:"Why it did not: não atendida, ocupado, número inválido, cancelada, não realizada, or free text (reason other)." example:"não atendida"`
	Descricao       string         `json:"descricao,omitempty" maxLength:"10000" doc:"What happened, for the lead's history." example:"Cliente não atendeu"`
	DuracaoSegundos PartnerSeconds `json:"duracao_segundos,omitempty"`
	AudioBase64     string         `json:"audio_base64,omitempty" doc:"The call's recording, as in the interactions of the other callbacks." example:"SUQzAwAAAAAAOVRQRTEAAAAL"`
	IDLigacao       PartnerID      `json:"idligacao,omitempty" doc:"The call again; must agree with the path."`
}

// callbackRoute is one partner-facing operation.
type callbackRoute struct {
	op     huma.Operation
	body   any // the documented body type's zero value
	apply  func(ctx context.Context, body *cvio.CallbackBody, req app.CallbackRequest) (domain.CallbackReceipt, error)
	inPath bool // the call id travels in the path
}

// callbackCommonDoc ends every callback's description: what they share.
const callbackCommonDoc = "\n\nAuthentication: the `email` and `token` headers of a partner token of the environment (any header-name " +
	"case); anything else is 401 and changes nothing. Any `Content-Type` is accepted, or none: the body is read as JSON " +
	"whatever it is labelled (PHP's curl and `curl -d` send `application/x-www-form-urlencoded`); a body that is not " +
	"JSON is 400 `malformed_json`, a well-formed body with a wrong field 422 `invalid_field`. `?idligacao=` names the call. An `Idempotency-Key` header makes retries safe: the same key and body " +
	"get the first answer and write nothing; the same key with another body is 409 `idempotency_key_reused`. Without " +
	"a key, an exact repeat of an interaction already on the lead is not recorded twice. One request is one " +
	"transaction: a refused request changes nothing. Ids may be numbers or strings, keys any case, unknown keys are " +
	"ignored; a wrong field is 422 naming it (e.g. `body.interacoes[0].tarefa.data`). Too many requests for " +
	"a token get 429 with Retry-After, and so do too many failed authentications from one client address (a valid " +
	"token is never refused for its address). The recordings stream; the JSON around them may have at most " +
	"`CALLCONNECT_MAX_CALLBACK_JSON_BYTES` (1 MiB by default; 413 `body_too_large` beyond it). When the service " +
	"reads as many callback bodies at once as it may, a callback gets 503 `server_busy` with Retry-After."

// registerCallbacks registers the partner-facing operations on the mux
// itself (they read their bodies as they stream) and documents them.
func (h *handlers) registerCallbacks(api huma.API) {
	registry := api.OpenAPI().Components.Schemas
	answer := registry.Schema(typeOf[cvio.Answer](), true, "CallbackAnswer")
	for _, rt := range []callbackRoute{h.taskCallbackRoute(), h.leadCallbackRoute(), h.resultCallbackRoute()} {
		op := callbackOperation(registry, answer, rt)
		document(api, op)
		route := rt
		h.mux.Handle(op.Method+" "+op.Path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.serveCallback(w, r, route)
		}))
	}
}

// taskCallbackRoute is the task callback (cadastrar tarefas).
func (h *handlers) taskCallbackRoute() callbackRoute {
	return callbackRoute{
		op: huma.Operation{
			OperationID: "postTaskCallback",
			Method:      http.MethodPost,
			Path:        pathTaskCallback,
			Summary:     "Record interactions and tasks (cadastrar tarefas)",
			Description: "Records the interactions, with their tasks (and recordings, when an interaction carries " +
				"`audio_base64`), on the lead's history. The lead is the call's when `idligacao` is given (query or " +
				"body); otherwise the environment's lead with this `telefone` (digits only), and the interactions are " +
				"tied to its most recent open call, if any." + callbackCommonDoc,
		},
		body: TaskCallbackBody{},
		apply: func(ctx context.Context, body *cvio.CallbackBody, req app.CallbackRequest) (domain.CallbackReceipt, error) {
			cb, err := body.ParseTask()
			if err != nil {
				return domain.CallbackReceipt{}, err
			}
			return h.svc.Callbacks.Task(ctx, req, cb)
		},
	}
}

// leadCallbackRoute is the lead callback, POST /api/cvio/lead.
func (h *handlers) leadCallbackRoute() callbackRoute {
	return callbackRoute{
		op: huma.Operation{
			OperationID: "postLeadCallback",
			Method:      http.MethodPost,
			Path:        pathLeadCallback,
			Summary:     "Record interactions and update the lead",
			Description: "Records the interactions (with their recordings) on the lead's history and, when " +
				"`permitir_alteracao` is yes, updates the lead's name (and its e-mail, unless the e-mail is what " +
				"found it). The lead is the call's when `idligacao` is given; otherwise the environment's lead with " +
				"this `email` (case-insensitive) or `telefone` (digits only). A recording makes the call realizada." + callbackCommonDoc,
		},
		body: LeadCallbackBody{},
		apply: func(ctx context.Context, body *cvio.CallbackBody, req app.CallbackRequest) (domain.CallbackReceipt, error) {
			cb, err := body.ParseLead()
			if err != nil {
				return domain.CallbackReceipt{}, err
			}
			return h.svc.Callbacks.Lead(ctx, req, cb)
		},
	}
}

// resultCallbackRoute is the call result callback; the call is in its path.
func (h *handlers) resultCallbackRoute() callbackRoute {
	return callbackRoute{
		op: huma.Operation{
			OperationID: "postCallResult",
			Method:      http.MethodPost,
			Path:        pathResultCallback,
			Summary:     "Record a call's result",
			Description: "Ends the call: `realizada` makes it completed (with its recording, when `audio_base64` " +
				"is sent), `nao_realizada` not_completed with the reason `motivo` maps to (no_answer, busy, " +
				"invalid_number, cancelled, not_completed, or other). The result is also an entry of the lead's " +
				"history. A result may arrive while a delivery retry waits or after Call Connect gave up." + callbackCommonDoc,
			Parameters: []*huma.Param{{Name: "idligacao", In: "path", Required: true,
				Description: "The call, as Call Connect sent it to the partner.",
				Schema:      &huma.Schema{Type: huma.TypeString, Pattern: "^[A-Za-z0-9._~-]{1,64}$", MaxLength: ptr(64)},
				Example:     "01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"}},
		},
		body:   ResultCallbackBody{},
		inPath: true,
		apply: func(ctx context.Context, body *cvio.CallbackBody, req app.CallbackRequest) (domain.CallbackReceipt, error) {
			cb, err := body.ParseResult()
			if err != nil {
				return domain.CallbackReceipt{}, err
			}
			return h.svc.Callbacks.Result(ctx, req, cb)
		},
	}
}

// callbackOperation completes rt's operation with what every callback
// shares: tag, security, parameters, body schema, answer and errors.
func callbackOperation(registry huma.Registry, answer *huma.Schema, rt callbackRoute) huma.Operation {
	op := rt.op
	op.Tags = []string{tagCallbacks}
	op.Security = partnerSecurity
	op.Parameters = append(op.Parameters,
		&huma.Param{Name: "idligacao", In: "query", Description: "The call, as Call Connect sent it to the partner; must agree with the body (and path).",
			Schema: &huma.Schema{Type: huma.TypeString, MaxLength: ptr(64)}, Example: "01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"},
		&huma.Param{Name: "Idempotency-Key", In: "header", Description: "Makes a retry safe: the same key and body get the first answer (kept 24 h) and write nothing.",
			Schema: &huma.Schema{Type: huma.TypeString, MinLength: ptr(1), MaxLength: ptr(maxIdempotencyKey)}, Example: "5f0c1c9e-0b6e-4a8e-9d7e-6b1f3f0d2a11"},
	)
	bodyType := reflectTypeOf(rt.body)
	op.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/json": {Schema: registry.Schema(bodyType, true, bodyType.Name())},
	}}
	op.Responses = map[string]*huma.Response{"200": {Description: "Recorded (or, for a repeated Idempotency-Key, recorded before).",
		Content: map[string]*huma.MediaType{"application/json": {Schema: answer}}}}
	op.Errors = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict,
		http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity,
		http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable}
	return op
}

// serveCallback answers a partner's callback and keeps the exchange for the
// monitor, refused or not.
func (h *handlers) serveCallback(w http.ResponseWriter, r *http.Request, rt callbackRoute) {
	start := time.Now()
	x := &inboundExchange{}
	cw := &capturingWriter{ResponseWriter: w, limit: domain.MaxExchangeBody + 1}
	h.handleCallback(cw, r, rt, x)
	if f, ok := w.(http.Flusher); ok {
		// The partner has its answer before the monitor is written.
		f.Flush()
	}
	h.recordInbound(r, start, cw, x)
}

// inboundExchange is what serving a callback learnt, for the monitor.
type inboundExchange struct {
	envID   string
	callID  string
	body    *cvio.CallbackBody      // nil when the body was not read
	spools  *app.Spools             // the recordings' spools; nil when the body was not read
	receipt *domain.CallbackReceipt // what the callback recorded; nil when it was refused
}

// handleCallback serves a callback in steps: the partner authenticated and
// within its rate, the body admitted within the limits on bodies read at
// once, then read, recorded and answered. x learns what the monitor keeps.
func (h *handlers) handleCallback(w http.ResponseWriter, r *http.Request, rt callbackRoute, x *inboundExchange) {
	query := r.URL.Query().Get("idligacao")
	x.callID = firstNonEmpty(rt.pathCallID(r), strings.TrimSpace(query))
	if x.callID != "" && !domain.ValidID(x.callID) {
		x.callID = ""
	}
	tok, ok := h.authenticateCallback(w, r, rt, x)
	if !ok {
		return
	}
	release, ok := h.admitCallbackBody(w, r, tok)
	if !ok {
		return
	}
	defer release()
	// Only now, the partner known, may the body take longer than ReadTimeout.
	extendDeadlines(w, true)
	body, spools, idem, err := h.readCallbackBody(w, r)
	defer spools.Close()
	x.body, x.spools = body, spools
	if err != nil {
		h.callbackError(w, r, rt, err)
		return
	}
	req := app.CallbackRequest{Token: tok, Spools: spools, QueryCallID: query, Idempotent: idem}
	if rt.inPath {
		req.PathCallID = r.PathValue("idligacao")
	}
	receipt, err := rt.apply(r.Context(), body, req)
	if err != nil {
		h.callbackError(w, r, rt, err)
		return
	}
	answer, err := cvio.EncodeReceipt(receipt)
	if err != nil {
		h.callbackError(w, r, rt, err)
		return
	}
	x.receipt = &receipt
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(len(answer)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(answer)
}

// authenticateCallback finds the partner token of a callback and takes one
// of its requests from the rate limit; false means w has the refusal.
func (h *handlers) authenticateCallback(w http.ResponseWriter, r *http.Request, rt callbackRoute, x *inboundExchange) (domain.PartnerToken, bool) {
	ctx := r.Context()
	// The credentials are checked first, whatever the address has failed
	// before: behind a load balancer many partners share one address, and a
	// guesser among them must not lock the others out. Only failures count
	// against the client's address.
	tok, err := h.svc.PartnerTokens.Authenticate(ctx, r.Header.Get("email"), r.Header.Get("token"))
	if err != nil {
		if de, ok := domain.AsError(err); ok && de.Kind == domain.KindUnauthenticated {
			if ok, wait := h.partnerFailures.Failed(r); !ok {
				// Too many failed authentications from this client: not
				// looked up either (the throttle must stay cheap), so the
				// Monitor only logs it.
				h.tooManyRequests(w, r, wait, "too many failed authentications from this address")
				return tok, false
			}
			x.envID = h.svc.PartnerTokens.EnvironmentOf(ctx, r.Header.Get("token"))
		}
		h.callbackError(w, r, rt, err)
		return tok, false
	}
	x.envID = tok.EnvID()
	if ok, wait := h.tokenLimit.take(tok.ID()); !ok {
		h.tooManyRequests(w, r, wait, fmt.Sprintf("this partner token may post %s callbacks a minute", strconv.FormatFloat(h.tokenLimit.burst, 'f', -1, 64)))
		return tok, false
	}
	return tok, true
}

// admitCallbackBody takes the body's place among those tok and the whole
// process read at once, and returns what gives it back; false means w has
// the refusal.
func (h *handlers) admitCallbackBody(w http.ResponseWriter, r *http.Request, tok domain.PartnerToken) (release func(), ok bool) {
	// Any Content-Type is taken, or none: the body is read as JSON whatever
	// it says. PHP's curl and `curl -d` send JSON as
	// application/x-www-form-urlencoded, others as text/plain or text/json;
	// a body that is not JSON is refused for what it is (400), not for its
	// label.
	if !h.bodies.acquire(tok.ID()) {
		h.tooManyRequests(w, r, time.Second, fmt.Sprintf("this partner token may send %d callbacks at once", maxBodiesPerToken))
		return nil, false
	}
	// A body's share is its declared size; one of unknown size may grow to
	// the limit, and one declared over it is refused unread.
	size := h.maxCallback
	if r.ContentLength >= 0 {
		size = r.ContentLength
		if size > h.maxCallback {
			size = 0
		}
	}
	if !h.inFlight.acquire(size) {
		h.bodies.release(tok.ID())
		// The process reads as many callback bodies as it may: a burst of
		// partners together, not this one's fault (429 is for a token over
		// its own rate).
		w.Header().Set("Retry-After", strconv.Itoa(busyRetryAfter))
		writeProblem(w, r, newProblem(http.StatusServiceUnavailable, codeServerBusy, fmt.Sprintf(
			"the service is reading as many callback bodies as it may at once; retry in %d s", busyRetryAfter)))
		return nil, false
	}
	return func() {
		h.inFlight.release(size)
		h.bodies.release(tok.ID())
	}, true
}

// readCallbackBody reads the body once, as it arrives: the recordings in it
// are decoded into spools of the audio store on the way (the caller closes
// spools, returned even with an error), and with an Idempotency-Key it is
// hashed on the way too.
func (h *handlers) readCallbackBody(w http.ResponseWriter, r *http.Request) (*cvio.CallbackBody, *app.Spools, app.Idempotent, error) {
	idem := app.Idempotent{Key: r.Header.Get("Idempotency-Key")}
	var hash hash.Hash
	src := callbackBodyReader(r, w, h.maxCallback)
	if idem.Key != "" {
		hash = newRequestHash(r)
		src = io.TeeReader(src, hash)
	}
	spools := h.svc.Callbacks.NewSpools(r.Context())
	body, err := cvio.ReadCallbackBodyWithin(src, h.svc.Callbacks.MaxAudioBytes(), h.maxCallbackJSON, spools.Open)
	if err != nil {
		return body, spools, idem, err
	}
	// The app checks the key (1 to 255 printable ASCII characters).
	if hash != nil {
		idem.RequestHash = hex.EncodeToString(hash.Sum(nil))
	}
	return body, spools, idem, nil
}

func (rt callbackRoute) pathCallID(r *http.Request) string {
	if !rt.inPath {
		return ""
	}
	return strings.TrimSpace(r.PathValue("idligacao"))
}

// extendDeadlines gives a request that moves a recording TransferTimeout to
// write its answer and, when read is set, to read its body. A writer that
// cannot (a test recorder) keeps its deadlines.
func extendDeadlines(w http.ResponseWriter, read bool) {
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(TransferTimeout)
	if read {
		_ = rc.SetReadDeadline(deadline)
	}
	_ = rc.SetWriteDeadline(deadline.Add(WriteTimeout))
}

// callbackBodyReader reads the body, up to max bytes (more is a
// *http.MaxBytesError); a body that cannot be read whole (the client went
// away, was too slow or sent less than it said) fails with errBodyRead.
func callbackBodyReader(r *http.Request, w http.ResponseWriter, max int64) io.Reader {
	if r.ContentLength > max {
		return errReader{&http.MaxBytesError{Limit: max}}
	}
	if r.Body == nil || r.Body == http.NoBody {
		return http.NoBody
	}
	return &bodyReader{r: http.MaxBytesReader(w, r.Body, max), left: r.ContentLength}
}

type bodyReader struct {
	r    io.Reader
	left int64 // of the Content-Length; -1 when none was given
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.left >= 0 {
		b.left -= int64(n)
		if err == io.EOF && b.left > 0 {
			err = io.ErrUnexpectedEOF
		}
	}
	if _, tooLarge := errors.AsType[*http.MaxBytesError](err); err != nil && err != io.EOF && !tooLarge {
		err = errBodyRead{err}
	}
	return n, err
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// errBodyRead is a body that could not be read whole: the client's fault.
type errBodyRead struct{ err error }

func (e errBodyRead) Error() string { return "reading the request body: " + e.err.Error() }
func (e errBodyRead) Unwrap() error { return e.err }

// newRequestHash starts the hash that identifies what a request with an
// Idempotency-Key asked: method, path (with the query, which may name the
// call) and, written into it next, the body.
func newRequestHash(r *http.Request) hash.Hash {
	h := sha256.New()
	h.Write([]byte(r.Method + "\n" + r.URL.EscapedPath()))
	if r.URL.RawQuery != "" {
		h.Write([]byte("?" + r.URL.RawQuery))
	}
	h.Write([]byte("\n"))
	return h
}

func (h *handlers) tooManyRequests(w http.ResponseWriter, r *http.Request, wait time.Duration, why string) {
	secs := retryAfterSeconds(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeProblem(w, r, newProblem(http.StatusTooManyRequests, codeTooManyRequests,
		fmt.Sprintf("%s; retry in %d s", why, secs)))
}

// callbackError answers err as a problem: a domain error through the one
// table, the field it names located in the request.
func (h *handlers) callbackError(w http.ResponseWriter, r *http.Request, rt callbackRoute, err error) {
	var p *Problem
	if de, ok := domain.AsError(err); ok {
		p = domainProblem(nil, de)
		if p.Status == http.StatusInternalServerError {
			h.logger.ErrorContext(r.Context(), "domain error of unknown kind", "error", err, "path", r.URL.Path)
		} else if loc := callbackLocation(de.Field, rt.inPath, r.URL.Query().Get("idligacao") != ""); loc != "" {
			p.Errors = []ProblemField{{Location: loc, Message: de.Message}}
			p.Detail = loc + ": " + de.Message
		}
	} else if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		p = newProblem(http.StatusRequestEntityTooLarge, codeBodyTooLarge,
			fmt.Sprintf("the request body is larger than the %d bytes a callback may have", h.maxCallback))
	} else if _, ok := errors.AsType[errBodyRead](err); ok {
		p = newProblem(http.StatusBadRequest, codeBadRequest, "the request body could not be read whole")
	} else {
		h.logger.ErrorContext(r.Context(), "callback failed", "error", err, "path", r.URL.Path)
		p = newProblem(http.StatusInternalServerError, codeInternal, "an internal error occurred; it has been logged")
	}
	writeProblem(w, r, p)
}

// callbackLocation locates a field a domain error names: the domain's
// fields are JSON paths in the body, unless they already name a location;
// the call id travels in the path, the query or the body.
func callbackLocation(field string, inPath, inQuery bool) string {
	switch {
	case field == "":
		return ""
	case field == "body" || strings.HasPrefix(field, "body.") || strings.HasPrefix(field, "query.") ||
		strings.HasPrefix(field, "path.") || strings.HasPrefix(field, "header."):
		return field
	case field == "idligacao" || field == "call_id":
		switch {
		case inPath:
			return "path.idligacao"
		case inQuery:
			return "query.idligacao"
		}
		return "body.idligacao"
	case field == "token" || field == "env":
		// The credentials: the e-mail and token headers are one pair, and
		// the token is what names the environment. (The body's "email" is
		// the lead's, located in the body like every other member.)
		return "header.token"
	case field == "Idempotency-Key":
		return "header.Idempotency-Key"
	}
	return "body." + field
}

// recordInbound keeps the exchange for the monitor: the audio replaced by a
// reference to its recording, the headers redacted (by the Monitor).
func (h *handlers) recordInbound(r *http.Request, start time.Time, cw *capturingWriter, x *inboundExchange) {
	if h.svc.Monitor == nil {
		return
	}
	var ans domain.CallbackReceipt
	if x.receipt != nil {
		ans = *x.receipt
	}
	callID := x.callID
	if callID == "" {
		callID = ans.CallID
	}
	status := cw.status
	if status == 0 {
		status = http.StatusOK
	}
	h.svc.Monitor.RecordInbound(r.Context(), domain.Exchange{
		EnvID:          x.envID,
		Method:         r.Method,
		URL:            r.URL.RequestURI(),
		StatusCode:     status,
		Duration:       time.Since(start),
		CallID:         callID,
		LeadID:         ans.LeadID,
		OccurredAt:     start,
		RequestHeaders: r.Header.Clone(),
		RequestBody:    string(exchangeBody(x.body, x.spools, ans.RecordingIDs, ans.RecordingSHA256s)),
		ResponseBody:   string(cw.body.Bytes()),
	})
}

// exchangeBody is the callback's body as the monitor keeps it: cut, the
// audio replaced by references to the recordings stored.
func exchangeBody(body *cvio.CallbackBody, spools *app.Spools, recordingIDs, sha256s []string) []byte {
	if body == nil {
		return nil
	}
	return withAudioReferences(body, spools.StoredSHA256, recordingIDs, sha256s, domain.MaxExchangeBody)
}

// capturingWriter keeps the status and the start of the body written.
type capturingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	limit  int
}

func (c *capturingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *capturingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if room := c.limit - c.body.Len(); room > 0 {
		c.body.Write(b[:min(len(b), room)])
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (c *capturingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
