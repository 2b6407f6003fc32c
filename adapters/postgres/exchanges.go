package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"callconnect/adapters/postgres/gen"
	"callconnect/domain"
)

// RecordExchange stores one exchange for the monitor. Times are kept to the
// microsecond, the duration to the millisecond; text is made storable (see
// storableText).
func (r *repositories) RecordExchange(ctx context.Context, e domain.Exchange) error {
	// Checked here rather than left to the CHECKs: a negative duration of
	// less than a millisecond would reach the column as 0, and a status code
	// beyond int32 would wrap.
	if e.Duration < 0 {
		return fmt.Errorf("postgres: exchange %q: negative duration %v", e.ID, e.Duration)
	}
	if e.StatusCode < 0 || e.StatusCode > math.MaxInt32 {
		return fmt.Errorf("postgres: exchange %q: status code %d out of range", e.ID, e.StatusCode)
	}
	headers := make(map[string][]string, len(e.RequestHeaders))
	for name, values := range e.RequestHeaders {
		clean := make([]string, len(values))
		for n, v := range values {
			clean[n] = storableText(v)
		}
		headers[storableText(name)] = clean
	}
	doc, err := json.Marshal(headers)
	if err != nil {
		return fmt.Errorf("postgres: exchange %q: request headers: %w", e.ID, err)
	}
	params := gen.RecordExchangeParams{
		ID:             e.ID,
		EnvID:          e.EnvID,
		Direction:      string(e.Direction),
		Method:         storableText(e.Method),
		Url:            storableText(e.URL),
		StatusCode:     int32(e.StatusCode),
		DurationMs:     e.Duration.Milliseconds(),
		CallID:         optional(e.CallID),
		LeadID:         optional(e.LeadID),
		OccurredAt:     e.OccurredAt,
		RequestHeaders: doc,
		RequestBody:    optional(storableText(e.RequestBody)),
		ResponseBody:   optional(storableText(e.ResponseBody)),
		Error:          optional(storableText(e.Error)),
	}
	if r.readOnly {
		return errReadOnly
	}
	if err := r.store.readyDay(ctx, r.tx, domain.DayStart(e.OccurredAt)); err != nil {
		return err
	}
	if err := r.writeHot(e.EnvID, "exchange", func(q *gen.Queries) error { return q.RecordExchange(ctx, params) }); err != nil {
		return err
	}
	// Counted once the transaction commits (a refused write fails the commit).
	r.recorded = append(r.recorded, recordedExchange{direction: e.Direction, statusCode: e.StatusCode})
	return nil
}

// storableText makes s acceptable to text and jsonb columns, which refuse
// invalid UTF-8 and NUL: each run of invalid bytes and each NUL becomes
// U+FFFD. What partners send is not ours to choose, and a record that cannot
// be stored must not cost the outcome it is written with.
func storableText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// exchangeSummaryColumns are what the monitor's list shows: neither headers
// nor bodies, which may be 64 KiB each.
const exchangeSummaryColumns = `id, env_id, direction, method, url, status_code, duration_ms,
	coalesce(call_id, ''), coalesce(lead_id, ''), occurred_at, coalesce(error, '')`

// ListExchanges builds its WHERE clause from the filters given, rather than
// one static query with "$n IS NULL OR ..." for each: a prepared statement's
// generic plan could not pick the call or lead index for a filter that may
// be absent. Every clause is a bound parameter. The cursor is a row
// comparison on (occurred_at, id), which the indexes exchanges_env_time,
// exchanges_env_call and exchanges_env_lead serve in their order (keyset
// pagination: a deep page costs what the first does); the extra
// occurred_at <= bound lets PostgreSQL skip the newer days' partitions.
func (r *repositories) ListExchanges(ctx context.Context, envID string, f domain.ExchangeFilter, after domain.ExchangeCursor, limit int) ([]domain.Exchange, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("postgres: ListExchanges: limit %d, want at least 1", limit)
	}
	query, args := listExchangesQuery(envID, f, after, limit)
	rows, err := r.tx.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing exchanges: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Exchange, error) {
		var e domain.Exchange
		var ms int64
		err := row.Scan(&e.ID, &e.EnvID, &e.Direction, &e.Method, &e.URL, &e.StatusCode, &ms,
			&e.CallID, &e.LeadID, &e.OccurredAt, &e.Error)
		e.Duration = time.Duration(ms) * time.Millisecond
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: listing exchanges: %w", err)
	}
	return out, nil
}

// listExchangesQuery is ListExchanges' statement and its arguments.
func listExchangesQuery(envID string, f domain.ExchangeFilter, after domain.ExchangeCursor, limit int) (string, []any) {
	var q strings.Builder
	args := []any{envID}
	q.WriteString(`SELECT ` + exchangeSummaryColumns + ` FROM exchanges WHERE env_id = $1`)
	where := func(clause string, v any) {
		args = append(args, v)
		q.WriteString(" AND " + strings.ReplaceAll(clause, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Direction != "" {
		where("direction = ?", string(f.Direction))
	}
	if f.CallID != "" {
		where("call_id = ?", f.CallID)
	}
	if f.LeadID != "" {
		where("lead_id = ?", f.LeadID)
	}
	if s := f.Status; s != nil {
		if s.Min == s.Max {
			where("status_code = ?", int32(s.Min))
		} else {
			where("status_code >= ?", int32(s.Min))
			where("status_code <= ?", int32(s.Max))
		}
	}
	if !f.Since.IsZero() {
		where("occurred_at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		where("occurred_at < ?", f.Until)
	}
	if !after.IsZero() {
		where("occurred_at <= ?", after.OccurredAt)
		at := "$" + strconv.Itoa(len(args))
		where("(occurred_at, id) < ("+at+", ?)", after.ID)
	}
	args = append(args, limit)
	q.WriteString(" ORDER BY occurred_at DESC, id DESC LIMIT $" + strconv.Itoa(len(args)))

	return q.String(), args
}

// GetExchange reads one exchange whole.
func (r *repositories) GetExchange(ctx context.Context, envID, id string) (domain.Exchange, error) {
	row, err := r.q.GetExchange(ctx, gen.GetExchangeParams{EnvID: envID, ID: id})
	if err != nil {
		return domain.Exchange{}, notFound(err, fmt.Sprintf("exchange %q of environment %q", id, envID))
	}
	e := domain.Exchange{
		ID: row.ID, EnvID: row.EnvID, Direction: domain.Direction(row.Direction), Method: row.Method, URL: row.Url,
		StatusCode: int(row.StatusCode), Duration: time.Duration(row.DurationMs) * time.Millisecond,
		CallID: deref(row.CallID), LeadID: deref(row.LeadID), OccurredAt: row.OccurredAt,
		RequestBody: deref(row.RequestBody), ResponseBody: deref(row.ResponseBody), Error: deref(row.Error),
	}
	if err := json.Unmarshal(row.RequestHeaders, &e.RequestHeaders); err != nil {
		return domain.Exchange{}, fmt.Errorf("postgres: exchange %q: request headers: %w", id, err)
	}
	if e.RequestHeaders == nil {
		e.RequestHeaders = map[string][]string{}
	}
	return e, nil
}
