package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"callconnect/adapters/kindstatus"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// headerIdempotencyKey is the request header that makes a /v1 POST safe to
// repeat; headerReplayed marks an answer sent again from the first.
const (
	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotent-Replayed"
)

// replayedHeaders are the headers of an answer kept with it and sent again
// on a replay: what a client reads besides the body.
var replayedHeaders = []string{"Content-Type", "Location"}

// idempotencyKeyParam documents the header on every /v1 POST.
var idempotencyKeyParam = &huma.Param{
	Name: headerIdempotencyKey,
	In:   "header",
	Description: "Makes the request safe to repeat (a retry after a timeout, a double click): 1 to 255 printable " +
		"ASCII characters the client chooses, a new one for each distinct request (a UUID, say). The first request " +
		"with a key runs; its answer, if it succeeded (2xx), is kept 24 hours, and the same request with the key — " +
		"same operation, path, query and body, byte for byte — gets that answer again, status and body byte for byte, " +
		"with `Idempotent-Replayed: true`, and nothing is done again. The same key with another request is 422 " +
		"`idempotency_key_reused`. While the first request with a key is still running, the same request with it is " +
		"409 `idempotency_key_in_use` with `Retry-After` (a double click does its work once). An answer that is not " +
		"a success is not kept: nothing was done, and the same request with the key runs again. Keys are kept apart by " +
		"environment and operation. A request whose process died before it answered holds its key for 2 minutes; " +
		"then the same request with the key runs again.",
	Schema: &huma.Schema{Type: huma.TypeString, MinLength: ptrInt(1), MaxLength: ptrInt(255), Pattern: `^[ -~]+$`,
		Examples: []any{"5f0c6a8e-8d0e-4d5c-9a43-2f1e7c3b9a10"}},
}

func ptrInt(n int) *int { return &n }

// idempotentPOST makes op, a /v1 POST, honour Idempotency-Key: the header is
// documented, with the refusals it may bring, and the middleware runs
// before the operation reads its input.
func idempotentPOST(api huma.API, h *handlers, op *huma.Operation) {
	if op.Method != http.MethodPost || !strings.HasPrefix(op.Path, "/v1/") {
		return
	}
	param := *idempotencyKeyParam // each operation its own, as huma may fill it in
	op.Parameters = append(op.Parameters, &param)
	op.Errors = append(op.Errors, http.StatusConflict, http.StatusUnprocessableEntity)
	op.Middlewares = append(op.Middlewares, func(ctx huma.Context, next func(huma.Context)) {
		h.idempotent(api, ctx, next)
	})
}

// idempotent runs one request with an Idempotency-Key: it reserves the key
// (scoped by environment and operation) for the request's hash, runs the
// operation with the body it read, keeps a successful answer before sending
// it (so that a client who got it and retries gets it again) and gives the
// key up otherwise. A key already answered for the same request is
// answered from what was kept, without running the operation.
func (h *handlers) idempotent(api huma.API, ctx huma.Context, next func(huma.Context)) {
	key := ctx.Header(headerIdempotencyKey)
	if key == "" {
		next(ctx)
		return
	}
	op := ctx.Operation()
	logger := h.logger.With("operation", op.OperationID, "idempotency_key", key)
	body, readErr := io.ReadAll(ctx.BodyReader())
	captured := &capturedAnswer{innerContext: ctx, body: io.MultiReader(bytes.NewReader(body), bodyReadError{readErr})}
	if readErr != nil {
		// The operation answers the body it cannot read as it always does
		// (413, 400): nothing runs, nothing is kept.
		next(captured.passThrough())
		return
	}
	if h.svc.Idempotency == nil {
		logger.ErrorContext(ctx.Context(), "Idempotency-Key sent to a service built without idempotency")
		_ = huma.WriteErr(api, ctx, http.StatusInternalServerError, "idempotency is not configured")
		return
	}
	u := ctx.URL()
	res, prior, err := h.svc.Idempotency.Begin(ctx.Context(), app.IdempotentRequest{
		Scope: ctx.Param("env") + "/v1/" + op.OperationID, Key: key, RequestHash: requestHash(ctx.Method(), u.EscapedPath(), u.RawQuery, body)})
	if err != nil {
		h.refuseIdempotent(api, ctx, err)
		return
	}
	if prior != nil {
		replay(ctx, *prior)
		return
	}
	next(captured)
	status := captured.status
	answer := encodeAnswer(captured, captured.buf.Bytes())
	// Whatever became of the request's context, the key must not stay
	// reserved: a client gone does not undo what was done.
	bg := context.WithoutCancel(ctx.Context())
	if status >= 200 && status < 300 {
		if err := res.Keep(bg, status, answer); err != nil {
			logger.ErrorContext(bg, "could not keep the answer to a request with an Idempotency-Key; the key stays reserved until it is taken over",
				"error", err, "status", status)
		}
	} else if err := res.Release(bg); err != nil {
		logger.ErrorContext(bg, "could not release an Idempotency-Key after a failed request", "error", err, "status", status)
	}
	captured.send()
}

