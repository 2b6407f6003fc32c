package domain_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"callconnect/domain"
)

func TestParseStatusRange(t *testing.T) {
	for in, want := range map[string]domain.StatusRange{
		"404": {404, 404}, "0": {0, 0}, "200": {200, 200}, "999": {999, 999},
		"1xx": {100, 199}, "4xx": {400, 499}, "5XX": {500, 599},
	} {
		if got, err := domain.ParseStatusRange(in); err != nil || got != want {
			t.Errorf("ParseStatusRange(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "6xx", "0xx", "4x", "1000", "-1", "+20", "abc", "4xX0", " 404"} {
		_, err := domain.ParseStatusRange(in)
		if de, ok := domain.AsError(err); !ok || de.Field != "status" || de.Kind != domain.KindInvalid {
			t.Errorf("ParseStatusRange(%q): %v, want an invalid status", in, err)
		}
	}
}

func TestExchangeCursorRoundTrip(t *testing.T) {
	c := domain.ExchangeCursor{OccurredAt: time.Date(2026, 11, 27, 12, 0, 0, 123456000, time.UTC), ID: "01jdq4t5.z8~m6"}
	got, err := domain.ParseExchangeCursor(c.String())
	if err != nil || !got.OccurredAt.Equal(c.OccurredAt) || got.ID != c.ID {
		t.Fatalf("round trip of %+v: %+v, %v", c, got, err)
	}
	if z, err := domain.ParseExchangeCursor(""); err != nil || !z.IsZero() || (domain.ExchangeCursor{}).String() != "" {
		t.Errorf("the empty cursor: %+v, %v", z, err)
	}
	for _, bad := range []string{"x", "x1.", "x1.!!", "x1.bm9kb3Q", c.String()[:len(c.String())-3] + "%%%", "x2" + c.String()[2:]} {
		if _, err := domain.ParseExchangeCursor(bad); err == nil {
			t.Errorf("ParseExchangeCursor(%q) succeeded", bad)
		}
	}
}

// A cursor forged with a time no database timestamp holds is refused as a
// bad cursor (422 naming cursor), not passed on to fail as a 500.
func TestExchangeCursorOutOfRange(t *testing.T) {
	valid := domain.ExchangeCursor{OccurredAt: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), ID: "e1"}.String()
	prefix := valid[:strings.LastIndex(valid, ".")+1] // the cursor's version mark
	for _, micros := range []string{"-9000000000000000000", "9000000000000000000", "-62135596800000001", "253402300800000000"} {
		forged := prefix + base64.RawURLEncoding.EncodeToString([]byte(micros+".e1"))
		_, err := domain.ParseExchangeCursor(forged)
		if de, ok := domain.AsError(err); !ok || de.Field != "cursor" || de.Kind != domain.KindInvalid {
			t.Errorf("cursor at %s µs: %v, want an invalid cursor", micros, err)
		}
	}
	edge := prefix + base64.RawURLEncoding.EncodeToString([]byte("-62135596800000000.e1"))
	if got, err := domain.ParseExchangeCursor(edge); err != nil || got.OccurredAt.Year() != 1 {
		t.Errorf("cursor at the first instant of year 1: %+v, %v", got, err)
	}
}
