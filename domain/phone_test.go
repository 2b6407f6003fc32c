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
		again, err := domain.ParsePhone("phone", p.Typed())
		if err != nil {
			t.Fatalf("ParsePhone(%q) accepted, but its Typed %q is refused: %v", s, p.Typed(), err)
		}
		if again != p {
			t.Fatalf("ParsePhone(%q) = %q (foreign %v), want %q (foreign %v)", p.Typed(), again, again.Foreign(), p, p.Foreign())
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
		if again, err := domain.ParsePhone("telefone", p.Typed()); err != nil || again != p {
			t.Fatalf("ParsePhone(%q) = %q, but %q parses to %q, %v", s, d, p.Typed(), again, err)
		}
		if again, err := domain.ParsePhone("telefone", d); err != nil || again.Wire() != p.Wire() {
			t.Fatalf("ParsePhone(%q).Wire() = %q, but its digits %q give %q, %v", s, p.Wire(), d, again.Wire(), err)
		}
	})
}

// TestPhoneWire pins the one form partners receive a phone in.
func TestPhoneWire(t *testing.T) {
	tests := []struct {
		name, in, want string
		foreign        bool
	}{
		{"international formatting", "+55 (48) 99947-6359", "48999476359", false},
		{"national", "48 99947-6359", "48999476359", false},
		{"country code without plus", "5548999476359", "48999476359", false},
		{"trunk prefix", "048 99947-6359", "48999476359", false},
		{"carrier code", "0 21 48 99947 6359", "48999476359", false},
		{"carrier code run together", "021 48 999476359", "48999476359", false},
		{"country code then trunk prefix", "+55 (048) 99947-6359", "48999476359", false},
		{"mobile without its ninth digit goes out as typed", "(48) 9947-6359", "4899476359", false},
		{"landline", "(48) 3333-4444", "4833334444", false},
		{"landline with country code", "+55 48 3333-4444", "4833334444", false},
		{"landline with carrier code", "0 21 (48) 3333-4444", "4833334444", false},
		{"area code 55", "55 1234-5678", "5512345678", false},
		{"US number", "+1 (415) 555-0100", "14155550100", true},
		{"UK number", "+44 20 7946 0958", "442079460958", true},
		{"foreign number written without plus", "44 20 7946 0958", "442079460958", true},
		{"plus before a trunk prefix is a slip", "+048 99947-6359", "48999476359", false},
		{"0800 number has no area code", "0800 123 4567", "08001234567", false},
		{"number without area code", "99947-6359", "999476359", false},
		{"no phone", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := domain.ParsePhone("telefone", tt.in)
			if err != nil {
				t.Fatalf("ParsePhone(%q): %v", tt.in, err)
			}
			if got := p.Wire(); got != tt.want {
				t.Errorf("ParsePhone(%q).Wire() = %q, want %q", tt.in, got, tt.want)
			}
			if p.Foreign() != tt.foreign {
				t.Errorf("ParsePhone(%q).Foreign() = %v, want %v", tt.in, p.Foreign(), tt.foreign)
			}
		})
	}
}