// refuseIdempotent answers a key that may not be used now, naming the header.
func (h *handlers) refuseIdempotent(api huma.API, ctx huma.Context, err error) {
	de, ok := domain.AsError(err)
	if !ok {
		_ = huma.WriteErr(api, ctx, http.StatusInternalServerError, "could not reserve the Idempotency-Key", err)
		return
	}
	status, _ := kindstatus.Of(de.Kind)
	p := newProblem(status, de.Code, "header."+headerIdempotencyKey+": "+de.Message,
		ProblemField{Location: "header." + headerIdempotencyKey, Message: de.Message})
	u := ctx.URL()
	p.Instance = u.EscapedPath()
	if de.Code == app.CodeIdempotencyKeyInUse {
		ctx.SetHeader("Retry-After", "1")
	}
	_ = huma.WriteErr(api, ctx, status, p.Detail, p)
}

// requestHash identifies what a request asks: the same key with another
// hash is another request.
func requestHash(method, path, query string, body []byte) string {
	sum := sha256.New()
	for _, part := range []string{method, path, query} {
		sum.Write([]byte(part))
		sum.Write([]byte{0})
	}
	sum.Write(body)
	return hex.EncodeToString(sum.Sum(nil))
}

// encodeAnswer is what is kept of an answer: the replayed headers as the
// operation set them, a blank line, and the body as it was sent.
func encodeAnswer(ctx huma.Context, body []byte) []byte {
	var b bytes.Buffer
	for _, name := range replayedHeaders {
		if v := headerOf(ctx, name); v != "" {
			b.WriteString(name + ": " + v + "\n")
		}
	}
	b.WriteString("\n")
	b.Write(body)
	return b.Bytes()
}

// replay sends a kept answer again: its status, headers and body as the
// first time, marked Idempotent-Replayed.
func replay(ctx huma.Context, a ports.IdempotentAnswer) {
	head, body, _ := bytes.Cut(a.Body, []byte("\n\n"))
	if len(a.Body) > 0 && a.Body[0] == '\n' {
		head, body = nil, a.Body[1:]
	}
	for line := range strings.Lines(string(head)) {
		if name, value, ok := strings.Cut(strings.TrimSuffix(line, "\n"), ": "); ok {
			ctx.SetHeader(name, value)
		}
	}
	ctx.SetHeader(headerReplayed, "true")
	ctx.SetStatus(a.StatusCode)
	_, _ = ctx.BodyWriter().Write(body)
}

// capturedAnswer runs an operation on the body already read and holds its
// answer back, so that it is kept before the client has it.
type capturedAnswer struct {
	innerContext
	body   io.Reader
	status int
	buf    bytes.Buffer
	// headers are the values the operation set, by canonical name.
	headers http.Header
}

func (c *capturedAnswer) BodyReader() io.Reader { return c.body }
func (c *capturedAnswer) SetStatus(code int)    { c.status = code }
func (c *capturedAnswer) Status() int           { return c.status }
func (c *capturedAnswer) BodyWriter() io.Writer { return &c.buf }

func (c *capturedAnswer) SetHeader(name, value string) {
	c.record().Set(name, value)
	c.innerContext.SetHeader(name, value)
}

func (c *capturedAnswer) AppendHeader(name, value string) {
	c.record().Add(name, value)
	c.innerContext.AppendHeader(name, value)
}

func (c *capturedAnswer) record() http.Header {
	if c.headers == nil {
		c.headers = http.Header{}
	}
	return c.headers
}

// passThrough is the context with the body already read put back, the
// answer written as it comes.
func (c *capturedAnswer) passThrough() huma.Context {
	return bodyOnly{innerContext: c.innerContext, body: c.body}
}

// send writes the answer held back.
func (c *capturedAnswer) send() {
	if c.status != 0 {
		c.innerContext.SetStatus(c.status)
	}
	_, _ = c.innerContext.BodyWriter().Write(c.buf.Bytes())
}

// headerOf is the value the operation set for name ("" when none).
func headerOf(ctx huma.Context, name string) string {
	if c, ok := ctx.(*capturedAnswer); ok && c.headers != nil {
		return c.headers.Get(name)
	}
	return ""
}

type bodyOnly struct {
	innerContext
	body io.Reader
}

// innerContext is huma.Context under a name that does not clash with its
// method Context when embedded.
type innerContext huma.Context

func (b bodyOnly) BodyReader() io.Reader { return b.body }

// bodyReadError fails with err once what came before it is read; nil
// reads as the end.
type bodyReadError struct{ err error }

func (e bodyReadError) Read([]byte) (int, error) {
	if e.err == nil {
		return 0, io.EOF
	}
	return 0, e.err
}
