package domain

import "strings"

// Phone is a telephone number kept as digits only (country code included when
// it was given). The zero value means "no phone".
type Phone struct{ digits string }

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
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
		case r == ' ' || r == '.' || r == '-' || r == '(' || r == ')' || r == '/':
		default:
			return Phone{}, invalid(field, "must be a phone number: digits with optional +, spaces, dots, dashes or parentheses")
		}
	}
	d := b.String()
	if len(d) < minPhoneDigits || len(d) > maxPhoneDigits {
		return Phone{}, invalid(field, "must have %d to %d digits", minPhoneDigits, maxPhoneDigits)
	}
	return Phone{digits: d}, nil
}

// String returns the digits, or "" for no phone.
func (p Phone) String() string { return p.digits }

// IsZero reports whether there is no phone.
func (p Phone) IsZero() bool { return p.digits == "" }

// NationalDigits returns the number without the Brazilian country code (55),
// so that "5548999476359" and "48999476359" compare equal.
func (p Phone) NationalDigits() string {
	if len(p.digits) >= 12 && strings.HasPrefix(p.digits, "55") {
		return p.digits[2:]
	}
	return p.digits
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