// TestPhoneMatchKey pins the key on which a partner's phone finds a lead.
func TestPhoneMatchKey(t *testing.T) {
	tests := []struct {
		name string
		in   []string // all the same number
		want string
	}{
		{"a mobile however it is written", []string{
			"+55 (48) 99947-6359", "48 99947-6359", "5548999476359", "48999476359", "048 99947-6359",
			"0 21 48 99947 6359", "021 48 999476359", "4899476359", "(48) 9947-6359", "+55 48 9947-6359",
			"554899476359", "048 9947-6359", "0 15 48 9947-6359", "55 048 99947 6359",
		}, "48999476359"},
		{"a landline never gains a ninth digit", []string{
			"(48) 3333-4444", "+55 48 3333-4444", "554833334444", "048 3333-4444", "0 41 48 3333 4444",
		}, "4833334444"},
		{"a landline with a ninth digit is another number", []string{"48 93333-4444"}, "48933334444"},
		{"area code 55, no country code", []string{"55 1234-5678", "5512345678", "055 1234 5678"}, "5512345678"},
		{"an old mobile of area code 55", []string{"55 9947-6359", "55 99947-6359", "+55 55 99947-6359"}, "55999476359"},
		{"country code given twice", []string{"555548999476359", "+55 55 48 99947-6359"}, "5548999476359"},
		{"a foreign number", []string{"+1 (415) 555-0100", "+14155550100"}, "+14155550100"},
		{"a long foreign number, plus or not", []string{"+44 20 7946 0958", "442079460958"}, "+442079460958"},
		{"a number without area code", []string{"9947-6359"}, "99476359"},
		{"a 0800 number", []string{"0800 123 4567"}, "08001234567"},
		{"no phone", []string{"", "  "}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, in := range tt.in {
				p, err := domain.ParsePhone("telefone", in)
				if err != nil {
					t.Fatalf("ParsePhone(%q): %v", in, err)
				}
				if got := p.MatchKey(); got != tt.want {
					t.Errorf("ParsePhone(%q).MatchKey() = %q, want %q", in, got, tt.want)
				}
			}
		})
	}
	// What the key keeps apart.
	for _, pair := range [][2]string{
		{"48 99947-6359", "48 9947-6358"},        // one digit apart
		{"(48) 3333-4444", "(48) 93333-4444"},    // a landline is not a mobile
		{"+1 (415) 555-0100", "14 15555-0100"},   // a US number is not a Brazilian number with the same digits
		{"+33 9 12 34 56 78", "(33) 91234-5678"}, // nor is a French one that looks like a mobile of Minas Gerais
		{"48 99947-6359", "47 99947-6359"},
		{"9947-6359", "99947-6359"}, // without area code, the ninth digit is not guessed
	} {
		a, errA := domain.ParsePhone("telefone", pair[0])
		b, errB := domain.ParsePhone("telefone", pair[1])
		if errA != nil || errB != nil {
			t.Fatalf("ParsePhone: %v, %v", errA, errB)
		}
		if a.MatchKey() == b.MatchKey() {
			t.Errorf("%q and %q share the key %q", pair[0], pair[1], a.MatchKey())
		}
	}
}

// brazilian is a Brazilian number: area code and subscriber number, the
// ninth digit of a mobile included.
type brazilian struct{ area, number string }

func (b brazilian) key() string { return b.area + b.number }

// mobile numbers are 9 and 8 digits; the 8 digits of the numbers older than
// the ninth digit start with 6 to 9, and only those were ever written without it.
func (b brazilian) oldMobile() bool { return len(b.number) == 9 && b.number[1] >= '6' }

func brazilianNumber() *rapid.Generator[brazilian] {
	return rapid.Custom(func(t *rapid.T) brazilian {
		area := rapid.StringMatching(`[1-9][1-9]`).Draw(t, "area")
		if rapid.Bool().Draw(t, "mobile") {
			return brazilian{area, rapid.StringMatching(`9[1-9][0-9]{7}`).Draw(t, "mobile number")}
		}
		return brazilian{area, rapid.StringMatching(`[2-5][0-9]{7}`).Draw(t, "landline number")}
	})
}

