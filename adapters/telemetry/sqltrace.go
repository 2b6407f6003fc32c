package telemetry

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// sqlTracerName is the instrumentation scope of the SQL spans.
const sqlTracerName = "callconnect/adapters/telemetry/sql"

// maxQueryText bounds db.query.text; long generated queries are cut at a rune
// boundary.
const maxQueryText = 2048

// Span names used when the SQL carries no sqlc name.
const (
	spanQuery    = "db.query"
	spanBatch    = "db.batch"
	spanCopyFrom = "db.copy_from"
	spanPrepare  = "db.prepare"
	spanConnect  = "db.connect"
)

// QueryCounter counts SQL round trips made through an SQLTracer: one per
// query or exec, one per batch however many statements it holds, one per
// CopyFrom, one per Prepare that was not already prepared. Connecting is not
// counted. Benchmarks read it to show that a use case costs a constant number
// of round trips. Safe for concurrent use; the zero value is ready.
type QueryCounter struct {
	n atomic.Int64
}

// Count returns the round trips counted so far.
func (c *QueryCounter) Count() int64 { return c.n.Load() }

// Reset sets the count back to zero and returns what it was.
func (c *QueryCounter) Reset() int64 { return c.n.Swap(0) }

func (c *QueryCounter) add() {
	if c != nil {
		c.n.Add(1)
	}
}

// SQLTracer is a pgx tracer (set it as pgx.ConnConfig.Tracer, or on the pool
// config's ConnConfig) that makes a client span per query, batch, CopyFrom,
// Prepare and connect, and counts round trips when given a counter.
//
// A span is named after the sqlc query when the SQL starts with sqlc's
// "-- name: GetLead :one" comment, and "db.query" otherwise. Query arguments
// are never recorded.
type SQLTracer struct {
	tracer  trace.Tracer // nil: count only, make no spans
	counter *QueryCounter
}

var (
	_ pgx.QueryTracer    = (*SQLTracer)(nil)
	_ pgx.BatchTracer    = (*SQLTracer)(nil)
	_ pgx.CopyFromTracer = (*SQLTracer)(nil)
	_ pgx.PrepareTracer  = (*SQLTracer)(nil)
	_ pgx.ConnectTracer  = (*SQLTracer)(nil)
)

// NewSQLTracer returns a tracer making spans with tp and counting round trips
// in counter. Either may be nil: a nil tp makes no spans (counting only), a
// nil counter counts nothing.
func NewSQLTracer(tp trace.TracerProvider, counter *QueryCounter) *SQLTracer {
	t := &SQLTracer{counter: counter}
	if tp != nil {
		t.tracer = tp.Tracer(sqlTracerName)
	}
	return t
}

// TraceQueryStart starts the span for a Query, QueryRow or Exec.
func (t *SQLTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	t.counter.add()
	if t.tracer == nil {
		return ctx
	}
	name, summary := spanNameFor(data.SQL, spanQuery)
	attrs := append(connAttributes(conn), semconv.DBQueryText(truncateQuery(data.SQL)))
	if summary != "" {
		attrs = append(attrs, semconv.DBQuerySummary(summary))
	}
	ctx, _ = t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx
}

// TraceQueryEnd ends the span started by TraceQueryStart.
func (t *SQLTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	t.end(ctx, data.Err)
}

// TraceBatchStart starts the span for a SendBatch; each statement in it
// becomes a child span when its result is read.
func (t *SQLTracer) TraceBatchStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	t.counter.add()
	if t.tracer == nil {
		return ctx
	}
	attrs := append(connAttributes(conn), semconv.DBOperationName("BATCH"))
	if data.Batch != nil {
		attrs = append(attrs, semconv.DBOperationBatchSize(data.Batch.Len()))
	}
	ctx, _ = t.tracer.Start(ctx, spanBatch, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx
}

// TraceBatchQuery records one statement of a batch as a child span covering
// the time its result was read.
func (t *SQLTracer) TraceBatchQuery(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchQueryData) {
	if t.tracer == nil {
		return
	}
	name, summary := spanNameFor(data.SQL, spanQuery)
	attrs := append(connAttributes(conn), semconv.DBQueryText(truncateQuery(data.SQL)))
	if summary != "" {
		attrs = append(attrs, semconv.DBQuerySummary(summary))
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...)}
	if !data.ReadStartTime.IsZero() {
		opts = append(opts, trace.WithTimestamp(data.ReadStartTime))
	}
	_, span := t.tracer.Start(ctx, name, opts...)
	endSpan(span, data.Err)
}

// TraceBatchEnd ends the span started by TraceBatchStart.
func (t *SQLTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	t.end(ctx, data.Err)
}

// TraceCopyFromStart starts the span for a CopyFrom.
func (t *SQLTracer) TraceCopyFromStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	t.counter.add()
	if t.tracer == nil {
		return ctx
	}
	attrs := append(connAttributes(conn),
		semconv.DBOperationName("COPY"),
		semconv.DBCollectionName(data.TableName.Sanitize()),
	)
	ctx, _ = t.tracer.Start(ctx, spanCopyFrom, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx
}

