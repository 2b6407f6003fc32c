package cvio_test

import (
	"bytes"

	"callconnect/adapters/cvio"
	"callconnect/domain"
)

// tb is what the helpers need from *testing.T and *rapid.T alike.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

func ptr[T any](v T) *T { return &v }

// wantErr checks that err is a domain error with the given kind, code and
// field; an empty field or code is not checked.
func wantErr(t tb, err error, kind domain.Kind, code, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (%s)", code, field)
	}
	de, ok := domain.AsError(err)
	if !ok {
		t.Fatalf("got %T %v, want a *domain.Error", err, err)
	}
	if de.Kind != kind {
		t.Errorf("Kind = %v, want %v (%v)", de.Kind, kind, err)
	}
	if code != "" && de.Code != code {
		t.Errorf("Code = %q, want %q (%v)", de.Code, code, err)
	}
	if field != "" && de.Field != field {
		t.Errorf("Field = %q, want %q (%v)", de.Field, field, err)
	}
	if de.Message == "" {
		t.Errorf("Message is empty (%v)", err)
	}
}

// wantInvalid checks a validation error naming field.
// wantInvalid expects the error of a wrong field. For field "body" it
// expects malformed JSON (400) or, for JSON that is not an object, a wrong
// body (422): which one, checkParseError decides from the body.
func wantInvalid(t tb, err error, field string) {
	t.Helper()
	if de, ok := domain.AsError(err); ok && field == "body" && de.Kind == domain.KindMalformed {
		wantErr(t, err, domain.KindMalformed, cvio.CodeMalformedJSON, field)
		return
	}
	wantErr(t, err, domain.KindInvalid, domain.CodeInvalidField, field)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
