package domain

import (
	"fmt"
	"strings"
	"time"
)

// CivilTime is a date and time as a partner writes it ("data"): a wall-clock
// reading, to the second, normally without a zone. It becomes an instant only
// in the environment's time zone (In). When the partner wrote an RFC 3339
// offset, the offset is kept and wins over the zone.
type CivilTime struct {
	Year   int
	Month  time.Month
	Day    int
	Hour   int
	Minute int
	Second int

	hasOffset bool
	offset    int // seconds east of UTC, when hasOffset
}

// ParseCivilTime reads a partner date. Accepted, after trimming spaces:
//
//	2024-03-19 14:00        the form of the article's example
//	2024-03-19 14:00:05     with seconds (the form we send)
//	2024-03-19              a date alone: midnight
//	2024-03-19T14:00:05     'T' instead of the space (ISO 8601)
//	2024-03-19T14:00:05.5Z  RFC 3339: fractional seconds (dropped) and a zone
//	                        (Z, ±hh:mm, ±hhmm or ±hh) that In honours
//
// The date must exist (no 2024-02-30) and the year be 1900 to 9999: earlier
// years are typing mistakes, and 0001-01-01 would be Go's zero time.
// Day-first forms such as 19/03/2024 are refused: 03/04/2024 would mean
// different days to different partners, and a wrong day is worse than a 422.
func ParseCivilTime(field, s string) (CivilTime, error) {
	c, ok := parseCivil(strings.TrimSpace(s))
	if !ok {
		return CivilTime{}, invalid(field, "must be a date and time such as 2024-03-19 14:00 or 2024-03-19 14:00:00")
	}
	return c, nil
}

// parseCivil reads a trimmed partner date: the date, then an optional
// clock, then the checks that the reading exists.
func parseCivil(s string) (CivilTime, bool) {
	c, ok := parseCivilDate(s)
	if !ok {
		return CivilTime{}, false
	}
	if rest := s[10:]; rest != "" {
		if rest[0] != ' ' && rest[0] != 'T' && rest[0] != 't' {
			return CivilTime{}, false
		}
		if !parseCivilClock(rest[1:], &c) {
			return CivilTime{}, false
		}
	}
	if !c.valid() {
		return CivilTime{}, false
	}
	return c, true
}

// parseCivilDate reads the yyyy-mm-dd that starts s.
func parseCivilDate(s string) (CivilTime, bool) {
	var c CivilTime
	var ok1, ok2, ok3 bool
	var month int
	c.Year, ok1 = digitsAt(s, 0, 4)
	month, ok2 = digitsAt(s, 5, 2)
	c.Day, ok3 = digitsAt(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || !byteAt(s, 4, '-') || !byteAt(s, 7, '-') {
		return CivilTime{}, false
	}
	c.Month = time.Month(month)
	return c, true
}

// parseCivilClock reads hh:mm, optional :ss with an optional fraction
// (dropped), then an optional offset, into c.
func parseCivilClock(s string, c *CivilTime) bool {
	var okH, okM bool
	c.Hour, okH = digitsAt(s, 0, 2)
	c.Minute, okM = digitsAt(s, 3, 2)
	if !okH || !okM || !byteAt(s, 2, ':') {
		return false
	}
	i := 5
	if byteAt(s, i, ':') {
		var okS bool
		if c.Second, okS = digitsAt(s, i+1, 2); !okS {
			return false
		}
		i += 3
		if byteAt(s, i, '.') || byteAt(s, i, ',') {
			i++
			n := 0
			for i < len(s) && s[i] >= '0' && s[i] <= '9' && n < 9 {
				i++
				n++
			}
			if n == 0 {
				return false
			}
		}
	}
	if i < len(s) {
		off, ok := parseOffset(s[i:])
		if !ok {
			return false
		}
		c.hasOffset, c.offset = true, off
	}
	return true
}

// valid reports whether c's fields are in range and its date exists.
func (c CivilTime) valid() bool {
	if c.Year < 1900 || c.Month < 1 || c.Month > 12 || c.Hour > 23 || c.Minute > 59 || c.Second > 59 {
		return false
	}
	// time.Date normalises 2024-02-30 to March 1st: a round trip catches it.
	t := time.Date(c.Year, c.Month, c.Day, 0, 0, 0, 0, time.UTC)
	return t.Day() == c.Day && t.Month() == c.Month
}

// digitsAt reads the n decimal digits of s at from.
func digitsAt(s string, from, n int) (int, bool) {
	if from+n > len(s) {
		return 0, false
	}
	v := 0
	for _, ch := range []byte(s[from : from+n]) {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		v = v*10 + int(ch-'0')
	}
	return v, true
}

// byteAt reports whether s has ch at index at.
func byteAt(s string, at int, ch byte) bool { return at < len(s) && s[at] == ch }

// parseOffset reads Z, ±hh:mm, ±hhmm or ±hh into seconds east of UTC.
func parseOffset(z string) (int, bool) {
	if z == "Z" || z == "z" {
		return 0, true
	}
	if len(z) < 3 || (z[0] != '+' && z[0] != '-') {
		return 0, false
	}
	digits := z[1:]
	if len(digits) == 5 && digits[2] == ':' {
		digits = digits[:2] + digits[3:]
	}
	if len(digits) != 2 && len(digits) != 4 {
		return 0, false
	}
	v := [2]int{}
	for i := 0; i < len(digits); i++ {
		ch := digits[i]
		if ch < '0' || ch > '9' {
			return 0, false
		}
		v[i/2] = v[i/2]*10 + int(ch-'0')
	}
	if v[0] > 23 || v[1] > 59 {
		return 0, false
	}
	off := v[0]*3600 + v[1]*60
	if z[0] == '-' {
		off = -off
	}
	return off, true
}

// In returns the instant c names in loc (UTC when loc is nil), or, when the
// partner wrote an offset, the instant that offset names, shown in loc.
func (c CivilTime) In(loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	if c.hasOffset {
		return time.Date(c.Year, c.Month, c.Day, c.Hour, c.Minute, c.Second, 0, time.FixedZone("", c.offset)).In(loc)
	}
	return time.Date(c.Year, c.Month, c.Day, c.Hour, c.Minute, c.Second, 0, loc)
}

// Offset returns the UTC offset the partner wrote, in seconds east of UTC.
func (c CivilTime) Offset() (seconds int, ok bool) { return c.offset, c.hasOffset }

// IsZero reports whether c is the zero value (no date).
func (c CivilTime) IsZero() bool { return c == CivilTime{} }

// String formats c as the partner JSON does (PartnerTimeLayout), followed by
// the offset when there is one.
func (c CivilTime) String() string {
	s := fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", c.Year, int(c.Month), c.Day, c.Hour, c.Minute, c.Second)
	if !c.hasOffset {
		return s
	}
	if c.offset == 0 {
		return s + "Z"
	}
	sign, off := '+', c.offset
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("%s%c%02d:%02d", s, sign, off/3600, off/60%60)
}
