package webhook

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 19, 14, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 120 ", 120 * time.Second},
		{"600", 10 * time.Minute},
		{"601", MaxRetryAfter},
		{"86400", MaxRetryAfter},
		{"99999999999999999999999", MaxRetryAfter},
		{"-5", 0},
		{"+5", 0},
		{"1.5", 0},
		{"soon", 0},
		{date(90 * time.Second), 90 * time.Second},
		{date(-time.Hour), 0},
		{date(48 * time.Hour), MaxRetryAfter},
		{now.Add(30 * time.Second).Format(time.RFC850), 30 * time.Second},
		{now.Add(45 * time.Second).Format(time.ANSIC), 45 * time.Second},
		{"Thu, 32 Mar 2026 99:00:00 GMT", 0},
	} {
		if got := parseRetryAfter(c.in, now); got != c.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
