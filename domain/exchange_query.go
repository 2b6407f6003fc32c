package domain

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Page sizes of the monitor's list.
const (
	DefaultExchangePage = 50
	MaxExchangePage     = 200
)

// StatusRange is an inclusive range of HTTP status codes; 0 stands for "no
// answer came back".
type StatusRange struct{ Min, Max int }

// Contains reports whether code is in the range.
func (r StatusRange) Contains(code int) bool { return r.Min <= code && code <= r.Max }

// ParseStatusRange reads the monitor's status filter: an exact code ("404",
// "0" for no answer) or a class ("4xx" is 400–499).
func ParseStatusRange(s string) (StatusRange, error) {
	bad := invalid("status", "must be a status code from 0 to 999 (e.g. 404) or a class from 1xx to 5xx (e.g. 4xx), got %q", s)
	if len(s) == 3 && (s[1:] == "xx" || s[1:] == "XX") && s[0] >= '1' && s[0] <= '5' {
		lo := int(s[0]-'0') * 100
		return StatusRange{Min: lo, Max: lo + 99}, nil
	}
	if s == "" || len(s) > 3 {
		return StatusRange{}, bad
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || s[0] == '+' {
		return StatusRange{}, bad
	}
	return StatusRange{Min: n, Max: n}, nil
}

// ExchangeFilter selects exchanges of an environment for the monitor; zero
// fields select everything.
type ExchangeFilter struct {
	Direction Direction // "" for both
	CallID    string
	LeadID    string
	Status    *StatusRange // nil for any
	Since     time.Time    // occurred at or after; zero for no bound
	Until     time.Time    // occurred before; zero for no bound
}

// Check refuses a filter that cannot mean anything, naming the field.
func (f ExchangeFilter) Check() error {
	if f.Direction != "" && f.Direction != Inbound && f.Direction != Outbound {
		return invalid("direction", "must be in or out, got %q", f.Direction)
	}
	if err := checkOptionalID("call_id", f.CallID); err != nil {
		return err
	}
	if err := checkOptionalID("lead_id", f.LeadID); err != nil {
		return err
	}
	if f.Status != nil && (f.Status.Min < 0 || f.Status.Max > 999 || f.Status.Min > f.Status.Max) {
		return invalid("status", "must be a range within 0–999")
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return invalid("until", "must be later than since")
	}
	return nil
}

// Matches reports whether e is selected by f (in-memory stores; PostgreSQL
// says the same in SQL).
func (f ExchangeFilter) Matches(e Exchange) bool {
	return (f.Direction == "" || e.Direction == f.Direction) &&
		(f.CallID == "" || e.CallID == f.CallID) &&
		(f.LeadID == "" || e.LeadID == f.LeadID) &&
		(f.Status == nil || f.Status.Contains(e.StatusCode)) &&
		(f.Since.IsZero() || !e.OccurredAt.Before(f.Since)) &&
		(f.Until.IsZero() || e.OccurredAt.Before(f.Until))
}

// ExchangeCursor is a position in the monitor's list, which is ordered by
// OccurredAt, then ID (byte order), both descending: a page after the cursor
// holds what comes strictly after it in that order. Exchanges recorded
// meanwhile with a later time do not shift the pages that follow, so paging
// neither repeats nor skips an exchange.
type ExchangeCursor struct {
	OccurredAt time.Time
	ID         string
}

// IsZero reports whether c is the start of the list.
func (c ExchangeCursor) IsZero() bool { return c.ID == "" && c.OccurredAt.IsZero() }

// CursorAfter is the position just after e.
func CursorAfter(e Exchange) ExchangeCursor {
	return ExchangeCursor{OccurredAt: e.OccurredAt, ID: e.ID}
}

// Before reports whether e comes after the cursor in the list's order
// (older, or as old with a smaller id).
func (c ExchangeCursor) Before(e Exchange) bool {
	if c.IsZero() {
		return true
	}
	if at := e.OccurredAt.Compare(c.OccurredAt); at != 0 {
		return at < 0
	}
	return e.ID < c.ID
}

// cursorPrefix versions the encoding.
const cursorPrefix = "x1."

// String encodes the cursor as an opaque, URL-safe token.
func (c ExchangeCursor) String() string {
	if c.IsZero() {
		return ""
	}
	return EncodeKeyset(c.OccurredAt, c.ID)
}

// EncodeKeyset encodes a keyset position — a time and an id, as the
// monitor's and the calls' newest-first lists page by — as an opaque,
// URL-safe token; DecodeKeyset reads it back.
func EncodeKeyset(at time.Time, id string) string {
	raw := strconv.FormatInt(at.UnixMicro(), 10) + "." + id
	return cursorPrefix + base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeKeyset reads what EncodeKeyset wrote; false for anything else,
// including a time outside the years a timestamp of the service holds.
func DecodeKeyset(s string) (time.Time, string, bool) {
	body, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok {
		return time.Time{}, "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return time.Time{}, "", false
	}
	micros, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || !ValidID(id) || n < minCursorMicros || n >= maxCursorMicros {
		return time.Time{}, "", false
	}
	return time.UnixMicro(n).UTC(), id, true
}

// A cursor's time lies in years 1 to 9999, as every time the service
// records does: a forged one outside them would otherwise reach the database
// as a timestamp it cannot hold.
var (
	minCursorMicros = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxCursorMicros = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
)

// ParseExchangeCursor reads what String wrote; "" is the start of the list.
func ParseExchangeCursor(s string) (ExchangeCursor, error) {
	if s == "" {
		return ExchangeCursor{}, nil
	}
	at, id, ok := DecodeKeyset(s)
	if !ok {
		return ExchangeCursor{}, invalid("cursor", "is not a cursor this service gave out (use next_cursor of the previous page as it is)")
	}
	return ExchangeCursor{OccurredAt: at, ID: id}, nil
}

// DayStart is the start of t's day in UTC: the monitor keeps and drops
// exchanges by UTC day.
func DayStart(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
