package telemetry

import (
	"log/slog"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
)

// SetDiagnostics routes OpenTelemetry's own errors (an unreachable collector,
// a full span queue) and its internal warnings through logger, so they come
// out as JSON like everything else instead of as plain lines on standard
// error. The same error message is logged at most once a minute. The SDK's
// info and debug chatter ("Tracer created") is dropped.
func SetDiagnostics(logger *slog.Logger) {
	otel.SetErrorHandler(NewErrorHandler(logger, time.Minute))
	otel.SetLogger(logr.New(otelLogSink{logger: logger}))
}

// otelLogSink adapts the SDK's logr logger to slog. The SDK logs warnings at
// V(1), info at V(4) and debug at V(8); only warnings and errors are kept.
type otelLogSink struct {
	logger *slog.Logger
}

func (otelLogSink) Init(logr.RuntimeInfo) {}

func (otelLogSink) Enabled(level int) bool { return level <= 1 }

func (s otelLogSink) Info(_ int, msg string, keysAndValues ...any) {
	s.logger.Warn("opentelemetry: "+msg, keysAndValues...)
}

func (s otelLogSink) Error(err error, msg string, keysAndValues ...any) {
	s.logger.Error("opentelemetry: "+msg, append(keysAndValues, slog.Any("error", err))...)
}

func (s otelLogSink) WithValues(keysAndValues ...any) logr.LogSink {
	return otelLogSink{logger: s.logger.With(keysAndValues...)}
}

func (s otelLogSink) WithName(name string) logr.LogSink {
	return otelLogSink{logger: s.logger.With(slog.String("logger", name))}
}

// maxTrackedErrors bounds the memory spent remembering messages. Past it,
// new distinct messages share one rate limit.
const maxTrackedErrors = 256

// overflowKey is the shared slot used when maxTrackedErrors is reached.
const overflowKey = "\x00overflow"

// ErrorHandler is an otel.ErrorHandler that logs through slog and logs each
// distinct message at most once per interval, noting how many repeats it
// swallowed in between. A collector that is down produces one line a minute,
// not one per export attempt.
type ErrorHandler struct {
	logger *slog.Logger
	every  time.Duration
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]*errorSeen
}

type errorSeen struct {
	logged     time.Time
	suppressed int
}

// NewErrorHandler returns a handler logging to logger at most once per every
// for each distinct message.
func NewErrorHandler(logger *slog.Logger, every time.Duration) *ErrorHandler {
	return &ErrorHandler{logger: logger, every: every, now: time.Now, seen: map[string]*errorSeen{}}
}

// Handle logs err unless the same message was logged less than the interval
// ago.
func (h *ErrorHandler) Handle(err error) {
	if err == nil {
		return
	}
	msg := err.Error()
	suppressed, ok := h.admit(msg)
	if !ok {
		return
	}
	attrs := []any{slog.String("error", msg)}
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", suppressed))
	}
	h.logger.Warn("opentelemetry error", attrs...)
}

// admit reports whether msg may be logged now and how many repeats were
// swallowed since it last was.
func (h *ErrorHandler) admit(msg string) (suppressed int, ok bool) {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()

	key := msg
	s, found := h.seen[key]
	if !found && len(h.seen) >= maxTrackedErrors {
		h.forgetOlderThan(now.Add(-h.every))
		if len(h.seen) >= maxTrackedErrors {
			key = overflowKey
			s, found = h.seen[key]
		}
	}
	if !found {
		h.seen[key] = &errorSeen{logged: now}
		return 0, true
	}
	if now.Sub(s.logged) < h.every {
		s.suppressed++
		return 0, false
	}
	suppressed = s.suppressed
	s.logged, s.suppressed = now, 0
	return suppressed, true
}

func (h *ErrorHandler) forgetOlderThan(cutoff time.Time) {
	for k, s := range h.seen {
		if s.logged.Before(cutoff) {
			delete(h.seen, k)
		}
	}
}
