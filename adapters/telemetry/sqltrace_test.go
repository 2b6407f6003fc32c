package telemetry

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func newRecordingProvider(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

func attrOf(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// runQuery drives the tracer the way pgx does for one Query or Exec.
func runQuery(ctx context.Context, tr *SQLTracer, sql string, err error) {
	ctx = tr.TraceQueryStart(ctx, nil, pgx.TraceQueryStartData{SQL: sql, Args: []any{"secret-arg"}})
	tr.TraceQueryEnd(ctx, nil, pgx.TraceQueryEndData{Err: err})
}

func TestSQLTracerSpans(t *testing.T) {
	tp, rec := newRecordingProvider(t)
	tr := NewSQLTracer(tp, nil)
	parentCtx, parent := tp.Tracer("test").Start(context.Background(), "use case")

	long := "SELECT '" + strings.Repeat("é", 3000) + "'"
	tests := []struct {
		name       string
		sql        string
		err        error
		wantName   string
		wantStatus codes.Code
		wantSQLSt  string
	}{
		{"sqlc query", "-- name: GetLead :one\nSELECT id FROM leads WHERE id = $1", nil, "GetLead", codes.Unset, ""},
		{"sqlc batch-style name with leading blank", "\n  -- name: ListUsers :many\nSELECT 1", nil, "ListUsers", codes.Unset, ""},
		{"plain SQL", "SELECT 1", nil, "db.query", codes.Unset, ""},
		{"no rows is not an error", "-- name: GetLead :one\nSELECT 1", pgx.ErrNoRows, "GetLead", codes.Unset, ""},
		{"postgres error", "-- name: InsertLead :exec\nINSERT INTO leads VALUES ($1)", &pgconn.PgError{Code: "23505", Message: "duplicate key"}, "InsertLead", codes.Error, "23505"},
		{"other error", "SELECT pg_sleep(10)", context.DeadlineExceeded, "db.query", codes.Error, ""},
		{"long query", long, nil, "db.query", codes.Unset, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(rec.Ended())
			runQuery(parentCtx, tr, tt.sql, tt.err)
			ended := rec.Ended()
			if len(ended) != before+1 {
				t.Fatalf("ended spans: %d, want %d", len(ended), before+1)
			}
			s := ended[len(ended)-1]
			if s.Name() != tt.wantName {
				t.Errorf("name = %q, want %q", s.Name(), tt.wantName)
			}
			if s.SpanKind() != trace.SpanKindClient {
				t.Errorf("kind = %v, want client", s.SpanKind())
			}
			if s.Parent().SpanID() != parent.SpanContext().SpanID() {
				t.Errorf("span is not a child of the span in the context")
			}
			if v, _ := attrOf(s, "db.system.name"); v.AsString() != "postgresql" {
				t.Errorf("db.system.name = %q", v.AsString())
			}
			text, _ := attrOf(s, "db.query.text")
			if len(text.AsString()) > maxQueryText || !utf8.ValidString(text.AsString()) {
				t.Errorf("db.query.text is %d bytes or not UTF-8", len(text.AsString()))
			}
			if !strings.HasPrefix(tt.sql, text.AsString()) || (len(tt.sql) <= maxQueryText && text.AsString() != tt.sql) {
				t.Errorf("db.query.text = %.80q…, want the query (truncated)", text.AsString())
			}
			for _, kv := range s.Attributes() {
				if strings.Contains(kv.Value.Emit(), "secret-arg") {
					t.Errorf("attribute %s leaks a query argument", kv.Key)
				}
			}
			if tt.wantName != "db.query" {
				if v, _ := attrOf(s, "db.query.summary"); v.AsString() != tt.wantName {
					t.Errorf("db.query.summary = %q, want %q", v.AsString(), tt.wantName)
				}
			}
			if s.Status().Code != tt.wantStatus {
				t.Errorf("status = %v, want %v", s.Status(), tt.wantStatus)
			}
			if v, _ := attrOf(s, "db.response.status_code"); v.AsString() != tt.wantSQLSt {
				t.Errorf("db.response.status_code = %q, want %q", v.AsString(), tt.wantSQLSt)
			}
		})
	}
	parent.End()
}

func TestSQLTracerBatchAndCounting(t *testing.T) {
	tp, rec := newRecordingProvider(t)
	counter := &QueryCounter{}
	tr := NewSQLTracer(tp, counter)
	ctx := context.Background()

	runQuery(ctx, tr, "SELECT 1", nil)
	runQuery(ctx, tr, "-- name: GetLead :one\nSELECT 1", errors.New("boom"))

	batch := &pgx.Batch{}
	batch.Queue("-- name: A :exec\nSELECT 1")
	batch.Queue("SELECT 2")
	bctx := tr.TraceBatchStart(ctx, nil, pgx.TraceBatchStartData{Batch: batch})
	tr.TraceBatchQuery(bctx, nil, pgx.TraceBatchQueryData{SQL: "-- name: A :exec\nSELECT 1", ReadStartTime: time.Now()})
	tr.TraceBatchQuery(bctx, nil, pgx.TraceBatchQueryData{SQL: "SELECT 2"})
	tr.TraceBatchEnd(bctx, nil, pgx.TraceBatchEndData{})

	cctx := tr.TraceCopyFromStart(ctx, nil, pgx.TraceCopyFromStartData{TableName: pgx.Identifier{"leads"}})
	tr.TraceCopyFromEnd(cctx, nil, pgx.TraceCopyFromEndData{})

	pctx := tr.TracePrepareStart(ctx, nil, pgx.TracePrepareStartData{Name: "s1", SQL: "SELECT 1"})
	tr.TracePrepareEnd(pctx, nil, pgx.TracePrepareEndData{AlreadyPrepared: true})
	pctx = tr.TracePrepareStart(ctx, nil, pgx.TracePrepareStartData{Name: "s2", SQL: "SELECT 2"})
	tr.TracePrepareEnd(pctx, nil, pgx.TracePrepareEndData{})

	kctx := tr.TraceConnectStart(ctx, pgx.TraceConnectStartData{ConnConfig: &pgx.ConnConfig{}})
	tr.TraceConnectEnd(kctx, pgx.TraceConnectEndData{})

	// 2 queries + 1 batch + 1 copy + 1 real prepare; connect and an
	// already-prepared statement cost no round trip.
	if got := counter.Count(); got != 5 {
		t.Errorf("Count() = %d, want 5", got)
	}

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		byName[s.Name()] = s
	}
	for _, name := range []string{"db.batch", "A", "db.copy_from", "db.prepare", "db.connect", "GetLead"} {
		if _, ok := byName[name]; !ok {
			t.Errorf("no %q span among %d", name, len(rec.Ended()))
		}
	}
	if b, a := byName["db.batch"], byName["A"]; b != nil && a != nil {
		if a.Parent().SpanID() != b.SpanContext().SpanID() {
			t.Error("batch statement span is not a child of the batch span")
		}
		if v, _ := attrOf(b, "db.operation.batch.size"); v.AsInt64() != 2 {
			t.Errorf("db.operation.batch.size = %d, want 2", v.AsInt64())
		}
	}
	if got := counter.Reset(); got != 5 || counter.Count() != 0 {
		t.Errorf("Reset() = %d, then Count() = %d; want 5, 0", got, counter.Count())
	}
}

