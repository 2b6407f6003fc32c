package domain

import (
	"net/textproto"
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

// Redacted replaces a secret header value in the monitor.
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

// secretHeaders are never shown in the monitor.
var secretHeaders = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"Cookie":              true,
	"Set-Cookie":          true,
	"Token":               true,
	"Email":               true, // the partner credential pair, with Token
	"Webhook-Signature":   true,
	"X-Api-Key":           true,
}

// RedactHeaders returns a copy of h, names canonical, with the values of
// secret headers replaced by Redacted.
func RedactHeaders(h map[string][]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		name := textproto.CanonicalMIMEHeaderKey(k)
		if secretHeaders[name] {
			out[name] = []string{Redacted}
			continue
		}
		out[name] = append(out[name], vs...)
	}
	return out
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
