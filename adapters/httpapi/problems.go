package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/validation"

	"callconnect/app"
	"callconnect/domain"
)

// problemTypeBase prefixes every problem type: the type of a problem is
// problemTypeBase + its code. It is an identifier that never changes for a
// code; it is not promised to be a page one can fetch.
const problemTypeBase = "https://callconnect.dev/problems/"

// Codes of the HTTP layer itself; the domain's codes (domain.Code*) and the
// button reasons (domain.Reason*) complete the list.
const (
	codeBadRequest           = "bad_request"
	codeUnauthorized         = "unauthorized"
	codeNotFound             = "not_found"
	codeMethodNotAllowed     = "method_not_allowed"
	codeNotAcceptable        = "not_acceptable"
	codeRequestTimeout       = "request_timeout"
	codeBodyTooLarge         = "body_too_large"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeValidationFailed     = "validation_failed"
	codeInternal             = "internal"
	codeNotReady             = "not_ready"
	codeTooManyRequests      = "too_many_requests"
	codeRangeNotSatisfiable  = "range_not_satisfiable"
	// codeServerBusy: the process reads as many callback bodies as it may
	// (503, with Retry-After); not_ready is the other 503, of readiness.
	codeServerBusy = "server_busy"
)

// kindStatus is the one table from a domain error's kind to the HTTP status
// clients get.
var kindStatus = map[domain.Kind]int{
	domain.KindInvalid:   http.StatusUnprocessableEntity,
	domain.KindNotFound:  http.StatusNotFound,
	domain.KindForbidden: http.StatusForbidden,
	domain.KindConflict:  http.StatusConflict,

	domain.KindUnauthenticated: http.StatusUnauthorized,
	domain.KindTooLarge:        http.StatusRequestEntityTooLarge,
	domain.KindUnsupported:     http.StatusUnsupportedMediaType,
	domain.KindMalformed:       http.StatusBadRequest,
}

// StatusOf is the HTTP status of a domain error of kind k, as the API
// answers it (and the console, which shows the same errors); false for a
// kind the table does not know.
func StatusOf(k domain.Kind) (int, bool) {
	status, ok := kindStatus[k]
	return status, ok
}

// statusCode is the code of a failure the HTTP layer (or huma) detects, by status.
var statusCode = map[int]string{
	http.StatusBadRequest:                   codeBadRequest,
	http.StatusUnauthorized:                 codeUnauthorized,
	http.StatusNotFound:                     codeNotFound,
	http.StatusMethodNotAllowed:             codeMethodNotAllowed,
	http.StatusNotAcceptable:                codeNotAcceptable,
	http.StatusRequestTimeout:               codeRequestTimeout,
	http.StatusRequestEntityTooLarge:        codeBodyTooLarge,
	http.StatusUnsupportedMediaType:         codeUnsupportedMediaType,
	http.StatusUnprocessableEntity:          codeValidationFailed,
	http.StatusInternalServerError:          codeInternal,
	http.StatusServiceUnavailable:           codeNotReady,
	http.StatusTooManyRequests:              codeTooManyRequests,
	http.StatusRequestedRangeNotSatisfiable: codeRangeNotSatisfiable,
}

