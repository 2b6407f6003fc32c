package telemetry

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"callconnect/domain"
)

// RedactAttr is the loggers' ReplaceAttr: no log line carries a secret,
// whatever its author passed. An attribute whose key names a secret
// (token, api_key, password, authorization…: domain.SecretName) reads
// domain.Redacted; URLs have their secret query values redacted (attributes
// keyed url, uri, path, query, location…, and any http(s) URL inside a
// message, an error or another text); headers have their secret values
// redacted.
func RedactAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Key {
	case slog.TimeKey, slog.LevelKey, slog.SourceKey, TraceIDKey, SpanIDKey:
		return a
	}
	if domain.SecretName(a.Key) {
		return slog.String(a.Key, domain.Redacted)
	}
	switch v := a.Value.Any().(type) {
	case string:
		return slog.String(a.Key, redactText(a.Key, v))
	case error:
		if text := v.Error(); strings.Contains(text, "://") {
			return slog.String(a.Key, domain.RedactURLsIn(text))
		}
	case *url.URL:
		if v != nil {
			return slog.String(a.Key, domain.RedactURL(v.String()))
		}
	case url.URL:
		return slog.String(a.Key, domain.RedactURL(v.String()))
	case url.Values:
		return slog.String(a.Key, domain.RedactQuery(v.Encode()))
	case http.Header:
		return slog.Any(a.Key, domain.RedactHeaders(v))
	case map[string][]string:
		return slog.Any(a.Key, domain.RedactHeaders(v))
	}
	return a
}

// redactText redacts a text attribute: whole, as a URL or a query, when its
// key says it is one; otherwise the URLs inside it.
func redactText(key, v string) string {
	k := strings.ToLower(key)
	switch {
	case strings.Contains(k, "query"):
		return domain.RedactQuery(strings.TrimPrefix(v, "?"))
	case strings.Contains(k, "url") || strings.Contains(k, "uri") || strings.HasSuffix(k, "path") ||
		strings.Contains(k, "location") || strings.Contains(k, "referer") || k == "target":
		return domain.RedactURL(v)
	}
	return domain.RedactURLsIn(v)
}