// TraceCopyFromEnd ends the span started by TraceCopyFromStart.
func (t *SQLTracer) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromEndData) {
	t.end(ctx, data.Err)
}

// TracePrepareStart starts the span for an explicit Prepare.
func (t *SQLTracer) TracePrepareStart(ctx context.Context, conn *pgx.Conn, data pgx.TracePrepareStartData) context.Context {
	if t.tracer == nil {
		return ctx
	}
	_, summary := spanNameFor(data.SQL, "")
	attrs := append(connAttributes(conn), semconv.DBQueryText(truncateQuery(data.SQL)))
	if summary != "" {
		attrs = append(attrs, semconv.DBQuerySummary(summary))
	}
	ctx, _ = t.tracer.Start(ctx, spanPrepare, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx
}

// TracePrepareEnd ends the span started by TracePrepareStart, counting a
// round trip unless the statement was already prepared on the connection.
func (t *SQLTracer) TracePrepareEnd(ctx context.Context, _ *pgx.Conn, data pgx.TracePrepareEndData) {
	if !data.AlreadyPrepared {
		t.counter.add()
	}
	if t.tracer == nil {
		return
	}
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.Bool("db.pgx.already_prepared", data.AlreadyPrepared))
	endSpan(span, data.Err)
}

// end ends the span the matching Start method put in ctx. Without a tracer
// there is none, and the span in ctx belongs to the caller: leave it alone.
func (t *SQLTracer) end(ctx context.Context, err error) {
	if t.tracer != nil {
		endSpan(trace.SpanFromContext(ctx), err)
	}
}

// TraceConnectStart starts the span for opening a connection.
func (t *SQLTracer) TraceConnectStart(ctx context.Context, data pgx.TraceConnectStartData) context.Context {
	if t.tracer == nil {
		return ctx
	}
	attrs := []attribute.KeyValue{semconv.DBSystemNamePostgreSQL}
	if cfg := data.ConnConfig; cfg != nil {
		attrs = append(attrs, configAttributes(cfg.Host, cfg.Port, cfg.Database)...)
	}
	ctx, _ = t.tracer.Start(ctx, spanConnect, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx
}

// TraceConnectEnd ends the span started by TraceConnectStart.
func (t *SQLTracer) TraceConnectEnd(ctx context.Context, data pgx.TraceConnectEndData) {
	t.end(ctx, data.Err)
}

// endSpan marks the span failed when err is a failure and ends it.
// pgx.ErrNoRows is an answer, not a failure.
func endSpan(span trace.Span, err error) {
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		errType := "_OTHER"
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr):
			errType = pgErr.Code
			span.SetAttributes(semconv.DBResponseStatusCode(pgErr.Code))
		case errors.Is(err, context.Canceled):
			errType = "context.Canceled"
		case errors.Is(err, context.DeadlineExceeded):
			errType = "context.DeadlineExceeded"
		}
		span.SetAttributes(semconv.ErrorTypeKey.String(errType))
	}
	span.End()
}

// connAttributes describes the database a connection talks to.
func connAttributes(conn *pgx.Conn) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, semconv.DBSystemNamePostgreSQL)
	if conn == nil {
		return attrs
	}
	// Config copies the configuration; that costs far less than the round
	// trip being traced.
	cfg := conn.Config()
	return append(attrs, configAttributes(cfg.Host, cfg.Port, cfg.Database)...)
}

func configAttributes(host string, port uint16, database string) []attribute.KeyValue {
	var attrs []attribute.KeyValue
	if host != "" {
		attrs = append(attrs, semconv.ServerAddress(host))
	}
	if port != 0 {
		attrs = append(attrs, semconv.ServerPort(int(port)))
	}
	if database != "" {
		attrs = append(attrs, semconv.DBNamespace(database))
	}
	return attrs
}

// spanNameFor names a span after the sqlc query in sql's leading
// "-- name: X :kind" comment, returning fallback and no summary when there
// is none.
func spanNameFor(sql, fallback string) (name, summary string) {
	rest, ok := strings.CutPrefix(strings.TrimLeft(sql, " \t\r\n"), "-- name:")
	if !ok {
		return fallback, ""
	}
	line, _, _ := strings.Cut(rest, "\n")
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return fallback, ""
	}
	return fields[0], fields[0]
}

// truncateQuery cuts sql to at most maxQueryText bytes without splitting a
// UTF-8 sequence.
func truncateQuery(sql string) string {
	if len(sql) <= maxQueryText {
		return sql
	}
	// In UTF-8 a rune starts at most UTFMax-1 bytes back; text that has
	// none there is not UTF-8, and is cut at the bound.
	for cut := maxQueryText; cut > maxQueryText-utf8.UTFMax; cut-- {
		if utf8.RuneStart(sql[cut]) {
			return sql[:cut]
		}
	}
	return sql[:maxQueryText]
}
