package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys carrying the current span, so a log line can be joined
// with its trace in whatever backend receives both.
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// NewLogger returns a JSON logger writing to w at the given minimum level.
// Every record logged with a context that holds a valid span carries
// trace_id and span_id; no record carries a secret (RedactAttr).
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(NewTraceHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: RedactAttr})))
}

// ParseLevel turns a LOG_LEVEL value (debug, info, warn, error; any case) into
// a slog level. The empty string means info, so an unset variable is not an
// error.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("LOG_LEVEL: unknown level %q (want debug, info, warn or error)", s)
}

// TraceHandler wraps a slog.Handler and adds trace_id and span_id to each
// record whose context holds a valid span. The ids are always written at the
// top level of the record, even when the logger has open groups, so log
// pipelines find them in one place.
type TraceHandler struct {
	// base has every WithAttrs applied that came before the first WithGroup;
	// inner is base with the remaining steps replayed. While no group is
	// open they are the same handler and adding the ids to the record is
	// enough; once a group is open the ids must go in before it, which
	// means rebuilding inner from base for that record.
	base  slog.Handler
	inner slog.Handler
	steps []handlerStep
}

// handlerStep is one WithGroup or WithAttrs call made after the first group.
type handlerStep struct {
	group string
	attrs []slog.Attr
}

// NewTraceHandler wraps h.
func NewTraceHandler(h slog.Handler) *TraceHandler {
	return &TraceHandler{base: h, inner: h}
}

// Enabled reports whether the wrapped handler handles records at level.
func (h *TraceHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle adds the span ids from ctx, when there are any, and passes the
// record on.
func (h *TraceHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return h.inner.Handle(ctx, r)
	}
	ids := []slog.Attr{
		slog.String(TraceIDKey, sc.TraceID().String()),
		slog.String(SpanIDKey, sc.SpanID().String()),
	}
	if len(h.steps) == 0 {
		r = r.Clone()
		r.AddAttrs(ids...)
		return h.inner.Handle(ctx, r)
	}
	inner := h.base.WithAttrs(ids)
	for _, s := range h.steps {
		if s.group != "" {
			inner = inner.WithGroup(s.group)
		} else {
			inner = inner.WithAttrs(s.attrs)
		}
	}
	return inner.Handle(ctx, r)
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *TraceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	if len(h.steps) == 0 {
		next := h.inner.WithAttrs(attrs)
		return &TraceHandler{base: next, inner: next}
	}
	return &TraceHandler{
		base:  h.base,
		inner: h.inner.WithAttrs(attrs),
		steps: append(h.steps[:len(h.steps):len(h.steps)], handlerStep{attrs: attrs}),
	}
}

// WithGroup returns a handler that nests later attributes under name.
func (h *TraceHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &TraceHandler{
		base:  h.base,
		inner: h.inner.WithGroup(name),
		steps: append(h.steps[:len(h.steps):len(h.steps)], handlerStep{group: name}),
	}
}