func TestSQLTracerCountsWithoutTracingAndConcurrently(t *testing.T) {
	counter := &QueryCounter{}
	tr := NewSQLTracer(nil, counter)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				runQuery(context.Background(), tr, "SELECT 1", nil)
			}
		})
	}
	wg.Wait()
	if got := counter.Count(); got != 800 {
		t.Errorf("Count() = %d, want 800", got)
	}

	// Counting only must not end or mark the caller's span.
	tp0, rec0 := newRecordingProvider(t)
	ctx, caller := tp0.Tracer("test").Start(context.Background(), "caller")
	runQuery(ctx, tr, "SELECT 1", errors.New("boom"))
	bctx := tr.TraceBatchStart(ctx, nil, pgx.TraceBatchStartData{})
	tr.TraceBatchQuery(bctx, nil, pgx.TraceBatchQueryData{SQL: "SELECT 1"})
	tr.TraceBatchEnd(bctx, nil, pgx.TraceBatchEndData{Err: errors.New("boom")})
	if len(rec0.Ended()) != 0 || !caller.IsRecording() {
		t.Error("a tracer without a provider ended the caller's span")
	}
	caller.End()
	if got := counter.Count(); got != 802 {
		t.Errorf("Count() = %d, want 802", got)
	}

	// And tracing without a counter.
	tp, rec := newRecordingProvider(t)
	runQuery(context.Background(), NewSQLTracer(tp, nil), "SELECT 1", nil)
	if len(rec.Ended()) != 1 {
		t.Errorf("ended spans = %d, want 1", len(rec.Ended()))
	}
}

func TestSpanNameFor(t *testing.T) {
	tests := []struct{ sql, want string }{
		{"-- name: GetLead :one\nSELECT 1", "GetLead"},
		{"-- name: GetLead :one", "GetLead"},
		{"-- name:  Spaced   :many\r\nSELECT 1", "Spaced"},
		{"-- name:\nSELECT 1", "db.query"},
		{"SELECT 1 -- name: NotAtStart :one", "db.query"},
		{"-- a comment\nSELECT 1", "db.query"},
		{"", "db.query"},
	}
	for _, tt := range tests {
		if got, _ := spanNameFor(tt.sql, "db.query"); got != tt.want {
			t.Errorf("spanNameFor(%q) = %q, want %q", tt.sql, got, tt.want)
		}
	}
}

func FuzzTruncateQuery(f *testing.F) {
	f.Add(strings.Repeat("é", 2000))
	f.Add(strings.Repeat("a", 2047) + "€")
	f.Fuzz(func(t *testing.T, sql string) {
		got := truncateQuery(sql)
		if len(got) > maxQueryText || !strings.HasPrefix(sql, got) {
			t.Fatalf("truncateQuery gave %d bytes, not a prefix", len(got))
		}
		if utf8.ValidString(sql) && !utf8.ValidString(got) {
			t.Fatal("truncation split a UTF-8 sequence")
		}
		if len(sql) > maxQueryText && len(got) < maxQueryText-utf8.UTFMax {
			t.Fatalf("cut too much: %d bytes", len(got))
		}
	})
}