// titles are the stable, human summaries of the codes.
var titles = map[string]string{
	codeBadRequest:                           "Malformed request",
	codeUnauthorized:                         "Missing or invalid credentials",
	codeNotFound:                             "Not found",
	codeMethodNotAllowed:                     "Method not allowed",
	codeNotAcceptable:                        "Not acceptable",
	codeRequestTimeout:                       "Request body read timeout",
	codeBodyTooLarge:                         "Request body too large",
	codeUnsupportedMediaType:                 "Unsupported media type",
	codeValidationFailed:                     "The request does not match the schema",
	codeInternal:                             "Internal error",
	codeNotReady:                             "Not ready",
	codeServerBusy:                           "Busy: too many callback bodies at once",
	domain.CodeInvalidField:                  "Invalid field",
	domain.CodeEnvironmentNotFound:           "Environment not found",
	domain.CodeUserNotFound:                  "User not found",
	domain.CodeLeadNotFound:                  "Lead not found",
	domain.CodeIntegrationNotFound:           "Integration not found",
	domain.CodeActorNotFound:                 "Actor not found",
	domain.CodePermissionDenied:              "Permission denied",
	domain.CodeFeatureNotEnabled:             "Call Connect not enabled for this environment",
	domain.CodeIntegrationActiveElsewhere:    "Another telephony integration is active",
	domain.CodeIntegrationIncomplete:         "Integration incomplete",
	domain.CodeTooManyLeads:                  "Too many leads",
	string(domain.ReasonNotOwner):            "Not an owner of the lead",
	string(domain.ReasonIntegrationInactive): "No active Call Connect integration",
	string(domain.ReasonMissingPhone):        "The user has no phone",
	string(domain.ReasonMissingExtension):    "The user has no extension",
	domain.CodeCallNotFound:                  "Call not found",
	domain.CodeInvalidTransition:             "The call's status does not allow this",
	codeTooManyRequests:                      "Too many requests",
	codeRangeNotSatisfiable:                  "Range not satisfiable",
	app.CodePartnerTokenNotFound:             "Partner token not found",
	app.CodeIdempotencyKeyReused:             "Idempotency-Key used for another request",
	app.CodeIdempotencyKeyInUse:              "Idempotency-Key in use by a request still running",
	app.CodeLeadAmbiguous:                    "More than one lead matches",
	app.CodeLeadNotIdentified:                "The callback names no call and no lead",
	app.CodeRecordingNotFound:                "Recording not found",
	app.CodeExchangeNotFound:                 "Exchange not found",
	app.CodeSubscriptionNotFound:             "Event subscription not found",
	app.CodeTooManySubscriptions:             "Too many event subscriptions",
	domain.CodeAudioTooLarge:                 "Recording too large",
	domain.CodeUnsupportedAudio:              "Not a supported audio format",
}

// Problem is an RFC 9457 problem detail, extended with a stable code and the
// failing inputs.
type Problem struct {
	Type     string         `json:"type" format:"uri" doc:"Identifies the kind of problem: https://callconnect.dev/problems/<code>. Stable; not necessarily a page to fetch."`
	Title    string         `json:"title" doc:"A short summary of the problem type; the same for every occurrence of a code."`
	Status   int            `json:"status" doc:"The HTTP status code."`
	Detail   string         `json:"detail" doc:"What went wrong this time, for humans."`
	Instance string         `json:"instance,omitempty" format:"uri-reference" doc:"The request path the problem occurred on."`
	Code     string         `json:"code" doc:"Stable, machine-readable code clients switch on, e.g. validation_failed, invalid_field, environment_not_found, permission_denied, integration_active_elsewhere, not_owner, invalid_call_transition, unauthorized."`
	Errors   []ProblemField `json:"errors" nullable:"false" doc:"The failing inputs; empty when no single input is at fault."`
	CallID   string         `json:"call_id,omitempty" doc:"For call_in_progress: the call still under way (queued or being delivered) that the click did not repeat."`
}

// ProblemField names one failing input.
type ProblemField struct {
	Location string `json:"location" doc:"Where: body.<field>, path.<param>, query.<param> or header.<name>, e.g. body.phone, path.env or body.interacoes[0].tarefa.data."`
	Message  string `json:"message" doc:"What is wrong with it."`
	Value    any    `json:"value,omitempty" doc:"The value received, when it is short and scalar."`
}

func (p *Problem) Error() string  { return p.Detail }
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes huma answer problems as application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" || ct == "" {
		return "application/problem+json"
	}
	return ct
}

// newProblem builds a problem of the HTTP layer's own.
func newProblem(status int, code, detail string, fields ...ProblemField) *Problem {
	title := titles[code]
	if title == "" {
		title = http.StatusText(status)
	}
	if fields == nil {
		fields = []ProblemField{}
	}
	return &Problem{Type: problemTypeBase + code, Title: title, Status: status, Detail: detail, Code: code, Errors: fields}
}

var installProblemsOnce sync.Once

// installProblems makes huma build every error (its own validation errors,
// and errors returned by handlers) through problemFor. huma keeps these hooks
// in package variables, so this is process-wide; it is idempotent.
func installProblems() {
	installProblemsOnce.Do(func() {
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			return problemFor(nil, status, msg, errs...)
		}
		huma.NewErrorWithContext = func(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
			return problemFor(ctx, status, msg, errs...)
		}
	})
}