// written draws one way a person writes b: with or without +55 or 55, a
// trunk 0 or a carrier code, the ninth digit of an old mobile left out, and
// separators anywhere. It returns the text and the area code and number as
// written.
func written(t *rapid.T, b brazilian) (typed, wire string) {
	number := b.number
	if b.oldMobile() && rapid.Bool().Draw(t, "without the ninth digit") {
		number = number[1:]
	}
	prefix := rapid.SampledFrom([]string{"", "55", "+55", "0", "0c", "550", "+550"}).Draw(t, "prefix")
	if prefix == "0c" {
		prefix = "0" + rapid.StringMatching(`[1-9][0-9]`).Draw(t, "carrier")
	}
	var s strings.Builder
	s.WriteString(rapid.SampledFrom([]string{"", " "}).Draw(t, "lead space"))
	seps := rapid.SliceOfN(rapid.SampledFrom([]string{" ", ".", "-", "(", ")", "/"}), 0, 2)
	for i, d := range prefix + b.area + number {
		if i > 0 && d != '+' {
			s.WriteString(strings.Join(seps.Draw(t, "seps"), ""))
		}
		s.WriteRune(d)
	}
	s.WriteString(rapid.SampledFrom([]string{"", " "}).Draw(t, "trail space"))
	return s.String(), b.area + number
}

func mustPhone(t tb, s string) domain.Phone {
	t.Helper()
	p, err := domain.ParsePhone("telefone", s)
	if err != nil {
		t.Fatalf("ParsePhone(%q): %v", s, err)
	}
	return p
}

func TestPropertyBrazilianFormsShareTheKey(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := brazilianNumber().Draw(t, "number")
		typed, wire := written(t, b)
		p := mustPhone(t, typed)
		if got := p.MatchKey(); got != b.key() {
			t.Fatalf("ParsePhone(%q).MatchKey() = %q, want %q", typed, got, b.key())
		}
		if got := p.Wire(); got != wire {
			t.Fatalf("ParsePhone(%q).Wire() = %q, want %q", typed, got, wire)
		}
		if p.Foreign() {
			t.Fatalf("ParsePhone(%q) is foreign", typed)
		}
		if !b.oldMobile() && len(b.number) == 8 && len(p.MatchKey()) != 10 {
			t.Fatalf("landline %q gained a digit: %q", typed, p.MatchKey())
		}
	})
}

func TestPropertyDifferentNumbersDoNotCollide(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := brazilianNumber().Draw(t, "a"), brazilianNumber().Draw(t, "b")
		typedA, _ := written(t, a)
		typedB, _ := written(t, b)
		same := mustPhone(t, typedA).MatchKey() == mustPhone(t, typedB).MatchKey()
		if same != (a == b) {
			t.Fatalf("%q and %q: same key %v, same number %v", typedA, typedB, same, a == b)
		}
		f := foreignDigits().Draw(t, "foreign")
		if mustPhone(t, "+"+f).MatchKey() == mustPhone(t, typedA).MatchKey() {
			t.Fatalf("foreign +%s and Brazilian %q share a key", f, typedA)
		}
	})
}

// foreignDigits draws the digits of a foreign number in E.164: a country
// code (none starts with 0, and 55 is Brazil's) and the number.
func foreignDigits() *rapid.Generator[string] {
	return rapid.StringMatching(`[1-9][0-9]{7,14}`).Filter(func(s string) bool { return !strings.HasPrefix(s, "55") })
}

func TestPropertyForeignNumbersKeepTheirCountryCode(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		digits := foreignDigits().Draw(t, "digits")
		typed := "+" + strings.TrimLeft(formatted(t, digits), " \t+")
		p := mustPhone(t, typed)
		if !p.Foreign() || p.Wire() != digits || p.MatchKey() != "+"+digits {
			t.Fatalf("ParsePhone(%q): foreign %v, Wire %q, MatchKey %q; want true, %q, %q",
				typed, p.Foreign(), p.Wire(), p.MatchKey(), digits, "+"+digits)
		}
		// Stored as digits only, it goes out the same.
		if got := mustPhone(t, p.String()).Wire(); got != digits {
			t.Fatalf("ParsePhone(%q).Wire() = %q, want %q", p.String(), got, digits)
		}
		if again := mustPhone(t, p.Typed()); again != p {
			t.Fatalf("ParsePhone(%q) = %q, want %q", p.Typed(), again, p)
		}
	})
}
