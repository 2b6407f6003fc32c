package app

import (
	"context"
	"fmt"
	"slices"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// The page sizes of the CRM's calls list: as the monitor's.
const (
	DefaultCallListPage = domain.DefaultExchangePage
	MaxCallListPage     = domain.MaxExchangePage
)

// CallQuery is what the CRM's calls list is asked for; zero fields select
// everything. Text fields are as clients send them, and are checked here,
// as the monitor checks its list's.
type CallQuery struct {
	Status string    // a call status, no_result as calls read now; "" for any
	LeadID string    // the calls on one lead
	UserID string    // the calls one user placed
	Since  time.Time // clicked at or after; zero for no bound
	Until  time.Time // clicked before; zero for no bound
	Cursor string    // NextCursor of the previous page; "" for the first page
	Limit  int       // page size, 1 to MaxCallListPage; 0 for DefaultCallListPage
}

// CallListPage is one page of the CRM's calls list.
type CallListPage struct {
	// Calls are newest first (by click time, then id descending), as they
	// read now: a delivered call past its result deadline is no_result.
	Calls []domain.Call
	// Recordings has the id of each listed call's latest recording, by call
	// id; a call without one is not in it.
	Recordings map[string]string
	// NextCursor asks for the page after this one; "" on the last page.
	NextCursor string
}

// filter turns the client's query into the store's, or names the field
// that is wrong. The cursor is the monitor's (domain.EncodeKeyset).
func (q CallQuery) filter() (ports.CallFilter, error) {
	f := ports.CallFilter{Status: domain.CallStatus(q.Status), LeadID: q.LeadID, UserID: q.UserID,
		// The store keeps microseconds: bounds finer than that would compare
		// differently in memory and in PostgreSQL.
		From: q.Since.Truncate(time.Microsecond), To: q.Until.Truncate(time.Microsecond)}
	if f.Status != "" && !slices.Contains(domain.CallStatuses, f.Status) {
		return f, invalidField("status", fmt.Sprintf("unknown call status %q", q.Status))
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, invalidField("until", "must be later than since")
	}
	if q.Cursor != "" {
		at, id, ok := domain.DecodeKeyset(q.Cursor)
		if !ok {
			return f, invalidField("cursor", "is not a cursor this service gave out (use next_cursor of the previous page as it is)")
		}
		f.Before = &ports.CallCursor{ClickedAt: at, ID: id}
	}
	switch {
	case q.Limit == 0:
		f.Limit = DefaultCallListPage
	case q.Limit < 0 || q.Limit > MaxCallListPage:
		return f, invalidField("limit", fmt.Sprintf("must be from 1 to %d, got %d", MaxCallListPage, q.Limit))
	default:
		f.Limit = q.Limit
	}
	return f, nil
}

func invalidField(field, message string) error {
	return &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidField, Field: field, Message: message}
}

// ListCalls returns a page of the environment's calls that q selects, with
// their recordings, from one snapshot: the page costs two queries (the
// calls, their recordings) however many it holds. Paging with NextCursor
// neither repeats nor skips a call while new ones are placed: a new call is
// newer than every cursor given out before it.
func (s *Calls) ListCalls(ctx context.Context, envID string, q CallQuery) (CallListPage, error) {
	f, err := q.filter()
	if err != nil {
		return CallListPage{}, err
	}
	want := f.Limit
	f.Limit++ // one more tells whether another page follows
	now := s.clock.Now()
	f.NoResultAcceptedBy = now.Add(-s.cfg.ResultDeadline)
	var page CallListPage
	err = s.reads.Read(ctx, func(ctx context.Context, r callReads) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		calls, err := r.ListCalls(ctx, envID, f)
		if err != nil {
			return err
		}
		if len(calls) > want {
			calls = calls[:want]
			last := calls[want-1]
			page.NextCursor = domain.EncodeKeyset(last.ClickedAt(), last.ID())
		}
		ids := make([]string, len(calls))
		for n, c := range calls {
			calls[n], ids[n] = s.asRead(c, now), c.ID()
		}
		page.Calls = calls
		page.Recordings, err = r.LatestCallRecordings(ctx, envID, ids)
		return err
	})
	return page, err
}