// problemFor turns what huma reports (status, message, causes) into a problem.
// A domain error among the causes decides the answer through kindStatus.
func problemFor(ctx huma.Context, status int, msg string, errs ...error) *Problem {
	req := problemRequestOf(ctx)
	if p := causeProblem(req, errs); p != nil {
		return p
	}
	if status == 0 {
		// huma builds an example error with status 0 to learn the error schema.
		return newProblem(status, codeInternal, msg)
	}
	var p *Problem
	if status >= 500 {
		p = internalProblem(req, status, msg, errs)
	} else {
		p = clientProblem(req.op, status, msg, errs)
	}
	p.Instance = req.instance
	return p
}

// problemRequest is what a problem needs of its request: the operation (nil
// outside one), the request's context and its path.
type problemRequest struct {
	op       *huma.Operation
	ctx      context.Context
	instance string
}

func problemRequestOf(ctx huma.Context) problemRequest {
	if ctx == nil {
		return problemRequest{ctx: context.Background()}
	}
	u := ctx.URL()
	return problemRequest{op: ctx.Operation(), ctx: ctx.Context(), instance: u.EscapedPath()}
}

// causeProblem is the problem a cause decides, in this order: a Problem
// itself, a domain error, a body over its limit; nil when none does.
func causeProblem(req problemRequest, errs []error) *Problem {
	for _, err := range errs {
		if p, ok := errors.AsType[*Problem](err); ok {
			return p
		}
	}
	for _, err := range errs {
		if de, ok := domain.AsError(err); ok {
			p := domainProblem(req.op, de)
			p.Instance = req.instance
			if p.Status == http.StatusInternalServerError {
				loggerOf(req.op).ErrorContext(req.ctx, "domain error of unknown kind", "error", err, "path", req.instance)
			}
			return p
		}
	}
	for _, err := range errs {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			p := newProblem(http.StatusRequestEntityTooLarge, codeBodyTooLarge, "the request body is larger than the service accepts")
			p.Instance = req.instance
			return p
		}
	}
	return nil
}

// internalProblem never shows internal error text: it logs it with the
// request and answers generically.
func internalProblem(req problemRequest, status int, msg string, errs []error) *Problem {
	causes := make([]string, 0, len(errs))
	for _, err := range errs {
		if err != nil {
			causes = append(causes, err.Error())
		}
	}
	loggerOf(req.op).ErrorContext(req.ctx, "request failed", "status", status, "message", msg, "errors", causes, "path", req.instance)
	code := statusCode[status]
	if code == "" {
		code = codeInternal
	}
	return newProblem(status, code, "an internal error occurred; it has been logged")
}

// clientProblem is a 4xx huma reported, with a field for each cause; the
// detail names the first field's location.
func clientProblem(op *huma.Operation, status int, msg string, errs []error) *Problem {
	code := statusCode[status]
	if code == "" {
		code = strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
	}
	fields := make([]ProblemField, 0, len(errs))
	for _, err := range errs {
		if err == nil {
			continue
		}
		if d, ok := err.(huma.ErrorDetailer); ok {
			fields = append(fields, humaField(d.ErrorDetail()))
		} else {
			fields = append(fields, ProblemField{Message: err.Error()})
		}
	}
	if status == http.StatusUnprocessableEntity {
		if c := maxItemsCode(op, fields); c != "" {
			code = c
		}
	}
	detail := msg
	if len(fields) > 0 && fields[0].Location != "" {
		detail = fields[0].Location + ": " + fields[0].Message
		if len(fields) > 1 {
			detail += fmt.Sprintf(" (and %d more)", len(fields)-1)
		}
	}
	return newProblem(status, code, detail, fields...)
}

// domainProblem maps a rule violation: kindStatus gives the status, the
// operation's inputs give the location of the field it names.
func domainProblem(op *huma.Operation, de *domain.Error) *Problem {
	status, ok := kindStatus[de.Kind]
	if !ok {
		return newProblem(http.StatusInternalServerError, codeInternal, "an internal error occurred; it has been logged")
	}
	var fields []ProblemField
	if loc := locate(op, de.Field); de.Field != "" && loc != "" {
		fields = append(fields, ProblemField{Location: loc, Message: de.Message})
	}
	p := newProblem(status, de.Code, de.Message, fields...)
	if de.Code == app.CodeCallInProgress {
		p.CallID = de.Ref
	}
	return p
}

