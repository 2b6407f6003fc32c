package httpapi

import (
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"callconnect/domain"
)

// recordingLocation is the path a recording is served at.
func recordingLocation(envID, recordingID string) string {
	return "/v1/environments/" + url.PathEscape(envID) + "/recordings/" + url.PathEscape(recordingID)
}

const idPattern = "^[A-Za-z0-9._~-]{1,64}$"

func (h *handlers) registerRecordings(api huma.API) {
	op := huma.Operation{
		OperationID: "getRecording",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}/recordings/{recording_id}",
		Summary:     "Download a recording",
		Description: "Serves a call's recording as the partner sent it, with its content type (audio/mpeg, audio/wav, " +
			"audio/ogg, audio/mp4 or audio/webm), an ETag (the quoted SHA-256 of the content, for If-None-Match) and HTTP " +
			"Range support: `Range: bytes=0-1023` answers 206 Partial Content with that slice, an unsatisfiable range " +
			"416. A request for more than 10 ranges, or for ranges adding up to more than the recording, gets the whole " +
			"recording (200). The lead's history links its recordings here.",
		Tags:     []string{tagRecordings},
		Security: v1Security,
		Parameters: []*huma.Param{
			{Name: "env", In: "path", Required: true, Description: "Environment id, chosen by the CRM.",
				Schema: &huma.Schema{Type: huma.TypeString, Pattern: idPattern, MaxLength: ptr(64)}, Example: "acme"},
			{Name: "recording_id", In: "path", Required: true, Description: "Recording id, as the lead's history gives it.",
				Schema: &huma.Schema{Type: huma.TypeString, Pattern: idPattern, MaxLength: ptr(64)}, Example: "01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"},
			{Name: "Range", In: "header", Description: "A byte range (RFC 9110), e.g. bytes=0-1023; up to 10 ranges, more get the whole recording.",
				Schema: &huma.Schema{Type: huma.TypeString, MaxLength: ptr(200)}, Example: "bytes=0-1023"},
		},
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusRequestedRangeNotSatisfiable, http.StatusTooManyRequests,
			http.StatusUnprocessableEntity, http.StatusInternalServerError},
	}
	audio := &huma.Schema{Type: huma.TypeString, Format: "binary", Description: "The audio bytes."}
	content := map[string]*huma.MediaType{}
	for _, ct := range domain.AudioContentTypes {
		content[ct] = &huma.MediaType{Schema: audio}
	}
	headers := map[string]*huma.Param{
		"ETag":          {Description: "The quoted SHA-256 of the content.", Schema: &huma.Schema{Type: huma.TypeString}},
		"Accept-Ranges": {Description: "bytes", Schema: &huma.Schema{Type: huma.TypeString}},
		"Content-Range": {Description: "The slice served (206 only).", Schema: &huma.Schema{Type: huma.TypeString}},
	}
	op.Responses = map[string]*huma.Response{
		"200": {Description: "The whole recording.", Headers: headers, Content: content},
		"206": {Description: "The requested range of the recording.", Headers: headers, Content: content},
		"304": {Description: "Not modified (If-None-Match matched the ETag)."},
	}
	document(api, op)
	h.mux.HandleFunc(op.Method+" "+op.Path, h.serveRecording)
}

func (h *handlers) serveRecording(w http.ResponseWriter, r *http.Request) {
	env, id := r.PathValue("env"), r.PathValue("recording_id")
	for _, p := range []struct{ name, v string }{{"env", env}, {"recording_id", id}} {
		if !domain.ValidID(p.v) {
			writeProblem(w, r, newProblem(http.StatusUnprocessableEntity, codeValidationFailed, "path."+p.name+": must be 1 to 64 URL-safe characters",
				ProblemField{Location: "path." + p.name, Message: "must be 1 to 64 URL-safe characters", Value: shortScalar(p.v)}))
			return
		}
	}
	rec, obj, err := h.svc.Callbacks.Recording(r.Context(), env, id)
	if err != nil {
		var p *Problem
		if de, ok := domain.AsError(err); ok {
			p = domainProblem(nil, de)
			if loc := map[string]string{"env": "path.env", "recording_id": "path.recording_id"}[de.Field]; loc != "" && p.Status < 500 {
				p.Errors = []ProblemField{{Location: loc, Message: de.Message}}
			}
		}
		if p == nil || p.Status >= 500 {
			h.logger.ErrorContext(r.Context(), "serving a recording failed", "error", err, "path", r.URL.Path)
			p = newProblem(http.StatusInternalServerError, codeInternal, "an internal error occurred; it has been logged")
		}
		writeProblem(w, r, p)
		return
	}
	defer obj.Close()
	extendDeadlines(w, false)
	hd := w.Header()
	ct := rec.ContentType()
	if ct == "" {
		ct = obj.ContentType
	}
	hd.Set("Content-Type", ct)
	hd.Set("ETag", strconv.Quote(rec.SHA256()))
	// The content under this URL never changes (it is addressed by its hash),
	// but it is a lead's conversation: private caches only.
	hd.Set("Cache-Control", "private, max-age=86400")
	hd.Set("X-Content-Type-Options", "nosniff")
	if rangeCount(r.Header.Values("Range")) > maxRanges {
		// Many ranges cost a seek each (a GET each, with S3) for a few
		// bytes of answer: the whole recording is served instead, as a
		// server may always ignore Range.
		r = r.Clone(r.Context())
		r.Header.Del("Range")
	}
	http.ServeContent(&problemOnError{ResponseWriter: w, r: r}, r, "", rec.CreatedAt(), obj)
}

// maxRanges is the most ranges a recording's download serves as ranges;
// a request for more gets the whole recording (200). Players ask for one
// range at a time. (Ranges that overlap or add up to more than the
// recording are served whole by http.ServeContent already.)
const maxRanges = 10

// rangeCount is how many ranges Range headers ask for.
func rangeCount(values []string) int {
	n := 0
	for _, v := range values {
		n += strings.Count(v, ",") + 1
	}
	return n
}

// problemOnError turns the plain-text errors http.ServeContent writes (416
// Range Not Satisfiable, 500 on a failed seek) into problems.
type problemOnError struct {
	http.ResponseWriter
	r       *http.Request
	swallow bool
}

func (p *problemOnError) WriteHeader(code int) {
	if code < 400 {
		p.ResponseWriter.WriteHeader(code)
		return
	}
	p.swallow = true
	p.Header().Del("X-Content-Type-Options")
	code2 := statusCode[code]
	if code2 == "" {
		code2 = codeInternal
	}
	detail := http.StatusText(code)
	if code == http.StatusRequestedRangeNotSatisfiable {
		detail = "the requested range is not within the recording (" + p.Header().Get("Content-Range") + ")"
	}
	writeProblem(p.ResponseWriter, p.r, newProblem(code, code2, detail))
}

func (p *problemOnError) Write(b []byte) (int, error) {
	if p.swallow {
		return len(b), nil
	}
	return p.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (p *problemOnError) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// document adds an operation served by a plain handler to the OpenAPI
// document, with its error responses as problems, as huma.Register does.
func document(api huma.API, op huma.Operation) {
	registry := api.OpenAPI().Components.Schemas
	errSchema := registry.Schema(typeOf[Problem](), true, "Problem")
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	for _, code := range op.Errors {
		op.Responses[strconv.Itoa(code)] = &huma.Response{Description: http.StatusText(code),
			Content: map[string]*huma.MediaType{"application/problem+json": {Schema: errSchema}}}
	}
	api.OpenAPI().AddOperation(&op)
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

func reflectTypeOf(v any) reflect.Type { return reflect.TypeOf(v) }
