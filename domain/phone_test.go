package domain_test

import (
	"strings"
	"testing"

	"pgregory.net/rapid"

	"callconnect/domain"
)

func TestParsePhone(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string // digits; "" with ok means "no phone"
		ok    bool
	}{
		{"international formatting", "+55 (48) 99947-6359", "5548999476359", true},
		{"national with spaces", "48 99947 6359", "48999476359", true},
		{"digits only", "5548999476359", "5548999476359", true},
		{"dots and slash", "48.9994/76359", "48999476359", true},
		{"surrounding space", "  48999476359\t", "48999476359", true},
		{"landline", "(48) 3333-4444", "4833334444", true},
		{"eight digits", "99476359", "99476359", true},
		{"fifteen digits", "+123456789012345", "123456789012345", true},
		{"empty is no phone", "", "", true},
		{"blank is no phone", "   ", "", true},
		{"seven digits", "9947635", "", false},
		{"sixteen digits", "1234567890123456", "", false},
		{"letters", "48 9994A-6359", "", false},
		{"plus in the middle", "55+48999476359", "", false},
		{"double plus", "++5548999476359", "", false},
		{"only punctuation", "+() -", "", false},
		{"extension suffix", "48999476359 ramal 12", "", false},
		{"hash", "48999476359#", "", false},
		{"non-ascii digits", "٤٨٩٩٩٤٧٦٣٥٩", "", false},
		{"fullwidth digits", "４８９９９４７６３５９", "", false},
		{"inner tab", "48\t999476359", "", false},
		{"newline", "48999476359\n1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := domain.ParsePhone("phone", tt.input)
			if !tt.ok {
				wantInvalid(t, err, "phone")
				if !p.IsZero() {
					t.Errorf("phone %q returned with an error", p)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePhone(%q): %v", tt.input, err)
			}
			if p.String() != tt.want {
				t.Errorf("ParsePhone(%q) = %q, want %q", tt.input, p, tt.want)
			}
			if p.IsZero() != (tt.want == "") {
				t.Errorf("IsZero = %v", p.IsZero())
			}
		})
	}
}

func TestParsePhoneNamesTheGivenField(t *testing.T) {
	_, err := domain.ParsePhone("body.telefone", "abc")
	wantInvalid(t, err, "body.telefone")
	_, err = domain.ParsePhone("body.telefone", "123")
	wantInvalid(t, err, "body.telefone")
}

func TestPhoneNationalDigits(t *testing.T) {
	tests := []struct{ in, want string }{
		{"5548999476359", "48999476359"}, // mobile with country code
		{"48999476359", "48999476359"},   // mobile without
		{"554833334444", "4833334444"},   // landline with country code
		{"4833334444", "4833334444"},     // landline without
		{"55999476359", "55999476359"},   // area code 55 (Santa Maria), no country code
		{"5555999476359", "55999476359"}, // area code 55 with country code
		{"14155550100", "14155550100"},   // not Brazilian
	}
	for _, tt := range tests {
		p, err := domain.ParsePhone("phone", tt.in)
		if err != nil {
			t.Fatalf("ParsePhone(%q): %v", tt.in, err)
		}
		if got := p.NationalDigits(); got != tt.want {
			t.Errorf("NationalDigits(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := (domain.Phone{}).NationalDigits(); got != "" {
		t.Errorf("zero phone NationalDigits = %q", got)
	}
}

func TestParseExtension(t *testing.T) {
	tests := []struct {
		input, want string
		ok          bool
	}{
		{"1234", "1234", true},
		{"0", "0", true},
		{"0012", "0012", true}, // leading zeros are dialled: kept
		{" 1234 ", "1234", true},
		{"1234567890", "1234567890", true},
		{"", "", true},
		{"12345678901", "", false},
		{"12a4", "", false},
		{"12-34", "", false},
		{"+1234", "", false},
		{"12 34", "", false},
		{"١٢٣", "", false},
	}
	for _, tt := range tests {
		e, err := domain.ParseExtension("extension", tt.input)
		if !tt.ok {
			if err == nil {
				t.Errorf("ParseExtension(%q) = %q, want an error", tt.input, e)
				continue
			}
			wantInvalid(t, err, "extension")
			continue
		}
		if err != nil {
			t.Errorf("ParseExtension(%q): %v", tt.input, err)
			continue
		}
		if e.String() != tt.want || e.IsZero() != (tt.want == "") {
			t.Errorf("ParseExtension(%q) = %q (zero %v), want %q", tt.input, e, e.IsZero(), tt.want)
		}
	}
}

// phoneDigits draws a digit string of a valid phone length.
func phoneDigits() *rapid.Generator[string] {
	return rapid.StringMatching(`[0-9]{8,15}`)
}

// formatted writes digits the way people type them: an optional leading '+',
// then the digits with any of the accepted separators between them, and
// spaces around.
func formatted(t *rapid.T, digits string) string {
	var b strings.Builder
	b.WriteString(rapid.SampledFrom([]string{"", " ", "  \t"}).Draw(t, "lead space"))
	if rapid.Bool().Draw(t, "plus") {
		b.WriteByte('+')
	}
	seps := rapid.SliceOf(rapid.SampledFrom([]string{" ", ".", "-", "(", ")", "/"}))
	for i, d := range digits {
		if i > 0 {
			b.WriteString(strings.Join(seps.Draw(t, "seps"), ""))
		}
		b.WriteRune(d)
	}
	b.WriteString(rapid.SampledFrom([]string{"", " ", "\n"}).Draw(t, "trail space"))
	return b.String()
}

func TestPropertyPhoneFormattingDoesNotMatter(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		digits := phoneDigits().Draw(t, "digits")
		s := formatted(t, digits)
		p, err := domain.ParsePhone("phone", s)
		if err != nil {
			t.Fatalf("ParsePhone(%q): %v", s, err)
		}
		if p.String() != digits {
			t.Fatalf("ParsePhone(%q) = %q, want %q", s, p, digits)
		}
	})
}

