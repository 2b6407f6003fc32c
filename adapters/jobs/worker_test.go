package jobs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"callconnect/adapters/jobs"
	"callconnect/app"
	"callconnect/domain"
)

// deliverFunc stands in for app.Calls.
type deliverFunc func(ctx context.Context, envID, callID string) (app.DeliveryOutcome, error)

func (f deliverFunc) Deliver(ctx context.Context, envID, callID string) (app.DeliveryOutcome, error) {
	return f(ctx, envID, callID)
}

// callIn is a call in the given status, for outcomes.
func callIn(t *testing.T, status domain.CallStatus, reason string) domain.Call {
	t.Helper()
	now := time.Now()
	return domain.RestoreCall(envID, "c1", leadID, brokerID, status, reason, now, now.Add(time.Minute), []byte(`{}`), nil)
}

const (
	clickTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clickSpanID  = "00f067aa0ba902b7"
)

func deliverJob(traceParent string) *river.Job[jobs.DeliverCallArgs] {
	return &river.Job[jobs.DeliverCallArgs]{
		JobRow: &rivertype.JobRow{ID: 7, Attempt: 1, Kind: "deliver_call"},
		Args:   jobs.DeliverCallArgs{EnvID: envID, CallID: "c1", TraceParent: traceParent},
	}
}

func TestWorkerOutcomes(t *testing.T) {
	t.Parallel()
	infra := errors.New("connection refused")
	tests := []struct {
		name string
		out  app.DeliveryOutcome
		err  error
		// check the error Work returns
		check func(t *testing.T, err error)
		// attempts and outcomes counted, by label
		attempts, outcomes map[string]float64
		clickToPartner     uint64
		spanStatus         codes.Code
	}{
		{
			name: "delivered",
			out: app.DeliveryOutcome{Call: callIn(t, domain.CallDelivered, ""), Attempted: true, StatusCode: 200,
				Verdict: domain.VerdictDelivered, ClickToPartner: 30 * time.Millisecond},
			check:          wantNil,
			attempts:       map[string]float64{"delivered": 1},
			outcomes:       map[string]float64{"delivered": 1},
			clickToPartner: 1,
			spanStatus:     codes.Unset,
		},
		{
			name: "retry: snoozed, which costs no attempt",
			out: app.DeliveryOutcome{Call: callIn(t, domain.CallQueued, ""), Attempted: true, StatusCode: 503,
				Verdict: domain.VerdictRetry, RetryIn: 1500 * time.Millisecond},
			check: func(t *testing.T, err error) {
				var snooze *rivertype.JobSnoozeError
				if !errors.As(err, &snooze) || snooze.Duration != 1500*time.Millisecond {
					t.Errorf("Work returned %v, want a snooze of 1.5s", err)
				}
			},
			attempts:   map[string]float64{"retry": 1},
			outcomes:   map[string]float64{"retry": 1},
			spanStatus: codes.Error,
		},
		{
			name: "refused for good",
			out: app.DeliveryOutcome{Call: callIn(t, domain.CallUndeliverable, domain.UndeliverablePartnerRefused), Attempted: true,
				StatusCode: 404, Verdict: domain.VerdictPermanent},
			check:      wantNil,
			attempts:   map[string]float64{"permanent": 1},
			outcomes:   map[string]float64{"undeliverable": 1},
			spanStatus: codes.Error,
		},
		{
			name:       "deadline passed while queued: undeliverable without an attempt",
			out:        app.DeliveryOutcome{Call: callIn(t, domain.CallUndeliverable, domain.UndeliverableDeadlineExceeded)},
			check:      wantNil,
			outcomes:   map[string]float64{"undeliverable": 1},
			spanStatus: codes.Unset,
		},
		{
			name:       "already delivered: nothing to do",
			out:        app.DeliveryOutcome{Call: callIn(t, domain.CallDelivered, "")},
			check:      wantNil,
			spanStatus: codes.Unset,
		},
		{
			name: "infrastructure error: River retries",
			err:  infra,
			check: func(t *testing.T, err error) {
				var cancel *rivertype.JobCancelError
				if !errors.Is(err, infra) || errors.As(err, &cancel) {
					t.Errorf("Work returned %v, want the error itself, for River to retry", err)
				}
			},
			spanStatus: codes.Error,
		},
		{
			name: "the call is gone: cancelled",
			err:  domain.NotFound(domain.CodeCallNotFound, "call_id", "call not found"),
			check: func(t *testing.T, err error) {
				var cancel *rivertype.JobCancelError
				if !errors.As(err, &cancel) {
					t.Errorf("Work returned %v, want the job cancelled", err)
				}
			},
			spanStatus: codes.Error,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			metrics, err := jobs.NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			var inside trace.SpanContext
			w := jobs.NewDeliverCallWorker(deliverFunc(func(ctx context.Context, e, c string) (app.DeliveryOutcome, error) {
				inside = trace.SpanContextFromContext(ctx)
				if e != envID || c != "c1" {
					t.Errorf("Deliver(%q, %q)", e, c)
				}
				return tt.out, tt.err
			}), jobs.WorkerConfig{Metrics: metrics, TracerProvider: tp})

			tt.check(t, w.Work(context.Background(), deliverJob("00-"+clickTraceID+"-"+clickSpanID+"-01")))

			spans := rec.Ended()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			s := spans[0]
			if s.Name() != "deliver call" || s.SpanKind() != trace.SpanKindConsumer || s.Status().Code != tt.spanStatus {
				t.Errorf("span %q kind %v status %v; want \"deliver call\", consumer, %v", s.Name(), s.SpanKind(), s.Status().Code, tt.spanStatus)
			}
			if inside.SpanID() != s.SpanContext().SpanID() {
				t.Error("Deliver did not run inside the attempt's span, so the partner's traceparent would not name it")
			}
			if s.Parent().IsValid() {
				t.Errorf("span has parent %v; want a root linked to the click", s.Parent())
			}
			links := s.Links()
			if len(links) != 1 || links[0].SpanContext.TraceID().String() != clickTraceID || links[0].SpanContext.SpanID().String() != clickSpanID {
				t.Errorf("links %+v, want the click's span", links)
			}
			attrs := map[attribute.Key]attribute.Value{}
			for _, a := range s.Attributes() {
				attrs[a.Key] = a.Value
			}
			if attrs["callconnect.call.id"].AsString() != "c1" {
				t.Errorf("attributes %v lack the call id", attrs)
			}
			if tt.out.Attempted {
				if attrs["http.response.status_code"].AsInt64() != int64(tt.out.StatusCode) || attrs["callconnect.delivery.verdict"].AsString() == "" {
					t.Errorf("attributes %v lack the status code %d or the verdict", attrs, tt.out.StatusCode)
				}
			}

			for _, v := range []string{"delivered", "retry", "permanent"} {
				if got := counterValue(t, reg, "callconnect_delivery_attempts_total", "verdict", v); got != tt.attempts[v] {
					t.Errorf("attempts{verdict=%s} = %v, want %v", v, got, tt.attempts[v])
				}
			}
			for _, v := range []string{"delivered", "undeliverable", "retry"} {
				if got := counterValue(t, reg, "callconnect_delivery_outcomes_total", "status", v); got != tt.outcomes[v] {
					t.Errorf("outcomes{status=%s} = %v, want %v", v, got, tt.outcomes[v])
				}
			}
			if got := histogramCount(t, reg, "callconnect_click_to_partner_seconds"); got != tt.clickToPartner {
				t.Errorf("click_to_partner observations = %d, want %d", got, tt.clickToPartner)
			}
		})
	}
}

func wantNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("Work returned %v, want nil (the job completes)", err)
	}
}

func TestWorkerWithoutTraceParentHasNoLink(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	w := jobs.NewDeliverCallWorker(deliverFunc(func(context.Context, string, string) (app.DeliveryOutcome, error) {
		return app.DeliveryOutcome{Call: callIn(t, domain.CallDelivered, "")}, nil
	}), jobs.WorkerConfig{TracerProvider: tp})
	for _, tp := range []string{"", "garbage", "00-00000000000000000000000000000000-0000000000000000-01"} {
		if err := w.Work(context.Background(), deliverJob(tp)); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range rec.Ended() {
		if len(s.Links()) != 0 {
			t.Errorf("links %+v from an absent or invalid traceparent", s.Links())
		}
	}
}

func TestWorkerTimeout(t *testing.T) {
	t.Parallel()
	w := jobs.NewDeliverCallWorker(nil, jobs.WorkerConfig{})
	if got := w.Timeout(deliverJob("")); got != jobs.DefaultJobTimeout {
		t.Errorf("default timeout %s, want %s", got, jobs.DefaultJobTimeout)
	}
	w = jobs.NewDeliverCallWorker(nil, jobs.WorkerConfig{Timeout: 3 * time.Second})
	if got := w.Timeout(deliverJob("")); got != 3*time.Second {
		t.Errorf("timeout %s, want 3s", got)
	}
}

func TestMetricsRegisterTwiceOnOneRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	a, err := jobs.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := jobs.NewMetrics(reg)
	if err != nil || a == nil || b == nil {
		t.Fatalf("second NewMetrics: %v", err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	want := "callconnect_click_to_partner_seconds callconnect_delivery_attempts_total callconnect_delivery_outcomes_total"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("metrics %q, want %q", got, want)
	}
}

// counterValue reads one series of a counter from the registry.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no series %s{%s=%q}", name, label, value)
	return 0
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no histogram %s", name)
	return 0
}
