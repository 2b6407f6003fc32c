package domain

import (
	"strings"
	"time"
)

// Direction says who started an exchange with a partner.
type Direction string

const (
	Outbound Direction = "out" // Call Connect → partner (a call delivery)
	Inbound  Direction = "in"  // partner → Call Connect (a callback)
)

// MaxExchangeBody is how much of a body the monitor keeps.
const MaxExchangeBody = 64 << 10

// TruncatedMarker ends a body the monitor cut.
const TruncatedMarker = "…[truncated]"

// Redacted replaces a secret value (of a header, a query parameter, a
// URL's user information) wherever one would be shown or logged.
const Redacted = "[redacted]"

// Exchange is one HTTP request and answer between Call Connect and a
// partner, as the integration monitor (CVIO) shows it: secrets redacted,
// bodies truncated.
type Exchange struct {
	ID             string
	EnvID          string
	Direction      Direction
	Method         string
	URL            string
	StatusCode     int // 0 when no answer came back
	Duration       time.Duration
	CallID         string
	LeadID         string
	OccurredAt     time.Time
	RequestHeaders map[string][]string
	RequestBody    string
	ResponseBody   string
	Error          string
}

// TruncateBody keeps at most MaxExchangeBody bytes of b, cut on a UTF-8
// boundary and marked when cut.
func TruncateBody(b []byte) string {
	if len(b) <= MaxExchangeBody {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	cut := MaxExchangeBody
	for cut > 0 && b[cut]&0xC0 == 0x80 {
		cut--
	}
	return strings.ToValidUTF8(string(b[:cut]), "\uFFFD") + TruncatedMarker
}
