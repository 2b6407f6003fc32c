package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"callconnect/app"
	"callconnect/domain"
)

// Deliverer makes one delivery attempt of a call; *app.Calls is the real one.
type Deliverer interface {
	Deliver(ctx context.Context, envID, callID string) (app.DeliveryOutcome, error)
}

var _ Deliverer = (*app.Calls)(nil)

// DeliverCallWorker runs delivery jobs: one app.Calls.Deliver per run. What
// the run leaves the job as follows from the outcome:
//
//   - delivered, undeliverable, or nothing left to do: the job completes;
//   - a retry asked for (RetryIn > 0): the job is snoozed that long, which in
//     River does not use up an attempt, so the dispatch deadline alone bounds
//     the retries;
//   - an infrastructure error (the database unreachable): the error is
//     returned and River retries the run with its own backoff;
//   - a domain error (the call is gone, or in no state to deliver): the job is
//     cancelled, since running it again would get the same answer.
type DeliverCallWorker struct {
	river.WorkerDefaults[DeliverCallArgs]
	calls   Deliverer
	metrics *Metrics
	tracer  trace.Tracer
	timeout time.Duration
	logger  *slog.Logger
}

// WorkerConfig is what DeliverCallWorker needs besides the use case.
type WorkerConfig struct {
	// Timeout bounds one run: the partner client's total timeout plus the two
	// short transactions around the request. DefaultJobTimeout when zero.
	Timeout time.Duration
	// Metrics, when set, count attempts and outcomes (see NewMetrics).
	Metrics *Metrics
	// TracerProvider gives each run a span; none when nil.
	TracerProvider trace.TracerProvider
	// Logger notes cancelled jobs; none when nil.
	Logger *slog.Logger
}

// NewDeliverCallWorker returns the worker of delivery jobs.
func NewDeliverCallWorker(calls Deliverer, cfg WorkerConfig) *DeliverCallWorker {
	tp := cfg.TracerProvider
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return &DeliverCallWorker{
		calls:   calls,
		metrics: cfg.Metrics,
		tracer:  tp.Tracer("callconnect/adapters/jobs"),
		timeout: cmpOr(cfg.Timeout, DefaultJobTimeout),
		logger:  orDiscard(cfg.Logger),
	}
}

// Span attribute keys.
const (
	attrCallID     = attribute.Key("callconnect.call.id")
	attrEnvID      = attribute.Key("callconnect.env.id")
	attrJobAttempt = attribute.Key("callconnect.job.attempt")
	attrStatusCode = attribute.Key("http.response.status_code")
	attrVerdict    = attribute.Key("callconnect.delivery.verdict")
	attrCallStatus = attribute.Key("callconnect.call.status")
	attrRetryIn    = attribute.Key("callconnect.delivery.retry_in_ms")
)

// Work makes one delivery attempt.
func (w *DeliverCallWorker) Work(ctx context.Context, job *river.Job[DeliverCallArgs]) error {
	args := job.Args
	out, err := w.run(ctx, args, job.Attempt, func(ctx context.Context) (app.DeliveryOutcome, error) {
		return w.calls.Deliver(ctx, args.EnvID, args.CallID)
	})
	if err != nil {
		var rule *domain.Error
		if errors.As(err, &rule) {
			w.logger.WarnContext(ctx, "delivery job cancelled: the call cannot be delivered",
				slog.String("call_id", args.CallID), slog.String("env_id", args.EnvID), slog.String("error", err.Error()))
			return river.JobCancel(err)
		}
		return fmt.Errorf("delivering call %q: %w", args.CallID, err)
	}
	if out.RetryIn > 0 {
		return river.JobSnooze(out.RetryIn)
	}
	return nil
}

// run makes one delivery attempt through deliver, in a span of its own
// (linked to the click's), and counts its outcome: a run of the queue's, or
// a direct delivery's (Direct), the jobAttempt-th of its job.
func (w *DeliverCallWorker) run(ctx context.Context, args DeliverCallArgs, jobAttempt int,
	deliver func(ctx context.Context) (app.DeliveryOutcome, error)) (app.DeliveryOutcome, error) {
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attrCallID.String(args.CallID), attrEnvID.String(args.EnvID), attrJobAttempt.Int(jobAttempt)),
	}
	// A link, not a parent: the click's trace ended with its 202, and a
	// call's attempts may run long after it.
	if click, ok := clickSpan(args.TraceParent); ok {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: click}))
	}
	ctx, span := w.tracer.Start(ctx, "deliver call", opts...)
	defer span.End()

	out, err := deliver(ctx)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return out, err
	}
	w.metrics.observe(out)

	span.SetAttributes(attrCallStatus.String(string(out.Call.Status())))
	if out.Attempted {
		span.SetAttributes(attrStatusCode.Int(out.StatusCode), attrVerdict.String(verdictLabel(out.Verdict)))
		if out.Verdict != domain.VerdictDelivered {
			span.SetStatus(codes.Error, fmt.Sprintf("partner answered %d", out.StatusCode))
		}
	}
	if out.RetryIn > 0 {
		span.SetAttributes(attrRetryIn.Int64(out.RetryIn.Milliseconds()))
	}
	return out, nil
}

// Timeout bounds one run; past it the run's context is cancelled (the
// outcome is still recorded: app.Calls.Deliver does so without the context's
// cancellation).
func (w *DeliverCallWorker) Timeout(*river.Job[DeliverCallArgs]) time.Duration { return w.timeout }

// clickSpan reads the click's span from a W3C traceparent.
func clickSpan(traceParent string) (trace.SpanContext, bool) {
	if traceParent == "" {
		return trace.SpanContext{}, false
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": traceParent})
	sc := trace.SpanContextFromContext(ctx)
	return sc, sc.IsValid()
}

func cmpOr(d, fallback time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return fallback
}
