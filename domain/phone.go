package domain

import "strings"

// Phone is a telephone number kept as the digits it was given with (country
// code included when it was given), and whether it is a foreign number. The
// zero value means "no phone".
//
// Brazilian or foreign: the digits decide, and a leading '+' when one was
// typed. In order:
//
//   - '+' and a country code other than 55: foreign. (A '+' before a 0 is
//     taken as a slip: no country code starts with 0.)
//   - 0, then an area code and the number (11 or 12 digits): Brazilian, the
//     trunk prefix dialled within the country ("048 99947-6359").
//   - 0, a two-digit carrier code, the area code and the number (13 or 14
//     digits): Brazilian, as dialled long-distance ("0 21 48 99947-6359").
//   - 10 or 11 digits: Brazilian, the area code and the number.
//   - 55 and at least 10 more digits, with or without '+': Brazilian with its
//     country code; a trunk or carrier prefix after the 55 is dropped too.
//   - 12 to 15 other digits: foreign, written without its '+' (no Brazilian
//     form is that long).
//   - anything else, such as 8 or 9 digits (a number without its area code)
//     or 0800 numbers (no area code has a 0): neither, kept as given.
//
// An area code is two digits, neither of them 0.
//
// Storage keeps String(), digits only: a foreign number of 11 digits or
// fewer typed with '+' would read back as a Brazilian one. Typed keeps the
// '+' for whatever rebuilds a phone from text.
type Phone struct {
	digits  string
	foreign bool
}

// Phone numbers are 8 to 15 digits (ITU-T E.164 allows at most 15).
const (
	minPhoneDigits = 8
	maxPhoneDigits = 15
)

// ParsePhone normalises a phone number as people type it: "+55 (48) 99947-6359",
// "48 99947 6359" and "5548999476359" are all accepted. Separators are spaces,
// dots, dashes, slashes and parentheses; a single leading '+' is allowed. An
// empty string is "no phone". Anything else is refused with field as the culprit.
func ParsePhone(field, s string) (Phone, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Phone{}, nil
	}
	var b strings.Builder
	plus := false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '.' || r == '-' || r == '(' || r == ')' || r == '/':
		default:
			return Phone{}, invalid(field, "must be a phone number: digits with optional +, spaces, dots, dashes or parentheses")
		}
	}
	d := b.String()
	if len(d) < minPhoneDigits || len(d) > maxPhoneDigits {
		return Phone{}, invalid(field, "must have %d to %d digits", minPhoneDigits, maxPhoneDigits)
	}
	foreign := d[0] != '0' && !strings.HasPrefix(d, "55") && (plus || len(d) >= 12)
	return Phone{digits: d, foreign: foreign}, nil
}

// String returns the digits as given, or "" for no phone.
func (p Phone) String() string { return p.digits }

// IsZero reports whether there is no phone.
func (p Phone) IsZero() bool { return p.digits == "" }

// Foreign reports whether the number is not Brazilian (see Phone).
func (p Phone) Foreign() bool { return p.foreign }

// Typed returns the text ParsePhone turns back into p: the digits, after a
// '+' when the number is foreign. A value rebuilt from its Input, whose
// phone is digits only, gets this instead, or a foreign number typed with
// '+' comes back Brazilian.
func (p Phone) Typed() string {
	if p.foreign {
		return "+" + p.digits
	}
	return p.digits
}

// Wire is the phone as partners receive it: for a Brazilian number the area
// code and the number, digits only ("48999476359"), whatever prefix it was
// typed with; for a foreign number its country code and number (E.164
// without the '+'); otherwise the digits as given. A mobile typed without
// its ninth digit goes out without it: the partner gets the number the user
// gave, in one form, and nothing invented. Wire of the stored digits is Wire
// of the phone, '+' or not.
func (p Phone) Wire() string {
	if n, ok := p.national(); ok {
		return n
	}
	return p.digits
}

// MatchKey is what two phones share when they are the same number: the one
// key stored leads and partners' callbacks are compared on. For a Brazilian
// number it is the area code and the number, with the ninth digit of a
// mobile written without it put back (area code + 8 digits starting with 6
// to 9 is that mobile; a landline, starting with 2 to 5, has no ninth
// digit): "+55 (48) 99947-6359", "048 99947-6359", "0 21 48 9947-6359" all
// give "48999476359". For a foreign number it is '+' and its digits, so that
// it equals no Brazilian key. Otherwise it is the digits as given. "" for no
// phone.
func (p Phone) MatchKey() string {
	if p.foreign {
		return "+" + p.digits
	}
	n, ok := p.national()
	if !ok {
		return p.digits
	}
	if len(n) == 10 && n[2] >= '6' && n[2] <= '9' {
		return n[:2] + "9" + n[2:]
	}
	return n
}

// NationalDigits returns the number without the Brazilian country code (55),
// so that "5548999476359" and "48999476359" compare equal. Lookups compare
// MatchKey, which also knows trunk and carrier prefixes and the ninth digit.
func (p Phone) NationalDigits() string {
	if len(p.digits) >= 12 && strings.HasPrefix(p.digits, "55") {
		return p.digits[2:]
	}
	return p.digits
}

// national returns the area code and number of a Brazilian phone, or false
// when the phone is not Brazilian (see Phone).
func (p Phone) national() (string, bool) {
	d := p.digits
	switch {
	case p.foreign || d == "":
		return "", false
	case d[0] == '0':
		return withoutTrunk(d)
	case len(d) == 10 || len(d) == 11:
		return d, true
	case len(d) >= 12 && strings.HasPrefix(d, "55"):
		if n, ok := withoutTrunk(d[2:]); ok {
			return n, true
		}
		return d[2:], true
	}
	return "", false
}

// withoutTrunk reads d as dialled within Brazil: 0 + area code + number (8
// or 9 digits), or 0 + carrier code + area code + number.
func withoutTrunk(d string) (string, bool) {
	switch {
	case len(d) < 11 || d[0] != '0':
	case len(d) <= 12 && isAreaCode(d[1:3]):
		return d[1:], true
	case len(d) >= 13 && len(d) <= 14 && d[1] != '0' && isAreaCode(d[3:5]):
		return d[3:], true
	}
	return "", false
}

func isAreaCode(s string) bool {
	return len(s) == 2 && s[0] >= '1' && s[0] <= '9' && s[1] >= '1' && s[1] <= '9'
}

// Extension is a PBX extension ("ramal"): 1 to 10 digits. The zero value means none.
type Extension struct{ digits string }

// ParseExtension checks an extension; empty means none.
func ParseExtension(field, s string) (Extension, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Extension{}, nil
	}
	if len(s) > 10 {
		return Extension{}, invalid(field, "must be 1 to 10 digits")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return Extension{}, invalid(field, "must be 1 to 10 digits")
		}
	}
	return Extension{digits: s}, nil
}

func (e Extension) String() string { return e.digits }
func (e Extension) IsZero() bool   { return e.digits == "" }
