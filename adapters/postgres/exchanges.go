package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

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
	return r.writeHot(e.EnvID, "exchange", func(q *gen.Queries) error { return q.RecordExchange(ctx, params) })
}

// storableText makes s acceptable to text and jsonb columns, which refuse
// invalid UTF-8 and NUL: each run of invalid bytes and each NUL becomes
// U+FFFD. What partners send is not ours to choose, and a record that cannot
// be stored must not cost the outcome it is written with.
func storableText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