func TestPropertyPhoneParseIsIdempotent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.OneOf(
			rapid.Custom(func(t *rapid.T) string { return formatted(t, phoneDigits().Draw(t, "digits")) }),
			rapid.String(),
			rapid.StringMatching(`[+]?[0-9 ().\-/]{0,24}`),
		).Draw(t, "input")
		p, err := domain.ParsePhone("phone", s)
		if err != nil {
			return
		}
		again, err := domain.ParsePhone("phone", p.String())
		if err != nil {
			t.Fatalf("ParsePhone(%q) accepted, but its String %q is refused: %v", s, p, err)
		}
		if again != p {
			t.Fatalf("ParsePhone(ParsePhone(%q).String()) = %q, want %q", s, again, p)
		}
		if n := len(p.String()); !p.IsZero() && (n < 8 || n > 15) {
			t.Fatalf("ParsePhone(%q) = %q: %d digits", s, p, n)
		}
		for _, r := range p.String() {
			if r < '0' || r > '9' {
				t.Fatalf("ParsePhone(%q) = %q: not digits only", s, p)
			}
		}
	})
}

func TestPropertyPhoneRefusesWrongLengths(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		digits := rapid.OneOf(rapid.StringMatching(`[0-9]{1,7}`), rapid.StringMatching(`[0-9]{16,30}`)).Draw(t, "digits")
		s := formatted(t, digits)
		if _, err := domain.ParsePhone("phone", s); err == nil {
			t.Fatalf("ParsePhone(%q) accepted %d digits", s, len(digits))
		}
	})
}

// FuzzParsePhone: partner callbacks carry telefone as typed by anyone. Whatever
// comes in, an accepted phone is 8 to 15 ASCII digits that parse to themselves.
func FuzzParsePhone(f *testing.F) {
	for _, s := range []string{"+55 (48) 99947-6359", "48999476359", "", "+", "٤٨", "48\x00999476359", "(((48)))99947-6359"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := domain.ParsePhone("telefone", s)
		if err != nil {
			if de, ok := domain.AsError(err); !ok || de.Field != "telefone" || de.Kind != domain.KindInvalid {
				t.Fatalf("ParsePhone(%q): %v", s, err)
			}
			return
		}
		d := p.String()
		if !p.IsZero() && (len(d) < 8 || len(d) > 15) {
			t.Fatalf("ParsePhone(%q) = %q", s, d)
		}
		for i := 0; i < len(d); i++ {
			if d[i] < '0' || d[i] > '9' {
				t.Fatalf("ParsePhone(%q) = %q: not digits", s, d)
			}
		}
		if again, err := domain.ParsePhone("telefone", d); err != nil || again != p {
			t.Fatalf("ParsePhone(%q) = %q, but %q parses to %q, %v", s, d, d, again, err)
		}
	})
}