// humaField converts one of huma's validation details, naming the missing
// property itself rather than its parent object.
func humaField(d *huma.ErrorDetail) ProblemField {
	f := ProblemField{Location: d.Location, Message: d.Message, Value: shortScalar(d.Value)}
	if name, ok := requiredProperty(d.Message); ok {
		f.Location = joinLocation(f.Location, name)
		f.Value = nil
	}
	return f
}

var requiredPrefix, requiredSuffix = func() (string, string) {
	before, after, _ := strings.Cut(validation.MsgExpectedRequiredProperty, "%s")
	return before, after
}()

func requiredProperty(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, requiredPrefix)
	if !ok {
		return "", false
	}
	name, ok := strings.CutSuffix(rest, requiredSuffix)
	return name, ok && name != ""
}

func joinLocation(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// shortScalar echoes a received value only when it is short and scalar:
// problems must stay small and must not reflect whole bodies back.
func shortScalar(v any) any {
	switch x := v.(type) {
	case string:
		if len(x) > 200 {
			return nil
		}
		return x
	case bool, float64, float32, int, int64, int32, json.Number:
		return x
	}
	return nil
}

// Operation metadata keys.
const (
	// metaFields maps an input name to where it travels ("path", "query", "body").
	metaFields = "httpapi.fields"
	// metaMaxItemsCodes maps a location to the code of a maxItems violation there.
	metaMaxItemsCodes = "httpapi.maxItemsCodes"
	// metaLogger is the *slog.Logger internal errors of the operation go to.
	metaLogger = "httpapi.logger"
)

// resourceOf names, for the fields a rule may name without the request
// carrying them (a property of stored state), the path parameter of the
// resource they belong to.
var resourceOf = map[string]string{
	"call_connect_enabled": "env",
	"provider":             "provider",
	"partner_url":          "provider",
	"dial_mode":            "provider",
	"signing_secret":       "provider",
	"status":               "call_id", // a call's status refused a transition
}

// locate gives the location of a field a domain error names: where the
// operation's input carries it (path.x, query.x or body.x); for a property
// of stored state, the path parameter naming its resource (the support
// switch is located at path.env); "" when the request names no such thing.
func locate(op *huma.Operation, field string) string {
	root := field
	if i := strings.IndexAny(root, ".["); i >= 0 {
		root = root[:i]
	}
	if op == nil {
		return ""
	}
	fields, _ := op.Metadata[metaFields].(map[string]string)
	if in, ok := fields[root]; ok {
		return in + "." + field
	}
	if param, ok := resourceOf[root]; ok && fields[param] == "path" {
		return "path." + param
	}
	return ""
}

// maxItemsCode returns the operation's own code for an array that is too
// long (too_many_leads for body.lead_ids), so that the schema's maxItems
// answers with the same code as the rule it documents.
func maxItemsCode(op *huma.Operation, fields []ProblemField) string {
	if op == nil {
		return ""
	}
	codes, _ := op.Metadata[metaMaxItemsCodes].(map[string]string)
	prefix, _, _ := strings.Cut(validation.MsgExpectedMaxItems, "%")
	for _, f := range fields {
		if c, ok := codes[f.Location]; ok && strings.HasPrefix(f.Message, prefix) {
			return c
		}
	}
	return ""
}

// writeProblem answers with p outside huma (middleware, raw handlers).
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.Instance == "" && r != nil {
		p.Instance = r.URL.EscapedPath()
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		buf.Reset()
		buf.WriteString(`{"type":"` + problemTypeBase + codeInternal + `","title":"Internal error","status":500,"detail":"internal error","code":"internal","errors":[]}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	_, _ = w.Write(buf.Bytes())
}

// loggerOf returns the logger of the API op belongs to (huma's error hooks
// are process-wide, so each operation carries its API's logger).
func loggerOf(op *huma.Operation) *slog.Logger {
	if op != nil {
		if l, ok := op.Metadata[metaLogger].(*slog.Logger); ok {
			return l
		}
	}
	return slog.Default()
}
