package domain

import (
	"net/textproto"
	"net/url"
	"strings"
)

// Secrets are found by the name they travel under, not by a list of the
// names met so far: a header or a query parameter whose name says token,
// key, secret, signature, password or authorization (X-Api-Key,
// X-Partner-Token, api_key, access_token, webhook-signature…) hides its
// value wherever Call Connect shows or logs it. A secret under a name that
// says nothing (a path segment, "?k=…") cannot be told from data; a
// partner that needs one in its URL should give it a telling name.

// secretWords make a name secret wherever they appear in it, in any case
// and whatever separates the words ("X-Partner-Token", "partnertoken").
var secretWords = []string{
	"token", "key", "secret", "signature", "password", "passwd", "pwd",
	"auth", // authorization, authentication, oauth, x-auth
	"credential", "cookie", "session",
}

// secretNames are secret as whole names only: as words they are too short
// or too common to look for inside others ("sig" in "design").
var secretNames = map[string]bool{
	"sig":   true, // signed URLs (Azure SAS and others)
	"pass":  true,
	"jwt":   true,
	"email": true, // the partner's credential pair, with the token header
}

// notSecretNames contain a secret word but name no secret.
var notSecretNames = map[string]bool{
	"idempotencykey": true, // what makes a retry safe: operators look for it
	"tokenid":        true, // the public half of a partner token
	"keyid":          true,
}

// SecretName reports whether a header, query parameter or log attribute
// named name carries a secret.
func SecretName(name string) bool {
	n := normalName(name)
	if notSecretNames[n] {
		return false
	}
	if secretNames[n] {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// normalName is name in lower case without separators: "X-Api-Key",
// "x_api_key" and "xApiKey" are one name.
func normalName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 0x80:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// urlHeaders carry a URL, whose query may carry a secret.
var urlHeaders = map[string]bool{"Referer": true, "Location": true, "Content-Location": true}

// RedactHeaders returns a copy of h, names canonical, with the values of
// secret headers replaced by Redacted and the secret query parameters of
// URL headers (Referer, Location) redacted.
func RedactHeaders(h map[string][]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		name := textproto.CanonicalMIMEHeaderKey(k)
		switch {
		case SecretName(name):
			out[name] = []string{Redacted}
		case urlHeaders[name]:
			for _, v := range vs {
				out[name] = append(out[name], RedactURL(v))
			}
		default:
			out[name] = append(out[name], vs...)
		}
	}
	return out
}

// refusedHeaders are all that is kept of a refused request's headers: what
// tells what was sent and by what, never a credential. Whoever knows a
// token's id can have requests refused in its environment's name, so what
// such a request stores is kept to these.
var refusedHeaders = map[string]bool{
	"Accept":           true,
	"Content-Encoding": true,
	"Content-Length":   true,
	"Content-Type":     true,
	"Idempotency-Key":  true,
	"Traceparent":      true,
	"User-Agent":       true,
}

// MaxRefusedHeaderValue is how much of each header value of a refused
// request is kept.
const MaxRefusedHeaderValue = 256

// RefusedRequestHeaders returns what the monitor keeps of a refused
// request's headers: the safe ones only (Content-Type, Content-Length,
// User-Agent, Idempotency-Key…), names canonical, one value each, cut at
// MaxRefusedHeaderValue bytes.
func RefusedRequestHeaders(h map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, vs := range h {
		name := textproto.CanonicalMIMEHeaderKey(k)
		if !refusedHeaders[name] || len(vs) == 0 || out[name] != nil {
			continue
		}
		v := vs[0]
		if len(v) > MaxRefusedHeaderValue {
			cut := MaxRefusedHeaderValue
			for cut > 0 && v[cut]&0xC0 == 0x80 {
				cut--
			}
			v = v[:cut] + TruncatedMarker
		}
		out[name] = []string{strings.ToValidUTF8(v, "\uFFFD")}
	}
	return out
}

// RedactURL returns raw, absolute or a path with its query, with the values
// of its secret query parameters (and fragment parameters) replaced by
// Redacted and any user information in its authority replaced whole. The
// rest is left byte for byte as it was, so that what is shown is what was
// sent, less the secrets. Delivery always uses the real URL.
func RedactURL(raw string) string {
	rest, fragment, hasFragment := strings.Cut(raw, "#")
	base, query, hasQuery := strings.Cut(rest, "?")
	out := redactUserinfo(base)
	if hasQuery {
		out += "?" + redactQuery(query)
	}
	if hasFragment {
		out += "#" + redactQuery(fragment)
	}
	return out
}

// redactUserinfo hides "user:password@" in the authority of base.
func redactUserinfo(base string) string {
	start := 0
	if i := strings.Index(base, "://"); i >= 0 {
		start = i + 3
	} else if strings.HasPrefix(base, "//") {
		start = 2
	} else {
		return base
	}
	end := len(base)
	if i := strings.IndexByte(base[start:], '/'); i >= 0 {
		end = start + i
	}
	at := strings.LastIndexByte(base[start:end], '@')
	if at < 0 {
		return base
	}
	return base[:start] + Redacted + base[start+at:]
}

// RedactQuery returns a query string (without its "?") with the values of
// its secret parameters replaced by Redacted.
func RedactQuery(q string) string { return redactQuery(q) }

// redactQuery redacts the values of the secret parameters of a query,
// split on & and on ; (which some servers take as a separator too).
func redactQuery(q string) string {
	var b strings.Builder
	start := 0
	for i := 0; i <= len(q); i++ {
		if i < len(q) && q[i] != '&' && q[i] != ';' {
			continue
		}
		pair := q[start:i]
		if name, _, ok := strings.Cut(pair, "="); ok {
			decoded, err := url.QueryUnescape(name)
			if err != nil {
				decoded = name
			}
			if SecretName(decoded) {
				pair = name + "=" + Redacted
			}
		}
		b.WriteString(pair)
		if i < len(q) {
			b.WriteByte(q[i])
		}
		start = i + 1
	}
	return b.String()
}

// RedactURLsIn returns text (a log message, an error) with every http(s)
// URL in it passed through RedactURL. A URL ends at white space or a quote.
func RedactURLsIn(text string) string {
	lower := strings.ToLower(text)
	if !strings.Contains(lower, "://") {
		return text
	}
	var b strings.Builder
	i := 0
	for i < len(text) {
		j := nextURL(lower, i)
		if j < 0 {
			break
		}
		end := j
		for end < len(text) && !strings.ContainsRune(" \t\r\n\"'<>`", rune(text[end])) {
			end++
		}
		b.WriteString(text[i:j])
		b.WriteString(RedactURL(text[j:end]))
		i = end
	}
	b.WriteString(text[i:])
	return b.String()
}

// nextURL is where the next "http://" or "https://" of lower starts, from
// from on; -1 when there is none.
func nextURL(lower string, from int) int {
	best := -1
	for _, scheme := range []string{"http://", "https://"} {
		if k := strings.Index(lower[from:], scheme); k >= 0 && (best < 0 || from+k < best) {
			best = from + k
		}
	}
	return best
}
