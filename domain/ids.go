package domain

import "unicode/utf8"

// MaxIDLength bounds every identifier chosen by the CRM.
const MaxIDLength = 64

// ValidID reports whether s is a usable identifier: 1 to MaxIDLength URL-safe
// characters (letters, digits, '-', '_', '.', '~'), as the CRM chooses them.
func ValidID(s string) bool {
	if s == "" || len(s) > MaxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '~':
		default:
			return false
		}
	}
	return true
}

func checkID(field, id string) error {
	if !ValidID(id) {
		return invalid(field, "must be 1 to %d URL-safe characters (letters, digits, - _ . ~)", MaxIDLength)
	}
	return nil
}

// checkOptionalID accepts an empty string (no reference) or a valid id.
func checkOptionalID(field, id string) error {
	if id == "" {
		return nil
	}
	return checkID(field, id)
}

func checkText(field, s string, required bool, max int) error {
	if required && s == "" {
		return invalid(field, "is required")
	}
	return checkChars(field, s, max, false)
}

// checkChars bounds s to max bytes of valid UTF-8 without control
// characters (line breaks allowed when multiline).
func checkChars(field, s string, max int, multiline bool) error {
	if len(s) > max {
		return invalid(field, "must be at most %d bytes", max)
	}
	// PostgreSQL text refuses invalid UTF-8: catch it here as a 4xx naming the
	// field rather than as a 500 from the database.
	if !utf8.ValidString(s) {
		return invalid(field, "must be valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' && !(multiline && (r == '\n' || r == '\r')) || r == 0x7f {
			return invalid(field, "must not contain control characters")
		}
	}
	return nil
}

// CheckText checks one line of text for field: valid UTF-8, no control
// characters, at most max bytes.
func CheckText(field, s string, max int) error { return checkText(field, s, false, max) }

// CheckMultiline is CheckText for text where line breaks are expected.
func CheckMultiline(field, s string, max int) error { return checkMultiline(field, s, max) }

// checkMultiline is checkText for text where line breaks are expected.
func checkMultiline(field, s string, max int) error { return checkChars(field, s, max, true) }

// ValidEmail reports whether s is a plain e-mail address.
func ValidEmail(s string) bool { return validEmail(s) }

// ValidTaskCode reports whether s is a CRM task code: up to
// MaxTaskCodeLength ASCII letters (situacao, prioridade, tipo_responsavel).
func ValidTaskCode(s string) bool { return len(s) <= MaxTaskCodeLength && isASCIILetters(s) }

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
